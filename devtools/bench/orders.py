"""`python -m devtools.bench.orders`: multi-line orders competing for scarce stock, sourced by
Tally's order processor and by PostgreSQL doing the same allocation in one transaction.

The same seeded orders and stock go to both sides, with the same planner (`ledger.sourcing`,
rules: fewest shipments, then closest, then priority):
- Tally: `place` records on the run's order log (what the gateway produces), decided by a real
  stream worker and a real order processor; the decision is the order's first settled status
  (allocated, partially allocated or refused) read from its Redis change stream.
- PostgreSQL: per order, BEGIN; SELECT the order's SKUs' rows FOR UPDATE in SKU order; plan
  over them; UPDATE each taken row; INSERT the allocation; COMMIT. One connection per client.
Orders/s = orders decided / elapsed (first send to last decision); latency = send -> decision.
Oversells: Tally's worker counter, PostgreSQL rows below zero; both must be 0.
Writes devtools/bench/results/orders.json (with the command) and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
import psycopg
import redis.asyncio as aioredis

from base import redis_keys
from base.settings import Settings, get_settings
from base.topics import ensure_topics
from devtools.bench.env import (
    Namespace,
    delete_run_topics,
    git_commit,
    labelled,
    load_average,
    machine,
    metric_sums,
)
from devtools.bench.kafka_io import producer
from devtools.bench.pg import PgCluster
from devtools.bench.stats import percentiles
from ledger.codec import encode
from ledger.orders.ids import order_ref
from ledger.orders.records import OrderLine, PlaceOrder, ShipTo
from ledger.sourcing import Line, PlanRequest, RuleName, Site, plan
from ops.child_worker import ChildOrderProcessor, ChildWorker
from ops.stack.ports import free_port

RESULTS = Path(__file__).resolve().parent / "results" / "orders.json"
RULES: tuple[RuleName, ...] = ("fewest_shipments", "closest", "location_priority")
StreamReplies = list[tuple[str, list[tuple[str, dict[str, str]]]]]  # XREAD, decoded
SETTLED = {"allocated", "partially_allocated", "refused"}
LOCATION_COUNT = 5
DECISION_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Config:
    orders: int
    skus: int
    units_per_location: int
    clients: int
    seed: int


@dataclass(frozen=True)
class Workload:
    locations: dict[str, tuple[float, float]]
    stock: dict[tuple[str, str], int]
    orders: list[tuple[str, dict[str, int], tuple[float, float]]]  # order id, lines, ship to


def workload(config: Config, run_id: str) -> Workload:
    rng = random.Random(config.seed)
    locations = {
        f"{run_id}-loc-{i}": (rng.uniform(30, 47), rng.uniform(-120, -75))
        for i in range(LOCATION_COUNT)
    }
    skus = [f"{run_id}-sku-{i:04d}" for i in range(config.skus)]
    stock = {(sku, loc): config.units_per_location for sku in skus for loc in locations}
    weights = [1 / (rank + 1) for rank in range(len(skus))]  # Zipf: a few hot SKUs
    orders = []
    for n in range(config.orders):
        chosen = set(rng.choices(skus, weights, k=rng.randint(1, 4)))
        lines = {sku: rng.randint(1, 3) for sku in sorted(chosen)}
        orders.append((f"o{n:06d}", lines, (rng.uniform(30, 47), rng.uniform(-120, -75))))
    return Workload(locations, stock, orders)


# --- Tally --------------------------------------------------------------------------------


async def tally_side(
    settings: Settings, work: Workload, config: Config, channel: str
) -> dict[str, Any]:
    client = aioredis.Redis.from_url(settings.redis.url, decode_responses=True)
    sent: dict[str, float] = {}
    decided: dict[str, tuple[float, str]] = {}
    reader = asyncio.ensure_future(_follow_decisions(client, channel, decided, len(work.orders)))
    queue: asyncio.Queue[tuple[str, dict[str, int], tuple[float, float]]] = asyncio.Queue()
    for order in work.orders:
        queue.put_nowait(order)
    sender = producer(settings, linger_ms=0)
    await sender.start()
    started = time.perf_counter()

    async def place_orders() -> None:
        while not queue.empty():
            order_id, lines, to = queue.get_nowait()
            record = _place(channel, order_id, lines, to)
            sent[record.ref] = time.perf_counter()
            await sender.send_and_wait(
                settings.topics.orders, encode(record), key=record.ref.encode()
            )
            while record.ref not in decided:  # one order in flight per client
                await asyncio.sleep(0.001)

    try:
        await asyncio.wait_for(
            asyncio.gather(*(place_orders() for _ in range(config.clients))), DECISION_TIMEOUT_S
        )
    finally:
        reader.cancel()
        await sender.stop()
        await client.aclose()
    elapsed = max(at for at, _ in decided.values()) - started
    latencies = [(decided[ref][0] - sent[ref]) * 1000 for ref in decided if ref in sent]
    return _summary(elapsed, latencies, [status for _, status in decided.values()])


def _place(
    channel: str, order_id: str, lines: dict[str, int], to: tuple[float, float]
) -> PlaceOrder:
    return PlaceOrder(
        ref=order_ref(channel, order_id),
        issued_at=datetime.now(UTC),
        channel=channel,
        order_id=order_id,
        lines=tuple(OrderLine(sku=sku, qty=qty) for sku, qty in lines.items()),
        delivery=ShipTo(latitude=to[0], longitude=to[1]),
        max_shipments=3,
        allow_partial=False,
        digest="bench",
    )


async def _follow_decisions(
    client: aioredis.Redis, channel: str, decided: dict[str, tuple[float, str]], total: int
) -> None:
    last = "0-0"
    key = redis_keys.order_changes_key(channel)
    while len(decided) < total:
        replies = cast(StreamReplies, await client.xread({key: last}, count=1_000, block=100))
        for _, entries in replies or []:
            for entry_id, fields in entries:
                last = entry_id
                if fields["status"] in SETTLED and fields["ref"] not in decided:
                    decided[fields["ref"]] = (time.perf_counter(), fields["status"])


# --- PostgreSQL ---------------------------------------------------------------------------

PG_SCHEMA = """
DROP TABLE IF EXISTS stock, allocations;
CREATE TABLE stock (sku text, location text, qty integer NOT NULL, PRIMARY KEY (sku, location));
CREATE TABLE allocations (order_id text, sku text, location text, qty integer);
"""


async def pg_side(cluster: PgCluster, work: Workload, config: Config) -> dict[str, Any]:
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        conn.execute(PG_SCHEMA)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO stock VALUES (%s, %s, %s)",
                [(sku, loc, qty) for (sku, loc), qty in work.stock.items()],
            )
    queue: asyncio.Queue[tuple[str, dict[str, int], tuple[float, float]]] = asyncio.Queue()
    for order in work.orders:
        queue.put_nowait(order)
    latencies: list[float] = []
    statuses: list[str] = []
    started = time.perf_counter()

    async def client() -> None:
        async with await psycopg.AsyncConnection.connect(cluster.dsn) as conn:
            while not queue.empty():
                order_id, lines, to = queue.get_nowait()
                begun = time.perf_counter()
                statuses.append(await _pg_allocate(conn, work, order_id, lines, to))
                latencies.append((time.perf_counter() - begun) * 1000)

    await asyncio.gather(*(client() for _ in range(config.clients)))
    elapsed = time.perf_counter() - started
    with psycopg.connect(cluster.dsn) as conn:
        row = conn.execute("SELECT count(*) FROM stock WHERE qty < 0").fetchone()
    summary = _summary(elapsed, latencies, statuses)
    summary["oversells"] = int(row[0]) if row else 0
    return summary


async def _pg_allocate(
    conn: psycopg.AsyncConnection[Any],
    work: Workload,
    order_id: str,
    lines: dict[str, int],
    to: tuple[float, float],
) -> str:
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT sku, location, qty FROM stock WHERE sku = ANY(%s) "
            "ORDER BY sku, location FOR UPDATE",
            (sorted(lines),),
        )
        stock: dict[str, dict[str, int]] = {}
        for sku, location, qty in await cur.fetchall():
            stock.setdefault(sku, {})[location] = qty
        chosen = plan(_request(work, lines, stock, to))
        if not chosen.complete or not chosen.found:
            return "refused"
        for shipment in chosen.shipments:
            for line in shipment.lines:
                await conn.execute(
                    "UPDATE stock SET qty = qty - %s WHERE sku = %s AND location = %s",
                    (line.qty, line.sku, shipment.location),
                )
                await conn.execute(
                    "INSERT INTO allocations VALUES (%s, %s, %s, %s)",
                    (order_id, line.sku, shipment.location, line.qty),
                )
    return "allocated"


def _request(
    work: Workload, lines: dict[str, int], stock: dict[str, dict[str, int]], to: tuple[float, float]
) -> PlanRequest:
    sites = {
        loc: Site(location=loc, priority=i, latitude=lat, longitude=lon)
        for i, (loc, (lat, lon)) in enumerate(work.locations.items())
    }
    return PlanRequest(
        lines=tuple(Line(sku, qty) for sku, qty in lines.items()),
        stock=stock,
        sites=sites,
        rules=RULES,
        destination=to,
    )


def _summary(elapsed_s: float, latencies_ms: list[float], statuses: list[str]) -> dict[str, Any]:
    counts = {status: statuses.count(status) for status in sorted(set(statuses))}
    return {
        "orders_decided": len(statuses),
        "elapsed_s": round(elapsed_s, 3),
        "orders_per_s": round(len(statuses) / elapsed_s, 1) if elapsed_s else 0.0,
        "decision_latency_ms": percentiles(latencies_ms),
        "outcomes": counts,
    }


# --- the run ------------------------------------------------------------------------------


async def _prepare(settings: Settings, work: Workload, channel: str) -> None:
    await ensure_topics(settings)
    policy = [
        (f"location:{loc}", {"kind": "location", "location": loc, "latitude": lat,
                             "longitude": lon, "version": 1, "updated_at": _now()})
        for loc, (lat, lon) in work.locations.items()
    ]  # fmt: skip
    policy.append(
        (f"channel:{channel}", {"kind": "channel", "channel": channel,
                                "locations": list(work.locations), "sourcing_rules": list(RULES),
                                "version": 1, "updated_at": _now()})
    )  # fmt: skip
    facts = [
        (sku, orjson.dumps({
            "event_id": f"stock-{sku}-{loc}", "type": "received", "sku": sku, "location": loc,
            "qty": qty, "occurred_at": _now(), "source": "bench"}))
        for (sku, loc), qty in work.stock.items()
    ]  # fmt: skip
    sender = producer(settings, linger_ms=5)
    await sender.start()
    try:
        sends = [
            await sender.send(
                settings.topics.policy, orjson.dumps(body), key=key.encode(), partition=0
            )
            for key, body in policy
        ]
        sends += [
            await sender.send(settings.topics.events, value, key=sku.encode())
            for sku, value in facts
        ]
        await asyncio.gather(*sends)
    finally:
        await sender.stop()


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def _wait_stock(settings: Settings, work: Workload) -> None:
    client = aioredis.Redis.from_url(settings.redis.url, decode_responses=True)
    try:
        deadline = time.monotonic() + DECISION_TIMEOUT_S
        sku, loc = next(reversed(list(work.stock)))
        while await client.hget(redis_keys.loc_key(loc), sku) is None:
            if time.monotonic() > deadline:
                raise TimeoutError("bench: the stock never reached Redis")
            await asyncio.sleep(0.2)
    finally:
        await client.aclose()


def run(config: Config, base: Settings) -> dict[str, Any]:
    namespace = Namespace.new(LOCATION_COUNT)
    data_root = Path(tempfile.mkdtemp(prefix="tally-bench-orders-"))
    settings = namespace.settings(base, "orders", data_root, partitions=base.topics.partitions)
    settings = settings.model_copy(
        update={"orders": settings.orders.model_copy(update={
            "app_id": f"{namespace.run_id}-orders-app", "data_dir": data_root / "orders",
            "web_port": free_port(), "metrics_port": free_port()})}
    )  # fmt: skip
    work = workload(config, namespace.run_id)
    channel = f"{namespace.run_id}-web"
    asyncio.run(_prepare(settings, work, channel))
    worker = ChildWorker(settings, data_root / "worker.log").start()
    orders = ChildOrderProcessor(settings, data_root / "orders.log").start()
    cluster = PgCluster.start()
    try:
        worker.wait_metrics_up()
        orders.wait_metrics_up()
        asyncio.run(_wait_stock(settings, work))
        metrics_before = orders.metrics_text()
        tally = asyncio.run(tally_side(settings, work, config, channel))
        tally["oversells"] = _oversells(worker.metrics_text())
        tally["order_processor_batches"] = agent_batches(metrics_before, orders.metrics_text())
        postgres = asyncio.run(pg_side(cluster, work, config))
        postgres["server"] = cluster.version()
    finally:
        cluster.stop()
        orders.stop()
        worker.stop()
        asyncio.run(delete_run_topics(settings, namespace))
    return {"tally": tally, "postgres": postgres}


def agent_batches(before: str, after: str) -> dict[str, dict[str, Any]]:
    """Per agent of the order processor between two scrapes: its batches, their mean records,
    and the mean ms a batch spent in each phase (`tally_order_batch_phase_seconds`)."""
    out: dict[str, dict[str, Any]] = {}
    records = "tally_order_batch_records"
    counts = _delta(before, after, f"{records}_count")
    sums = _delta(before, after, f"{records}_sum")
    for labels, batches in counts.items():
        if batches:
            agent = _labels(labels)["agent"]
            mean = round(sums.get(labels, 0.0) / batches, 1)
            out[agent] = {"batches": batches, "mean_records": mean, "phase_mean_ms": {}}
    phases = "tally_order_batch_phase_seconds"
    counts = _delta(before, after, f"{phases}_count")
    sums = _delta(before, after, f"{phases}_sum")
    for labels, batches in counts.items():
        named = _labels(labels)
        if batches and named["agent"] in out:
            mean_ms = round(sums.get(labels, 0.0) / batches * 1000, 2)
            out[named["agent"]]["phase_mean_ms"][named["phase"]] = mean_ms
    return out


def _delta(before: str, after: str, name: str) -> dict[str, float]:
    old = labelled(before, name)
    return {labels: value - old.get(labels, 0.0) for labels, value in labelled(after, name).items()}


def _labels(text: str) -> dict[str, str]:
    """`agent="orders",phase="fold"` -> {"agent": "orders", "phase": "fold"}."""
    return dict(re.findall(r'(\w+)="([^"]*)"', text))


def _oversells(metrics_text: str) -> int:
    return int(metric_sums(metrics_text).get("tally_oversells_total", 0))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench.orders", description=__doc__)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--units-per-location", type=int, default=6)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    config = Config(args.orders, args.skus, args.units_per_location, args.clients, args.seed)
    load_before = load_average()
    result = run(config, get_settings())
    tally, postgres = result["tally"], result["postgres"]
    document = {
        "command": "python -m devtools.bench.orders " + shlex.join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine(),
        "load_average": {"before": load_before, "after": load_average()},
        "config": config.__dict__,
        **result,
        "ratios": {
            "orders_per_s": round(tally["orders_per_s"] / postgres["orders_per_s"], 3),
            "p99_latency": round(
                tally["decision_latency_ms"]["p99"] / postgres["decision_latency_ms"]["p99"], 2
            ),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()
