"""The gateway's ASGI middleware: request size limits (413 / 431) and request metrics.

Both wrap the whole app, so they see every request, routed or not.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse

from connectors import metrics
from connectors.gateway.errors import refuse

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _HttpMiddleware:
    """Pass everything but HTTP requests (lifespan, websockets) straight to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class BodyLimit(_HttpMiddleware):
    """Refuse header sections over `header_bytes_max` (431) and bodies over `bytes_max` (413:
    by Content-Length, and while streaming)."""

    def __init__(self, app: ASGIApp, bytes_max: int, header_bytes_max: int) -> None:
        super().__init__(app)
        self.bytes_max = bytes_max
        self.header_bytes_max = header_bytes_max

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        header_bytes = sum(len(name) + len(value) for name, value in scope["headers"])
        if header_bytes > self.header_bytes_max:
            reply = refuse(431, f"request headers over {self.header_bytes_max} bytes")
            await reply(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.bytes_max):
            await _too_large(self.bytes_max)(scope, receive, send)
            return
        seen = 0
        refused = False
        started = False

        async def limited_receive() -> Any:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.bytes_max and not refused:
                    refused = True
                    if not started:
                        await _too_large(self.bytes_max)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; drop the app's own answer
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The app saw the cut-off body as a client disconnect; the 413 is already sent.


def _too_large(bytes_max: int) -> JSONResponse:
    return refuse(413, f"body over {bytes_max} bytes")


class RequestMetrics(_HttpMiddleware):
    """tally_gateway_requests_total{route,status} and request latency by route template."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started_s = time.perf_counter()
        status = 500

        async def recording_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.GATEWAY_REQUESTS.labels(route, str(status)).inc()
            metrics.GATEWAY_REQUEST_LATENCY.labels(route).observe(time.perf_counter() - started_s)
