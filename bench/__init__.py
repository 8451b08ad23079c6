"""Benchmarks: each module measures against a floor or a peer in the same run and
writes bench/results/<name>.json. `python -m bench` runs them all."""
