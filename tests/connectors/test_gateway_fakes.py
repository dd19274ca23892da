"""In-memory stand-ins for Kafka, Redis and the event log, and API keys, for gateway unit
tests (no tests here)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiokafka.errors import KafkaConnectionError

from base.redis_keys import FigureVersion
from connectors.as_of import ChannelAsOf, PositionAsOf, StockAsOf
from connectors.auth import KeyRecord, KeyStore, new_key, save_keys
from connectors.gateway.backends import Figure
from connectors.gateway.catalog import hands_over, normal_code
from connectors.gateway.errors import BackendUnavailable
from ledger.commands import Decision, HoldCommand
from ledger.policy import ChannelPolicy, PolicyBook


def accept_all(command: HoldCommand) -> Decision:
    return Decision(
        request_id=command.request_id,
        hold_id=command.hold_id,
        sku=command.sku,
        command=command.type,
        outcome="accepted",
        location="store-1",
        available_after=4,
        decided_at=datetime.now(UTC),
    )


@dataclass
class FakeBus:
    decide: Callable[[HoldCommand], Decision] = accept_all
    down: bool = False
    pings: int = 0
    produced: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    asked: list[HoldCommand] = field(default_factory=list)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def produce(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        if self.down:
            raise KafkaConnectionError("down")
        self.produced += [(topic, key, value) for key, value in records]

    async def ask(self, command: HoldCommand) -> Decision:
        if self.down:
            raise KafkaConnectionError("down")
        self.asked.append(command)
        return self.decide(command)

    async def ping(self) -> None:
        self.pings += 1
        if self.down:
            raise KafkaConnectionError("down")


@dataclass
class FakeReads:
    ats_units: dict[tuple[str, str], int] = field(default_factory=dict)
    loc_units: dict[str, dict[str, int]] = field(default_factory=dict)
    order_views: dict[str, str] = field(default_factory=dict)  # ref -> view JSON
    horizons: dict[tuple[str, str], str] = field(default_factory=dict)  # base.horizons JSON
    down: bool = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ats(self, channel: str, skus: Sequence[str]) -> list[Figure]:
        return [
            Figure(
                self.ats_units.get((channel, s)), "1-1" if (channel, s) in self.ats_units else None
            )
            for s in skus
        ]

    async def locations(self, sku: str) -> tuple[dict[str, int], bool]:
        found = {loc: units[sku] for loc, units in self.loc_units.items() if sku in units}
        return found, False

    async def order_view(self, ref: str) -> str | None:
        return self.order_views.get(ref)

    async def horizon(self, channel: str, sku: str) -> Figure | None:
        text = self.horizons.get((channel, sku))
        return None if text is None else Figure(None, "2-1", text)

    async def ping(self) -> None:
        if self.down:
            raise ConnectionError("down")


def stock_then(sku: str, at: datetime) -> StockAsOf:
    """A SKU as of `at`: 5 on hand at store-1 (1 committed), web at 4 and pos at 0."""
    return StockAsOf(
        sku=sku,
        at=at,
        known=True,
        version=FigureVersion(12, 3),
        clock=at,
        pending_holds=0,
        records=12,
        complete=True,
        notes=[],
        decisions_checked=2,
        locations=[PositionAsOf("store-1", 5, 1, 0, 0, 0, 0, 4, 0)],
        channels=[ChannelAsOf("pos", 0, 4), ChannelAsOf("web", 4, 0)],
    )


@dataclass
class FakeHistory:
    """The event log's as-of reads: `stock_then` of every SKU, and the calls made."""

    down: bool = False
    asked: list[tuple[str, datetime]] = field(default_factory=list)

    async def stock_as_of(self, sku: str, at: datetime) -> StockAsOf:
        if self.down:
            raise BackendUnavailable("the event log cannot be read: down")
        self.asked.append((sku, at))
        return stock_then(sku, at)


@dataclass
class Keys:
    """One key per role used by the tests; `bearer(name)` gives the header."""

    store: KeyStore
    plain: dict[str, str]

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.plain[name]}"}


ROLES = {
    "admin": ("admin", None),
    "scanner": ("scanner", None),
    "scanner-store-1": ("scanner", ["store-1"]),
    "web": ("channel:web", None),
    "pos": ("channel:pos", None),
}


def make_keys(path: Path) -> Keys:
    plain: dict[str, str] = {}
    records: list[KeyRecord] = []
    for name, (role, locations) in ROLES.items():
        key, record = new_key(role, locations)
        plain[name] = key
        records.append(record)
    save_keys(path, records)
    return Keys(KeyStore(path, reload_s=0.01), plain)


@dataclass
class FakeCatalog:
    """Policy, known SKUs and postal codes for order checks. `permissive`: every channel is
    known (with the default policy), every pickup allowed, every SKU and postal code known
    (for fuzzing the spec, where no generated name could be known in advance)."""

    book: PolicyBook = field(default_factory=PolicyBook)
    known_skus: set[tuple[str, str]] = field(default_factory=set)  # (channel, sku)
    postal_codes: dict[str, tuple[float, float]] = field(default_factory=dict)
    permissive: bool = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def channel(self, name: str) -> ChannelPolicy | None:
        found = self.book.channels.get(name)
        if found is None and self.permissive:
            return ChannelPolicy(
                channel=name, locations=(), version=1, updated_at=datetime.now(UTC)
            )
        return found

    def may_hand_over(self, channel: ChannelPolicy, location: str) -> bool:
        return self.permissive or hands_over(self.book, channel, location)

    async def unknown_skus(self, channel: str, skus: Sequence[str]) -> list[int]:
        if self.permissive:
            return []
        return [i for i, sku in enumerate(skus) if (channel, sku) not in self.known_skus]

    def place(self, postal_code: str) -> tuple[float, float] | None:
        if self.permissive:
            return (40.71, -74.0)
        return self.postal_codes.get(normal_code(postal_code))

    def policy_book(self) -> PolicyBook:
        return self.book
