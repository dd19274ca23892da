"""Two worker processes sharing the partitions; one is stopped mid-stream (a rebalance).

Facts on one set of SKUs must converge to a reference fold; holds on another set must never
exceed the stock, and every request must get one decision (repeats after the rebalance
identical to the first).
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from pathlib import Path

import pytest

from base.settings import Settings
from devtools.workload.facts import FactWorkload
from ops.stack.ports import free_port
from tests.processors.test_holds import reserve
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, produce_json, read_all
from tests.support.ledger_builders import book as policy_book
from tests.support.ledger_builders import channel as channel_record
from tests.support.reference import figure_mismatches, reference_states
from tests.support.waiting import redis_client, wait_for_figure, wait_until
from tests.support.worker_dumps import dumps_on_timeout
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

FACTS_TOTAL = 2_000
HOLD_SKUS = 6
STOCK_UNITS = 15
RESERVES_PER_SKU = 25


def second_worker_settings(settings: Settings, tmp_path: Path) -> Settings:
    worker = settings.worker.model_copy(
        update={
            "data_dir": tmp_path / "worker-b-data",
            "web_port": free_port(),
            "metrics_port": free_port(),
        }
    )
    return settings.model_copy(update={"worker": worker})


def test_a_rebalance_loses_no_event_and_keeps_hold_decisions_consistent(
    isolated: Settings, tmp_path: Path
) -> None:
    locations = [unique("store") for _ in range(2)]
    channel = unique("web")
    asyncio.run(
        produce_json(
            isolated, isolated.topics.policy, [channel_policy(channel, locations)], "channel"
        )
    )
    book = policy_book(channel_record(channel, *locations))
    fact_skus = [unique("SKU") for _ in range(30)]
    facts = list(
        FactWorkload(seed=42, skus=fact_skus, locations=locations, source="rebalance").facts(
            FACTS_TOTAL
        )
    )
    hold_skus = [unique("HOT") for _ in range(HOLD_SKUS)]
    stock = [fact(unique("e"), "received", sku, locations[0], STOCK_UNITS) for sku in hold_skus]
    reserves = [reserve(sku, channel) for sku in hold_skus for _ in range(RESERVES_PER_SKU)]

    worker_a = WorkerProcess(isolated, tmp_path / "worker-a.log").start()
    worker_b = WorkerProcess(
        second_worker_settings(isolated, tmp_path), tmp_path / "worker-b.log"
    ).start()
    try:
        worker_a.wait_metrics_up()
        worker_b.wait_metrics_up()
        asyncio.run(produce_json(isolated, isolated.topics.events, stock))
        client = redis_client(isolated)
        with dumps_on_timeout(worker_a, worker_b):
            for sku in hold_skus:
                wait_for_figure(client, f"tally:ats:{channel}", sku, str(STOCK_UNITS), timeout_s=90)

        half = len(facts) // 2
        feed = threading.Thread(
            target=lambda: asyncio.run(produce_json(isolated, isolated.topics.events, facts[:half]))
        )
        feed.start()
        asyncio.run(
            produce_json(isolated, isolated.topics.commands, reserves[: len(reserves) // 2])
        )
        worker_b.stop()  # a graceful leave: the group rebalances onto worker A
        feed.join()
        asyncio.run(produce_json(isolated, isolated.topics.events, facts[half:]))
        asyncio.run(
            produce_json(isolated, isolated.topics.commands, reserves[len(reserves) // 2 :])
        )
        # A client retrying some requests after the rebalance gets the first answers again.
        asyncio.run(
            produce_json(isolated, isolated.topics.commands, reserves[:: RESERVES_PER_SKU // 2])
        )

        expected = reference_states(facts + stock)
        with dumps_on_timeout(worker_a):
            wait_until(
                lambda: figure_mismatches(
                    client, {s: expected[s] for s in fact_skus if s in expected}, book
                ),
                lambda wrong: not wrong,
                timeout_s=120,
                what="fact SKUs equal to the reference fold",
            )
            decisions = wait_until(
                lambda: asyncio.run(read_all(isolated, isolated.topics.decisions, idle_ms=500)),
                lambda found: (
                    {d["request_id"] for d in found} >= {r["request_id"] for r in reserves}
                ),
                timeout_s=120,
                what="a decision for every reserve",
            )
    finally:
        worker_b.stop()
        worker_a.stop()

    answers: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
    for decision in decisions:
        answers[decision["request_id"]].add((decision["outcome"], decision["location"]))
    conflicting = {request: found for request, found in answers.items() if len(found) > 1}
    assert not conflicting, f"requests got two different answers: {conflicting}"
    accepted_per_sku: dict[str, int] = defaultdict(int)
    for request in reserves:
        ((outcome, _),) = answers[str(request["request_id"])]
        if outcome == "accepted":
            accepted_per_sku[str(request["sku"])] += 1
    assert accepted_per_sku == dict.fromkeys(hold_skus, STOCK_UNITS)
    for sku in hold_skus:
        wait_for_figure(client, f"tally:ats:{channel}", sku, "0")
