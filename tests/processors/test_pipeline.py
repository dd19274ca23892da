"""The batch pipeline: the next batch is folded while the last one finishes, batches finish
(publish, acknowledge) strictly in order, at most `pipeline_depth` are unfinished, and a
stop lets the unfinished ones end first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from types import SimpleNamespace
from typing import Any

import pytest

from processors import pipeline


class ListInbox:
    """Hands out the given batches, then waits forever (like an idle fetch)."""

    def __init__(self, batches: list[list[int]]) -> None:
        self._batches = list(batches)
        self.oldest_taken_at = 0.0  # the pipeline times how long a batch waited

    async def take(self, records_max: int, bytes_max: int) -> list[int]:
        if self._batches:
            return self._batches.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class Repairs:
    async def run_batch(self, batch: Coroutine[Any, Any, None]) -> None:
        await batch


def fake_worker(depth: int) -> Any:
    ready = asyncio.Event()
    ready.set()
    settings = SimpleNamespace(
        worker=SimpleNamespace(
            take_batch_max=100, take_batch_bytes_max=1 << 20, pipeline_depth=depth
        )
    )
    return SimpleNamespace(
        settings=settings, policy=SimpleNamespace(ready=ready), repairs=Repairs()
    )


class Recorder:
    """start_batch / finish_batch stand-ins: acks of batch n arrive after `delays[n]` s."""

    def __init__(self, delays: dict[int, float]) -> None:
        self.delays = delays
        self.events: list[str] = []
        self.unfinished = 0
        self.most_unfinished = 0

    async def start(self, worker: Any, records: list[int]) -> int:
        self.events.append(f"fold {records[0]}")
        self.unfinished += 1
        self.most_unfinished = max(self.most_unfinished, self.unfinished)
        return records[0]

    async def finish(self, worker: Any, batch: int, previous: Awaitable[None]) -> None:
        await asyncio.sleep(self.delays.get(batch, 0.0))
        self.events.append(f"acked {batch}")
        await previous
        self.events.append(f"finish {batch}")
        self.unfinished -= 1


def run(
    monkeypatch: pytest.MonkeyPatch, batches: list[list[int]], delays: dict[int, float], depth: int
) -> Recorder:
    recorder = Recorder(delays)
    monkeypatch.setattr(pipeline, "start_batch", recorder.start)
    monkeypatch.setattr(pipeline, "finish_batch", recorder.finish)

    async def scenario() -> None:
        loop = pipeline.BatchPipeline(fake_worker(depth), ListInbox(batches))
        running = asyncio.ensure_future(loop.run())
        await asyncio.sleep(0.3)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    asyncio.run(scenario())
    return recorder


def test_batches_finish_in_order_even_when_a_later_batch_is_acked_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = run(monkeypatch, [[1], [2]], {1: 0.05, 2: 0.0}, depth=2)
    finishes = [e for e in recorder.events if e.startswith("finish")]
    assert finishes == ["finish 1", "finish 2"]
    assert recorder.events.index("fold 2") < recorder.events.index("acked 1")  # overlapped


def test_at_most_depth_batches_are_unfinished(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = run(monkeypatch, [[n] for n in range(1, 7)], dict.fromkeys(range(1, 7), 0.02), 2)
    assert recorder.most_unfinished == 2
    assert [e for e in recorder.events if e.startswith("finish")] == [
        f"finish {n}" for n in range(1, 7)
    ]


def test_a_stop_lets_the_unfinished_batches_end_first(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = run(monkeypatch, [[1]], {1: 0.5}, depth=2)  # still unfinished at the stop
    assert recorder.events == ["fold 1", "acked 1", "finish 1"]
