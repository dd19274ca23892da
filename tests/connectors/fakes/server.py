"""A threaded http.server on 127.0.0.1:<free port> with scripted faults, for pusher tests.

Faults are consumed one per request, in order: an HTTP status ("500", "503", "429" with
Retry-After 0, "400", "401", ...), "timeout"
(the handler sleeps past the client's timeout, after doing the work, like a server that
applied a request whose answer got lost); Shopify only: "throttled", "internal" (a 200 with
INTERNAL_SERVER_ERROR), "too_low_1" (a user error on the call's second quantity). Then it behaves.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import orjson


class FakeServer:
    def __init__(self, *, timeout_sleep_s: float = 1.0) -> None:
        self.lock = threading.Lock()
        self.faults: deque[str] = deque()
        self.fail_always: str | None = None  # a fault served on every request
        self.delay_s = 0.0  # before answering every request (slow receiver)
        self.timeout_sleep_s = timeout_sleep_s
        self.violations: list[str] = []  # request-shape problems; tests assert it stays empty
        self.requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, faults: Iterable[str]) -> None:
        with self.lock:
            self.faults.extend(faults)

    def violation(self, text: str) -> None:
        with self.lock:
            self.violations.append(text)

    @contextmanager
    def running(self) -> Iterator[Self]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()

    def next_fault(self) -> str | None:
        with self.lock:
            self.requests += 1
            if self.faults:
                return self.faults.popleft()
            return self.fail_always

    def takes_faults(self, path: str) -> bool:
        """Whether a request to `path` consumes a scripted fault (a side endpoint may not)."""
        return True

    # Subclasses: answer one request; return (status, json body, extra headers).
    def answer(
        self, path: str, headers: dict[str, str], body: bytes, fault: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_PATCH(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                headers[":method"] = self.command  # POST or PATCH, for fakes that care
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                fault = fake.next_fault() if fake.takes_faults(self.path) else None
                status, payload, extra = fake.answer(self.path, headers, body, fault)
                if fault == "timeout":
                    time.sleep(fake.timeout_sleep_s)
                data = orjson.dumps(payload)
                try:
                    self.send_response(status)
                    for name, value in {"content-type": "application/json", **extra}.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout fault)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def plain_fault(fault: str | None) -> tuple[int, Any, dict[str, str]] | None:
    """The answer for an HTTP-level fault, or None when the request should be served."""
    if fault == "429":
        return 429, {"errors": [{"message": "Too many requests"}]}, {"retry-after": "0"}
    if fault is not None and fault.isdigit():  # "400", "401", "500", "503", ...
        return int(fault), {"errors": [{"message": f"fake {fault}"}]}, {}
    return None
