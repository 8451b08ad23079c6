"""The loan cycle of two versions of the code, cycle by cycle, on one disk at one time.

    python -m bench.core_ab [--base REF] [--cycles 600] [--records 20000] [--copies 50000]
                            [--patrons 5000] [--holds 5000] [--library-folder DIR]

bench.core's ratio swings between runs by more than most changes move it (2.7-3.3 on
the shared development machine, the floor's fsync moving by two fifths): two versions
measured in turns, a run each, cannot be told apart. Here each version runs in a
process of its own on a library its own code built (the same content; a schema may
differ), and they take turns cycle by cycle, the floor's two bare commits after each
cycle: every moment of the machine falls on both. Reported: each one's median cycle,
their ratio (this checkout over REF), how often this one was the faster of a pair, and
each against the floor as bench.core reports it.

REF (default HEAD: with no change made, the two are the same code, and the figures say
how far apart this harness puts equals) is checked out with `git worktree` in a
temporary folder and removed after. `--library-folder` keeps each library, named by the
commit that built it and its sizes, and reuses it when run again (a load takes minutes).
Writes bench/results/core_ab.json. Not in `make bench`: run it by name
(`python -m bench core_ab`) when a change to the loan path is to be judged.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.core import RESULTS, Floor, library_args

HERE = Path(__file__).resolve().parents[1]

# Runs in each version's own process with that version's code first on its path: builds
# (or opens) its library with its own bench.core.load, then one cycle per line it reads.
WORKER = r"""
import inspect, sys, time
from pathlib import Path
tree, folder, sizes = sys.argv[1], Path(sys.argv[2]), [int(n) for n in sys.argv[3:7]]
sys.path.insert(0, tree)
from appliance.core import circulation
from appliance.core.context import Context
from appliance.core.datadir import init
from bench import core
if not (folder / "thuvien.db").exists():
    ctx = init(folder, "PY-DH01", "Bench library")
    records, copies, patrons, holds = sizes
    if "past_holds" in inspect.signature(core.load).parameters:
        core.load(ctx, records, copies, patrons, holds, progress=False)
    else:  # a version from before the past holds: the library without them
        core.load(ctx, records, copies, patrons, progress=False)
    ctx.close()
    print("built", flush=True)
    sys.exit()
ctx = Context.open(folder)
for n in range(20):  # the first loans compile their queries
    circulation.checkout(ctx, "P000001", f"B{n:07d}"); circulation.checkin(ctx, f"B{n:07d}")
print("ready", flush=True)
n = 20
for line in sys.stdin:
    if line.strip() != "go":
        break
    t = time.perf_counter()
    circulation.checkout(ctx, "P000001", f"B{n:07d}"); circulation.checkin(ctx, f"B{n:07d}")
    print(time.perf_counter() - t, flush=True)
    n += 1
ctx.close()
"""


def _worktree(ref, folder):
    subprocess.run(["git", "-C", str(HERE), "worktree", "add", "--detach", str(folder), ref],
                   check=True, capture_output=True, timeout=300)


def _commit(tree):
    """The commit a tree is at: a kept library is of the code that built it."""
    return subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], check=True,
                          capture_output=True, text=True, timeout=60).stdout.strip()


def _run(tree, library, sizes):
    """A version's process: it builds its library and ends (said "built"), or, once the
    library is there, cycles on it (said "ready")."""
    return subprocess.Popen([sys.executable, "-c", WORKER, str(tree), str(library),
                             *map(str, sizes)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=str(tree)), cwd=tree)


def _said(proc, word, tree):
    if proc.stdout.readline().strip() != word:
        proc.kill()
        raise RuntimeError(f"the version in {tree} did not start")


def _worker(tree, library, sizes, kept):
    """A version's cycling process on `library`: built by its code first if `kept` holds
    none (and then kept there as loaded: cycles change a library), else a copy of it."""
    stored = kept / f"{_commit(tree)}-{'-'.join(map(str, sizes))}" if kept else None
    if stored and (stored / "thuvien.db").exists():
        shutil.copytree(stored, library)
    else:
        build = _run(tree, library, sizes)
        _said(build, "built", tree)
        build.wait(60)
        if stored:
            shutil.rmtree(stored, ignore_errors=True)
            shutil.copytree(library, stored)
    proc = _run(tree, library, sizes)
    _said(proc, "ready", tree)
    return proc


def _cycle(proc):
    proc.stdin.write("go\n")
    proc.stdin.flush()
    return float(proc.stdout.readline())


def turns(procs, floor, cycles):
    """`cycles` pairs, who goes first alternating; the floor's two commits after each."""
    samples, bare = ([], []), []
    for n in range(cycles):
        for i in (0, 1) if n % 2 == 0 else (1, 0):
            samples[i].append(_cycle(procs[i]))
            bare += [floor.insert_commit(), floor.insert_commit()]
    return samples, bare


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="HEAD", help="the version to compare with (a git ref)")
    ap.add_argument("--cycles", type=int, default=600)
    library_args(ap)
    ap.add_argument("--library-folder", type=Path, help="keep the libraries here, reuse them")
    args = ap.parse_args(argv)
    sizes = (args.records, args.copies, args.patrons, args.holds)
    kept = args.library_folder
    if kept:
        kept.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="thuvien-bench-ab-") as tmp:
        work = Path(tmp)
        base = work / "base-tree"
        _worktree(args.base, base)
        procs = []
        try:
            for name, tree in (("base", base), ("this", HERE)):
                procs.append(_worker(tree, work / name, sizes, kept))
            floor = Floor(work)
            (base_s, this_s), bare = turns(procs, floor, args.cycles)
            floor.close()
        finally:
            for proc in procs:
                proc.stdin.close()
                proc.wait(60)
            subprocess.run(["git", "-C", str(HERE), "worktree", "remove", "--force", str(base)],
                           capture_output=True, timeout=120)
    result = report(args.base, base_s, this_s, bare)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "core_ab.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


def report(base_ref, base_s, this_s, bare):
    ms = 1000
    b, t, f = (statistics.median(x) for x in (base_s, this_s, bare))
    return {
        "bench": "core_ab", "base": base_ref, "cycles": len(this_s),
        "base_cycle_p50_ms": round(b * ms, 3), "this_cycle_p50_ms": round(t * ms, 3),
        "floor_insert_commit_p50_ms": round(f * ms, 3),
        "this_over_base": round(t / b, 3),
        # of the pairs, how often this version's cycle was the faster (0.5: no difference)
        "this_faster_share": round(
            sum(x < y for x, y in zip(this_s, base_s, strict=True)) / len(this_s), 3),
        "base_ratio_to_two_commits": round(b / (2 * f), 2),
        "this_ratio_to_two_commits": round(t / (2 * f), 2),
    }


if __name__ == "__main__":
    main()
