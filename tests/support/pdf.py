"""Reading the slips' PDFs back as a bank app and a person would: each page rendered by PDFium
(pypdfium2), its QR code decoded by zbar (Debian's libzbar0 through pyzbar), its text extracted.

Without WeasyPrint's system libraries (Pango) or zbar these tests skip; ``CENTRA_PDF_REQUIRED=1``
(set by ``.ci/run``) turns that into a failure, as ``CENTRA_E2E_REQUIRED`` does for the browser.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest


def require_pdf_tools() -> None:
    """Skip (fail where CI asked for them) without WeasyPrint's libraries, PDFium or zbar."""
    try:
        import pypdfium2  # noqa: F401
        import weasyprint  # noqa: F401
        from pyzbar.pyzbar import decode  # noqa: F401
    except (ImportError, OSError) as exc:
        reason = f"PDF tools are missing ({exc}): `make pdf-deps qr-deps` installs Debian's Pango and zbar"
        if os.environ.get("CENTRA_PDF_REQUIRED", "").strip() not in ("", "0"):
            pytest.fail(f"{reason} (and CENTRA_PDF_REQUIRED is set)", pytrace=False)
        pytest.skip(reason)


@dataclass(frozen=True)
class PdfPage:
    text: str
    codes: list[str]  # what zbar reads in the page's picture, UTF-8


def read_pdf(data: bytes, *, scale: float = 3.0) -> list[PdfPage]:
    """Every page's text and decoded QR codes (``scale`` 3 = 216 dpi, a phone camera's view)."""
    import pypdfium2
    from pyzbar.pyzbar import ZBarSymbol, decode

    assert data[:5] == b"%PDF-", data[:40]
    document = pypdfium2.PdfDocument(data)
    pages = []
    try:
        for page in document:
            text = page.get_textpage().get_text_range()
            image = page.render(scale=scale).to_pil().convert("L")
            codes = [found.data.decode("utf-8") for found in decode(image, symbols=[ZBarSymbol.QRCODE])]
            pages.append(PdfPage(text=text, codes=codes))
    finally:
        document.close()
    return pages
