"""A liveness probe for load balancers and the benchmarks: no database, no session.

It answers 200 while the process serves; a degradation it can see without the database (Redis
configured but unreachable, so rate limits are counted per process) is reported in the body,
``degraded: …``, for monitoring — taking every process out of the balancer for it would be worse.
"""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Response

from cabinet.limits import limits_status


async def _skip_page_setup(request: Request) -> None:
    """Replaces the app's ``before_request`` (site info, session) for the probe."""


@get("/healthz", name="healthz", before_request=_skip_page_setup)
async def healthz() -> Response:
    problem = await limits_status()
    return Response(content=f"degraded: {problem}" if problem else "ok", media_type="text/plain",
                    headers={"Cache-Control": "no-store"})
