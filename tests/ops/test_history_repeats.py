"""`tally history` marks a re-sent fact or command as ignored, exactly when the ledger ignores it.

Pure: records are built in memory and described in log order as `history` does; the ledger's
own fold and decide are the reference for what counts as a repeat.
"""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord
from pydantic import BaseModel

from connectors.inspect.history import Entry, HistoryPage, Kind, describe
from connectors.inspect.repeats import Repeats
from ledger import limits
from ledger.codec import encode
from ledger.commands import CommandUnion, Expire
from ledger.decide import decide, first_decision
from ledger.fold import apply_event, fold
from ledger.state import SkuState
from ops.cli_ledger import render_history
from ops.inspect.json_body import json_body
from tests.support.ledger_builders import SKU, book, channel, commit, expire, fact, release, reserve


def _record(topic: str, offset: int, model: BaseModel) -> ConsumerRecord[bytes, bytes]:
    value = encode(model)
    return ConsumerRecord(
        topic=topic, partition=0, offset=offset, timestamp=1_700_000_000_000 + offset,
        timestamp_type=0, key=SKU.encode(), value=value, checksum=None,
        serialized_key_size=len(SKU), serialized_value_size=len(value), headers=(),
    )  # fmt: skip


def _describe_all(kind: Kind, topic: str, models: list[BaseModel]) -> list[Entry]:
    repeats = Repeats()
    return [describe(_record(topic, n, m), kind, repeats) for n, m in enumerate(models)]


def test_a_resent_fact_shows_as_ignored_in_the_json() -> None:
    first = fact("received", "wh", 5)
    entries = _describe_all("event", "tally.events", [first, fact("damaged", "wh", 1), first])

    assert [entry.ignored for entry in entries] == [False, False, True]
    assert entries[0].effect == "on_hand +5 at wh"
    assert entries[2].effect == "ignored: duplicate event_id"
    assert entries[2].ref == first.event_id
    body = json_body(HistoryPage(SKU, 1, 50, 3, False, entries))
    assert [entry["ignored"] for entry in body["entries"]] == [False, False, True]
    assert body["entries"][2]["effect"] == "ignored: duplicate event_id"


def test_the_table_shows_the_ignored_effect(capsys: pytest.CaptureFixture[str]) -> None:
    first = fact("received", "wh", 5)
    entries = _describe_all("event", "tally.events", [first, first])
    render_history(HistoryPage(SKU, 1, 50, 2, False, entries))
    out = capsys.readouterr().out
    assert out.count("ignored: duplicate event_id") == 1
    assert out.count("on_hand +5 at wh") == 1


def test_facts_are_ignored_exactly_when_the_fold_finds_them_seen() -> None:
    """Through the ledger's bounded window: a repeat older than the window is applied again."""
    facts = [fact("received", "wh", 1) for _ in range(limits.SEEN_IDS_PER_SKU_MAX + 100)]
    resent = [facts[0], facts[-1], facts[200]]  # long evicted, newest, inside the window
    state, repeats, outcomes = SkuState.empty(SKU), Repeats(), []
    for one in facts + resent:
        applied = apply_event(state, one)
        ignored = repeats.of_fact(one) is not None
        assert ignored == (applied.outcome == "duplicate"), one.event_id
        outcomes.append(applied.outcome)
        state = applied.state
    assert outcomes[-3:] == ["applied", "duplicate", "duplicate"]


def test_commands_are_ignored_exactly_when_the_ledger_answers_with_a_first_decision() -> None:
    policies = book(channel("web", "wh"))
    first = reserve("h1", "web", 2)
    first_commit = commit("h1", t=1)
    commands: list[CommandUnion] = [
        first,
        first,  # the same request again
        first.model_copy(update={"request_id": "r-other"}),  # another request, same hold_id
        reserve("h2", "web", 1, t=1),
        first_commit,
        first_commit,
        release("h1", t=2),  # a new request: decided (rejected: already committed)
        expire(3),
    ]
    state = fold([fact("received", "wh", 10)], SkuState.empty(SKU))
    repeats, ignored = Repeats(), []
    for command in commands:
        reason = repeats.of_command(command)
        ledger_repeat = (
            not isinstance(command, Expire) and first_decision(state, command) is not None
        )
        assert (reason is not None) == ledger_repeat, command
        ignored.append(reason is not None)
        state = decide(state, command, policies).state
    assert ignored == [False, True, True, False, False, True, False, False]


def test_a_resent_command_is_marked_with_its_reason() -> None:
    first = reserve("h1", "web", 2)
    again = first.model_copy(update={"request_id": "r-again"})
    entries = _describe_all("command", "tally.commands", [first, first, again])
    assert [entry.ignored for entry in entries] == [False, True, True]
    assert entries[0].effect.startswith("reserve 2 for web")
    assert entries[1].effect == "ignored: duplicate request_id: answered with its first decision"
    assert (
        entries[2].effect == "ignored: duplicate hold_id: answered with that hold's first decision"
    )
