"""The one codec: bytes <-> models, for every topic and for the processor's state table.

Decoding runs entirely inside pydantic-core (its JSON parser validates as it parses).
Bad bytes raise `DecodeError` with a short reason naming the field(s), never anything else.

Stored state is written in parts (`split_state`, read back by `join_state`) and carries its
layout version in a leading byte (`STATE_FORMAT`); a state written in any other layout is
refused by name rather than misread, since the table it came from can always be rebuilt
from the event log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from ledger import limits
from ledger.commands import Command, CommandUnion, Decision
from ledger.errors import DecodeError
from ledger.events import Event, Fact, HoldEventUnion, LedgerEvent
from ledger.fields import JSON_DECODE_CONFIG
from ledger.policy import PolicyRecord, PolicyRecordUnion
from ledger.state import Hold, SkuState

T = TypeVar("T")

_CONFIG = JSON_DECODE_CONFIG
_EVENT: TypeAdapter[Fact] = TypeAdapter(Event, config=_CONFIG)
_LEDGER_EVENT: TypeAdapter[Fact | HoldEventUnion] = TypeAdapter(LedgerEvent, config=_CONFIG)
_COMMAND: TypeAdapter[CommandUnion] = TypeAdapter(Command, config=_CONFIG)
_POLICY: TypeAdapter[PolicyRecordUnion] = TypeAdapter(PolicyRecord, config=_CONFIG)
_STATE: TypeAdapter[SkuState] = TypeAdapter(SkuState, config=_CONFIG)
_DECISIONS_CHUNK: TypeAdapter[Mapping[str, tuple[Decision, ...]]] = TypeAdapter(
    Mapping[str, tuple[Decision, ...]], config=_CONFIG
)
_RESOLVED_CHUNK: TypeAdapter[Mapping[str, Hold]] = TypeAdapter(Mapping[str, Hold], config=_CONFIG)
_SEEN_CHUNK: TypeAdapter[frozenset[str]] = TypeAdapter(frozenset[str], config=_CONFIG)
# pydantic-core's own validate_json of each wire adapter, looked up once:
# `TypeAdapter.validate_json` is a Python wrapper that only passes its default options on
# (~0.3 us per event on the fold's hot path; devtools/bench/fold_bench.py).
_EVENT_JSON: Callable[[bytes], Fact] = _EVENT.validator.validate_json
_LEDGER_EVENT_JSON: Callable[[bytes], Fact | HoldEventUnion] = _LEDGER_EVENT.validator.validate_json
_COMMAND_JSON: Callable[[bytes], CommandUnion] = _COMMAND.validator.validate_json
_POLICY_JSON: Callable[[bytes], PolicyRecordUnion] = _POLICY.validator.validate_json
# The SkuState layout version, the first byte of every encoded state. Bump it whenever
# SkuState's fields change. 1: the unversioned JSON array (seen ids and counters nested).
# 2: flat seen ids and counters. 3: decisions and resolved holds as journals, chunks of
# seen ids numbered (split_state stores sealed chunks apart). 4: holds, resolved holds and
# decisions keyed by channel and id (ledger.state hold_key, request_key). 5: holds may wait
# on incoming supply (Hold.supply, Incoming.backorders: backorders, docs/PROMISE.md).
# 6: a core's second byte says whether its holds part is stored apart (split_state).
STATE_FORMAT = 6
_STATE_HEADER = bytes((STATE_FORMAT,))
# A core (split_state) follows the format byte with one of these, then the JSON.
_CORE_HOLDS_EMPTY = _STATE_HEADER + b"-"  # no holds part: the SKU has none
_CORE_HOLDS_APART = _STATE_HEADER + b"+"  # the holds part is the HOLDS_PART chunk
_REASONS_MAX = 3
_UNION_ERRORS = ("union_tag_invalid", "union_tag_not_found")


def decode_event(raw: bytes) -> Fact:
    """A fact from `tally.events` (hold events are not accepted from the wire)."""
    return _decode(_EVENT_JSON, raw, "type")


def decode_ledger_event(raw: bytes) -> Fact | HoldEventUnion:
    """A fact or a hold lifecycle event (a SKU's full history, e.g. for a rebuild)."""
    return _decode(_LEDGER_EVENT_JSON, raw, "type")


def decode_command(raw: bytes) -> CommandUnion:
    return _decode(_COMMAND_JSON, raw, "type")


def decode_policy(raw: bytes) -> PolicyRecordUnion:
    return _decode(_POLICY_JSON, raw, "kind")


def encode(model: BaseModel) -> bytes:
    """JSON bytes of any wire model (None fields are written as null)."""
    return model.__pydantic_serializer__.to_json(model)


def _check_format(raw: bytes) -> None:
    if raw[:1] != _STATE_HEADER:
        raise DecodeError(
            f"state format v{_state_format(raw)} unknown (this build reads v{STATE_FORMAT}); "
            "rebuild the table from the event log"
        )


def _state_json(raw: bytes) -> SkuState:
    try:
        return _STATE.validate_json(raw)
    except ValidationError as err:
        raise DecodeError(_reason(err, None)) from None


ChunkKind = Literal["decisions", "resolved", "seen", "holds"]
ChunkId = tuple[ChunkKind, int]  # (collection, sequence number)


class HoldsPart(NamedTuple):
    """What hold commands change and facts do not: the pending holds and the fresh entries of
    the resolved-holds and decisions journals. Kept in the core, these made up about 80 % of
    its bytes in the bench workload (a decision is a keyed JSON object), re-encoded and
    rewritten with every fact. So split_state stores them apart under HOLDS_PART, rewritten
    only when they change."""

    holds: Mapping[str, Hold]
    resolved: Mapping[str, Hold]  # SkuState.resolved.fresh
    decisions: Mapping[str, tuple[Decision, ...]]  # SkuState.decisions.fresh


HOLDS_PART: ChunkId = ("holds", 0)
_HOLDS_PART: TypeAdapter[HoldsPart] = TypeAdapter(HoldsPart, config=_CONFIG)


def _holds_part(state: SkuState) -> HoldsPart:
    return HoldsPart(state.holds, state.resolved.fresh, state.decisions.fresh)


def _with_holds_part(state: SkuState, part: HoldsPart) -> SkuState:
    return state._replace(
        holds=part.holds,
        resolved=state.resolved._replace(fresh=part.resolved),
        decisions=state.decisions._replace(fresh=part.decisions),
    )


def _same_part(part: HoldsPart, other: HoldsPart) -> bool:
    # a fact leaves these mappings untouched (the same objects); == only after a command
    return all(mine is theirs or mine == theirs for mine, theirs in zip(part, other, strict=True))


class StateParts(NamedTuple):
    """A state stored in parts: the `core` (everything but the sealed journal chunks, each
    reduced to an empty placeholder, and the holds part) and the chunks `core` refers to."""

    core: bytes
    new_chunks: dict[ChunkId, bytes]  # sealed since `stored` (all of them without one)
    dropped_chunks: list[ChunkId]  # in `stored`, no longer in the state


class _Chunked(NamedTuple):
    """One of the state's collections kept as sealed chunks (stored apart by split_state)."""

    kind: ChunkKind
    chunks: Callable[[SkuState], tuple[Any, ...]]
    first_seq: Callable[[SkuState], int]
    with_chunks: Callable[[SkuState, tuple[Any, ...]], SkuState]
    adapter: TypeAdapter[Any]
    placeholder: Any  # stands for a chunk in the core


_CHUNKED = (
    _Chunked(
        "decisions",
        lambda s: s.decisions.sealed,
        lambda s: s.decisions.first_seq,
        lambda s, chunks: s._replace(decisions=s.decisions._replace(sealed=chunks)),
        _DECISIONS_CHUNK,
        {},
    ),
    _Chunked(
        "resolved",
        lambda s: s.resolved.sealed,
        lambda s: s.resolved.first_seq,
        lambda s, chunks: s._replace(resolved=s.resolved._replace(sealed=chunks)),
        _RESOLVED_CHUNK,
        {},
    ),
    _Chunked(
        "seen",
        lambda s: s.seen_chunks,
        lambda s: s.seen_first_seq,
        lambda s, chunks: s._replace(seen_chunks=chunks),
        _SEEN_CHUNK,
        frozenset(),
    ),
)


def split_state(state: SkuState, stored: SkuState | None) -> StateParts:
    """`state` in parts, given the state already `stored` in parts (or None).

    A sealed chunk never changes, so only chunks sealed since `stored` are encoded: the
    bytes written per batch stay near the size of the small parts of the state however many
    decisions, resolved holds and event ids a hot SKU keeps. The holds part (HoldsPart) is
    stored apart while it is not empty, and written only when it differs from `stored`'s.
    """
    new_chunks: dict[ChunkId, bytes] = {}
    dropped_chunks: list[ChunkId] = []
    part = _holds_part(state)
    if any(part):
        header, core = _CORE_HOLDS_APART, _with_holds_part(state, HoldsPart({}, {}, {}))
        if stored is None or not _same_part(part, _holds_part(stored)):
            new_chunks[HOLDS_PART] = _HOLDS_PART.dump_json(part)
    else:
        header, core = _CORE_HOLDS_EMPTY, state
        if stored is not None and any(_holds_part(stored)):
            dropped_chunks.append(HOLDS_PART)
    for chunked in _CHUNKED:
        chunks, first = chunked.chunks(state), chunked.first_seq(state)
        if chunks:
            core = chunked.with_chunks(core, (chunked.placeholder,) * len(chunks))
        after_last = first + len(chunks)
        first_new = first
        if stored is not None:
            stored_first = chunked.first_seq(stored)
            stored_after_last = stored_first + len(chunked.chunks(stored))
            first_new = max(stored_after_last, first)
            gone = range(stored_first, min(stored_after_last, first))
            dropped_chunks += [(chunked.kind, seq) for seq in gone]
        for seq in range(first_new, after_last):
            new_chunks[(chunked.kind, seq)] = chunked.adapter.dump_json(chunks[seq - first])
    return StateParts(header + _STATE.dump_json(core), new_chunks, dropped_chunks)


def join_state(core: bytes, load_chunk: Callable[[ChunkId], bytes | None]) -> SkuState:
    """The state whose `split_state` core is `core`, its sealed chunks read by `load_chunk`.

    A missing or undecodable chunk is a `DecodeError` (the store is then rebuilt from the
    changelog, like any unreadable state).
    """
    _check_format(core)
    apart = core[:2] == _CORE_HOLDS_APART
    if not apart and core[:2] != _CORE_HOLDS_EMPTY:
        raise DecodeError(f"state core: unknown parts byte {core[1:2]!r} (a whole state?)")
    state = _state_json(core[2:])
    if apart:
        state = _with_holds_part(state, _load_holds_part(state.sku, load_chunk))
    for chunked in _CHUNKED:
        count, first = len(chunked.chunks(state)), chunked.first_seq(state)
        if not count:
            continue
        chunks: list[Any] = []
        for seq in range(first, first + count):
            where = f"state of {state.sku}: {chunked.kind} chunk {seq}"
            raw = load_chunk((chunked.kind, seq))
            if raw is None:
                raise DecodeError(f"{where} missing")
            try:
                chunks.append(chunked.adapter.validate_json(raw))
            except ValidationError as err:
                raise DecodeError(f"{where}: {_reason(err, None)}") from None
        state = chunked.with_chunks(state, tuple(chunks))
    return state


def _load_holds_part(sku: str, load_chunk: Callable[[ChunkId], bytes | None]) -> HoldsPart:
    raw = load_chunk(HOLDS_PART)
    if raw is None:
        raise DecodeError(f"state of {sku}: holds part missing")
    try:
        return _HOLDS_PART.validate_json(raw)
    except ValidationError as err:
        raise DecodeError(f"state of {sku}: holds part: {_reason(err, None)}") from None


def _state_format(raw: bytes) -> str:
    if not raw:
        return "? (empty bytes)"
    if raw[:1] == b"[":
        return "1"  # the unversioned layout: a bare JSON array
    return str(raw[0])


def _decode(validate_json: Callable[[bytes], T], raw: bytes, tag: str) -> T:
    """Every wire decoder's path: the payload bound, then pydantic-core's validator."""
    if len(raw) > limits.PAYLOAD_BYTES_MAX:
        raise DecodeError(f"payload: {len(raw)} bytes, over {limits.PAYLOAD_BYTES_MAX}")
    try:
        return validate_json(raw)
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
