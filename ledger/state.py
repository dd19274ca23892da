"""The per-SKU state: every location's stock position, holds, incoming, seen ids, counters.

Immutable values. They are `NamedTuple`s rather than frozen pydantic models or frozen
dataclasses: building one is 2x faster than a frozen slotted dataclass and ~10x faster than a
pydantic model (measured), and the fold builds one per event. Mapping fields are never
mutated after construction (typed `Mapping`, copied on write). `ledger.codec` serializes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Generic, Literal, NamedTuple, TypeVar

from ledger import chunk_index, limits
from ledger.commands import Decision

V = TypeVar("V")
HoldStatus = Literal["pending", "committed", "released", "expired", "rejected"]
IncomingKind = Literal["supply", "transfer"]


class Position(NamedTuple):
    """One (sku, location) in Shopify's buckets; unsellable = damaged + inspection."""

    on_hand: int = 0
    committed: int = 0
    reserved: int = 0
    damaged: int = 0
    inspection: int = 0  # returns awaiting inspection

    @property
    def unsellable(self) -> int:
        return self.damaged + self.inspection

    @property
    def free_units(self) -> int:
        """Available before safety stock; below zero is an oversell."""
        return self.on_hand - self.committed - self.reserved - self.damaged - self.inspection


EMPTY_POSITION = Position()


class Hold(NamedTuple):
    """A hold and its first decision; pending until committed, released or expired.

    A backorder hold names the incoming `supply` (its `incoming_key`) that part of it waits
    on: those units are in the supply's `backorders`, the rest are reserved at `location`.
    """

    hold_id: str
    request_id: str
    channel: str
    location: str | None
    qty: int
    expires_at: datetime | None  # UTC (datetime.UTC: same-tzinfo comparisons are fast)
    status: HoldStatus
    decision: Decision
    supply: str | None = None


def _channels_of_chunks(chunks: Sequence[Mapping[str, Hold]]) -> frozenset[str]:
    """The channels of the holds in `chunks` (keyed by `hold_key`)."""
    return frozenset(channel_of_key(key) for key in sealed_merged(chunks))


class Incoming(NamedTuple):
    """Expected supply (PO / ASN) or a transfer in transit, at target `location`.

    `qty` is what is still expected. `backorders` are the units promised against it: hold key
    (`hold_key`) -> units of that hold still waiting (oldest first; a pending hold is in
    `SkuState.holds`, a committed one is not). A receipt moves waiting units, oldest first,
    to the position (committed, or reserved for a pending hold). The entry stays while
    anything waits on it, even with nothing left expected (a short or cancelled supply).
    """

    kind: IncomingKind
    order_id: str
    location: str
    qty: int
    eta: datetime | None
    source_location: str | None = None
    backorders: Mapping[str, int] = {}

    @property
    def promised(self) -> int:
        return sum(self.backorders.values())

    @property
    def unpromised(self) -> int:
        """Units expected that nothing waits on (negative: promised beyond what will come)."""
        return self.qty - self.promised


def incoming_key(kind: IncomingKind, location: str, order_id: str) -> str:
    return f"{kind}:{location}:{order_id}"


# Hold ids and request ids are each channel's own: two channels may use the same id for
# two holds (or requests), and one can never reach the other's. A hold's key joins the
# channel and the id with a space, which neither may contain (ledger.limits ID_PATTERN and
# TOKEN_PATTERN). Decisions stay keyed by request_id (readers list the requests decided),
# each entry holding one decision per asking channel (`Decision.channel`; None: an admin).
_SCOPE = " "
Answers = tuple[Decision, ...]  # one request_id's decisions, one per asking channel


def hold_key(channel: str, hold_id: str) -> str:
    """The key of `channel`'s hold `hold_id` in `SkuState.holds` and `SkuState.resolved`."""
    return f"{channel}{_SCOPE}{hold_id}"


def hold_id_of(key: str) -> str:
    """The hold id of a `hold_key`."""
    return key.partition(_SCOPE)[2]


def channel_of_key(key: str) -> str:
    """The channel of a `hold_key`."""
    return key.partition(_SCOPE)[0]


def answer_of(decisions: Journal[Answers], channel: str | None, request_id: str) -> Decision | None:
    """`channel`'s decision of `request_id` (None: an admin's request), if kept."""
    for decision in decisions.get(request_id) or ():
        if decision.channel == channel:
            return decision
    return None


def with_answer(decisions: Journal[Answers], decision: Decision) -> Journal[Answers]:
    """`decisions` with `decision` kept under its request_id, beside other channels'."""
    earlier = decisions.get(decision.request_id) or ()
    answers = (*earlier, decision)
    return journal_put(decisions, decision.request_id, answers, limits.DECISIONS_PER_SKU_MAX)


def sealed_merged(chunks: Sequence[Mapping[str, V]]) -> Mapping[str, V]:
    """Every key of a journal's sealed `chunks` with its newest value (a later chunk's wins):
    one lookup for a key the journal does not hold (the common case: a new request_id or
    hold) instead of one per chunk."""
    return chunk_index.derived(chunks, "merged", _merge)


def _merge(chunks: Sequence[Mapping[str, V]]) -> Mapping[str, V]:
    if len(chunks) == 1:
        return chunks[0]
    merged: dict[str, V] = {}
    for chunk in chunks:
        merged.update(chunk)
    return merged


class Journal(NamedTuple, Generic[V]):
    """A bounded, insertion-ordered, persistent map: the SKU's idempotency records.

    The newest entries live in `fresh` (at most JOURNAL_FRESH_MAX; adding one copies only
    this small dict); a full `fresh` is sealed into an immutable chunk. Chunk `i` of
    `sealed` (oldest first) has the sequence number `first_seq + i`; past the bound the
    oldest chunk is dropped whole. Sealed chunks never change, so the processors store each
    one once, apart from the SKU's state (ledger.codec `split_state`), instead of rewriting
    a thousand records with every batch that touches a hot SKU.
    """

    fresh: Mapping[str, V] = {}
    sealed: tuple[Mapping[str, V], ...] = ()
    first_seq: int = 0

    def get(self, key: str) -> V | None:
        value = self.fresh.get(key)
        if value is not None:
            return value
        sealed = self.sealed
        if len(sealed) >= chunk_index.MEMOIZED_FROM_CHUNKS:
            return sealed_merged(sealed).get(key)
        for chunk in reversed(sealed):  # a few: asked in turn, no merged copy built
            value = chunk.get(key)
            if value is not None:
                return value
        return None

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def ids(self) -> Iterator[str]:
        """Every key kept, oldest first."""
        for chunk in self.sealed:
            yield from chunk
        yield from self.fresh

    def size(self) -> int:
        return len(self.fresh) + sum(len(chunk) for chunk in self.sealed)

    @property
    def next_seq(self) -> int:
        """The sequence number the next sealed chunk will get."""
        return self.first_seq + len(self.sealed)


def journal_put(journal: Journal[V], key: str, value: V, size_max: int) -> Journal[V]:
    """`journal` plus `key`; keeps the newest `size_max - JOURNAL_FRESH_MAX` entries at least."""
    fresh, sealed, first_seq = journal
    if len(fresh) < limits.JOURNAL_FRESH_MAX:
        return Journal({**fresh, key: value}, sealed, first_seq)
    chunks_max = size_max // limits.JOURNAL_FRESH_MAX - 1
    sealed = (*sealed, fresh)
    if len(sealed) > chunks_max:
        dropped = len(sealed) - chunks_max
        sealed, first_seq = sealed[dropped:], first_seq + dropped
    return Journal({key: value}, sealed, first_seq)


_SEP = "\x00"  # cannot occur in an id (printable ASCII only)
_CHUNKS_MAX = limits.SEEN_IDS_PER_SKU_MAX // limits.SEEN_IDS_FRESH_MAX - 1


class SeenIds(NamedTuple):
    """The SKU's recently applied event_ids (a persistent set, see ledger.limits).

    The newest ids live in one delimited string (adding copies one small buffer and touches
    no other object: cheap for the long tail of cold SKUs); every SEEN_IDS_FRESH_MAX ids it
    is sealed into a frozenset chunk, and the oldest chunk is dropped past the bound. Chunk
    `i` has the sequence number `first_seq + i` (sealed chunks never change, so they are
    stored apart from the state, like a `Journal`'s). `SkuState` keeps the four parts as its
    own fields (one object fewer per event) and hands out this view as `SkuState.seen`.
    """

    fresh: str = _SEP  # "\0id1\0id2\0"
    fresh_count: int = 0
    chunks: tuple[frozenset[str], ...] = ()
    first_seq: int = 0

    def __contains__(self, event_id: object) -> bool:
        if not isinstance(event_id, str):
            return False
        if f"{_SEP}{event_id}{_SEP}" in self.fresh:
            return True
        return any(event_id in chunk for chunk in self.chunks)

    def size(self) -> int:
        return self.fresh_count + sum(len(chunk) for chunk in self.chunks)


def seen_add(seen: SeenIds, event_id: str) -> SeenIds:
    """`seen` plus `event_id`, dropping the oldest chunk past SEEN_IDS_PER_SKU_MAX."""
    fresh, fresh_count, chunks, first_seq = seen
    if fresh_count < limits.SEEN_IDS_FRESH_MAX:
        return SeenIds(f"{fresh}{event_id}{_SEP}", fresh_count + 1, chunks, first_seq)
    sealed = frozenset(fresh[1:-1].split(_SEP))
    if len(chunks) >= _CHUNKS_MAX:
        dropped = len(chunks) - _CHUNKS_MAX + 1
        chunks, first_seq = chunks[dropped:], first_seq + dropped
    return SeenIds(f"{_SEP}{event_id}{_SEP}", 1, (*chunks, sealed), first_seq)


class Counters(NamedTuple):
    """Cumulative anomalies and cycle-count accuracy for one SKU (`SkuState.counters`)."""

    oversold_units: int = 0
    oversells: int = 0
    counts: int = 0
    counts_exact: int = 0
    variance_net_units: int = 0
    variance_abs_units: int = 0


class SkuState(NamedTuple):
    """Everything the ledger knows about one SKU. `version` + 1 per applied event.

    Flat on purpose: the seen ids and the counters are fields of their own rather than
    nested tuples, so applying a fact builds one state tuple, not three (each object built
    per event is also one more for the cyclic GC to scan). `seen` and `counters` give the
    grouped views. Changing these fields changes the stored layout: bump
    `ledger.codec.STATE_FORMAT`.
    """

    sku: str
    version: int = 0
    clock: datetime | None = None  # log time of the last applied event
    positions: Mapping[str, Position] = {}
    holds: Mapping[str, Hold] = {}  # pending only, by hold_key(channel, hold_id)
    resolved: Journal[Hold] = Journal()  # resolved / rejected holds, bounded, by hold_key
    decisions: Journal[Answers] = Journal()  # by request_id (see answer_of), bounded
    incoming: Mapping[str, Incoming] = {}
    # seen event_ids (see SeenIds)
    seen_fresh: str = _SEP
    seen_fresh_count: int = 0
    seen_chunks: tuple[frozenset[str], ...] = ()
    seen_first_seq: int = 0
    # counters (see Counters)
    oversold_units: int = 0
    oversells: int = 0
    counts: int = 0
    counts_exact: int = 0
    variance_net_units: int = 0
    variance_abs_units: int = 0

    @classmethod
    def empty(cls, sku: str) -> SkuState:
        return cls(sku)

    @property
    def seen(self) -> SeenIds:
        return SeenIds(
            self.seen_fresh, self.seen_fresh_count, self.seen_chunks, self.seen_first_seq
        )

    @property
    def counters(self) -> Counters:
        return Counters(*self[-6:])

    def position(self, location: str) -> Position:
        return self.positions.get(location, EMPTY_POSITION)

    def find_hold(self, channel: str, hold_id: str) -> Hold | None:
        """`channel`'s hold `hold_id`, pending or resolved."""
        key = hold_key(channel, hold_id)
        hold = self.holds.get(key)
        return self.resolved.get(key) if hold is None else hold

    def holds_named(self, hold_id: str) -> tuple[Hold, ...]:
        """Every hold with id `hold_id`, of any channel, pending or resolved (an admin's
        commit or release names no channel): the pending ones first, then each channel's
        resolved one."""
        pending = [hold for hold in self.holds.values() if hold.hold_id == hold_id]
        # a resolved hold is keyed by channel and id: ask each channel that has any
        resolved = self.resolved
        channels = chunk_index.derived(resolved.sealed, "channels", _channels_of_chunks)
        channels |= {channel_of_key(key) for key in resolved.fresh}
        found = (resolved.get(hold_key(channel, hold_id)) for channel in sorted(channels))
        resolved_holds = [hold for hold in found if hold is not None]
        return (*pending, *resolved_holds)

    def incoming_at(self, location: str) -> tuple[Incoming, ...]:
        return tuple(item for item in self.incoming.values() if item.location == location)

    def waiting_units(self, hold: Hold) -> int:
        """Units of `hold` still waiting on its supply (0 for a hold on stock)."""
        if hold.supply is None:
            return 0
        item = self.incoming.get(hold.supply)
        key = hold_key(hold.channel, hold.hold_id)
        return 0 if item is None else item.backorders.get(key, 0)
