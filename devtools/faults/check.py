"""The independent check at the end of a fault run: read back what Kafka holds, fold it
again with the ledger's own pure functions, and compare the live system with that.

Why the reference is well defined although holds depend on arrival order: facts and hold
commands never share a SKU. Fact SKUs see facts only, so their state is the fold of their
`tally.events` partition in offset order. Hold SKUs get their stock in a setup phase that is
committed (in the table's changelog) before the first command is sent, and then see commands
only, so their state is that setup fold followed by `decide` over their `tally.commands`
partition in offset order, including the worker's own `expire` asks (they are in the log).
The one policy change happens between two quiescent phases: every command sent before it
is decided and committed first, every command after it is sent once each worker has
republished a figure under the new policy version. So each command has exactly one policy
book, and the reference decides it with that book.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
import redis
from aiokafka import TopicPartition

from base import redis_keys
from base.settings import Settings
from connectors.inspect.kafka_read import (
    kafka_consumer,
    partition_count,
    read_table,
    scan,
)
from ledger.availability import figures
from ledger.codec import decode_command, decode_event, decode_policy
from ledger.commands import Decision, Expire
from ledger.decide import decide
from ledger.errors import DecodeError
from ledger.fold import evolve
from ledger.policy import PolicyBook, apply_policy
from ledger.state import SkuState

DECISION_FIELDS = (
    "hold_id", "sku", "command", "outcome", "reason", "location", "available_after", "channel",
)  # fmt: skip
ANSWER_FIELDS = tuple(f for f in DECISION_FIELDS if f != "channel")  # HTTP: no channel


@dataclass(frozen=True)
class LogRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class Log:
    """Everything the topics of one run hold, per topic in partition-then-offset order."""

    events: list[LogRecord]
    commands: list[LogRecord]
    decisions: list[LogRecord]
    policy: list[LogRecord]
    table: dict[str, SkuState]


async def read_topic(settings: Settings, topic: str) -> list[LogRecord]:
    async with kafka_consumer(settings) as consumer:
        count = await partition_count(consumer, topic, topic)
        records = [
            LogRecord(r.partition, r.offset, r.key, r.value)
            async for r in scan(consumer, [TopicPartition(topic, p) for p in range(count)])
        ]
    return sorted(records, key=lambda r: (r.partition, r.offset))


async def read_log(settings: Settings) -> Log:
    topics = settings.topics
    return Log(
        events=await read_topic(settings, topics.events),
        commands=await read_topic(settings, topics.commands),
        decisions=await read_topic(settings, topics.decisions),
        policy=await read_topic(settings, topics.policy),
        table=await read_table(settings),
    )


@dataclass
class Reference:
    states: dict[str, SkuState] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)  # request_id -> first
    book: PolicyBook = field(default_factory=PolicyBook)
    undecodable: list[str] = field(default_factory=list)


def policy_books(log: Log, change_offset: int) -> tuple[PolicyBook, PolicyBook]:
    """The book before the policy change (records below `change_offset`) and the final one."""
    before = after = PolicyBook()
    for record in log.policy:
        policy = decode_policy(record.value or b"")
        after = apply_policy(after, policy)
        if record.offset < change_offset:
            before = after
    return before, after


def reference(log: Log, change_offset: int, phase_b_requests: set[str]) -> Reference:
    """Fold the events log; then decide the commands log per SKU, each with its own book."""
    before, after = policy_books(log, change_offset)
    ref = Reference(book=after)
    for record in log.events:
        try:
            event = decode_event(record.value or b"")
        except DecodeError as error:
            ref.undecodable.append(f"events[{record.partition}@{record.offset}]: {error.reason}")
            continue
        state = ref.states.get(event.sku) or SkuState.empty(event.sku)
        ref.states[event.sku] = evolve(state, event)
    for record in log.commands:
        try:
            command = decode_command(record.value or b"")
        except DecodeError as error:
            ref.undecodable.append(f"commands[{record.partition}@{record.offset}]: {error.reason}")
            continue
        state = ref.states.get(command.sku) or SkuState.empty(command.sku)
        request = None if isinstance(command, Expire) else command.request_id
        book = after if request in phase_b_requests else before
        decided = decide(state, command, book)
        ref.states[command.sku] = decided.state
        if decided.decision is not None and request is not None:
            ref.decisions.setdefault(request, decided.decision)
    return ref


def table_divergences(table: Mapping[str, SkuState], ref: Reference) -> list[str]:
    wrong = []
    for sku, expected in sorted(ref.states.items()):
        live = table.get(sku)
        if live is None:
            wrong.append(f"table {sku}: missing (reference v{expected.version})")
        elif live != expected:
            fields = [
                name for name, a, b in zip(SkuState._fields, live, expected, strict=True) if a != b
            ]
            detail = {
                "version": (live.version, expected.version),
                "positions": (dict(live.positions), dict(expected.positions)),
                "holds": (sorted(live.holds), sorted(expected.holds)),
            }
            wrong.append(f"table {sku}: fields {fields} differ (live, reference) {detail}")
    for sku in sorted(set(table) - set(ref.states)):
        wrong.append(f"table {sku}: not in the reference")
    return wrong


def decision_divergences(
    log: Log, ref: Reference, requests_sent: Iterable[str]
) -> tuple[list[str], int]:
    """Every decision record equals the reference decision of its request; every request
    sent has one. Returns (divergences, decision records read)."""
    wrong = []
    seen: dict[str, int] = defaultdict(int)
    for record in log.decisions:
        got = orjson.loads(record.value or b"null")
        request = got.get("request_id") if isinstance(got, dict) else None
        if request is None:
            wrong.append(f"decision at {record.partition}@{record.offset}: not a decision")
            continue
        seen[request] += 1
        expected = ref.decisions.get(request)
        if expected is None:
            wrong.append(f"decision {request}: no such command in the reference")
            continue
        want = orjson.loads(expected.model_dump_json())
        differ = {
            f: (got.get(f), want.get(f)) for f in DECISION_FIELDS if got.get(f) != want.get(f)
        }
        if differ:
            wrong.append(f"decision {request}: (live, reference) differ {differ}")
    for request in sorted(set(requests_sent) - set(seen)):
        wrong.append(f"decision {request}: none on the decisions topic")
    return wrong, len(log.decisions)


def answer_divergences(
    ref: Reference, answers: Mapping[str, Sequence[Mapping[str, Any]]]
) -> list[str]:
    """Every answer a client got over HTTP equals the reference decision of its request."""
    wrong = []
    for request, replies in sorted(answers.items()):
        expected = ref.decisions.get(request)
        want = None if expected is None else orjson.loads(expected.model_dump_json())
        for got in replies:
            if want is None:
                wrong.append(f"answer {request}: no such command in the reference")
                continue
            differ = {
                f: (got.get(f), want.get(f)) for f in ANSWER_FIELDS if got.get(f) != want.get(f)
            }
            if differ:
                wrong.append(f"answer {request}: (client got, reference) differ {differ}")
    return wrong


def redis_divergences(client: redis.Redis, ref: Reference) -> list[str]:
    """Every published figure equals figures(reference state, final book); none negative."""
    wrong = []
    for sku, state in sorted(ref.states.items()):
        expected = figures(state, ref.book)
        pairs = [
            (redis_keys.ats_key(c), redis_keys.version_key("ats", c), u)
            for c, u in expected.channels.items()
        ]
        pairs += [
            (redis_keys.loc_key(loc), redis_keys.version_key("loc", loc), u)
            for loc, u in expected.locations.items()
        ]
        pipe = client.pipeline(transaction=False)
        for key, version_key, _ in pairs:
            pipe.hget(key, sku)
            pipe.hget(version_key, sku)
        found = pipe.execute()
        for (key, _, units), got, version in zip(pairs, found[::2], found[1::2], strict=True):
            value = cast(str | None, got)
            if int(value or 0) != units:
                # The stored "sku_version-policy_version:published_ms" says which write won.
                wrong.append(
                    f"redis {key}[{sku}]: {value} != reference {units} (stored version "
                    f"{version}, reference sku version {state.version})"
                )
            if value is not None and int(value) < 0:
                wrong.append(f"redis {key}[{sku}]: negative {value}")
    return wrong


def pushed_divergences(client: redis.Redis, channel: str, pushed: Mapping[str, int]) -> list[str]:
    """The webhook receiver's last figure per SKU equals the channel's figure in Redis."""
    published = cast(dict[str, str], client.hgetall(redis_keys.ats_key(channel)))
    wrong = []
    for sku in sorted(set(published) | set(pushed)):
        want = int(published.get(sku) or 0)
        got = pushed.get(sku)
        if (got is None and want != 0) or (got is not None and got != want):
            wrong.append(f"pushed {channel}[{sku}]: {got} != redis {published.get(sku)}")
    return wrong


def missing_acked(log: Log, acked_event_ids: set[str], acked_requests: set[str]) -> list[str]:
    """Everything Kafka acknowledged is in the log (a lost ack would void the reference)."""
    in_log = {_field(r, "event_id") for r in log.events}
    in_log_requests = {_field(r, "request_id") for r in log.commands}
    wrong = [f"acked event {e} not in the log" for e in sorted(acked_event_ids - in_log)]
    wrong += [f"acked command {r} not in the log" for r in sorted(acked_requests - in_log_requests)]
    return wrong


Buckets = dict[str, dict[str, dict[str, int]]]  # sku -> location -> bucket -> units
HoldViews = dict[str, dict[tuple[str, str], tuple[str, int, str | None]]]


def live_tables(table: Mapping[str, SkuState]) -> tuple[Buckets, HoldViews]:
    """The committed table as plain dicts for the independent judge: every location's
    buckets, and every hold the SKU knows (pending and resolved), by (channel, hold_id), as
    (status, units, location)."""
    positions: Buckets = {}
    holds: HoldViews = {}
    for sku, state in table.items():
        positions[sku] = {loc: p._asdict() for loc, p in state.positions.items()}
        known = list(state.holds.values())
        known += [h for key in state.resolved.ids() if (h := state.resolved.get(key))]
        holds[sku] = {(h.channel, h.hold_id): (h.status, h.qty, h.location) for h in known}
    return positions, holds


def _field(record: LogRecord, name: str) -> Any:
    try:
        value = orjson.loads(record.value or b"null")
    except orjson.JSONDecodeError:
        return None
    return value.get(name) if isinstance(value, dict) else None
