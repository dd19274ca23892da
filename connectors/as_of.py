"""A SKU's positions as they were at a past time, rebuilt from the event log.

`stock_as_of(consumer, topics, sku, at)` reads, up to `at`, the SKU's partition of
`tally.events` and `tally.commands` (its records only), the whole `tally.policy`, and the
SKU's recorded decisions; replays them (`ledger.as_of.replay`, the worker's own fold and
decide) and returns every location's buckets and every channel's ATS then: what a channel
saw when it sold. `stock_at(settings, sku, at)` does it on a consumer of its own: `tally
stock SKU --at TIME` prints it, the gateway's `GET /v1/stock/{sku}?at=TIME` and the
console's SKU page serve it.

"Up to `at`" is a prefix of each partition: the records before the first one whose Kafka
timestamp is after `at`. Within a partition the order is the log's; across topics records
are merged by Kafka timestamp (the worker consumes events and commands together, in
roughly that order). The decisions the replay takes are compared with those the worker
recorded; any that differ are named. Bounded by retention: a partition whose first records
were deleted makes the result incomplete (said in `notes`), and by `SCAN_RECORDS_MAX`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import TypeAdapter, ValidationError

from base.redis_keys import FigureVersion
from base.settings import Settings, TopicSettings
from base.topics import partition_for
from connectors.inspect.kafka_read import TopicMissing, kafka_consumer
from connectors.partition_read import read_partitions
from ledger.as_of import PolicyStep, Replayed, TimelineItem, replay
from ledger.availability import channel_ats, position_available, stranded_units
from ledger.codec import decode_command, decode_event, decode_policy
from ledger.commands import Decision
from ledger.errors import DecodeError

SCAN_RECORDS_MAX = 2_000_000  # records read per call, over every partition
DIFFERING_NAMED_MAX = 20
_DECISION: TypeAdapter[Decision] = TypeAdapter(Decision)


@dataclass(frozen=True)
class PositionAsOf:
    location: str
    on_hand: int
    committed: int
    reserved: int
    damaged: int
    inspection: int
    safety: int
    available: int  # raw: negative when oversold
    incoming: int


@dataclass(frozen=True)
class ChannelAsOf:
    channel: str
    ats: int
    stranded_units: int  # sellable units outside its pool while it showed 0 (docs/KPIS.md)


@dataclass(frozen=True)
class StockAsOf:
    sku: str
    at: datetime
    known: bool  # any fact or command of the SKU up to `at`
    version: FigureVersion  # the SKU's ledger version and the policy version then
    clock: datetime | None  # log time of the last event applied
    pending_holds: int
    records: int  # facts and commands replayed
    complete: bool  # nothing before `at` missing (retention, the scan bound)
    notes: list[str]
    decisions_checked: int = 0  # replayed decisions the worker also recorded up to `at`
    decisions_differing: list[str] = field(default_factory=list)  # request ids (first 20)
    locations: list[PositionAsOf] = field(default_factory=list)
    channels: list[ChannelAsOf] = field(default_factory=list)


@dataclass
class _Log:
    """What was read: each partition's records in offset order, and what may be missing."""

    records: dict[TopicPartition, list[ConsumerRecord]]
    notes: list[str]


async def stock_at(settings: Settings, sku: str, at: datetime) -> StockAsOf:
    """`stock_as_of` on a read_committed consumer of its own (ServiceDown: Kafka is down)."""
    async with kafka_consumer(settings) as consumer:
        return await stock_as_of(consumer, settings.topics, sku, at)


async def stock_as_of(
    consumer: AIOKafkaConsumer, topics: TopicSettings, sku: str, at: datetime
) -> StockAsOf:
    """The SKU's positions and channel figures at `at` (tz-aware), rebuilt from the log."""
    tps = await _partitions(consumer, topics, sku)
    log = await _read(consumer, tps, sku.encode(), int(at.timestamp() * 1000))
    replayed = replay(sku, _timeline(log, tps, sku))
    recorded = _recorded_decisions(log.records[tps["decisions"]])
    checked, differing = _compare(replayed.decisions, recorded)
    # complete: nothing before `at` went unread (the notes so far say what did)
    report = _report(sku, at, replayed, complete=not log.notes, notes=log.notes)
    return replace(report, decisions_checked=checked, decisions_differing=differing)


async def _partitions(
    consumer: AIOKafkaConsumer, topics: TopicSettings, sku: str
) -> dict[str, TopicPartition]:
    # consumer.topics() fetches the cluster's metadata without keeping it: ask the client.
    cluster = await consumer._client.fetch_all_metadata()
    chosen = {"policy": TopicPartition(topics.policy, 0)}
    for kind in ("events", "commands", "decisions"):
        topic = getattr(topics, kind)
        partitions = cluster.partitions_for_topic(topic)
        if not partitions:
            raise TopicMissing(f"{kind}: topic {topic!r} does not exist")
        chosen[kind] = TopicPartition(topic, partition_for(sku, len(partitions)))
    return chosen


async def _read(
    consumer: AIOKafkaConsumer, tps: dict[str, TopicPartition], key: bytes, at_ms: int
) -> _Log:
    chosen = list(tps.values())
    consumer.assign(chosen)
    begins = await consumer.beginning_offsets(chosen)
    ends = await _ends_at(consumer, chosen, at_ms)
    notes = [
        f"{tp.topic} partition {tp.partition} starts at offset {begins[tp]}: earlier records "
        "were deleted (retention), so what they did is missing"
        for kind, tp in tps.items()
        if kind in ("events", "commands") and begins[tp] > 0
    ]
    records: dict[TopicPartition, list[ConsumerRecord]] = {tp: [] for tp in chosen}
    policy, scanned = tps["policy"], 0
    async for record in read_partitions(consumer, begins, ends):
        scanned += 1
        if scanned > SCAN_RECORDS_MAX:
            notes.append(f"stopped after {SCAN_RECORDS_MAX:,} records: later ones not replayed")
            break
        tp = TopicPartition(record.topic, record.partition)
        if tp == policy or record.key == key:  # every policy record, the SKU's others
            records[tp].append(record)
    return _Log(records, notes)


async def _ends_at(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], at_ms: int
) -> dict[TopicPartition, int]:
    """Each partition's first offset stamped after `at` (its end if none is)."""
    found = await consumer.offsets_for_times(dict.fromkeys(tps, at_ms + 1))
    log_ends = await consumer.end_offsets(tps)
    return {tp: log_ends[tp] if found[tp] is None else found[tp].offset for tp in tps}


def _timeline(log: _Log, tps: dict[str, TopicPartition], sku: str) -> Iterator[TimelineItem]:
    """Policy records, facts and commands merged by Kafka timestamp, each partition in order
    (at equal times: policy, then facts, then commands)."""
    streams = (
        _decoded(log.records[tps["policy"]], 0, sku),
        _decoded(log.records[tps["events"]], 1, sku),
        _decoded(log.records[tps["commands"]], 2, sku),
    )
    for _, _, item in heapq.merge(*streams, key=lambda entry: (entry[0], entry[1])):
        yield item


def _decoded(
    records: Iterable[ConsumerRecord], rank: int, sku: str
) -> Iterator[tuple[int, int, TimelineItem]]:
    """Each record as the worker reads it; what it dead-letters (invalid, another SKU's body)
    is left out, and an invalid policy record only moves the policy version."""
    for record in records:
        raw: bytes = record.value or b""
        try:
            if rank == 0:
                yield record.timestamp, rank, PolicyStep(record.offset, decode_policy(raw))
                continue
            item = decode_event(raw) if rank == 1 else decode_command(raw)
        except DecodeError:
            if rank == 0:
                yield record.timestamp, rank, PolicyStep(record.offset, None)
            continue
        if item.sku == sku:
            yield record.timestamp, rank, item


def _recorded_decisions(records: Iterable[ConsumerRecord]) -> dict[str, Decision]:
    recorded: dict[str, Decision] = {}
    for record in records:
        try:
            decision = _DECISION.validate_json(record.value or b"")
        except ValidationError:
            continue
        recorded.setdefault(decision.request_id, decision)
    return recorded


def _compare(replayed: Iterable[Decision], recorded: dict[str, Decision]) -> tuple[int, list[str]]:
    """How many replayed decisions the worker recorded too, and which of them differ."""
    checked, differing = 0, []
    for decision in replayed:
        worker = recorded.get(decision.request_id)
        if worker is None:
            continue
        checked += 1
        mine = (decision.outcome, decision.reason, decision.location)
        if (worker.outcome, worker.reason, worker.location) != mine:
            differing.append(decision.request_id)
    return checked, differing[:DIFFERING_NAMED_MAX]


def _report(
    sku: str, at: datetime, replayed: Replayed, *, complete: bool, notes: list[str]
) -> StockAsOf:
    state, book = replayed.state, replayed.book
    locations = [
        PositionAsOf(
            location=location,
            on_hand=position.on_hand,
            committed=position.committed,
            reserved=position.reserved,
            damaged=position.damaged,
            inspection=position.inspection,
            safety=book.safety_units(location),
            available=position_available(position, book.safety_units(location)),
            incoming=sum(item.qty for item in state.incoming_at(location)),
        )
        for location, position in sorted(state.positions.items())
    ]
    channels = [
        ChannelAsOf(name, channel_ats(state, policy, book), stranded_units(state, policy, book))
        for name, policy in sorted(book.channels.items())
    ]
    if replayed.refused:
        notes = [*notes, f"{replayed.refused} records refused (a per-SKU bound), as the worker"]
    return StockAsOf(
        sku=sku,
        at=at,
        known=replayed.applied > 0,
        version=FigureVersion(state.version, replayed.policy_version),
        clock=state.clock,
        pending_holds=len(state.holds),
        records=replayed.applied,
        complete=complete,
        notes=notes,
        locations=locations,
        channels=channels,
    )
