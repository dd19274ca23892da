"""processors.faust_repairs.transaction_watch: transaction failures Faust only logs become
metrics."""

from __future__ import annotations

import asyncio
import logging
import re
from types import SimpleNamespace
from typing import Any

import pytest

from base.settings import Settings
from processors import metrics
from processors.faust_repairs import transaction_watch
from tests.support.isolation import unique
from tests.support.kafka_io import fact, produce_json
from tests.support.waiting import wait_until
from tests.support.worker_process import WorkerProcess

TID = "tally-1-3"


@pytest.mark.parametrize(
    ("message", "step"),
    [
        (f"Exception in commit_transaction for transaction {TID} exception KafkaError", "commit"),
        (f"Exception in abort_transaction for transaction {TID} exception KafkaError", "abort"),
        (f"Exception in begin_transaction for transaction {TID} exception Timeout", "begin"),
        (f"Current Producer for transaction {TID} fenced", "fenced"),
        # a rebalance begins the open transaction of a kept partition again: harmless
        (
            f"Exception in begin_transaction for transaction {TID} exception Invalid state "
            "transition TransactionState.IN_TRANSACTION -> TransactionState.IN_TRANSACTION",
            None,
        ),
        (f"Done committing transaction {TID}", None),
    ],
)
def test_faust_driver_messages_name_the_failed_step(message: str, step: str | None) -> None:
    assert transaction_watch.failed_step(message) == step


def _errors(step: str) -> float:
    return float(metrics.TRANSACTION_ERRORS.labels(step)._value.get())


def test_a_swallowed_failure_logged_by_faust_is_counted() -> None:
    transaction_watch.install()
    before = _errors("abort")
    logging.getLogger(transaction_watch.FAUST_DRIVER_LOGGER).warning(
        "Exception in abort_transaction for transaction %s exception %s", TID, "boom"
    )
    assert _errors("abort") == before + 1


def test_commits_are_counted_per_transaction_and_a_failed_one_is_raised_and_counted() -> None:
    async def commit_ok(self: Any, offsets: Any, group_id: str) -> None:
        return None

    async def commit_fails(self: Any, offsets: Any, group_id: str) -> None:
        raise RuntimeError("coordinator away")

    producer = SimpleNamespace()
    committed = metrics.TRANSACTIONS_COMMITTED._value.get()
    asyncio.run(transaction_watch.counting_commits(commit_ok)(producer, {"a": {}, "b": {}}, "g"))
    assert metrics.TRANSACTIONS_COMMITTED._value.get() == committed + 2
    failed = _errors("commit")
    with pytest.raises(RuntimeError):
        asyncio.run(transaction_watch.counting_commits(commit_fails)(producer, {"a": {}}, "g"))
    assert _errors("commit") == failed + 1
    assert metrics.TRANSACTIONS_COMMITTED._value.get() == committed + 2


def test_a_commit_in_flight_is_known_until_it_returns_or_fails() -> None:
    async def scenario() -> list[float | None]:
        producer = SimpleNamespace()
        release = asyncio.Event()

        async def commit_waits(self: Any, offsets: Any, group_id: str) -> None:
            await release.wait()

        async def commit_fails(self: Any, offsets: Any, group_id: str) -> None:
            raise RuntimeError("coordinator away")

        seen = [transaction_watch.commit_began(producer)]
        committing = asyncio.ensure_future(
            transaction_watch.counting_commits(commit_waits)(producer, {"a": {}}, "g")
        )
        await asyncio.sleep(0.01)
        seen.append(transaction_watch.commit_began(producer))
        release.set()
        await committing
        seen.append(transaction_watch.commit_began(producer))
        with pytest.raises(RuntimeError):
            await transaction_watch.counting_commits(commit_fails)(producer, {"a": {}}, "g")
        seen.append(transaction_watch.commit_began(producer))
        return seen

    before, during, after, after_failure = asyncio.run(scenario())
    assert before is None and during is not None
    assert after is None and after_failure is None


@pytest.mark.integration
def test_a_live_exactly_once_worker_reports_its_commits(
    isolated: Settings, worker: WorkerProcess
) -> None:
    assert isolated.worker.processing_guarantee == "exactly_once"
    sku, store = unique("SKU"), unique("store")
    asyncio.run(
        produce_json(
            isolated, isolated.topics.events, [fact(unique("e"), "received", sku, store, 3)]
        )
    )
    pattern = re.compile(r"^tally_transactions_committed_total (\d+)\.0$", re.MULTILINE)

    def committed() -> int:
        found = pattern.search(worker.metrics_text())
        return int(found.group(1)) if found else 0

    wait_until(committed, lambda count: count > 0, timeout_s=60, what="a committed transaction")
