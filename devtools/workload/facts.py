"""A seeded, realistic stream of facts: Zipf-popular SKUs across several locations.

Every record is valid on the wire (it passes `ledger.codec.decode_event`), so whatever a
consumer does with it, a reference fold of the same records is the expected outcome.
The one fact generator: the fault runner and the integration tests take `next_fact()`;
the bench draws its facts (and the SKUs of its holds) from the same `draw_fact` and
`draw_sku`, interleaved with its own draws on `rng`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
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
FACT_KINDS = list(FACT_WEIGHTS)
# Cumulative weights give the same draws as `weights=` (random.choices accumulates those
# itself on every call) without the per-call cost, which over many SKUs dominates.
_KIND_CUM_WEIGHTS = list(accumulate(FACT_WEIGHTS.values()))


@dataclass
class FactWorkload:
    """`next_fact()` / `facts(n)` give wire dicts; the same seed gives the same records."""

    seed: int
    skus: Sequence[str]
    locations: Sequence[str]
    source: str = "workload"
    stamp_ingested: bool = False  # stamp `ingested_at` as the gateway would
    rng: random.Random = field(init=False, repr=False)
    _sku_cum_weights: list[float] = field(init=False, repr=False)
    _serial: int = field(init=False, default=0, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        weights = (1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(self.skus)))
        self._sku_cum_weights = list(accumulate(weights))

    def facts(self, count: int) -> Iterator[dict[str, Any]]:
        for _ in range(count):
            yield self.next_fact()

    def next_fact(self) -> dict[str, Any]:
        """The next fact, stamped with the wall clock (`occurred_at`, maybe `ingested_at`)."""
        self._serial += 1
        now = datetime.now(UTC).isoformat()
        stamps = {"occurred_at": now, "source": self.source}
        if self.stamp_ingested:
            stamps["ingested_at"] = now
        return self.draw_fact(f"{self.source}-{self.seed}-{self._serial}", stamps)

    def draw_sku(self) -> str:
        """A SKU, the popular ones far more often (Zipf over the order of `skus`)."""
        return self.rng.choices(self.skus, cum_weights=self._sku_cum_weights)[0]

    def draw_fact(self, event_id: str, stamps: Mapping[str, Any]) -> dict[str, Any]:
        """A fact of the mix; `stamps` (clock fields, source) follow its quantity.

        The draws come in a fixed order (type, SKU, location, quantity, then the type's own
        fields): a seed's records depend on it.
        """
        rng = self.rng
        kind = rng.choices(FACT_KINDS, cum_weights=_KIND_CUM_WEIGHTS)[0]
        record: dict[str, Any] = {
            "event_id": event_id,
            "type": kind,
            "sku": self.draw_sku(),
            "location": rng.choice(self.locations),
            "qty": rng.randint(1, QTY_UNITS_MAX),
            **stamps,
        }
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
