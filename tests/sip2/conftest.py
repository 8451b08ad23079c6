"""A real data folder with a small library, and the SIP2 server on a loopback port."""

import pytest

from appliance.core import catalogue, datadir, patrons, users
from appliance.sip2.server import serve_in_thread

from .client import SipClient

LIB = "PY-DH01"
KIOSK_USER, KIOSK_PASSWORD = "kiosk1", "kiosk-secret"

BIBS = [
    ("Truyện Kiều", ["Nguyễn Du"]),
    ("Dế Mèn phiêu lưu ký", ["Tô Hoài"]),
    ("Số đỏ", ["Vũ Trọng Phụng"]),
]


def seed(ctx):
    users.create(ctx, KIOSK_USER, KIOSK_PASSWORD, "kiosk")
    users.create(ctx, "librarian1", "librarian-secret", "librarian")
    patrons.save(ctx, {"card": "P0001", "name": "Nguyễn Thị Đào", "category": "adult",
                       "pin": "1234"})
    patrons.save(ctx, {"card": "P0002", "name": "Trần Văn Bình", "category": "adult"})
    patrons.block(ctx, "P0002", "Mất thẻ")
    patrons.save(ctx, {"card": "P0003", "name": "Lê Minh Châu", "category": "adult"})
    n = 0
    for title, authors in BIBS:
        bib = catalogue.save_bib(ctx, {"title": title, "authors": authors, "language": "vie"})
        for _ in range(3):
            n += 1
            catalogue.save_item(ctx, {"bib": bib["id"] if isinstance(bib, dict) else bib.id,
                                      "barcode": f"I{n:04d}", "location": "Kho mở"})


@pytest.fixture
def lib(tmp_path):
    ctx = datadir.init(tmp_path / "data", LIB, "Thư viện phường Đông Hòa")
    ctx.settings["kiosk_pin_required"] = False  # as a library that turned it off; tests of
    seed(ctx)  # PINs turn it on
    yield ctx
    ctx.close()


@pytest.fixture
def sip(lib):
    handle = serve_in_thread(lib, "127.0.0.1", 0, idle_timeout=5)
    yield handle
    handle.shutdown()


@pytest.fixture
def connect(sip):
    """Open spec-based clients to the server; all closed at the end."""
    opened = []

    def open_client(login=True, **kw):
        c = SipClient("127.0.0.1", sip.port, **kw)
        opened.append(c)
        if login:
            assert c.login(KIOSK_USER, KIOSK_PASSWORD).fixed == "1"
        return c

    yield open_client
    for c in opened:
        c.close()
