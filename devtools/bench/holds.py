"""Hot-SKU holds: many concurrent clients placing holds on one SKU until its stock runs out.

Each client loops: reserve 1 unit, wait for the decision; when accepted, commit the hold
(so open holds stay far below the per-SKU bound), wait for that decision; stop at the first
rejection (stock exhausted) or the time bound. holds/s = accepted holds / elapsed; the
latency is the reserve's decision latency (request sent -> decision read). Oversells =
accepted holds beyond the stock, and a negative final figure, each counted.

Tally: commands on the run's commands topic, decisions read from its decisions topic by a
plain consumer (decisions are produced outside Faust's transactions, so visible at once),
matched by request_id. PostgreSQL: the same loop over psycopg async connections, one per
client, with each pattern of `devtools.bench.pg`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from base.settings import Settings
from devtools.bench import pg
from devtools.bench.kafka_io import assign_all
from devtools.bench.stats import percentiles

Reserve = Callable[[str], Awaitable[bool]]  # hold_id -> accepted
Commit = Callable[[str], Awaitable[None]]


@dataclass
class HoldsRun:
    accepted: int = 0
    rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    timed_out: bool = False
    decision_split: dict[str, Any] = field(default_factory=dict)  # Tally only: DecisionRouter

    def summary(
        self, stock_units: int, clients: int, final_available: int | None
    ) -> dict[str, Any]:
        oversells = max(0, self.accepted - stock_units)
        if final_available is not None and final_available < 0:
            oversells = max(oversells, -final_available)
        return {
            "clients": clients,
            "stock_units": stock_units,
            "holds_accepted": self.accepted,
            "holds_rejected": self.rejected,
            "reject_reasons": self.reject_reasons,
            "elapsed_s": round(self.elapsed_s, 3),
            "holds_per_s": round(self.accepted / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "decision_latency_ms": percentiles(self.latencies_ms),
            "final_available": final_available,
            "oversells": oversells,
            "timed_out": self.timed_out,
            **({"decision_split": self.decision_split} if self.decision_split else {}),
        }


async def run_clients(
    clients: int,
    reserve_for: Callable[[int], Reserve],
    commit_for: Callable[[int], Commit],
    timeout_s: float,
    tag: str,
) -> HoldsRun:
    run = HoldsRun()
    deadline = time.monotonic() + timeout_s

    async def client(index: int) -> None:
        reserve, commit = reserve_for(index), commit_for(index)
        serial = 0
        while time.monotonic() < deadline:
            serial += 1
            hold_id = f"{tag}-{index}-{serial}"
            started = time.perf_counter()
            accepted = await reserve(hold_id)
            run.latencies_ms.append((time.perf_counter() - started) * 1000)
            if not accepted:
                run.rejected += 1
                return
            run.accepted += 1
            await commit(hold_id)
        run.timed_out = True

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    run.elapsed_s = time.monotonic() - started
    return run


class DecisionRouter:
    """Sends hold commands for one SKU and hands each decision to the request waiting for it."""

    def __init__(self, settings: Settings, sku: str, channel: str, ttl_s: int) -> None:
        self.settings = settings
        self.sku = sku
        self.channel = channel
        self.ttl_s = ttl_s
        self.reasons: dict[str, int] = {}
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka.bootstrap, acks="all", linger_ms=0
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka.bootstrap, group_id=None, enable_auto_commit=False
        )
        self._reader: asyncio.Task[None] | None = None
        self._serial = 0
        # Where a decision's time went, split at the decision record's Kafka timestamp (the
        # worker's producer stamps it when it sends; one host, so one clock): command sent ->
        # decision sent (the command's hop in, the worker), decision sent -> read here.
        self._sent_at_ms: dict[str, float] = {}
        self.to_decision_ms: list[float] = []
        self.from_decision_ms: list[float] = []

    async def start(self) -> None:
        await self._producer.start()
        await self._consumer.start()
        await assign_all(
            self._consumer,
            [self.settings.topics.decisions],
            self.settings.topics.partitions,
            at="end",
        )
        self._reader = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self._consumer.stop()
        await self._producer.stop()

    async def _read(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=100, max_records=1_000)
            for messages in batch.values():
                for message in messages:
                    read_at_ms = time.time() * 1000
                    decision = orjson.loads(message.value)
                    self._split(decision["request_id"], message.timestamp, read_at_ms)
                    waiter = self._waiting.pop(decision["request_id"], None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(decision)

    def _split(self, request_id: str, decided_at_ms: float, read_at_ms: float) -> None:
        sent_at_ms = self._sent_at_ms.pop(request_id, None)
        if sent_at_ms is not None:
            self.to_decision_ms.append(decided_at_ms - sent_at_ms)
            self.from_decision_ms.append(read_at_ms - decided_at_ms)

    def split(self) -> dict[str, Any]:
        """Percentiles of the two parts of a decision's latency (ms resolution: Kafka's)."""
        return {
            "command_sent_to_decision_sent_ms": percentiles(self.to_decision_ms),
            "decision_sent_to_read_ms": percentiles(self.from_decision_ms),
        }

    async def _ask(self, body: dict[str, Any]) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[body["request_id"]] = future
        self._sent_at_ms[body["request_id"]] = time.time() * 1000
        body["issued_at"] = datetime.now(UTC).isoformat()
        await self._producer.send(
            self.settings.topics.commands, orjson.dumps(body), key=self.sku.encode()
        )
        return await future

    def _request_id(self) -> str:
        self._serial += 1
        return f"bench-req-{self._serial}"

    async def reserve(self, hold_id: str) -> bool:
        decision = await self._ask(
            {
                "type": "reserve",
                "request_id": self._request_id(),
                "hold_id": hold_id,
                "sku": self.sku,
                "channel": self.channel,
                "qty": 1,
                "ttl_s": self.ttl_s,
            }
        )
        if decision["outcome"] == "accepted":
            return True
        reason = str(decision.get("reason"))
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        return False

    async def commit(self, hold_id: str) -> None:
        await self._ask(
            {
                "type": "commit",
                "request_id": self._request_id(),
                "hold_id": hold_id,
                "sku": self.sku,
                # as the gateway's commit for a channel's key: an admin's, naming no channel,
                # asks every channel's resolved holds for the id (ledger.decide)
                "channel": self.channel,
                "order_id": f"o-{hold_id}",
            }
        )


async def tally_holds(
    settings: Settings, sku: str, channel: str, clients: int, ttl_s: int, timeout_s: float
) -> tuple[HoldsRun, dict[str, int]]:
    router = DecisionRouter(settings, sku, channel, ttl_s)
    await router.start()
    try:
        run = await run_clients(
            clients, lambda _i: router.reserve, lambda _i: router.commit, timeout_s, sku
        )
    finally:
        await router.stop()
    run.reject_reasons = router.reasons
    run.decision_split = router.split()
    return run, router.reasons


PATTERNS = {
    "for_update": (pg.reserve_for_update, pg.commit_for_update),
    "conditional": (pg.reserve_conditional, pg.commit_conditional),
}


async def pg_holds(
    cluster: pg.PgCluster, pattern: str, sku: str, clients: int, stock: int, timeout_s: float
) -> dict[str, Any]:
    reserve_fn, commit_fn = PATTERNS[pattern]
    cluster.reset(sku, stock)
    conns = [
        await psycopg.AsyncConnection.connect(cluster.dsn, autocommit=True) for _ in range(clients)
    ]
    try:

        def reserve_for(i: int) -> Reserve:
            async def reserve(hold_id: str) -> bool:
                return await reserve_fn(conns[i], sku, hold_id)

            return reserve

        def commit_for(i: int) -> Commit:
            async def commit(hold_id: str) -> None:
                await commit_fn(conns[i], sku, hold_id)

            return commit

        run = await run_clients(clients, reserve_for, commit_for, timeout_s, f"{pattern}")
    finally:
        for conn in conns:
            await conn.close()
    available, reserved, committed, held = cluster.final_row(sku)
    run.reject_reasons = {"insufficient_stock": run.rejected}
    summary = run.summary(stock, clients, available)
    summary["final_row"] = {
        "available": available,
        "reserved": reserved,
        "committed": committed,
        "hold_rows": held,
    }
    summary["oversells"] = max(summary["oversells"], held - stock, committed - stock)
    return summary
