"""Request fixtures: the shared test library with a scanned PDF to send and a patron
logged in through the OPAC."""

import io

import pytest


def make_pdf(pages=2, text="Trang sao chụp"):
    """A small real PDF made with ReportLab (the project's own PDF writer)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    for n in range(pages):
        c.drawString(72, 720, f"{text} {n + 1}")
        c.showPage()
    c.save()
    return out.getvalue()


@pytest.fixture
def pdf_file(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf())
    return path
