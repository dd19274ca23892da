"""Report the consumer lag: records between the next one to process and the log end.

The log end is the later of the consumer's last fetch and the broker's answer to the last
starvation check; a partition nothing was processed on since assignment counts from its
committed offset. So a worker whose fetches stopped completing shows its lag growing, not
zero (fault seeds 43 and 200).
"""

from __future__ import annotations

from faust.types import TP

from processors import metrics
from processors.parts import Worker


def report_consumer_lag(worker: Worker) -> None:
    """Records waiting for this worker, per topic kind, over its assigned source partitions."""
    kinds = worker.kinds
    lag_by_kind: dict[str, int] = dict.fromkeys(kinds.values(), 0)
    consumer = worker.app.consumer
    processed, seen = worker.repairs.processed.last, worker.repairs.waiting_seen
    for tp in consumer.assignment():
        if tp.topic not in kinds:
            continue
        key = (tp.topic, tp.partition)
        waiting, last = seen.get(key), processed.get(key)
        if last is not None:
            next_offset = last + 1
        elif waiting is not None:
            next_offset = waiting.next_offset  # nothing processed yet: from the committed one
        else:
            continue
        end = max(_highwater(consumer, tp), waiting.end_offset if waiting else 0)
        lag_by_kind[kinds[tp.topic]] += max(0, end - next_offset)
    for topic_kind, lag in lag_by_kind.items():
        metrics.CONSUMER_LAG.labels(topic_kind).set(lag)


def _highwater(consumer: object, tp: TP) -> int:
    highwater: int | None = consumer.highwater(tp)  # type: ignore[attr-defined]
    return highwater if highwater is not None else 0
