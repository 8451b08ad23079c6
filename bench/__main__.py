"""Run every benchmark in turn (or those named) and print a one-line verdict for each.

    python -m bench [NAME ...]
    python -m bench NAME --option value ...   (options go to that one benchmark)
"""

import importlib
import sys
import time

ALL = ["core", "pages", "search", "search_worst", "hub", "sync", "first_sync", "hub_ingest",
       "sip2", "devices", "reports", "patrons_import", "stocktake", "digital", "recommend",
       "classify"]
KNOWN = [*ALL, "core_ab"]  # core_ab runs by name only


def main(argv):
    options = _options(argv)
    names = argv[:len(argv) - len(options)]
    if options and len(names) != 1:
        print("options go to one benchmark: python -m bench NAME --option value ...",
              file=sys.stderr)
        return 2
    unknown = [name for name in names if name not in KNOWN]
    if unknown:
        print(f"no such benchmark: {', '.join(unknown)} (they are: {', '.join(KNOWN)})",
              file=sys.stderr)
        return 2
    failed = []
    for name in names or ALL:
        print(f"== bench.{name}", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"bench.{name}").main(options)
        except Exception as e:  # one broken bench must not hide the others' results
            failed.append(name)
            print(f"bench.{name} failed: {e!r}", file=sys.stderr)
        print(f"== bench.{name} took {time.perf_counter() - started:.0f} s", flush=True)
    return 1 if failed else 0


def _options(argv):
    """What follows the first option: the named benchmark's own arguments."""
    first = next((n for n, a in enumerate(argv) if a.startswith("-")), len(argv))
    return argv[first:]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
