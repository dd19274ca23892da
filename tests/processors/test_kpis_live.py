"""The KPIs computed by a real worker: a count that does not match moves the accuracy
counters, an oversold store sale its channel's oversell counters, and a channel at 0 with
stock outside its pool lands in `tally:kpi:stranded:{channel}`; `tally kpi` shows them."""

from __future__ import annotations

import asyncio

import pytest

from base import redis_keys
from base.settings import Settings
from connectors.inspect.top import parse_samples
from tests.ops.test_cli_ledger import run_json
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, produce_json
from tests.support.waiting import redis_client, wait_for_figure, wait_until
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration


def metric(worker: WorkerProcess, name: str, **labels: str) -> float:
    wanted = tuple(sorted(labels.items()))
    return parse_samples(worker.metrics_text()).get((name, wanted), 0.0)


def test_a_count_mismatch_moves_the_accuracy_metric(
    isolated: Settings, worker: WorkerProcess
) -> None:
    sku, store, warehouse = unique("SKU"), unique("store"), unique("wh")
    pos, web = unique("pos"), unique("web")
    policy = [channel_policy(pos, [store]), channel_policy(web, [warehouse])]
    asyncio.run(produce_json(isolated, isolated.topics.policy, policy, "channel"))
    facts = [
        fact(unique("e"), "received", sku, store, 5),
        fact(unique("e"), "counted", sku, store, 5),  # matches the ledger
        fact(unique("e"), "counted", sku, store, 3),  # 2 units short
        fact(unique("e"), "sold_in_store", sku, store, 4, source="till-1"),  # 1 oversold
    ]
    asyncio.run(produce_json(isolated, isolated.topics.events, facts))
    wait_until(
        lambda: metric(worker, "tally_cycle_counts_total", location=store),
        lambda value: value == 2,
        timeout_s=30,
        what="two cycle counts at the store",
    )
    assert metric(worker, "tally_cycle_counts_matched_total", location=store) == 1
    assert metric(worker, "tally_location_variance_units_total", location=store) == 2
    wait_until(
        lambda: metric(worker, "tally_units_sold_total", channel=pos),
        lambda value: value == 4,
        timeout_s=30,
        what="the store sale counted for its POS channel",
    )
    assert metric(worker, "tally_channel_oversold_units_total", channel=pos) == 1

    # The warehouse channel shows 0; restocking the store strands its units for `web`.
    asyncio.run(
        produce_json(
            isolated, isolated.topics.events, [fact(unique("e"), "received", sku, store, 6)]
        )
    )
    client = redis_client(isolated)
    wait_for_figure(client, redis_keys.loc_key(store), sku, "5")
    wait_until(
        lambda: client.zscore(redis_keys.stranded_key(web), sku),
        lambda score: score == 5,
        timeout_s=30,
        what=f"{sku} stranded for {web} by 5 units",
    )
    wait_until(
        lambda: metric(worker, "tally_stranded_units", channel=web),
        lambda units: units == 5,
        timeout_s=10,
        what="the stranded-units gauge (set every second)",
    )

    worker_url = f"http://127.0.0.1:{isolated.worker.metrics_port}/metrics"
    body = run_json(isolated, "kpi", "--source", "metrics", "--metrics-url", worker_url)
    sections = body["sections"]
    (accuracy,) = [row for row in sections["inventory_accuracy"] if row["location"] == store]
    assert (accuracy["counts"], accuracy["matched"], accuracy["accuracy"]) == (2, 1, 0.5)
    assert accuracy["meets_target"] is False
    (oversell,) = [row for row in sections["oversell_rate"] if row["channel"] == pos]
    assert oversell["per_10k_sold"] == 2_500  # 1 of 4 units
    (stranded,) = [row for row in sections["stranded_stock"] if row["channel"] == web]
    assert stranded["top_skus"] == [{"sku": sku, "units": 5}]
