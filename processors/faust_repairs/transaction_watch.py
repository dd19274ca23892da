"""Count Kafka transaction outcomes, which Faust mostly reports only in its log.

faust-streaming 0.15 catches a failed `begin_transaction`, `commit_transaction` or
`abort_transaction` and logs a warning, and logs a fenced producer at info level; only
`commit_transactions` (the offsets commit) raises. A filter on Faust's aiokafka driver logger
counts the swallowed ones (`tally_transaction_errors_total{step}`); the commit path is
wrapped to count commits and their failures. Rebalances make Faust begin a transaction that
is already open on each partition the worker keeps ("IN_TRANSACTION -> IN_TRANSACTION"):
harmless, the transaction carries on, so not counted.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from faust.transport.drivers.aiokafka import Producer

from processors import metrics

FAUST_DRIVER_LOGGER = "faust.transport.drivers.aiokafka"
_SWALLOWED = re.compile(r"^Exception in (begin|commit|abort)_transaction ")
_FENCED = re.compile(r"^Current Producer for transaction \S+ fenced")
_ALREADY_OPEN = "IN_TRANSACTION -> TransactionState.IN_TRANSACTION"
_INSTALLED = "_tally_counts_transactions"
_COMMIT_BEGAN = "_tally_commit_began"  # on Faust's producer: the commit in flight, if any

CommitTransactions = Callable[..., Coroutine[Any, Any, None]]


def failed_step(message: str) -> str | None:
    """The transaction step a Faust driver log message reports as failed, if any."""
    if _FENCED.match(message):
        return "fenced"
    swallowed = _SWALLOWED.match(message)
    if swallowed is None or _ALREADY_OPEN in message:
        return None
    return swallowed.group(1)


class _CountFailures(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        step = failed_step(record.getMessage())
        if step is not None:
            metrics.TRANSACTION_ERRORS.labels(step).inc()
        return True  # counting only: the record is still logged


def counting_commits(commit: CommitTransactions) -> CommitTransactions:
    """`Producer.commit_transactions`, counting the transactions it commits or the failure,
    and timing it."""

    async def commit_transactions(
        self: Any, tid_to_offset_map: Mapping[str, Any], *args: Any, **kwargs: Any
    ) -> None:
        began = time.monotonic()
        setattr(self, _COMMIT_BEGAN, began)
        try:
            await commit(self, tid_to_offset_map, *args, **kwargs)
        except Exception:
            metrics.TRANSACTION_ERRORS.labels("commit").inc()
            raise
        finally:
            setattr(self, _COMMIT_BEGAN, None)
        metrics.TRANSACTION_COMMIT_SECONDS.observe(time.monotonic() - began)
        metrics.TRANSACTIONS_COMMITTED.inc(len(tid_to_offset_map))

    return commit_transactions


def commit_began(producer: Any) -> float | None:
    """When (time.monotonic) the offsets commit in flight on Faust's `producer` began; None
    when none is."""
    began: float | None = getattr(producer, _COMMIT_BEGAN, None)
    return began


def install() -> None:
    """Idempotent: the log filter and the commit wrapper, once per process."""
    if getattr(Producer, _INSTALLED, False):
        return
    logging.getLogger(FAUST_DRIVER_LOGGER).addFilter(_CountFailures())
    Producer.commit_transactions = counting_commits(Producer.commit_transactions)  # type: ignore[method-assign]
    setattr(Producer, _INSTALLED, True)


def transaction_states(producer: Any) -> list[str]:
    """One line per transactional producer of Faust's `producer`: its transaction's state and
    whether its lock is held (for a task dump)."""
    lines: list[str] = []
    producers = getattr(producer, "_transaction_producers", {})
    locks = getattr(producer, "_trn_locks", {})
    for tid, transactional in sorted(producers.items()):
        lock = locks.get(tid)
        state = transactional._txn_manager.state
        held = "-" if lock is None else lock.locked()
        lines.append(f"transaction {tid}: {state}, lock held {held}")
    return lines
