"""A Standard Webhooks receiver that verifies every signature and records deliveries.

It checks the body shape of the configured `payload` form ("standard": the {type,
timestamp, data} envelope; "v1": the bare figure) and records the data part.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import orjson

from connectors.pushers import signing
from tests.connectors.fakes.server import FakeServer, plain_fault

PATH = "/hooks/tally"


class FakeWebhookReceiver(FakeServer):
    def __init__(self, secret: str, *, payload: str = "standard", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = signing.secret_key(secret)
        self.payload = payload
        self.envelopes: list[dict[str, Any]] = []  # every standard envelope received
        self.attempts: list[tuple[str, Any]] = []  # (webhook-id, payload) of every request
        self.delivered: list[tuple[str, Any]] = []  # the ones answered 2xx
        self.latest: dict[str, dict[str, Any]] = {}  # sku -> last figure accepted

    @property
    def hook_url(self) -> str:
        return self.url + PATH

    def answer(
        self, path: str, headers: dict[str, str], body: bytes, fault: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        if path != PATH:
            self.violation(f"path {path}")
        try:
            signing.verify(self.key, headers, body, now_s=int(time.time()))
        except signing.SignatureError as error:
            self.violation(f"signature: {error}")
            return 401, {"error": str(error)}, {}
        if headers.get("content-type") != "application/json":
            self.violation(f"content-type {headers.get('content-type')}")
        payload = self._data(orjson.loads(body))
        figures = payload.get("changes", [payload])
        for figure in figures:
            wanted = {"sku", "available", "version", "ingested_at"} | (
                set() if "changes" in payload else {"channel"}
            )
            if set(figure) != wanted:
                self.violation(f"figure fields {sorted(figure)}")
        with self.lock:
            self.attempts.append((headers["webhook-id"], payload))
        if fault == "410":
            return 410, {"error": "gone"}, {}
        failure = plain_fault(fault)
        if failure is not None:
            return failure
        with self.lock:
            self.delivered.append((headers["webhook-id"], payload))
            for figure in figures:
                self.latest[figure["sku"]] = figure
        return 200, {"ok": True}, {}

    def _data(self, received: Any) -> Any:
        """The figure(s) of a body; an envelope's shape is checked on the way."""
        if self.payload == "v1":
            return received
        if set(received) != {"type", "timestamp", "data"}:
            self.violation(f"envelope fields {sorted(received)}")
            return received
        batch = "changes" in received["data"]
        if received["type"] != ("tally.available.batch" if batch else "tally.available.updated"):
            self.violation(f"type {received['type']}")
        try:
            datetime.fromisoformat(received["timestamp"])
        except (TypeError, ValueError):
            self.violation(f"timestamp {received['timestamp']!r}")
        with self.lock:
            self.envelopes.append(received)
        return received["data"]
