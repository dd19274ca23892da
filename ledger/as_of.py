"""A SKU's state as it was at a past moment, replayed from its records: pure.

The caller hands over the SKU's records up to that moment (facts, hold commands and every
policy record) in the order the worker met them; `replay` folds facts and decides commands
exactly as the worker does (`ledger.fold`, `ledger.decide`) under the policy of the moment,
and skips what the worker dead-letters (a per-SKU bound passed). connectors/as_of.py reads
the records from Kafka; `tally stock SKU --at TIME` prints the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from typing import NamedTuple

from ledger.commands import CommandUnion, Commit, Decision, Expire, Release, Reserve
from ledger.decide import decide
from ledger.errors import LimitExceeded
from ledger.events import Fact
from ledger.fold import evolve
from ledger.policy import PolicyBook, PolicyRecordUnion, apply_policy
from ledger.state import SkuState


class PolicyStep(NamedTuple):
    """A policy record at `offset` of the policy topic (None: invalid, it only moves the
    version, as `base.policy_log` applies it)."""

    offset: int
    record: PolicyRecordUnion | None


TimelineItem = Fact | CommandUnion | PolicyStep
_COMMANDS = (Reserve, Commit, Release, Expire)


class Replayed(NamedTuple):
    state: SkuState
    book: PolicyBook
    policy_version: int  # the last policy offset applied + 1 (0: none)
    decisions: tuple[Decision, ...]  # every decision taken, in order (repeats included)
    applied: int  # facts and commands replayed
    refused: int  # records the worker would dead-letter (a per-SKU bound passed)


def replay(sku: str, timeline: Iterable[TimelineItem]) -> Replayed:
    """The SKU's state after `timeline` (its own facts and commands, all policy records)."""
    state, book, version = SkuState.empty(sku), PolicyBook(), 0
    decisions: list[Decision] = []
    applied = refused = 0
    for item in timeline:
        if isinstance(item, PolicyStep):
            version = item.offset + 1
            if item.record is not None:
                # a channel past CHANNELS_MAX: the book stays as it was
                with suppress(LimitExceeded):
                    book = apply_policy(book, item.record)
            continue
        try:
            if isinstance(item, _COMMANDS):
                decided = decide(state, item, book)
                state = decided.state
                if decided.decision is not None:
                    decisions.append(decided.decision)
            else:
                state = evolve(state, item)
        except LimitExceeded:
            refused += 1
            continue
        applied += 1
    return Replayed(state, book, version, tuple(decisions), applied, refused)
