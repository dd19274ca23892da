"""Bytes <-> the order records and states (JSON), each bounded at the edge."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import TypeAdapter, ValidationError

from ledger import limits
from ledger.errors import DecodeError
from ledger.fields import JSON_DECODE_CONFIG
from ledger.orders.capacity import CapacityDay
from ledger.orders.records import CapacityAsk, OrderRecord, OrderRecordUnion
from ledger.orders.state import OrderState

T = TypeVar("T")

_RECORD: TypeAdapter[OrderRecordUnion] = TypeAdapter(OrderRecord, config=JSON_DECODE_CONFIG)
_REASONS_MAX = 3


def decode_order_record(raw: bytes) -> OrderRecordUnion:
    return _decode(_RECORD.validate_json, raw)


def decode_capacity_ask(raw: bytes) -> CapacityAsk:
    return _decode(CapacityAsk.model_validate_json, raw)


def decode_order_state(raw: bytes) -> OrderState:
    return _decode(OrderState.model_validate_json, raw, limits.ORDER_STATE_BYTES_MAX)


def decode_capacity_day(raw: bytes) -> CapacityDay:
    return _decode(CapacityDay.model_validate_json, raw, limits.ORDER_STATE_BYTES_MAX)


def _decode(
    validate: Callable[[bytes], T], raw: bytes, bytes_max: int = limits.ORDER_RECORD_BYTES_MAX
) -> T:
    if len(raw) > bytes_max:
        raise DecodeError(f"payload: {len(raw)} bytes, over {bytes_max}")
    try:
        return validate(raw)
    except ValidationError as err:
        errors = err.errors(include_url=False, include_input=False)
        reasons = [
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'payload'}: {e['msg']}"
            for e in errors[:_REASONS_MAX]
        ]
        raise DecodeError("; ".join(reasons)) from None
