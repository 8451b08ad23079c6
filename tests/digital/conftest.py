"""Fixtures of the digital library's tests: a seeded library with a small scanned book
(two TIFF pages with Vietnamese text, OCR'd by real tesseract), on SQLite and PostgreSQL."""

import shutil

import pytest

from appliance.core.digital import documents, jobs
from tests.catalogue.backends import BACKENDS, library
from tests.conftest import unavailable
from tests.digital import scans

PAGE_ONE = ["Trang một", "Lời nói đầu"]
PAGE_TWO = ["Lịch sử Đông Hòa", "năm 1945"]


def need_tesseract():
    if shutil.which("tesseract") is None:
        unavailable("tesseract-ocr with tesseract-ocr-vie is not installed")


@pytest.fixture(params=BACKENDS)
def db_backend(request):
    return request.param


@pytest.fixture
def dctx(data_dir, db_backend):
    with library(data_dir, db_backend) as ctx:
        yield ctx


def scanned_book(ctx, tmp_path, access="public", ocr=True, bib=3, **kw):
    """A two-page TIFF attached to a record, its images (and OCR) made."""
    if ocr:
        need_tesseract()
    tif = scans.save_tiff(tmp_path / f"book-{access}.tif",
                          [scans.page(PAGE_ONE), scans.page(PAGE_TWO)])
    doc_id = documents.attach(ctx, ctx.bibs[bib].id, [tif], access=access, **kw)
    if not ocr:
        from appliance.core.models import DigitalJob
        DigitalJob.delete().where(DigitalJob.kind == "ocr").execute()
    assert jobs.run_pending(ctx)[1] == 0
    return doc_id
