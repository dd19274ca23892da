"""The bench workload: seeded, Zipf-popular SKUs over several locations and channels.

The fact mix and quantities are those of `devtools.workload.facts` (sales, orders, receipts,
returns, counts, adjustments, damage); a share of the records are hold commands on the
commands topic, each reserve followed a little later by the commit of the same hold.
Records are built unstamped; `stamp` sets the clock fields (`occurred_at` and `ingested_at`
of a fact, `issued_at` of a command) at produce time, as the gateway does, and encodes.

Unlike `FactWorkload.next_fact` (a weighted draw over every SKU per record), SKUs are drawn
from precomputed cumulative weights, so millions of records take seconds.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any, Literal

import orjson

from devtools.workload.facts import COUNT_UNITS_MAX, FACT_WEIGHTS, QTY_UNITS_MAX, ZIPF_EXPONENT

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
    _rng: random.Random = field(init=False, repr=False)
    _cum: list[float] = field(init=False, repr=False)
    _kinds: list[str] = field(init=False, repr=False)
    _kind_cum: list[float] = field(init=False, repr=False)
    _serial: int = field(init=False, default=0, repr=False)
    _commits: deque[tuple[int, Item]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        weights = [1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(self.skus))]
        self._cum = list(accumulate(weights))
        self._kinds = list(FACT_WEIGHTS)
        self._kind_cum = list(accumulate(FACT_WEIGHTS.values()))
        self._commits = deque()

    def items(self, count: int) -> Iterator[Item]:
        for _ in range(count):
            yield self.next_item()

    def next_item(self) -> Item:
        self._serial += 1
        if self._commits and self._commits[0][0] <= self._serial:
            return self._commits.popleft()[1]
        if self._rng.random() < self.command_share:
            return self._reserve()
        return self._fact()

    def _sku(self) -> str:
        return self._rng.choices(self.skus, cum_weights=self._cum)[0]

    def _fact(self) -> Item:
        rng = self._rng
        kind = rng.choices(self._kinds, cum_weights=self._kind_cum)[0]
        sku = self._sku()
        body: dict[str, Any] = {
            "event_id": f"{self.source}-{self.seed}-{self._serial}",
            "type": kind,
            "sku": sku,
            "location": rng.choice(self.locations),
            "qty": rng.randint(1, QTY_UNITS_MAX),
            "source": self.source,
        }
        if kind == "counted":
            body["qty"] = rng.randint(0, COUNT_UNITS_MAX)
        elif kind == "adjusted":
            body["qty"] = rng.choice([-1, 1]) * rng.randint(1, QTY_UNITS_MAX)
            body["reason"] = "cycle-correction"
        elif kind == "return_graded":
            body["disposition"] = rng.choice(["restock", "restock", "damaged", "dispose"])
        elif kind in ("order_placed", "order_cancelled", "shipped"):
            body["order_id"] = f"o-{rng.randint(1, 10_000)}"
        return Item("events", sku.encode(), body)

    def _reserve(self) -> Item:
        sku = self._sku()
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
            "order_id": f"order-{self.seed}-{self._serial}",
        }
        due = self._serial + self._rng.randint(1, COMMIT_DELAY_RECORDS_MAX)
        self._commits.append((due, Item("commands", sku.encode(), commit)))
        return Item("commands", sku.encode(), reserve)


def stamp(item: Item, now: datetime | None = None) -> bytes:
    """The record's JSON with its clock fields set to now (the gateway's stamp)."""
    at = (now or datetime.now(UTC)).isoformat()
    if item.kind == "events":
        return orjson.dumps({**item.body, "occurred_at": at, "ingested_at": at})
    return orjson.dumps({**item.body, "issued_at": at})
