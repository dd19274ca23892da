"""The pieces the order processor's agents, tasks and timers share, in one record."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import faust
import redis.asyncio as aioredis

from base.policy_follower import PolicyFollower
from base.settings import Settings
from ledger.orders.saga import SagaRules
from ledger.orders.state import OrderState
from processors.faust_repairs import ChangelogSender, FaustRepairs
from processors.orders.kpi_metrics import OrderKpiCounter
from processors.orders.timeouts import TimeoutIndex
from processors.orders.views import OrderViews
from processors.side_producer import SideProducer
from processors.state_cache import StateCache

ORDER_CACHE_MAX = 100_000  # decoded order states kept between batches


@dataclass
class OrderWorker:
    app: faust.App
    settings: Settings
    orders: Any  # faust Table[bytes, bytes]: ref -> OrderState JSON
    capacity: Any  # faust Table[bytes, bytes]: "location/day" -> CapacityDay JSON
    orders_changelog: ChangelogSender  # each table's writes, tracked for a rebalance
    capacity_changelog: ChangelogSender
    repairs: FaustRepairs
    redis: aioredis.Redis
    views: OrderViews
    policy: PolicyFollower
    side_producer: SideProducer
    rules: SagaRules
    timeouts: TimeoutIndex
    states: StateCache[OrderState] = field(default_factory=lambda: StateCache(ORDER_CACHE_MAX))
    kpis: OrderKpiCounter = field(default_factory=OrderKpiCounter)
    # Held from a batch's table writes to their acks; a table scan takes it too.
    durable: asyncio.Lock = field(default_factory=asyncio.Lock)

    def on_partitions_assigned(self) -> None:
        self.timeouts.rescan_requested = True
        self.states.clear()
