"""Redis key names of the read path (wire contract v1) and the version format.

Figures:   tally:ats:{channel}      hash  sku -> available units (decimal string)
           tally:loc:{location}     hash  sku -> available units at that location
Changes:   tally:changes:{channel}  stream of {sku, available, version, ingested_at}
Stock events: tally:stock-events:{channel}
                                    stream of {event, sku, available, previous, threshold,
                                    version, ingested_at}; event is out_of_stock,
                                    back_in_stock or low_stock (processors/publisher.py)
Signals:   tally:sku-changes:{sku}  pub/sub channel: the SKU's figure version "S-P", once per
                                    publish call that changed any of its figures (not stored)
By date:   tally:atp:{channel}      hash  sku -> the SKU's availability by date in the channel
                                    (JSON `{"first", "last", "steps": [[day, units], ...]}`,
                                    docs/PROMISE.md); written only for SKUs with supply
                                    incoming (or just gone: steps [] = today's figure)
           tally:supply:{location}  hash  sku -> supply a backorder may wait on there (JSON
                                    `[[eta, units not yet promised], ...]`, base.horizons)
Versions:  tally:ver:ats:{channel} / tally:ver:loc:{location} / tally:ver:atp:{channel}
           / tally:ver:supply:{location}
                                    hash  sku -> "{sku_version}-{policy_version}:{published_ms}"
Orders:    tally:order:{ref}        string: the order's view (JSON), written only if newer
           tally:order-changes:{channel}  stream of {order_id, ref, status, version, event,
                                          promised[, promised_before]}; event is `changed`,
                                          or `promise_changed` when an allocated order's
                                          promise moved (docs/PROMISE.md)
           tally:capacity:{location}      hash  local day (YYYY-MM-DD) -> orders taken
           tally:count-tasks:{location}   hash  sku -> why its count is suspect (JSON)
KPIs:      tally:kpi:stranded:{channel}
                                    sorted set  sku scored by its stranded units (the top ones)

A figure's version is the pair (sku_version, policy_version), written "S-P" like a Redis
stream id and compared as a pair: the SKU's ledger version (one step per applied event)
first, then the policy version (offset + 1 of the last policy record applied).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

FigureKind = Literal["ats", "loc", "atp", "supply"]

ATS_PREFIX = "tally:ats:"
LOC_PREFIX = "tally:loc:"
ATP_PREFIX = "tally:atp:"
SUPPLY_PREFIX = "tally:supply:"
CHANGES_PREFIX = "tally:changes:"
STOCK_EVENTS_PREFIX = "tally:stock-events:"
VERSION_PREFIX = "tally:ver:"
STRANDED_PREFIX = "tally:kpi:stranded:"


def ats_key(channel: str) -> str:
    return f"{ATS_PREFIX}{channel}"


def loc_key(location: str) -> str:
    return f"{LOC_PREFIX}{location}"


def atp_key(channel: str) -> str:
    """A channel's availability by date per SKU (the worker's horizon, docs/PROMISE.md)."""
    return f"{ATP_PREFIX}{channel}"


def supply_key(location: str) -> str:
    """Supply a backorder may still wait on at a location, per SKU (docs/PROMISE.md)."""
    return f"{SUPPLY_PREFIX}{location}"


def changes_key(channel: str) -> str:
    return f"{CHANGES_PREFIX}{channel}"


SKU_CHANGES_PREFIX = "tally:sku-changes:"


def sku_changes_key(sku: str) -> str:
    """A pub/sub channel (nothing is stored under it): a message when the SKU's figures changed."""
    return f"{SKU_CHANGES_PREFIX}{sku}"


ORDER_PREFIX = "tally:order:"
ORDER_CHANGES_PREFIX = "tally:order-changes:"
CAPACITY_PREFIX = "tally:capacity:"
COUNT_TASKS_PREFIX = "tally:count-tasks:"


def order_key(ref: str) -> str:
    return f"{ORDER_PREFIX}{ref}"


def order_changes_key(channel: str) -> str:
    return f"{ORDER_CHANGES_PREFIX}{channel}"


def capacity_key(location: str) -> str:
    return f"{CAPACITY_PREFIX}{location}"


def count_tasks_key(location: str) -> str:
    return f"{COUNT_TASKS_PREFIX}{location}"


def stock_events_key(channel: str) -> str:
    return f"{STOCK_EVENTS_PREFIX}{channel}"


def version_key(kind: FigureKind, scope: str) -> str:
    return f"{VERSION_PREFIX}{kind}:{scope}"


def stranded_key(channel: str) -> str:
    """The SKUs the channel shows at 0 while stock sits outside its pool, scored by those
    units (docs/KPIS.md); kept to the top `TALLY_WORKER__STRANDED_TOP_SKUS`."""
    return f"{STRANDED_PREFIX}{channel}"


class FigureVersion(NamedTuple):
    sku_version: int
    policy_version: int

    def wire(self) -> str:
        return f"{self.sku_version}-{self.policy_version}"

    @classmethod
    def parse(cls, text: str) -> FigureVersion:
        """Parse "S-P" (optionally followed by ":published_ms")."""
        pair = text.split(":", 1)[0]
        sku_version, policy_version = pair.split("-", 1)
        return cls(int(sku_version), int(policy_version))


def parse_version_record(text: str) -> tuple[FigureVersion, int]:
    """A version-hash value: the figure's version and when it was published (Unix ms)."""
    pair, _, published_ms = text.partition(":")
    return FigureVersion.parse(pair), int(published_ms or 0)
