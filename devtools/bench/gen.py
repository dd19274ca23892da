"""The bench workload: `devtools.workload.facts` plus hold commands, as topic records.

The facts (Zipf-popular SKUs, the fact mix and quantities) are drawn by `FactWorkload`;
a share of the records are hold commands on the commands topic, each reserve followed a
little later by the commit of the same hold. Records are built unstamped; `stamp` sets the
clock fields (`occurred_at` and `ingested_at` of a fact, `issued_at` of a command) at
produce time, as the gateway does, and encodes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from devtools.workload.facts import FactWorkload

TopicKind = Literal["events", "commands"]
COMMIT_DELAY_RECORDS_MAX = 200  # a hold's commit follows within this many records


@dataclass(frozen=True, slots=True)
class Item:
    kind: TopicKind
    key: bytes
    body: dict[str, Any]  # unstamped


def sku_names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-sku-{rank:06d}" for rank in range(count)]


@dataclass
class Workload:
    seed: int
    skus: Sequence[str]
    locations: Sequence[str]
    channel: str  # the channel holds are placed on
    command_share: float
    hold_ttl_s: int = 600
    source: str = "bench"
    _facts: FactWorkload = field(init=False, repr=False)
    _serial: int = field(init=False, default=0, repr=False)
    _commits: deque[tuple[int, Item]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._facts = FactWorkload(self.seed, self.skus, self.locations, self.source)
        self._commits = deque()

    def items(self, count: int) -> Iterator[Item]:
        for _ in range(count):
            yield self.next_item()

    def next_item(self) -> Item:
        self._serial += 1
        if self._commits and self._commits[0][0] <= self._serial:
            return self._commits.popleft()[1]
        if self._facts.rng.random() < self.command_share:
            return self._reserve()
        event_id = f"{self.source}-{self.seed}-{self._serial}"
        body = self._facts.draw_fact(event_id, {"source": self.source})
        return Item("events", body["sku"].encode(), body)

    def _reserve(self) -> Item:
        sku = self._facts.draw_sku()
        hold_id = f"h-{self.seed}-{self._serial}"
        reserve = {
            "type": "reserve",
            "request_id": f"r-{self.seed}-{self._serial}",
            "hold_id": hold_id,
            "sku": sku,
            "channel": self.channel,
            "qty": 1,
            "ttl_s": self.hold_ttl_s,
        }
        commit = {
            "type": "commit",
            "request_id": f"c-{self.seed}-{self._serial}",
            "hold_id": hold_id,
            "sku": sku,
            # as the gateway sends a channel's commit: an admin's (no channel) is looked up
            # among every channel's holds, a path channels do not take
            "channel": self.channel,
            "order_id": f"order-{self.seed}-{self._serial}",
        }
        due = self._serial + self._facts.rng.randint(1, COMMIT_DELAY_RECORDS_MAX)
        self._commits.append((due, Item("commands", sku.encode(), commit)))
        return Item("commands", sku.encode(), reserve)


def stamp(item: Item, now: datetime | None = None) -> bytes:
    """The record's JSON with its clock fields set to now (the gateway's stamp)."""
    at = (now or datetime.now(UTC)).isoformat()
    if item.kind == "events":
        return orjson.dumps({**item.body, "occurred_at": at, "ingested_at": at})
    return orjson.dumps({**item.body, "issued_at": at})
