"""Payment slips as PDF (WeasyPrint), from the template the pages include (``slip/_slip.html``
inside ``slip/pdf.html``): one slip, or a batch for a street or a building, one per A4 page.

Drawing the QR codes (~0.06 s each: qrcode tries all eight masks) and WeasyPrint's layout are
CPU-bound Python holding the GIL: a batch runs in a worker process (``anyio.to_process``), so a
clerk's thousand slips neither stall the site's event loop nor leave their memory in the web
process, one batch at a time per web process; a single slip runs in a thread. WeasyPrint needs
Debian's Pango and fonts (``make pdf-deps``); it is imported when the first PDF is made, so the
site starts without them and only a PDF fails.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.to_process
import anyio.to_thread
import jinja2
from litestar import Response

from web.errors import UserFacingError
from web.formatting import FILTERS

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Batches at least this long are laid out in a worker process rather than a thread.
PROCESS_FROM = 10
_batches = anyio.CapacityLimiter(1)
PDF_UNAVAILABLE = ("PDF сейчас не формируется. Откройте квитанцию на странице и распечатайте её "
                   "из браузера (Ctrl+P) — QR-код на ней тот же.")
# Seven INFO lines per document ("Step 1 - Fetching and parsing HTML"…) would flood the log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     auto_reload=False)
    environment.filters.update(FILTERS)
    return environment


def slips_html(slips: Sequence[Any], *, title: str) -> str:
    """The PDF document's HTML: ``slips`` (``tables.payments.slip.Slip``), one per page."""
    return _environment().get_template("slip/pdf.html").render(slips=slips, title=title)


def render_pdf(slips: Sequence[Any], title: str) -> bytes:
    """``slips`` → PDF bytes (CSS and images inline: nothing is fetched)."""
    from weasyprint import HTML  # loads Pango: make pdf-deps

    return HTML(string=slips_html(slips, title=title), base_url=None).write_pdf()


async def slips_pdf(slips: Sequence[Any], *, title: str, filename: str) -> Response:
    """A PDF response with ``slips``, one per page, offered as ``filename``."""
    try:
        if len(slips) < PROCESS_FROM:
            pdf = await anyio.to_thread.run_sync(render_pdf, slips, title)
        else:
            async with _batches:
                pdf = await anyio.to_process.run_sync(render_pdf, list(slips), title, cancellable=True)
    except (ImportError, OSError) as exc:  # WeasyPrint without Pango or fonts on this host
        logging.getLogger(__name__).error("PDF slips unavailable (make pdf-deps): %s", exc)
        raise UserFacingError(status_code=503, detail=PDF_UNAVAILABLE) from exc
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f"inline; filename=\"slips.pdf\"; filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "no-store"})
