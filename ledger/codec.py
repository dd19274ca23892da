"""The one codec: bytes <-> models, for every topic and for the processor's state table.

Decoding runs entirely inside pydantic-core (its JSON parser validates as it parses).
Bad bytes raise `DecodeError` with a short reason naming the field(s), never anything else.

Stored state carries its layout version in a leading byte (`STATE_FORMAT`); a state written
in any other layout is refused by name rather than misread, since the table it came from
can always be rebuilt from the event log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from ledger import limits
from ledger.commands import Command, CommandUnion, Decision
from ledger.errors import DecodeError
from ledger.events import Event, Fact, HoldEventUnion, LedgerEvent
from ledger.policy import PolicyRecord, PolicyRecordUnion
from ledger.state import Hold, Journal, SkuState

T = TypeVar("T")

_EVENT: TypeAdapter[Fact] = TypeAdapter(Event)
_LEDGER_EVENT: TypeAdapter[Fact | HoldEventUnion] = TypeAdapter(LedgerEvent)
_COMMAND: TypeAdapter[CommandUnion] = TypeAdapter(Command)
_POLICY: TypeAdapter[PolicyRecordUnion] = TypeAdapter(PolicyRecord)
_STATE: TypeAdapter[SkuState] = TypeAdapter(SkuState)
_DECISIONS_CHUNK: TypeAdapter[Mapping[str, Decision]] = TypeAdapter(Mapping[str, Decision])
_RESOLVED_CHUNK: TypeAdapter[Mapping[str, Hold]] = TypeAdapter(Mapping[str, Hold])
# The SkuState layout version, the first byte of every encoded state. Bump it whenever
# SkuState's fields change. 1: the unversioned JSON array (seen ids and counters nested).
# 2: flat seen ids and counters. 3: decisions and resolved holds as journals.
STATE_FORMAT = 3
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


JournalKind = Literal["decisions", "resolved"]
JOURNAL_KINDS: tuple[JournalKind, ...] = ("decisions", "resolved")
ChunkId = tuple[JournalKind, int]  # (journal, sequence number)


class StateParts(NamedTuple):
    """A state stored in parts: the `core` (everything but the sealed journal chunks, each
    reduced to an empty placeholder) and the sealed chunks `core` refers to."""

    core: bytes
    new_chunks: dict[ChunkId, bytes]  # sealed since `stored` (all of them without one)
    dropped_chunks: list[ChunkId]  # in `stored`, no longer in the state


def split_state(state: SkuState, stored: SkuState | None) -> StateParts:
    """`state` in parts, given the state already `stored` in parts (or None).

    A sealed chunk never changes, so only chunks sealed since `stored` are encoded: the
    bytes written per batch stay near the size of the small parts of the state however many
    decisions and resolved holds a hot SKU keeps.
    """
    core = state._replace(
        decisions=_placeholders(state.decisions), resolved=_placeholders(state.resolved)
    )
    new_chunks: dict[ChunkId, bytes] = {}
    dropped_chunks: list[ChunkId] = []
    for kind in JOURNAL_KINDS:
        journal: Journal[Any] = getattr(state, kind)
        before: Journal[Any] = Journal() if stored is None else getattr(stored, kind)
        first_new = journal.first_seq if stored is None else max(before.next_seq, journal.first_seq)
        adapter = _chunk_adapter(kind)
        for seq in range(first_new, journal.next_seq):
            new_chunks[(kind, seq)] = adapter.dump_json(journal.sealed[seq - journal.first_seq])
        if stored is not None:
            gone = range(before.first_seq, min(before.next_seq, journal.first_seq))
            dropped_chunks += [(kind, seq) for seq in gone]
    return StateParts(encode_state(core), new_chunks, dropped_chunks)


def join_state(core: bytes, load_chunk: Callable[[ChunkId], bytes | None]) -> SkuState:
    """The state whose `split_state` core is `core`, its sealed chunks read by `load_chunk`.

    A missing or undecodable chunk is a `DecodeError` (the store is then rebuilt from the
    changelog, like any unreadable state).
    """
    state = decode_state(core)
    if not (state.decisions.sealed or state.resolved.sealed):
        return state
    return state._replace(
        decisions=_joined(state.sku, "decisions", state.decisions, _DECISIONS_CHUNK, load_chunk),
        resolved=_joined(state.sku, "resolved", state.resolved, _RESOLVED_CHUNK, load_chunk),
    )


def _joined(
    sku: str,
    kind: JournalKind,
    journal: Journal[T],
    adapter: TypeAdapter[Mapping[str, T]],
    load_chunk: Callable[[ChunkId], bytes | None],
) -> Journal[T]:
    chunks: list[Mapping[str, T]] = []
    for seq in range(journal.first_seq, journal.next_seq):
        raw = load_chunk((kind, seq))
        if raw is None:
            raise DecodeError(f"state of {sku}: {kind} chunk {seq} missing")
        try:
            chunks.append(adapter.validate_json(raw))
        except ValidationError as err:
            raise DecodeError(f"state of {sku}: {kind} chunk {seq}: {_reason(err, None)}") from None
    return journal._replace(sealed=tuple(chunks))


def _placeholders(journal: Journal[Any]) -> Journal[Any]:
    return journal._replace(sealed=({},) * len(journal.sealed)) if journal.sealed else journal


def _chunk_adapter(kind: JournalKind) -> TypeAdapter[Mapping[str, Any]]:
    return _DECISIONS_CHUNK if kind == "decisions" else _RESOLVED_CHUNK


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
