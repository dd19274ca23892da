"""A worker that keeps its partitions through a rebalance (its session expired while it was
stopped) while its transaction holds uncommitted table writes: the transaction is committed
before recovery reads the changelog, no partition needs a rebuild, and the committed table
holds every hold decided, counted once (processors/faust_repairs/dirty_store.py; fault hunt
seed 219 ended with a core folded from older and newer keys of a SKU)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
import redis

from base import redis_keys
from base.settings import Settings
from connectors.inspect.kafka_read import read_table
from connectors.inspect.top import parse_samples
from tests.processors.test_holds import reserve
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, produce_json
from tests.support.waiting import redis_client, wait_for_figure, wait_until
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

SESSION_TIMEOUT_S = 6.0  # the least the worker allows: the stop below outlasts it
COMMIT_INTERVAL_S = 30.0  # no commit between the hold's batch and the stop
COMMIT_STALL_S = 120.0  # ... and the commit watch does not take that for a stall
UNITS, HELD = 10, 3
UNCOMMITTED_TRIES = 3


def _metric(worker: WorkerProcess, name: str, **labels: str) -> float:
    wanted = tuple(sorted(labels.items()))
    return parse_samples(worker.metrics_text()).get((name, wanted), 0.0)


def _commits(worker: WorkerProcess) -> float:
    return _metric(worker, "tally_transactions_committed_total")


def test_a_transaction_open_through_a_rebalance_commits_before_recovery(
    isolated: Settings, tmp_path: Path
) -> None:
    worker_settings = isolated.worker.model_copy(
        update={
            "session_timeout_s": SESSION_TIMEOUT_S,
            "commit_interval_s": COMMIT_INTERVAL_S,
            "commit_stall_s": COMMIT_STALL_S,
        }
    )
    settings = isolated.model_copy(update={"worker": worker_settings})
    sku, store, web = unique("SKU"), unique("store"), unique("web")
    topics = settings.topics
    asyncio.run(produce_json(settings, topics.policy, [channel_policy(web, [store])], "channel"))
    asyncio.run(
        produce_json(settings, topics.events, [fact(unique("e"), "received", sku, store, UNITS)])
    )
    client = redis_client(settings)
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        worker.wait_metrics_up()
        wait_for_figure(client, redis_keys.ats_key(web), sku, str(UNITS), timeout_s=90)
        held = _hold_left_uncommitted(settings, worker, client, sku, web)
        os.kill(worker.pid, signal.SIGSTOP)  # past the session timeout: the group drops it
        time.sleep(SESSION_TIMEOUT_S + 4)
        os.kill(worker.pid, signal.SIGCONT)  # it rejoins and is assigned the same partitions
        wait_until(
            lambda: _metric(worker, "tally_delivery_repairs_total", kind="transaction_committed"),
            lambda committed: committed >= 1,
            timeout_s=60,
            what="the open transaction committed at the rebalance",
        )
        assert _metric(worker, "tally_delivery_repairs_total", kind="store_rebuilt") == 0
        state = wait_until(
            lambda: asyncio.run(read_table(settings)).get(sku),
            lambda found: found is not None and set(found.holds) == held,
            timeout_s=30,  # committed at the rebalance, not at the next commit interval
            what="the committed table holding every hold decided",
        )
    except AssertionError as failure:
        raise AssertionError(f"{failure}\nworker log:\n{worker.log_tail(150)}") from None
    finally:
        worker.stop()
    assert state is not None
    position = state.positions[store]
    assert (position.on_hand, position.reserved) == (UNITS, HELD * len(held))
    assert sum(hold.qty for hold in state.holds.values()) == position.reserved


def _hold_left_uncommitted(
    settings: Settings, worker: WorkerProcess, client: redis.Redis, sku: str, web: str
) -> set[str]:
    """Reserve until one hold's batch is published with no commit since it was sent; the
    keys of the holds decided (one per try)."""
    held: set[str] = set()
    for attempt in range(1, UNCOMMITTED_TRIES + 1):
        before = _commits(worker)
        command = reserve(sku, web, qty=HELD, ttl_s=3600)
        asyncio.run(produce_json(settings, settings.topics.commands, [command]))
        left = str(UNITS - HELD * attempt)
        wait_for_figure(client, redis_keys.ats_key(web), sku, left)
        held.add(f"{web} {command['hold_id']}")
        if _commits(worker) == before:
            return held
    raise AssertionError(f"a commit came within each of {UNCOMMITTED_TRIES} holds' batches")
