"""processors.lag: the consumer lag counts the records waiting for this worker, also when its
consumer's fetches stopped completing (its highwater stale) and nothing was processed yet."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.types import TP
from prometheus_client import REGISTRY

from processors.faust_repairs.starvation_watch import Waiting
from processors.lag import report_consumer_lag

EVENTS, COMMANDS, CHANGELOG = "t.events", "t.commands", "t-positions-changelog"


class _Consumer:
    def __init__(self, highwaters: dict[TP, int | None]) -> None:
        self._highwaters = highwaters

    def assignment(self) -> set[TP]:
        return set(self._highwaters)

    def highwater(self, tp: TP) -> int | None:
        return self._highwaters[tp]


def _lag(topic_kind: str) -> float | None:
    return REGISTRY.get_sample_value("tally_consumer_lag_messages", {"topic": topic_kind})


def _worker(consumer: _Consumer, last: dict[Any, int], seen: dict[Any, Waiting]) -> Any:
    repairs = SimpleNamespace(processed=SimpleNamespace(last=last), waiting_seen=seen)
    return SimpleNamespace(
        kinds={EVENTS: "events", COMMANDS: "commands"},
        app=SimpleNamespace(consumer=consumer),
        repairs=repairs,
    )


def test_the_broker_s_end_counts_when_the_fetch_s_highwater_is_stale() -> None:
    consumer = _Consumer({TP(EVENTS, 0): 42, TP(COMMANDS, 0): None, TP(CHANGELOG, 0): 900})
    seen = {(EVENTS, 0): Waiting(next_offset=30, end_offset=50)}
    report_consumer_lag(_worker(consumer, {(EVENTS, 0): 41}, seen))
    assert _lag("events") == 8  # 42 .. 49 wait; the fetch knew of none of them
    assert _lag("commands") == 0  # nothing processed, nothing seen: not counted


def test_a_partition_nothing_was_processed_on_counts_from_the_watch_s_offset() -> None:
    consumer = _Consumer({TP(EVENTS, 0): None, TP(COMMANDS, 0): 10})
    seen = {(COMMANDS, 0): Waiting(next_offset=4, end_offset=7)}
    report_consumer_lag(_worker(consumer, {}, seen))
    assert _lag("commands") == 6  # 4 .. 9: the fetch's highwater is the later end here
    assert _lag("events") == 0


def test_the_lag_is_never_negative() -> None:
    consumer = _Consumer({TP(EVENTS, 0): 5})
    report_consumer_lag(_worker(consumer, {(EVENTS, 0): 9}, {}))
    assert _lag("events") == 0
