"""Friendly error pages instead of framework tracebacks."""

from __future__ import annotations

import logging
from typing import Annotated

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import Parameter
from litestar.response import Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from db.engine import MAX_ROW_ID

log = logging.getLogger("centra")


#: A row id in a path: a larger one than the database holds is bad input, not a 500.
RowId = Annotated[int, Parameter(ge=1, le=MAX_ROW_ID)]


class UserFacingError(HTTPException):
    """An HTTP error whose ``detail`` is a Russian message meant for the visitor."""

    status_code = 400


def not_found(request: Request, exc: NotFoundException) -> Response:
    return Template("errors/404.html", status_code=404)


def http_error(request: Request, exc: HTTPException) -> Response:
    return Template(
        "errors/error.html",
        context={"status": exc.status_code,
                 "message": exc.detail if isinstance(exc, UserFacingError) else None},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None) or {},
    )


def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Template("errors/500.html", status_code=HTTP_500_INTERNAL_SERVER_ERROR)


EXCEPTION_HANDLERS = {
    NotFoundException: not_found,
    HTTPException: http_error,
    Exception: server_error,
}
