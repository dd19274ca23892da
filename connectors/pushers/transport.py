"""One HTTP call to an external channel, timed and classified; shared by both pushers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from connectors.metrics import PUSHER_ERRORS, PUSHER_PUSH_LATENCY, PUSHER_PUSHES
from connectors.pushers.keys import PusherKind

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP response, or why there was none (`error` is "timeout" or "http")."""

    status: int | None
    body: bytes
    retry_after: str | None
    error: str | None = None
    detail: str = ""


async def post(
    client: httpx.AsyncClient,
    pusher: PusherKind,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
) -> Answer:
    started = time.perf_counter()
    try:
        response = await client.post(url, content=content, headers=headers)
    except httpx.TimeoutException as error:
        return Answer(None, b"", None, "timeout", type(error).__name__)
    except httpx.HTTPError as error:
        return Answer(None, b"", None, "http", f"{type(error).__name__}: {error}")
    finally:
        PUSHER_PUSH_LATENCY.labels(pusher).observe(time.perf_counter() - started)
    return Answer(response.status_code, response.content, response.headers.get("retry-after"))


def count(pusher: PusherKind, result: str, error_kind: str | None = None) -> None:
    """One push result (ok|retry|throttled|dead_letter) and, for failures, its error kind."""
    PUSHER_PUSHES.labels(pusher, result).inc()
    if error_kind is not None:
        PUSHER_ERRORS.labels(pusher, error_kind).inc()


async def real_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def json_object(body: bytes) -> dict[str, Any] | None:
    """A response body's JSON object; None when it is not one."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
