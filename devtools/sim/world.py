"""The simulated retailer: its locations, channels and policy, as the ledger reads them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ledger.policy import ChannelPolicy, LocationPolicy, PolicyBook, apply_policy

WAREHOUSES = ("wh-east", "wh-west")
STORES = ("store-1", "store-2", "store-3", "store-4")
LOCATIONS = (*WAREHOUSES, *STORES)
# Online channels sell on the figure they were last sent; their pools in priority order.
ONLINE: Mapping[str, tuple[str, ...]] = {
    "web": ("wh-east", "wh-west", "store-1", "store-2"),
    "marketplace": ("wh-west",),
}
# Each store's own channel (its POS sales count there); shoppers buy from the shelf.
POS: Mapping[str, str] = {f"pos-{store}": store for store in STORES}
STORE_SAFETY_UNITS = 1  # held back from online channels at each store
POLICY_TIME = datetime(2026, 1, 5, tzinfo=UTC)


def channel_records(prefix: str = "") -> list[dict[str, Any]]:
    """The wire policy records (channels named `{prefix}{channel}`), then store safety."""
    pools = {**ONLINE, **{name: (store,) for name, store in POS.items()}}
    stamp = POLICY_TIME.isoformat()
    records: list[dict[str, Any]] = [
        {"kind": "channel", "channel": f"{prefix}{name}", "locations": list(pool),
         "version": 1, "updated_at": stamp}
        for name, pool in pools.items()
    ]  # fmt: skip
    records += [
        {"kind": "location", "location": store, "safety_stock_units": STORE_SAFETY_UNITS,
         "version": 1, "updated_at": stamp}
        for store in STORES
    ]  # fmt: skip
    return records


def policy_book(prefix: str = "") -> PolicyBook:
    book = PolicyBook()
    for record in channel_records(prefix):
        model = ChannelPolicy if record["kind"] == "channel" else LocationPolicy
        book = apply_policy(book, model.model_validate(record, strict=False))
    return book
