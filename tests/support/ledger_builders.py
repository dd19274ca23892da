"""Builders for tests (ledger's and the processors'): a fact, a command or a policy book in
one line each, with sensible defaults. Pure; never imported by the ledger itself."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.codec import decode_event
from ledger.codec import encode as _encode
from ledger.commands import Commit, Expire, Release, Reserve
from ledger.events import (
    Adjusted,
    Counted,
    Damaged,
    Fact,
    OrderCancelled,
    OrderPlaced,
    Received,
    ReturnGraded,
    ReturnReceived,
    Shipped,
    SoldInStore,
    SupplyCancelled,
    SupplyExpected,
    TransferIn,
    TransferOut,
)
from ledger.policy import ChannelPolicy, LocationPolicy, PolicyBook, apply_policy

T0 = datetime(2025, 3, 1, 9, tzinfo=UTC)
SKU = "SKU-1"
_ids = itertools.count()

FACTS: dict[str, type[Fact]] = {
    "received": Received,
    "shipped": Shipped,
    "sold_in_store": SoldInStore,
    "adjusted": Adjusted,
    "counted": Counted,
    "damaged": Damaged,
    "transfer_out": TransferOut,
    "transfer_in": TransferIn,
    "return_received": ReturnReceived,
    "return_graded": ReturnGraded,
    "order_placed": OrderPlaced,
    "order_cancelled": OrderCancelled,
    "supply_expected": SupplyExpected,
    "supply_cancelled": SupplyCancelled,
}


def at(seconds: float = 0) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fact(kind: str, location: str, qty: int, t: float = 0, **fields: Any) -> Fact:
    """A fact of `kind`; required per-type fields get sensible defaults."""
    n = next(_ids)
    per_type: dict[str, dict[str, Any]] = {
        "adjusted": {"reason": "found"},
        "transfer_out": {"order_id": "to-1", "target_location": "B" if location != "B" else "A"},
        "transfer_in": {"order_id": "to-1"},
        "return_graded": {"disposition": "restock"},
        "order_placed": {"order_id": f"o-{n}"},
        "order_cancelled": {"order_id": f"o-{n}"},
        "supply_expected": {"order_id": "po-1", "eta": at(t + 86400)},
        "supply_cancelled": {"order_id": "po-1"},
    }
    defaults = per_type.get(kind, {})
    fields = {
        "event_id": f"e-{n}",
        "sku": SKU,
        "location": location,
        "qty": qty,
        "occurred_at": at(t),
        "source": "test",
        **defaults,
        **fields,
    }
    return FACTS[kind](**fields)


def reserve(hold_id: str, channel: str, qty: int, t: float = 0, **fields: Any) -> Reserve:
    return Reserve(
        request_id=f"r-{hold_id}",
        hold_id=hold_id,
        sku=SKU,
        channel=channel,
        qty=qty,
        ttl_s=fields.pop("ttl_s", 900),
        issued_at=at(t),
        **fields,
    )


def commit(hold_id: str, t: float = 0, request_id: str | None = None) -> Commit:
    return Commit(
        request_id=request_id or f"c-{hold_id}-{next(_ids)}",
        hold_id=hold_id,
        sku=SKU,
        order_id=f"o-{hold_id}",
        issued_at=at(t),
    )


def release(hold_id: str, t: float = 0, request_id: str | None = None) -> Release:
    return Release(
        request_id=request_id or f"x-{hold_id}-{next(_ids)}",
        hold_id=hold_id,
        sku=SKU,
        issued_at=at(t),
    )


def expire(t: float) -> Expire:
    return Expire(sku=SKU, issued_at=at(t))


def book(*records: ChannelPolicy | LocationPolicy) -> PolicyBook:
    result = PolicyBook()
    for record in records:
        result = apply_policy(result, record)
    return result


def channel(name: str, *locations: str, **fields: Any) -> ChannelPolicy:
    return ChannelPolicy(
        channel=name,
        locations=locations,
        version=fields.pop("version", 1),
        updated_at=T0,
        **fields,
    )


def safety(location: str, units: int, version: int = 1) -> LocationPolicy:
    return LocationPolicy(
        location=location, safety_stock_units=units, version=version, updated_at=T0
    )


def roundtrip(event: Fact) -> Fact:
    return decode_event(_encode(event))
