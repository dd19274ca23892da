"""The one codec: bytes <-> models, for every topic and for the processor's state table.

Decoding runs entirely inside pydantic-core (its JSON parser validates as it parses).
Bad bytes raise `DecodeError` with a short reason naming the field(s), never anything else.

Stored state carries its layout version in a leading byte (`STATE_FORMAT`); a state written
in any other layout is refused by name rather than misread, since the table it came from
can always be rebuilt from the event log.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from ledger import limits
from ledger.commands import Command, CommandUnion
from ledger.errors import DecodeError
from ledger.events import Event, Fact, HoldEventUnion, LedgerEvent
from ledger.policy import PolicyRecord, PolicyRecordUnion
from ledger.state import SkuState

T = TypeVar("T")

_EVENT: TypeAdapter[Fact] = TypeAdapter(Event)
_LEDGER_EVENT: TypeAdapter[Fact | HoldEventUnion] = TypeAdapter(LedgerEvent)
_COMMAND: TypeAdapter[CommandUnion] = TypeAdapter(Command)
_POLICY: TypeAdapter[PolicyRecordUnion] = TypeAdapter(PolicyRecord)
_STATE: TypeAdapter[SkuState] = TypeAdapter(SkuState)
# The SkuState layout version, the first byte of every encoded state. Bump it whenever
# SkuState's fields change. 1: the unversioned JSON array (seen ids and counters nested).
STATE_FORMAT = 2
_STATE_HEADER = bytes((STATE_FORMAT,))
_REASONS_MAX = 3
_UNION_ERRORS = ("union_tag_invalid", "union_tag_not_found")


def decode_event(raw: bytes) -> Fact:
    """A fact from `tally.events` (hold events are not accepted from the wire)."""
    return _decode(_EVENT, raw, "type")


def decode_ledger_event(raw: bytes) -> Fact | HoldEventUnion:
    """A fact or a hold lifecycle event (a SKU's full history, e.g. for a rebuild)."""
    return _decode(_LEDGER_EVENT, raw, "type")


def decode_command(raw: bytes) -> CommandUnion:
    return _decode(_COMMAND, raw, "type")


def decode_policy(raw: bytes) -> PolicyRecordUnion:
    return _decode(_POLICY, raw, "kind")


def encode(model: BaseModel) -> bytes:
    """JSON bytes of any wire model (None fields are written as null)."""
    return model.__pydantic_serializer__.to_json(model)


def encode_state(state: SkuState) -> bytes:
    """`STATE_FORMAT` as one byte, then the state as JSON."""
    return _STATE_HEADER + _STATE.dump_json(state)


def decode_state(raw: bytes) -> SkuState:
    """A state written by `encode_state` of this `STATE_FORMAT`; any other is a DecodeError."""
    if raw[:1] != _STATE_HEADER:
        raise DecodeError(
            f"state format v{_state_format(raw)} unknown (this build reads v{STATE_FORMAT}); "
            "rebuild the table from the event log"
        )
    try:
        return _STATE.validate_json(raw[1:])
    except ValidationError as err:
        raise DecodeError(_reason(err, None)) from None


def _state_format(raw: bytes) -> str:
    if not raw:
        return "? (empty bytes)"
    if raw[:1] == b"[":
        return "1"  # the unversioned layout: a bare JSON array
    return str(raw[0])


def _decode(adapter: TypeAdapter[T], raw: bytes, tag: str) -> T:
    if len(raw) > limits.PAYLOAD_BYTES_MAX:
        raise DecodeError(f"payload: {len(raw)} bytes, over {limits.PAYLOAD_BYTES_MAX}")
    try:
        return adapter.validate_json(raw)
    except ValidationError as err:
        raise DecodeError(_reason(err, tag)) from None


def _reason(err: ValidationError, tag: str | None) -> str:
    errors = err.errors(include_url=False, include_input=False)
    parts = [_one(e, tag) for e in errors[:_REASONS_MAX]]
    more = len(errors) - _REASONS_MAX
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _one(error: Any, tag: str | None) -> str:
    kind: str = error["type"]
    loc: tuple[str | int, ...] = error["loc"]
    message: str = error["msg"].removeprefix("Value error, ")
    if kind == "json_invalid":
        return f"malformed JSON: {message}"
    if kind == "union_tag_not_found":
        return f"{tag}: missing"
    if kind == "union_tag_invalid":
        return f"{tag}: unknown {tag} {error.get('ctx', {}).get('tag', '')!r}"
    if tag is not None and loc:
        loc = loc[1:]  # drop the union member's tag
    if not loc:
        if kind in ("model_type", "dict_type", "model_attributes_type", "tuple_type"):
            return "payload: must be a JSON object"
        return message
    return f"{'.'.join(str(part) for part in loc)}: {message}"
