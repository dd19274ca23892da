"""processors.pending_figures: figures Redis refused wait for a retry, newest per key."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import redis.asyncio as aioredis
from prometheus_client import REGISTRY

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


class Answering:
    """Writes every figure but those it was told are stale."""

    def __init__(self, stale: set[str]) -> None:
        self.stale = stale

    async def publish(self, figures: Sequence[Figure]) -> list[bool]:
        return [figure.sku not in self.stale for figure in figures]


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_each_figure_is_counted_by_kind_and_outcome_and_each_written_ats_timed() -> None:
    channel = f"web-{uuid.uuid4().hex[:6]}"
    stamped_ms = int(time.time() * 1000) - 2_000  # two seconds ago: lands in the 2.5 s bucket
    figures = [
        Figure("ats", channel, "A", 1, FigureVersion(1, 1), stamped_ms),
        Figure("ats", channel, "B", 1, FigureVersion(1, 1), stamped_ms),
        Figure("ats", channel, "C", 1, FigureVersion(1, 1), 0),  # a republish: not timed
        Figure("loc", "L1", "A", 1, FigureVersion(1, 1), stamped_ms),
    ]
    counted = {
        (kind, result): _sample("tally_published_figures_total", kind=kind, result=result)
        for kind in ("ats", "loc")
        for result in ("written", "stale")
    }
    await PendingFigures().publish(Answering({"B"}), figures)  # type: ignore[arg-type]
    after = {
        key: _sample("tally_published_figures_total", kind=key[0], result=key[1]) for key in counted
    }
    assert {key: after[key] - counted[key] for key in counted} == {
        ("ats", "written"): 2,
        ("ats", "stale"): 1,
        ("loc", "written"): 1,
        ("loc", "stale"): 0,
    }
    timed = _sample("tally_sync_latency_seconds_count", channel=channel)
    assert timed == 1  # A only: B was stale, C a republish, the location figure not ATS
    assert _sample("tally_sync_latency_seconds_bucket", channel=channel, le="1.0") == 0
    assert _sample("tally_sync_latency_seconds_bucket", channel=channel, le="2.5") == 1
