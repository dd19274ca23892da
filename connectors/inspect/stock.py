"""`tally stock SKU` and the console's SKU page: every location's buckets and every
channel's units, ledger vs Redis."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import redis.asyncio as aioredis

from base.redis_keys import FigureVersion
from base.settings import Settings
from connectors.inspect.kafka_read import kafka_consumer, read_policy, read_state
from connectors.inspect.published import Published, read_published, redis_client
from ledger.availability import channel_ats, position_available
from ledger.policy import PolicyBook
from ledger.state import SkuState


@dataclass(frozen=True)
class LedgerSnapshot:
    """One SKU's committed ledger state and the policy it is judged by."""

    sku: str
    state: SkuState | None  # None: the ledger has never seen this SKU
    book: PolicyBook
    policy_version: int

    @property
    def version(self) -> FigureVersion:
        sku_version = 0 if self.state is None else self.state.version
        return FigureVersion(sku_version, self.policy_version)

    def state_or_empty(self) -> SkuState:
        return SkuState.empty(self.sku) if self.state is None else self.state


async def ledger_snapshot(settings: Settings, sku: str) -> LedgerSnapshot:
    async with kafka_consumer(settings) as consumer:
        book, policy_version = await read_policy(consumer, settings)
        state = await read_state(consumer, settings, sku)
    return LedgerSnapshot(sku, state, book, policy_version)


@dataclass(frozen=True)
class LocationStock:
    location: str
    on_hand: int
    committed: int
    reserved: int
    damaged: int
    inspection: int
    unsellable: int = field(init=False)  # damaged + inspection
    safety: int
    available: int  # raw: negative when oversold
    incoming: int
    published: Published

    def __post_init__(self) -> None:
        object.__setattr__(self, "unsellable", self.damaged + self.inspection)


@dataclass(frozen=True)
class ChannelStock:
    channel: str
    ats: int
    published: Published


@dataclass(frozen=True)
class StockReport:
    sku: str
    known: bool
    version: FigureVersion
    clock: datetime | None
    pending_holds: int
    locations: list[LocationStock] = field(default_factory=list)
    channels: list[ChannelStock] = field(default_factory=list)


async def stock(settings: Settings, sku: str) -> StockReport:
    snapshot = await ledger_snapshot(settings, sku)
    async with redis_client(settings) as client:
        return await stock_of(client, snapshot)


async def stock_of(client: aioredis.Redis, snapshot: LedgerSnapshot) -> StockReport:
    """The report of one snapshot, with the figures Redis publishes for it now."""
    sku, state = snapshot.sku, snapshot.state_or_empty()
    locations = sorted(state.positions)
    channels = sorted(snapshot.book.channels)
    by_location = await read_published(client, "loc", locations, sku)
    by_channel = await read_published(client, "ats", channels, sku)
    book = snapshot.book
    location_rows = []
    for location in locations:
        position = state.position(location)
        safety = book.safety_units(location)
        location_rows.append(
            LocationStock(
                location=location,
                on_hand=position.on_hand,
                committed=position.committed,
                reserved=position.reserved,
                damaged=position.damaged,
                inspection=position.inspection,
                safety=safety,
                available=position_available(position, safety),
                incoming=sum(item.qty for item in state.incoming_at(location)),
                published=by_location[location],
            )
        )
    channel_rows = [
        ChannelStock(name, channel_ats(state, book.channels[name], book), by_channel[name])
        for name in channels
    ]
    return StockReport(
        sku=sku,
        known=snapshot.state is not None,
        version=snapshot.version,
        clock=state.clock,
        pending_holds=len(state.holds),
        locations=location_rows,
        channels=channel_rows,
    )
