"""Fold one batch of Kafka messages into SKU states: the worker's core, free of Faust.

The agent hands over raw messages (events and commands, in partition order); this module
decodes them, routes bad ones to dead letters, folds facts, decides commands, and reports
which published figures changed. Kafka, the table and Redis stay in the agent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from base.redis_keys import FigureVersion
from base.topics import partition_for
from ledger.availability import Figures, changed_figures, figures
from ledger.codec import decode_command, decode_event
from ledger.commands import CommandUnion, Commit, Decision, Expire, Release, Reserve
from ledger.decide import decide
from ledger.errors import DecodeError, LimitExceeded
from ledger.events import Fact
from ledger.fold import apply_event
from ledger.kpis import SALE_TYPES
from ledger.orders.records import SupplyNotice
from ledger.policy import PolicyBook
from ledger.state import SkuState
from processors.kpi_counts import KpiCounts
from processors.promise_outputs import horizon_figures, supply_figures, supply_notices
from processors.publisher import Figure

TopicKind = Literal["events", "commands"]
HORIZON_DAYS = 15  # days of availability by date (settings.worker.atp_horizon_days)
_KPI_FACT_TYPES = frozenset({"counted", *SALE_TYPES})  # facts the KPIs count (ledger.kpis)


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One consumed record, as the agent saw it."""

    topic_kind: TopicKind
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int  # the producer's stamp (Kafka CreateTime)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    reason_kind: str  # a closed set, for the metric label
    message: RawMessage


@dataclass(slots=True)
class BatchOutcome:
    """Everything one batch produced, for the agent to write out."""

    states: dict[str, SkuState] = field(default_factory=dict)  # changed SKUs only
    unchanged: dict[str, SkuState] = field(default_factory=dict)  # touched, not changed
    stored: dict[str, SkuState] = field(default_factory=dict)  # changed SKUs, as loaded
    partitions: dict[str, int] = field(default_factory=dict)  # sku -> source partition
    decisions: list[Decision] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    # To orders whose holds wait on supply that moved (tally.orders, key: the order's ref).
    notices: list[SupplyNotice] = field(default_factory=list)
    events_folded: Counter[tuple[str, str]] = field(default_factory=Counter)
    hold_decisions: Counter[tuple[str, str]] = field(default_factory=Counter)
    holds_expired: int = 0
    oversells: list[int] = field(default_factory=list)  # size of each oversell, in units
    variance_units: int = 0
    kpis: KpiCounts = field(default_factory=KpiCounts)  # counts, sales, oversells by place


# (sku, source partition) -> the SKU's state before this batch
StateLoader = Callable[[str, int], SkuState]
# Whether a message may be one processed before, by a run whose writes were lost
ReplayTest = Callable[[RawMessage], bool]


def _never_replayed(message: RawMessage) -> bool:
    return False


class _SkuWork:
    """The running state of one SKU through a batch."""

    __slots__ = ("before", "earliest_stamp_ms", "partition", "replayed", "state")

    def __init__(self, before: SkuState, partition: int) -> None:
        self.before = before
        self.state = before
        self.partition = partition
        self.earliest_stamp_ms = 0
        self.replayed = False

    def stamp(self, stamp_ms: int) -> None:
        if stamp_ms and (not self.earliest_stamp_ms or stamp_ms < self.earliest_stamp_ms):
            self.earliest_stamp_ms = stamp_ms


def process_batch(
    messages: Iterable[RawMessage],
    load_state: StateLoader,
    policies: PolicyBook,
    policy_version: int,
    replayed: ReplayTest = _never_replayed,
    *,
    partitions: int,
    horizon_days: int = HORIZON_DAYS,
) -> BatchOutcome:
    """Decode, fold and decide every message in order; never raises on bad input.

    `partitions`: the source topics' partition count. A SKU's records are folded only from
    its own partition (`partition_for`, the gateway's murmur2): one from another (a producer
    with another partitioner) would be a second writer of the SKU, and is dead-lettered.

    A changed SKU's figures are those that differ from its stored state, except for a SKU
    with a `replayed` message: all its figures. A run whose writes were lost (a crash, an
    aborted transaction) may have published figures of states the stored one never reached;
    the replay can end on figures equal to the stored state's (fault seed 42: 0 -> 4 -> 0),
    and only a publish at the new version puts Redis right.
    """
    outcome = BatchOutcome()
    work: dict[str, _SkuWork] = {}
    for message in messages:
        item = _process_message(message, work, load_state, policies, outcome, partitions)
        if item is not None and not item.replayed:
            item.replayed = replayed(message)
    for sku, item in work.items():
        if item.state is item.before:
            outcome.unchanged[sku] = item.state
            continue
        outcome.states[sku] = item.state
        outcome.stored[sku] = item.before
        outcome.partitions[sku] = item.partition
        if item.replayed:
            outcome.figures += figures_from(
                item.state, figures(item.state, policies), policy_version, item.earliest_stamp_ms
            )
        else:
            outcome.figures += figures_between(
                item.before, item.state, policies, policy_version, item.earliest_stamp_ms
            )
        before = None if item.replayed else item.before
        outcome.figures += horizon_figures(
            before, item.state, policies, policy_version, item.earliest_stamp_ms, horizon_days
        )
        outcome.figures += supply_figures(
            before, item.state, policy_version, item.earliest_stamp_ms
        )
        outcome.notices += supply_notices(before, item.state)
    return outcome


def figures_between(
    before: SkuState,
    after: SkuState,
    policies: PolicyBook,
    policy_version: int,
    ingested_ms: int,
) -> list[Figure]:
    """The published figures that differ between two states of one SKU."""
    return figures_from(
        after, changed_figures(before, after, policies), policy_version, ingested_ms
    )


def figures_from(
    state: SkuState, changed: Figures, policy_version: int, ingested_ms: int
) -> list[Figure]:
    """Publishable figures of one SKU at its current version."""
    version = FigureVersion(state.version, policy_version)
    sku = state.sku
    by_channel = [
        Figure("ats", channel, sku, units, version, ingested_ms)
        for channel, units in changed.channels.items()
    ]
    by_location = [
        Figure("loc", location, sku, units, version, ingested_ms)
        for location, units in changed.locations.items()
    ]
    return by_channel + by_location


def _process_message(
    message: RawMessage,
    work: dict[str, _SkuWork],
    load_state: StateLoader,
    policies: PolicyBook,
    outcome: BatchOutcome,
    partitions: int,
) -> _SkuWork | None:
    """The SKU's work item the message went to (None: dead-lettered before reaching one)."""
    if message.value is None:
        outcome.dead_letters.append(DeadLetter("empty message value", "empty", message))
        return None
    # The topic says which a record is: `isinstance` against pydantic's classes costs ~0.8 us.
    fact: Fact | None = None
    command: CommandUnion | None = None
    parsed: Fact | CommandUnion
    # The gateway's stamp (a fact's ingested_at, a command's issued_at), else Kafka's.
    try:
        if message.topic_kind == "events":
            parsed = fact = decode_event(message.value)
            stamped = fact.ingested_at
        else:
            parsed = command = decode_command(message.value)
            stamped = command.issued_at
    except DecodeError as error:
        outcome.dead_letters.append(DeadLetter(error.reason, "invalid", message))
        return None
    key = message.key.decode("utf-8", "replace") if message.key is not None else None
    if key != parsed.sku:
        # A record keyed by anything but its SKU sits on the wrong partition: folding it
        # here could race the SKU's owner, so it is refused rather than guessed at.
        reason = f"message key {key!r} does not match sku {parsed.sku!r}"
        outcome.dead_letters.append(DeadLetter(reason, "key_mismatch", message))
        return None
    item = work.get(parsed.sku)
    # The SKU's partition is worked out once per batch (murmur2, ~3 us unless cached): later
    # records of the SKU are compared with its work item's, which passed the check.
    expected = partition_for(parsed.sku, partitions) if item is None else item.partition
    if message.partition != expected:
        reason = f"sku {parsed.sku!r} belongs on partition {expected}, not {message.partition}"
        outcome.dead_letters.append(DeadLetter(reason, "wrong_partition", message))
        return None
    if item is None:
        item = work[parsed.sku] = _SkuWork(
            load_state(parsed.sku, message.partition), message.partition
        )
    stamp_ms = message.timestamp_ms if stamped is None else int(stamped.timestamp() * 1000)
    try:
        if command is not None:
            _decide(item, command, policies, outcome, stamp_ms)
        elif fact is not None:
            _fold(item, fact, outcome, stamp_ms)
    except LimitExceeded as error:
        # A per-SKU bound (locations, incoming orders) would be passed: the state is left as
        # it was and the record is reported, never half-applied.
        outcome.dead_letters.append(DeadLetter(str(error), "limit", message))
    return item


def _fold(item: _SkuWork, parsed: Fact, outcome: BatchOutcome, stamp_ms: int) -> None:
    applied = apply_event(item.state, parsed)
    kind = parsed.type
    outcome.events_folded[(kind, applied.outcome)] += 1
    if applied.outcome == "applied":
        item.state = applied.state
        item.stamp(stamp_ms)
        if applied.oversell_units:
            outcome.oversells.append(applied.oversell_units)
        outcome.variance_units += abs(applied.variance_units)
        if kind in _KPI_FACT_TYPES or applied.oversell_units:
            outcome.kpis.add_fact(kind, parsed, applied)


def _decide(
    item: _SkuWork,
    command: Reserve | Commit | Release | Expire,
    policies: PolicyBook,
    outcome: BatchOutcome,
    stamp_ms: int,
) -> None:
    before = item.state
    decided = decide(before, command, policies)
    if decided.events:
        item.state = decided.state
        item.stamp(stamp_ms)
        outcome.holds_expired += sum(1 for event in decided.events if event.type == "hold_expired")
        for event in decided.events:
            if event.type == "hold_committed":
                hold = before.find_hold(event.channel, event.hold_id)
                if hold is not None:  # decide committed it: it was pending before
                    outcome.kpis.add_committed_hold(hold.channel, hold.qty)
    if decided.decision is not None:
        outcome.decisions.append(decided.decision)
        outcome.hold_decisions[(command.type, decided.decision.outcome)] += 1
