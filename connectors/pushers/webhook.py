"""Signed webhook pusher: POST figures as JSON with Standard Webhooks signatures.

Body: {channel, sku, available, version, ingested_at} per request, or with
`webhook_figures_per_request_max` > 1, {channel, changes: [...]}. The `webhook-id` is
derived from the content (channel + sku@version pairs), so every retry, also one after a
crash, carries the same id and receivers can deduplicate on it; each attempt is signed
with a fresh timestamp. 2xx is delivered; 5xx, 408, 429, timeouts and connection errors
are retried with exponential backoff and full jitter (429/503 honour Retry-After); other
4xx and exhausted attempts are dead-lettered.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from base.settings import PusherSettings
from connectors.metrics import PUSHER_ERRORS, PUSHER_PUSHES
from connectors.pushers import signing
from connectors.pushers.backoff import backoff_s, retry_after_s
from connectors.pushers.changes import Change, DeadLettered, Delivered, Outcome, PushedFigure
from connectors.pushers.keys import PusherKind
from connectors.pushers.transport import Sleep, count, post, real_sleep

WEBHOOK_ID_NAMESPACE = uuid.UUID("6b1f3e0c-7f5d-4c1e-9a57-1f0c2d7e8a41")
RETRYABLE_4XX = frozenset({408, 409, 425, 429})


def message_id(channel: str, changes: Sequence[Change]) -> str:
    """Deterministic per content: the same figures always get the same webhook-id."""
    pairs = ",".join(f"{c.sku}@{c.version.wire()}" for c in sorted(changes, key=lambda c: c.sku))
    return "msg_" + uuid.uuid5(WEBHOOK_ID_NAMESPACE, f"{channel}|{pairs}").hex


def figure_json(channel: str, change: Change) -> dict[str, Any]:
    return {
        "channel": channel,
        "sku": change.sku,
        "available": change.available,
        "version": change.version.wire(),
        "ingested_at": change.ingested_ms,
    }


def body(channel: str, changes: Sequence[Change]) -> bytes:
    if len(changes) == 1:
        return orjson.dumps(figure_json(channel, changes[0]))
    figures = [
        {k: v for k, v in figure_json(channel, c).items() if k != "channel"} for c in changes
    ]
    return orjson.dumps({"channel": channel, "changes": figures})


class WebhookSink:
    name: PusherKind = "webhook"

    def __init__(
        self,
        settings: PusherSettings,
        channel: str,
        *,
        client: httpx.AsyncClient | None = None,
        sleep: Sleep = real_sleep,
    ) -> None:
        if not settings.webhook_url:
            raise ValueError("set TALLY_PUSHER__WEBHOOK_URL")
        self._key = signing.secret_key(settings.webhook_secret.get_secret_value())
        self._settings = settings
        self._channel = channel
        self._client = client or httpx.AsyncClient(timeout=settings.http_timeout_s)
        self._sleep = sleep

    @property
    def batch_max(self) -> int:
        return self._settings.webhook_figures_per_request_max

    async def aclose(self) -> None:
        await self._client.aclose()

    async def push(
        self, changes: Sequence[Change], pushed: Mapping[str, PushedFigure]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        step = self.batch_max
        for start in range(0, len(changes), step):
            outcomes += await self._deliver(changes[start : start + step])
        return outcomes

    async def _deliver(self, changes: Sequence[Change]) -> list[Outcome]:
        settings = self._settings
        content = body(self._channel, changes)
        msg_id = message_id(self._channel, changes)
        last_failure = ""
        for attempt in range(1, settings.attempts_max + 1):
            signed = signing.headers(self._key, msg_id, int(time.time()), content)
            answer = await post(
                self._client,
                "webhook",
                settings.webhook_url,
                content=content,
                headers={"content-type": "application/json", **signed},
            )
            status = answer.status
            if status is not None and 200 <= status < 300:
                count("webhook", "ok")
                return [Delivered(change) for change in changes]
            if status is not None and 400 <= status < 500 and status not in RETRYABLE_4XX:
                PUSHER_ERRORS.labels("webhook", "rejected").inc()
                return _dead(changes, f"rejected: HTTP {status}", attempt)
            wait_s = backoff_s(
                attempt, base_s=settings.backoff_base_s, max_s=settings.backoff_max_s
            )
            if status in (429, 503):
                last_failure = f"throttled: HTTP {status}"
                count("webhook", "throttled", "throttled")
                hinted = retry_after_s(answer.retry_after, max_s=settings.webhook_retry_after_s_max)
                wait_s = hinted if hinted is not None else wait_s
            elif status is None:
                last_failure = f"{answer.error}: {answer.detail}"
                count("webhook", "retry", answer.error)
            else:
                last_failure = f"HTTP {status}"
                count("webhook", "retry", "http")
            if attempt < settings.attempts_max:
                await self._sleep(wait_s)
        return _dead(changes, f"attempts exhausted; last: {last_failure}", settings.attempts_max)


def _dead(changes: Sequence[Change], reason: str, attempts: int) -> list[Outcome]:
    PUSHER_PUSHES.labels("webhook", "dead_letter").inc(len(changes))
    return [DeadLettered(change, reason, attempts) for change in changes]
