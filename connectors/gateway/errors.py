"""Every refusal the gateway sends: the `ErrorReply` body, its documented statuses, handlers.

Routes and middleware answer through `refuse`; exceptions raised anywhere in a request
(validation, HTTPException, Kafka/Redis down, too many hold waiters) become the same body.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from connectors.gateway.models import ErrorReply, HoldReply, ItemError
from connectors.gateway.replies import TooManyWaiters

ERRORS_SHOWN_MAX = 1_000

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorReply} for code in (400, 401, 403, 404, 409, 413, 422, 429, 431, 503, 504)
}
HOLD_RESPONSES: dict[int | str, dict[str, Any]] = ERROR_RESPONSES | {
    409: {"model": HoldReply},
    404: {"model": HoldReply},
}


class BackendUnavailable(Exception):
    """Kafka or Redis did not answer in time."""


def refuse(status: int, detail: str, errors: list[ItemError] | None = None) -> JSONResponse:
    body = ErrorReply(detail=detail, errors=errors or [])
    return JSONResponse(body.model_dump(), status_code=status)


def field_errors(details: Iterable[Mapping[str, Any]], blank_field: str = "") -> list[ItemError]:
    """pydantic error details as `ItemError`s: dotted field path and message."""
    return [
        ItemError(
            field=".".join(str(part) for part in detail["loc"]) or blank_field,
            reason=str(detail["msg"]).removeprefix("Value error, "),
        )
        for detail in details
    ]


async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    return refuse(422, "invalid request", field_errors(error.errors()[:ERRORS_SHOWN_MAX]))


async def http_error(request: Request, error: HTTPException) -> JSONResponse:
    response = refuse(error.status_code, str(error.detail))
    response.headers.update(error.headers or {})
    return response


async def backend_unavailable(request: Request, error: BackendUnavailable) -> JSONResponse:
    return refuse(503, str(error))


async def redis_unavailable(request: Request, error: RedisError) -> JSONResponse:
    return refuse(503, "redis unavailable")


async def too_many_waiters(request: Request, error: TooManyWaiters) -> JSONResponse:
    return refuse(503, "too many hold requests waiting; retry", None)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(BackendUnavailable, backend_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(RedisError, redis_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(TooManyWaiters, too_many_waiters)  # type: ignore[arg-type]
