"""A batch of order-log records through the saga, free of Faust and of I/O.

Records of one order are folded in log order; every changed state and every output is
collected for the shell to send, write and publish.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ledger.errors import DecodeError
from ledger.orders.codec import decode_order_record
from ledger.orders.records import OrderRecordUnion
from ledger.orders.saga import Outputs, SagaRules, step
from ledger.orders.state import OrderState

StateLoader = Callable[[str], OrderState | None]


@dataclass
class FoldedBatch:
    states: dict[str, OrderState] = field(default_factory=dict)  # changed orders only
    # Every order a record reached, changed or not, as the batch leaves it: a replay whose
    # states were already durable changes nothing, yet its views may never have been
    # published (a crash between the state write and Redis), so these are published.
    touched: dict[str, OrderState] = field(default_factory=dict)
    partitions: dict[str, int] = field(default_factory=dict)  # ref -> its partition
    outputs: Outputs = field(default_factory=Outputs)
    records: list[tuple[str, str]] = field(default_factory=list)  # (type, applied|ignored)
    bad: list[tuple[int, str]] = field(default_factory=list)  # (partition, reason)
    before: dict[str, OrderState | None] = field(default_factory=dict)  # as loaded
    # Every change, in log order: (state before the record, after it); the KPIs count these.
    changes: list[tuple[OrderState | None, OrderState]] = field(default_factory=list)


def fold_orders(
    messages: Sequence[tuple[int, bytes | None, bytes | None]],
    load: StateLoader,
    rules: SagaRules,
) -> FoldedBatch:
    """Fold (partition, key, value) messages of tally.orders; bad records are reported."""
    folded = FoldedBatch()
    current: dict[str, OrderState | None] = {}
    for partition, key, value in messages:
        try:
            record = decode_order_record(value or b"")
        except DecodeError as error:
            folded.bad.append((partition, error.reason))
            continue
        if key is not None and key.decode("utf-8", "replace") != record.ref:
            folded.bad.append((partition, f"key {key!r} is not the record's ref {record.ref}"))
            continue
        _fold_one(folded, current, record, partition, load, rules)
    return folded


def _fold_one(
    folded: FoldedBatch,
    current: dict[str, OrderState | None],
    record: OrderRecordUnion,
    partition: int,
    load: StateLoader,
    rules: SagaRules,
) -> None:
    ref = record.ref
    if ref not in current:
        current[ref] = load(ref)
        folded.before[ref] = current[ref]
    before = current[ref]
    stepped = step(before, record, rules)
    folded.records.append((record.type, "applied" if stepped.changed else "ignored"))
    if not stepped.changed or stepped.state is None:
        if before is not None:
            folded.touched[ref] = before
        return
    folded.touched[ref] = stepped.state
    folded.changes.append((current[ref], stepped.state))
    current[ref] = stepped.state
    folded.states[ref] = stepped.state
    folded.partitions[ref] = partition
    out, add = folded.outputs, stepped.outputs
    out.commands += add.commands
    out.facts += add.facts
    out.capacity += add.capacity
    out.plans += add.plans
    out.count_tasks += add.count_tasks
    out.dates += add.dates
    out.delivered += add.delivered
