"""Signed webhook pusher: POST figures as JSON with Standard Webhooks signatures.

Body (`webhook_payload`): "standard" (the default) is the Standard Webhooks envelope
{type, timestamp, data} with data = {channel, sku, available, version, ingested_at}, or
with `webhook_figures_per_request_max` > 1 type "tally.available.batch" and data =
{channel, changes: [...]}; "v1" is the bare figure (the pre-envelope wire). The
`webhook-id` is derived from the content (channel + sku@version pairs), so every retry,
also one after a crash, carries the same id and receivers can deduplicate on it; each
attempt is signed with a fresh timestamp.

2xx is delivered. 410 Gone stops the pusher (EndpointGone: the runner disables it). Any
other answer, a timeout or a connection error defers the figure: the runner parks it and
retries it on `webhook_retry_schedule_s` (Retry-After, bounded, when it is longer) while
other SKUs go on; once the schedule is spent it is dead-lettered. One failure in a push
defers the rest of that push unsent: a receiver that just failed is not hammered.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from base.settings import PusherSettings
from connectors.pushers import signing
from connectors.pushers.backoff import retry_after_s
from connectors.pushers.changes import Change, Deferred, Outcome, PushedFigure
from connectors.pushers.http_sink import GiveUp, HttpSink, Tries, batches, configured
from connectors.pushers.keys import PusherKind
from connectors.pushers.stops import EndpointGone
from connectors.pushers.transport import Answer, Sleep, real_sleep
from connectors.pushers.verdicts import Accepted, Failed, Throttled, Verdict

WEBHOOK_ID_NAMESPACE = uuid.UUID("6b1f3e0c-7f5d-4c1e-9a57-1f0c2d7e8a41")
FIGURE_TYPE = "tally.available.updated"
BATCH_TYPE = "tally.available.batch"


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


def body(channel: str, changes: Sequence[Change], *, payload: str = "standard") -> bytes:
    """The request body: the Standard Webhooks envelope, or the bare "v1" figure(s)."""
    if len(changes) == 1:
        data = figure_json(channel, changes[0])
    else:
        figures = [
            {k: v for k, v in figure_json(channel, c).items() if k != "channel"} for c in changes
        ]
        data = {"channel": channel, "changes": figures}
    if payload == "v1":
        return orjson.dumps(data)
    envelope = {
        "type": FIGURE_TYPE if len(changes) == 1 else BATCH_TYPE,
        "timestamp": event_timestamp(changes),
        "data": data,
    }
    return orjson.dumps(envelope)


def event_timestamp(changes: Sequence[Change]) -> str:
    """When the newest figure's causing event was stamped (now for a republished figure),
    ISO 8601 in UTC with milliseconds."""
    stamp_ms = max(c.ingested_ms for c in changes) or int(time.time() * 1000)
    moment = datetime.fromtimestamp(stamp_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        super().__init__(
            settings,
            channel,
            batch_max=batch_max,
            client=client,
            sleep=sleep,
            timeout_s=settings.webhook_timeout_s,
        )

    async def push(
        self, changes: Sequence[Change], pushed: Mapping[str, PushedFigure]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        failing: str | None = None
        for batch in batches(changes, self.batch_max):
            if failing is not None:  # the receiver failed a moment ago: do not hammer it
                outcomes += [Deferred(c, f"not sent: {failing}") for c in batch]
                continue
            batch_outcomes = await self._deliver(batch)
            outcomes += batch_outcomes
            if isinstance(batch_outcomes[0], Deferred):
                failing = batch_outcomes[0].reason
        return outcomes

    def retry_delay_s(self, failures: int, hint_s: float | None) -> float | None:
        """The schedule's wait before retry `failures`, or the receiver's longer Retry-After;
        None once the schedule is spent."""
        schedule = self._settings.webhook_retry_schedule_s
        if failures > len(schedule):
            return None
        return max(schedule[failures - 1], hint_s or 0.0)

    async def _deliver(self, changes: Sequence[Change]) -> list[Outcome]:
        content = body(self._channel, changes, payload=self._settings.webhook_payload)
        msg_id = message_id(self._channel, changes)

        def signed_headers() -> dict[str, str]:  # a fresh timestamp on every attempt
            signed = signing.headers(self._key, msg_id, int(time.time()), content)
            return {"content-type": "application/json", **signed}

        try:
            await self._call(self._url, content, signed_headers, Tries())
        except GiveUp as give_up:
            return [Deferred(change, give_up.reason, give_up.hint_s) for change in changes]
        return self._delivered(changes)

    def _judge(self, answer: Answer) -> Verdict[None]:
        status = answer.status
        if status is None:
            return Failed(answer.error or "http", f"{answer.error}: {answer.detail}")
        if 200 <= status < 300:
            return Accepted(None)
        if status == 410:  # Standard Webhooks: the receiver asks us to stop sending
            raise EndpointGone(f"{self._url} answered 410 Gone")
        if status in (429, 503):
            return Throttled(f"throttled: HTTP {status}", answer.retry_after)
        return Failed("http", f"HTTP {status}")

    def _after_throttle(self, throttle: Throttled, tries: Tries) -> float:
        """One attempt per round: the runner's schedule waits, honouring Retry-After."""
        max_s = self._settings.webhook_retry_after_s_max
        raise GiveUp(throttle.last, retry_after_s(throttle.retry_after, max_s=max_s))

    def _after_failure(self, failure: Failed, tries: Tries) -> float:
        raise GiveUp(failure.last)
