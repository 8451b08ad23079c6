"""The fault proxy's clean close (FIN) and stall: the tools the cut tests rely on."""

import time

from tests.sync.proxy import FaultProxy, exchange
from tests.sync.test_sync_proxy import echo  # noqa: F401  (the loopback echo server fixture)


def test_cut_with_a_clean_close(echo):  # noqa: F811
    port, _ = echo
    with FaultProxy(port, cut_at=lambda n: 1500, cut_how="fin") as p:
        assert exchange(p.port, b"y" * 1000) == (b"y" * 500, "closed")
        assert exchange(p.port, b"z" * 100) == (b"z" * 100, "closed")  # the next one is whole
    assert p.stats["cuts"] == 1


def test_cut_with_a_reset_given_per_connection(echo):  # noqa: F811
    port, _ = echo
    with FaultProxy(port, cut_at=lambda n: (700, "rst") if n == 0 else None) as p:
        out, how = exchange(p.port, b"w" * 600)
    assert out == b"w" * 100 and how == "reset"


def test_stall_goes_silent_until_the_client_hangs_up(echo):  # noqa: F811
    port, _ = echo
    with FaultProxy(port, stall_at=lambda n: 1200 if n == 0 else None) as p:
        t0 = time.monotonic()
        out, how = exchange(p.port, b"s" * 1000, timeout=1.0)
        took = time.monotonic() - t0
        assert (out, how) == (b"s" * 200, "silence") and 0.9 < took < 3, took
        assert exchange(p.port, b"t" * 10) == (b"t" * 10, "closed")
        t1 = time.monotonic()
    assert time.monotonic() - t1 < 5  # stopping does not wait on the silent link
    assert p.stats["stalls"] == 1
