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
from connectors.pushers import signing
from connectors.pushers.backoff import retry_after_s
from connectors.pushers.changes import Change, Outcome, PushedFigure
from connectors.pushers.http_sink import GiveUp, HttpSink, Tries, batches, configured
from connectors.pushers.keys import PusherKind
from connectors.pushers.transport import Answer, Sleep, real_sleep
from connectors.pushers.verdicts import Accepted, Failed, Refused, Throttled, Verdict

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


class WebhookSink(HttpSink[None]):
    name: PusherKind = "webhook"

    def __init__(
        self,
        settings: PusherSettings,
        channel: str,
        *,
        client: httpx.AsyncClient | None = None,
        sleep: Sleep = real_sleep,
    ) -> None:
        self._url = configured(settings.webhook_url, "TALLY_PUSHER__WEBHOOK_URL")
        self._key = signing.secret_key(settings.webhook_secret.get_secret_value())
        batch_max = settings.webhook_figures_per_request_max
        super().__init__(settings, channel, batch_max=batch_max, client=client, sleep=sleep)

    async def push(
        self, changes: Sequence[Change], pushed: Mapping[str, PushedFigure]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for batch in batches(changes, self.batch_max):
            outcomes += await self._deliver(batch)
        return outcomes

    async def _deliver(self, changes: Sequence[Change]) -> list[Outcome]:
        content = body(self._channel, changes)
        msg_id = message_id(self._channel, changes)

        def signed_headers() -> dict[str, str]:  # a fresh timestamp on every attempt
            signed = signing.headers(self._key, msg_id, int(time.time()), content)
            return {"content-type": "application/json", **signed}

        tries = Tries()
        try:
            await self._call(self._url, content, signed_headers, tries)
        except GiveUp as give_up:
            return self._dead(changes, give_up.reason, tries.posts)
        return self._delivered(changes)

    def _judge(self, answer: Answer) -> Verdict[None]:
        status = answer.status
        if status is None:
            return Failed(answer.error or "http", f"{answer.error}: {answer.detail}")
        if 200 <= status < 300:
            return Accepted(None)
        if 400 <= status < 500 and status not in RETRYABLE_4XX:
            return Refused(f"rejected: HTTP {status}")
        if status in (429, 503):
            return Throttled(f"throttled: HTTP {status}", answer.retry_after)
        return Failed("http", f"HTTP {status}")

    def _after_throttle(self, throttle: Throttled, tries: Tries) -> float:
        """Retry-After (bounded) when the receiver gave one, else backoff."""
        self._spend(throttle.last, tries)
        hinted = retry_after_s(throttle.retry_after, max_s=self._settings.webhook_retry_after_s_max)
        return hinted if hinted is not None else self._backoff(tries.posts)

    def _after_failure(self, failure: Failed, tries: Tries) -> float:
        self._spend(failure.last, tries)
        return self._backoff(tries.posts)

    def _spend(self, last: str, tries: Tries) -> None:
        """Every attempt, throttled or failed, counts against `attempts_max`."""
        if tries.posts >= self._settings.attempts_max:
            raise GiveUp(f"attempts exhausted; last: {last}")
