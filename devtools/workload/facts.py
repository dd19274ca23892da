"""A seeded, realistic stream of facts: Zipf-popular SKUs across several locations.

Every record is valid on the wire (it passes `ledger.codec.decode_event`), so whatever a
consumer does with it, a reference fold of the same records is the expected outcome.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Relative weights of each fact type in the mix: mostly sales and receipts.
FACT_WEIGHTS: dict[str, int] = {
    "received": 20,
    "sold_in_store": 25,
    "order_placed": 15,
    "shipped": 10,
    "order_cancelled": 3,
    "return_received": 6,
    "return_graded": 5,
    "adjusted": 4,
    "counted": 3,
    "damaged": 2,
}
QTY_UNITS_MAX = 5
COUNT_UNITS_MAX = 60
ZIPF_EXPONENT = 1.1


@dataclass
class FactWorkload:
    """`next_fact()` / `facts(n)` give wire dicts; the same seed gives the same records."""

    seed: int
    skus: Sequence[str]
    locations: Sequence[str]
    source: str = "workload"
    stamp_ingested: bool = False  # stamp `ingested_at` as the gateway would
    _rng: random.Random = field(init=False, repr=False)
    _sku_weights: list[float] = field(init=False, repr=False)
    _serial: int = field(init=False, default=0, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._sku_weights = [1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(self.skus))]

    def facts(self, count: int) -> Iterator[dict[str, Any]]:
        for _ in range(count):
            yield self.next_fact()

    def next_fact(self) -> dict[str, Any]:
        rng = self._rng
        kind = rng.choices(list(FACT_WEIGHTS), weights=list(FACT_WEIGHTS.values()))[0]
        sku = rng.choices(self.skus, weights=self._sku_weights)[0]
        location = rng.choice(self.locations)
        self._serial += 1
        now = datetime.now(UTC).isoformat()
        record: dict[str, Any] = {
            "event_id": f"{self.source}-{self.seed}-{self._serial}",
            "type": kind,
            "sku": sku,
            "location": location,
            "qty": rng.randint(1, QTY_UNITS_MAX),
            "occurred_at": now,
            "source": self.source,
        }
        if self.stamp_ingested:
            record["ingested_at"] = now
        if kind == "counted":
            record["qty"] = rng.randint(0, COUNT_UNITS_MAX)
        elif kind == "adjusted":
            record["qty"] = rng.choice([-1, 1]) * rng.randint(1, QTY_UNITS_MAX)
            record["reason"] = "cycle-correction"
        elif kind == "return_graded":
            record["disposition"] = rng.choice(["restock", "restock", "damaged", "dispose"])
        elif kind in ("order_placed", "order_cancelled", "shipped"):
            record["order_id"] = f"o-{rng.randint(1, 10_000)}"
        return record
