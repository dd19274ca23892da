"""`tally history SKU`: every record that touched a SKU, with its effect, source and time.

The SKU's records on `tally.events`, `tally.commands` and `tally.decisions` (each on the
partition the SKU's key hashes to), merged by Kafka timestamp. Bounded: at most
`SCAN_RECORDS_MAX` records are read per call, and a page holds at most `limit` entries;
page 1 is the newest. `since` seeks each partition by time, so old history costs nothing.
A fact or command the ledger ignored as a repeat (connectors/inspect/repeats.py) is marked
`ignored`, its effect saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import TypeAdapter, ValidationError

from base.settings import Settings
from base.topics import partition_for
from connectors.inspect.kafka_read import kafka_consumer, partition_count, scan
from connectors.inspect.repeats import Repeats
from ledger.codec import decode_command, decode_event
from ledger.commands import CommandUnion, Commit, Decision, Expire, Release, Reserve
from ledger.errors import DecodeError
from ledger.events import Adjusted, Counted, Fact, ReturnGraded, Shipped, TransferOut

Kind = Literal["event", "command", "decision"]
LIMIT_MAX = 1_000
SCAN_RECORDS_MAX = 2_000_000  # records read per call, over the three partitions
_DECISION: TypeAdapter[Decision] = TypeAdapter(Decision)
_KIND_ORDER: dict[Kind, int] = {"event": 0, "command": 1, "decision": 2}
_EPOCH = datetime.fromtimestamp(0, UTC)
_MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Entry:
    time: datetime  # the Kafka record timestamp (whole milliseconds)
    kind: Kind
    topic: str
    partition: int
    offset: int
    what: str  # event type, command name or "decision"
    effect: str
    source: str
    ref: str  # event_id / request_id
    ignored: bool = False  # a repeat the ledger ignored (the effect says why)

    @property
    def time_ms(self) -> int:
        return (self.time - _EPOCH) // _MILLISECOND


@dataclass(frozen=True)
class HistoryPage:
    sku: str
    page: int
    pages: int = field(init=False)
    limit: int
    total: int  # matching entries found (after `since`)
    truncated: bool  # the scan stopped at SCAN_RECORDS_MAX
    entries: list[Entry]  # oldest first

    def __post_init__(self) -> None:
        object.__setattr__(self, "pages", max(1, -(-self.total // self.limit)))


async def history(
    settings: Settings,
    sku: str,
    *,
    since: datetime | None = None,
    limit: int = 50,
    page: int = 1,
) -> HistoryPage:
    """Page `page` (1 = newest) of the SKU's audit trail, `limit` entries, oldest first."""
    if not 1 <= limit <= LIMIT_MAX:
        raise ValueError(f"limit: must be 1..{LIMIT_MAX}")
    if page < 1:
        raise ValueError("page: must be >= 1")
    topics = settings.topics
    kinds: dict[str, Kind] = {
        topics.events: "event",
        topics.commands: "command",
        topics.decisions: "decision",
    }
    key = sku.encode()
    scanned, truncated = 0, False
    async with kafka_consumer(settings) as consumer:
        existing = await consumer.topics()
        tps = []
        for topic in kinds:
            if topic in existing:
                count = await partition_count(consumer, topic, topic)
                tps.append(TopicPartition(topic, partition_for(sku, count)))
        starts = await _start_offsets(consumer, tps, since)
        entries: list[Entry] = []
        repeats = Repeats()  # each partition is read in offset order: the ledger's order
        async for record in scan(consumer, tps, start_offsets=starts):
            scanned += 1
            if scanned > SCAN_RECORDS_MAX:
                truncated = True
                break
            if record.key == key:
                entries.append(describe(record, kinds[record.topic], repeats))
    since_ms = None if since is None else int(since.timestamp() * 1000)
    # Merged by time; at equal times a command before its decision, then by offset.
    entries.sort(key=lambda entry: (entry.time_ms, _KIND_ORDER[entry.kind], entry.offset))
    if since_ms is not None:
        entries = [entry for entry in entries if entry.time_ms >= since_ms]
    end = len(entries) - limit * (page - 1)
    chosen = entries[max(0, end - limit) : max(0, end)]
    return HistoryPage(sku, page, limit, len(entries), truncated, chosen)


async def _start_offsets(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], since: datetime | None
) -> dict[TopicPartition, int] | None:
    if since is None or not tps:
        return None
    wanted = dict.fromkeys(tps, int(since.timestamp() * 1000))
    found = await consumer.offsets_for_times(wanted)
    ends = await consumer.end_offsets(tps)
    return {tp: ends[tp] if found[tp] is None else found[tp].offset for tp in tps}


def describe(record: ConsumerRecord, kind: Kind, repeats: Repeats) -> Entry:
    """One record as an audit entry; an undecodable one says why (the worker dead-lettered it),
    a repeat says that the ledger ignored it. Feed a SKU's records in offset order."""
    raw: bytes = record.value or b""
    what, effect, source, ref = "invalid", "", "", ""
    ignored_because: str | None = None
    try:
        if kind == "event":
            fact = decode_event(raw)
            what, effect, source, ref = fact.type, fact_effect(fact), fact.source, fact.event_id
            ignored_because = repeats.of_fact(fact)
        elif kind == "command":
            command = decode_command(raw)
            what, effect, ref = command.type, command_effect(command), _rid(command)
            source = "command"
            ignored_because = repeats.of_command(command)
        else:
            decision = _DECISION.validate_json(raw)
            what, effect = "decision", decision_effect(decision)
            source, ref = "worker", decision.request_id
    except DecodeError as error:
        effect = f"dead-lettered: {error.reason}"
    except ValidationError as error:
        effect = f"unreadable decision: {error.error_count()} errors"
    return Entry(
        time=_EPOCH + record.timestamp * _MILLISECOND,
        kind=kind,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        what=what,
        effect=effect if ignored_because is None else f"ignored: {ignored_because}",
        source=source,
        ref=ref,
        ignored=ignored_because is not None,
    )


def fact_effect(fact: Fact) -> str:
    """What a fact does to the buckets, as on-call reads it (mirrors ledger.fold)."""
    at, qty = fact.location, fact.qty
    if isinstance(fact, Adjusted):
        return f"on_hand {qty:+d} at {at} ({fact.reason})"
    if isinstance(fact, Counted):
        return f"on_hand := {qty} at {at} (cycle count)"
    if isinstance(fact, Shipped):
        return f"on_hand -{qty}, committed -{qty} at {at}"
    if isinstance(fact, TransferOut):
        return f"on_hand -{qty} at {at}, in transit to {fact.target_location}"
    if isinstance(fact, ReturnGraded):
        return {
            "restock": f"inspection -{qty} (restocked) at {at}",
            "damaged": f"inspection -{qty}, damaged +{qty} at {at}",
            "dispose": f"inspection -{qty}, on_hand -{qty} (disposed) at {at}",
        }[fact.disposition]
    simple = {
        "received": f"on_hand +{qty} at {at}",
        "sold_in_store": f"on_hand -{qty} at {at}",
        "damaged": f"damaged +{qty} at {at}",
        "transfer_in": f"on_hand +{qty} at {at}",
        "return_received": f"on_hand +{qty}, inspection +{qty} at {at}",
        "order_placed": f"committed +{qty} at {at}",
        "order_cancelled": f"committed -{qty} at {at}",
        "supply_expected": f"incoming +{qty} at {at} (not available)",
    }
    return simple[fact.type]


def command_effect(command: CommandUnion) -> str:
    if isinstance(command, Reserve):
        where = f" at {command.location}" if command.location else ""
        return (
            f"reserve {command.qty} for {command.channel}{where} "
            f"(hold {command.hold_id}, ttl {command.ttl_s}s)"
        )
    if isinstance(command, Commit):
        return f"commit hold {command.hold_id} as order {command.order_id}"
    if isinstance(command, Release):
        return f"release hold {command.hold_id}"
    assert isinstance(command, Expire)
    return "expiry tick: expire holds due by now"


def decision_effect(decision: Decision) -> str:
    where = f" at {decision.location}" if decision.location else ""
    if decision.outcome == "accepted":
        return (
            f"{decision.command} hold {decision.hold_id} accepted{where} "
            f"(available after: {decision.available_after})"
        )
    return (
        f"{decision.command} hold {decision.hold_id} rejected: {decision.reason}{where} "
        f"(available: {decision.available_after})"
    )


def _rid(command: CommandUnion) -> str:
    return "" if isinstance(command, Expire) else command.request_id
