"""The HTTP sink under both pushers: one request's attempt loop, its counting, dead letters.

A pusher subclasses `HttpSink` and keeps only what is its own: what an answer means
(`_judge`: accepted, throttled, failed or refused) and its retry policy (`_after_throttle`,
`_after_failure`: how long to wait, or `GiveUp` when its budget is spent). The loop here
posts, counts every answer on the pusher's metrics, sleeps between attempts and gives up
on a refusal; the pusher turns `GiveUp` into dead letters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx

from base.settings import PusherSettings
from connectors.metrics import PUSHER_ERRORS, PUSHER_PUSHES
from connectors.pushers.backoff import backoff_s
from connectors.pushers.changes import Change, DeadLettered, Delivered, Outcome
from connectors.pushers.keys import PusherKind
from connectors.pushers.transport import Answer, Sleep, count, post
from connectors.pushers.verdicts import Accepted, Failed, Refused, Throttled, Verdict

T = TypeVar("T")


class GiveUp(Exception):
    """A push that will not succeed by retrying it now; its figures are dead-lettered (or,
    for a sink with a retry schedule, deferred: `hint_s` is the receiver's Retry-After)."""

    def __init__(self, reason: str, hint_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint_s = hint_s


@dataclass(slots=True)
class Tries:
    """The answers one push has had so far, by kind: what a retry policy bounds."""

    posts: int = 0
    throttles: int = 0
    failures: int = 0


def configured(value: str, env: str) -> str:
    """A setting the pusher cannot run without; ValueError naming its variable when unset."""
    if not value:
        raise ValueError(f"set {env}")
    return value


def batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` in consecutive slices of at most `size`, in order."""
    return [items[start : start + size] for start in range(0, len(items), size)]


class HttpSink(ABC, Generic[T]):
    """Posts to one external channel until an answer is accepted, refused or out of tries."""

    name: PusherKind

    def __init__(
        self,
        settings: PusherSettings,
        channel: str,
        *,
        batch_max: int,
        client: httpx.AsyncClient | None,
        sleep: Sleep,
        timeout_s: float | None = None,
    ) -> None:
        self._settings = settings
        self._channel = channel
        self._batch_max = batch_max
        self._client = client or httpx.AsyncClient(timeout=timeout_s or settings.http_timeout_s)
        self._sleep = sleep

    @property
    def batch_max(self) -> int:
        """Figures in one request at most."""
        return self._batch_max

    async def aclose(self) -> None:
        await self._client.aclose()

    def retry_delay_s(self, failures: int, hint_s: float | None) -> float | None:
        """This sink retries inside a push and never defers a figure."""
        return None

    async def _call(
        self, url: str, content: bytes, headers: Callable[[], dict[str, str]], tries: Tries
    ) -> T:
        """Post `content` until an answer is accepted; raises GiveUp when refused or spent.

        `headers` is asked again for every attempt (a signature or a token may change).
        """
        while True:
            tries.posts += 1
            answer = await self._send(url, content, headers())
            verdict = self._judge(answer)
            if isinstance(verdict, Accepted):
                return verdict.value
            if isinstance(verdict, Refused):
                PUSHER_ERRORS.labels(self.name, "rejected").inc()
                raise GiveUp(verdict.reason)
            if isinstance(verdict, Throttled):
                tries.throttles += 1
                count(self.name, "throttled", "throttled")
                wait_s = self._after_throttle(verdict, tries)
            else:
                tries.failures += 1
                count(self.name, "retry", verdict.kind)
                wait_s = self._after_failure(verdict, tries)
            await self._sleep(wait_s)

    async def _send(self, url: str, content: bytes, headers: dict[str, str]) -> Answer:
        """One HTTP call (a POST unless the sink says otherwise)."""
        return await post(self._client, self.name, url, content=content, headers=headers)

    @abstractmethod
    def _judge(self, answer: Answer) -> Verdict[T]:
        """What one answer means for this pusher."""

    @abstractmethod
    def _after_throttle(self, throttle: Throttled, tries: Tries) -> float:
        """Seconds to wait before the next attempt; raises GiveUp when the budget is spent."""

    @abstractmethod
    def _after_failure(self, failure: Failed, tries: Tries) -> float:
        """Seconds to wait before the next attempt; raises GiveUp when the budget is spent."""

    def _backoff(self, attempt: int) -> float:
        settings = self._settings
        return backoff_s(attempt, base_s=settings.backoff_base_s, max_s=settings.backoff_max_s)

    def _delivered(self, changes: Sequence[Change]) -> list[Outcome]:
        count(self.name, "ok")
        return [Delivered(change) for change in changes]

    def _dead(self, changes: Sequence[Change], reason: str, attempts: int) -> list[Outcome]:
        PUSHER_PUSHES.labels(self.name, "dead_letter").inc(len(changes))
        return [DeadLettered(change, reason, attempts) for change in changes]
