"""Report the consumer lag: messages between the last one processed and the log end."""

from __future__ import annotations

from faust.types import TP

from processors import metrics
from processors.parts import Worker


def report_consumer_lag(worker: Worker) -> None:
    """Messages between the last one this worker processed and the log end, per topic kind."""
    kinds = worker.kinds
    lag_by_kind: dict[str, int] = dict.fromkeys(kinds.values(), 0)
    consumer = worker.app.consumer
    assigned = consumer.assignment()
    for (topic, partition), offset in list(worker.repairs.processed.last.items()):
        tp = TP(topic, partition)
        if tp not in assigned:
            continue  # revoked in a rebalance in progress; asking about it would crash
        highwater = consumer.highwater(tp)
        if highwater is not None:
            lag_by_kind[kinds[topic]] += max(0, highwater - offset - 1)
    for topic_kind, lag in lag_by_kind.items():
        metrics.CONSUMER_LAG.labels(topic_kind).set(lag)
