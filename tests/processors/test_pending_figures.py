"""processors.pending_figures: figures Redis refused wait for a retry, newest per key."""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from base.redis_keys import FigureVersion
from processors.pending_figures import PendingFigures
from processors.publisher import Figure


class FlakyPublisher:
    """Fails while `down`; otherwise records what it was asked to write."""

    def __init__(self) -> None:
        self.down = True
        self.written: list[Figure] = []

    async def publish(self, figures: Sequence[Figure]) -> list[bool]:
        if self.down:
            raise aioredis.ConnectionError("redis is restarting")
        self.written += figures
        return [True] * len(figures)


def location_figure(units: int, sku_version: int, policy_version: int) -> Figure:
    return Figure("loc", "L2", "F0", units, FigureVersion(sku_version, policy_version), 0)


async def test_an_older_figure_never_displaces_a_newer_one_waiting() -> None:
    publisher = FlakyPublisher()
    pending = PendingFigures()
    newer = location_figure(0, 7, 5)  # republished under the new policy
    await pending.publish(publisher, [newer])  # type: ignore[arg-type]
    await pending.publish(publisher, [location_figure(4, 7, 3)])  # type: ignore[arg-type]
    publisher.down = False
    await pending.retry(publisher)  # type: ignore[arg-type]
    assert publisher.written == [newer]


async def test_a_newer_figure_replaces_an_older_one_waiting() -> None:
    publisher = FlakyPublisher()
    pending = PendingFigures()
    await pending.publish(publisher, [location_figure(4, 7, 3)])  # type: ignore[arg-type]
    newer = location_figure(1, 8, 3)
    await pending.publish(publisher, [newer])  # type: ignore[arg-type]
    publisher.down = False
    await pending.retry(publisher)  # type: ignore[arg-type]
    assert publisher.written == [newer]
    await pending.retry(publisher)  # type: ignore[arg-type]
    assert publisher.written == [newer]  # written once: nothing left waiting
