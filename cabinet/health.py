"""A liveness probe for load balancers and the benchmarks: no database, no session."""

from __future__ import annotations

from litestar import get
from litestar.response import Response


@get("/healthz", name="healthz", sync_to_thread=False)
def healthz() -> Response:
    return Response(content="ok", media_type="text/plain", headers={"Cache-Control": "no-store"})
