"""Names derived from an order: its ref, its hold ids, its request and event ids.

Every id the order processor sends is a function of the order and the step that sends it,
so a replay sends the same ids and the per-SKU ledger answers with its first decision.
A hold id `o.<ref>.<plan>.<n>` names its order, so a decision can be routed back to it.
"""

from __future__ import annotations

import base64
import hashlib

HOLD_PREFIX = "o."
REF_CHARS = 24


def order_ref(channel: str, order_id: str) -> str:
    """The order's key everywhere inside Tally: order ids are unique per channel only."""
    digest = hashlib.sha256(f"{channel}/{order_id}".encode()).digest()
    return "o" + base64.b32encode(digest).decode("ascii")[:REF_CHARS].lower()


def hold_id(ref: str, plan_seq: int, index: int) -> str:
    return f"{HOLD_PREFIX}{ref}.{plan_seq}.{index}"


def ref_of_hold(hold: str) -> str | None:
    """The order a hold id belongs to (None: not an order's hold)."""
    if not hold.startswith(HOLD_PREFIX):
        return None
    ref, _, rest = hold[len(HOLD_PREFIX) :].partition(".")
    return ref if ref and rest else None


def reserve_request(hold: str) -> str:
    return f"{hold}.r"


def commit_request(hold: str) -> str:
    return f"{hold}.c"


def release_request(hold: str, attempt: int) -> str:
    return f"{hold}.x{attempt}"


def fact_id(ref: str, kind: str, seq: int) -> str:
    """A fact the order processor emits (order_cancelled, shipped): `<ref>.<kind><seq>`."""
    return f"{ref}.{kind}{seq}"
