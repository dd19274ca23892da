"""The pieces a worker's agent, tasks and timers share, in one record (no module-level state)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import faust
import redis.asyncio as aioredis

from base.policy_follower import PolicyFollower
from base.settings import Settings
from ledger.state import SkuState
from processors.batch import TopicKind
from processors.durable_gate import DurableGate
from processors.expiry import ExpiryIndex
from processors.faust_repairs import ChangelogSender, FaustRepairs
from processors.kpi_metrics import KpiTracker
from processors.pending_figures import PendingFigures
from processors.publisher import RedisPublisher
from processors.side_producer import SideProducer
from processors.state_cache import StateCache


@dataclass
class Worker:
    """The Faust app and the pieces the agent shares."""

    app: faust.App
    settings: Settings
    kinds: dict[str, TopicKind]  # source topic -> what it carries
    positions: Any  # faust Table[bytes, bytes]
    changelog: ChangelogSender  # the positions table's changelog records, batch by batch
    repairs: FaustRepairs
    publisher: RedisPublisher
    redis: aioredis.Redis
    policy: PolicyFollower
    expiry: ExpiryIndex
    side_producer: SideProducer
    states: StateCache[SkuState]
    kpis: KpiTracker  # the KPIs computed by the stream (docs/KPIS.md)
    pending: PendingFigures = field(default_factory=PendingFigures)  # figures not yet in Redis
    # (topic, partition) -> its log end when this worker first processed it since assignment:
    # records before it may have been processed by a run whose writes were lost
    replay_ends: dict[tuple[str, int], int] = field(default_factory=dict)
    background: set[asyncio.Task[None]] = field(default_factory=set)  # held until done
    # Batches pass it from their table writes to their changelog acks: whoever reads the
    # table to publish enters it (`async with`), so nothing reaches Redis before it is durable.
    durable: DurableGate = field(default_factory=DurableGate)

    def run_in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def on_partitions_assigned(self) -> None:
        """Partitions may have moved: the expiry index is rebuilt, the state cache emptied."""
        self.expiry.request_rescan()
        self.replay_ends.clear()
        self.states.clear()
        self.kpis.reset()  # the republish after the rebalance observes the SKUs still owned
