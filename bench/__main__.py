"""Run every benchmark in turn (or those named) and print a one-line verdict for each."""

import importlib
import sys
import time

ALL = ["core", "pages", "search", "search_worst", "hub", "sync", "first_sync", "hub_ingest",
       "sip2", "devices", "reports", "patrons_import", "stocktake", "digital", "recommend",
       "classify"]


def main(names):
    failed = []
    for name in names or ALL:
        print(f"== bench.{name}", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"bench.{name}").main([])
        except Exception as e:  # one broken bench must not hide the others' results
            failed.append(name)
            print(f"bench.{name} failed: {e!r}", file=sys.stderr)
        print(f"== bench.{name} took {time.perf_counter() - started:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
