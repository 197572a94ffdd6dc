"""A liveness probe for load balancers and the benchmarks: no database, no session."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Response


async def _skip_page_setup(request: Request) -> None:
    """Replaces the app's ``before_request`` (site info, session) for the probe."""


@get("/healthz", name="healthz", before_request=_skip_page_setup)
async def healthz() -> Response:
    return Response(content="ok", media_type="text/plain", headers={"Cache-Control": "no-store"})
