"""The judge's verdict on a fault run: read the run's topics raw from Kafka, replay them with
`devtools.faults.judge`, and compare what the live system shows with that.

Independent of Tally's code like the judge itself (the same import-linter contract): the
topics are read with a plain aiokafka consumer, the Redis keys are the ones docs/WIRE.md
names, and the live table comes in as plain dicts the runner reads.

Compared: every decision record on the decisions topic (and every answer a client got over
HTTP) with the judge's first decision of its request; every published figure; every hold
(status, units, location, channel) and every location's buckets in the committed table.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis
from aiokafka import AIOKafkaConsumer, TopicPartition

from devtools.faults.judge import Judge, Policy

# docs/WIRE.md, "Redis: the read path".
ATS_KEY = "tally:ats:{}"
LOC_KEY = "tally:loc:{}"
DECISION_FIELDS = (
    "hold_id", "sku", "command", "outcome", "reason", "location", "available_after", "decided_at",
    "channel",
)  # fmt: skip
# An HTTP answer carries the decision without `channel` (the asking key's own).
ANSWER_FIELDS = tuple(f for f in DECISION_FIELDS if f != "channel")
READ_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Raw:
    partition: int
    offset: int
    value: bytes | None


@dataclass(frozen=True)
class Topics:
    """The run's topic names (the wire contract's, with the run's prefix)."""

    events: str
    commands: str
    decisions: str
    policy: str


async def read_raw(bootstrap: str, topic: str) -> list[Raw]:
    """Every committed record of `topic`, in partition-then-offset order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        request_timeout_ms=int(READ_TIMEOUT_S * 1000),
    )
    await consumer.start()
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        if not partitions:
            await consumer._client.force_metadata_update()  # a topic seen for the first time
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in partitions]
        return await asyncio.wait_for(_read_to_end(consumer, tps), READ_TIMEOUT_S)
    finally:
        await consumer.stop()


async def _read_to_end(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> list[Raw]:
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    ends = await consumer.end_offsets(tps)
    records: list[Raw] = []
    for tp in tps:
        while await consumer.position(tp) < ends[tp]:
            batch = await consumer.getmany(tp, timeout_ms=1_000)
            records += [Raw(r.partition, r.offset, r.value) for r in batch.get(tp, [])]
    return sorted(records, key=lambda r: (r.partition, r.offset))


@dataclass
class Verdict:
    """The judge's replay of one run."""

    judge: Judge
    policy: Policy  # the final book
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)  # request_id -> first
    unreadable: list[str] = field(default_factory=list)


def replay(
    events: Iterable[Raw],
    commands: Iterable[Raw],
    policy_log: Iterable[Raw],
    change_offset: int,
    phase_b_requests: set[str],
) -> Verdict:
    """Facts first (a SKU's facts and commands never mix in a fault run), then commands,
    each command with the book of its phase: before the change, or the final one."""
    before, after = Policy(), Policy()
    for raw in policy_log:
        after.apply(_json(raw), raw.offset)
        if raw.offset < change_offset:
            before = after.copy()
    verdict = Verdict(Judge(), after)
    for raw in events:
        verdict.judge.fact(_json(raw))
    for raw in commands:
        record = _json(raw)
        book = after if record.get("request_id") in phase_b_requests else before
        decision = verdict.judge.command(record, book)
        if decision is not None:
            verdict.decisions.setdefault(record["request_id"], decision)
    return verdict


def _json(raw: Raw) -> dict[str, Any]:
    value = json.loads(raw.value or b"null")
    if not isinstance(value, dict):
        raise ValueError(f"record {raw.partition}@{raw.offset} is not a JSON object")
    return value


async def judge_run(
    bootstrap: str, topics: Topics, change_offset: int, phase_b_requests: set[str]
) -> tuple[Verdict, list[Raw]]:
    """Read the run's topics and replay them; also returns the decision records."""
    events = await read_raw(bootstrap, topics.events)
    commands = await read_raw(bootstrap, topics.commands)
    policy = await read_raw(bootstrap, topics.policy)
    decisions = await read_raw(bootstrap, topics.decisions)
    return replay(events, commands, policy, change_offset, phase_b_requests), decisions


# --- the comparisons -------------------------------------------------------------------


def decision_divergences(
    verdict: Verdict, records: Iterable[Raw], requests_sent: Iterable[str]
) -> list[str]:
    """Each decision record (duplicates too) equals the judge's first decision of its
    request; every request sent has one."""
    wrong, seen = [], set()
    for raw in records:
        got = _json(raw)
        seen.add(got.get("request_id"))
        wrong += _against_first(verdict, str(got.get("request_id")), got, "decision", "live")
    wrong += [
        f"judge: decision {r}: none on the decisions topic"
        for r in sorted(set(requests_sent) - seen)
    ]
    return wrong


def answer_divergences(
    verdict: Verdict, answers: Mapping[str, Sequence[Mapping[str, Any]]]
) -> list[str]:
    """Every answer a client got over HTTP (each retry's too) is the judge's first decision
    of its request."""
    wrong = []
    for request, replies in sorted(answers.items()):
        for got in replies:
            wrong += _against_first(verdict, request, got, "answer", "client got", ANSWER_FIELDS)
    return wrong


def _against_first(
    verdict: Verdict,
    request: str,
    got: Mapping[str, Any],
    what: str,
    whose: str,
    fields: tuple[str, ...] = DECISION_FIELDS,
) -> list[str]:
    want = verdict.decisions.get(request)
    if want is None:
        return [f"judge: {what} {request}: no such command in the log"]
    differ = decision_differences(got, want, fields)
    return [f"judge: {what} {request}: ({whose}, judge) differ {differ}"] if differ else []


def decision_differences(
    got: Mapping[str, Any], want: Mapping[str, Any], fields: tuple[str, ...] = DECISION_FIELDS
) -> dict[str, tuple[Any, Any]]:
    """The fields that differ; `decided_at` compared as an instant (`Z` is `+00:00`)."""
    differ = {}
    for name in fields:
        a, b = got.get(name), want.get(name)
        if name == "decided_at" and isinstance(a, str) and isinstance(b, str):
            same = datetime.fromisoformat(a) == datetime.fromisoformat(b)
        else:
            same = a == b
        if not same:
            differ[name] = (a, b)
    return differ


def redis_divergences(client: redis.Redis, verdict: Verdict, skus: Iterable[str]) -> list[str]:
    """Every figure of every SKU equals the judge's (a figure never written reads 0)."""
    wrong = []
    for sku in sorted(skus):
        expected = verdict.judge.figures(sku, verdict.policy)
        keys = [(ATS_KEY.format(c), units) for c, units in expected["ats"].items()]
        keys += [(LOC_KEY.format(loc), units) for loc, units in expected["loc"].items()]
        pipe = client.pipeline(transaction=False)
        for key, _ in keys:
            pipe.hget(key, sku)
        for (key, units), got in zip(keys, pipe.execute(), strict=True):
            if int(got or 0) != units:
                wrong.append(f"judge: redis {key}[{sku}]: {got!r} != judge {units}")
    return wrong


def table_divergences(
    verdict: Verdict,
    live_positions: Mapping[str, Mapping[str, Mapping[str, int]]],
    live_holds: Mapping[str, Mapping[HoldRef, HoldView]],
) -> list[str]:
    """The committed table's buckets and holds, SKU by SKU, equal the judge's."""
    wrong = []
    judge = verdict.judge
    for sku in sorted(set(judge.skus) | set(live_positions)):
        positions = {loc: dict(b) for loc, b in live_positions.get(sku, {}).items()}
        want = {loc: b for loc, b in judge.positions(sku).items() if any(b.values())}
        got = {loc: b for loc, b in positions.items() if any(b.values())}
        if got != want:
            wrong.append(f"judge: table {sku}: buckets (live, judge) {got} != {want}")
        holds = _comparable(live_holds.get(sku, {}))
        want_holds = _comparable(judge.holds(sku))
        if holds != want_holds:
            differ = {
                h: (holds.get(h), want_holds.get(h))
                for h in sorted(set(holds) | set(want_holds))
                if holds.get(h) != want_holds.get(h)
            }
            wrong.append(f"judge: table {sku}: holds (live, judge) differ {differ}")
    return wrong


HoldRef = tuple[str, str]  # channel, hold_id
HoldView = tuple[str, int, str | None]  # status, units, location


def _comparable(holds: Mapping[HoldRef, HoldView]) -> dict[HoldRef, tuple[Any, ...]]:
    """A rejected hold holds nothing: only its status is compared."""
    return {h: (view[0],) if view[0] == "rejected" else view for h, view in holds.items()}
