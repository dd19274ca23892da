"""processors.faust_repairs.recovery_offsets: a changelog partition the local store holds
nothing of is recovered from its start, whatever offset Faust's recovery held in memory."""

from __future__ import annotations

from collections import Counter
from typing import Any

from faust.tables.recovery import Recovery
from faust.types import TP

from processors.faust_repairs import recovery_offsets

CHANGELOG = TP("tally-x-positions-changelog", 2)
PASSED_BY_ABORTED_TX_DETECTION = 75  # the highwater, never applied


class _Table:
    def __init__(self, persisted: int | None) -> None:
        self.persisted = persisted

    def persisted_offset(self, tp: TP) -> int | None:
        return self.persisted


class _Recovery:
    """What `Recovery._add` touches."""

    def __init__(self, offset_in_memory: int | None) -> None:
        self.tp_to_table: dict[TP, Any] = {}
        self.active_offsets: Counter[TP] = Counter()
        self.active_offsets[CHANGELOG] = offset_in_memory  # type: ignore[assignment]


def _added(add: Any, persisted: int | None) -> int | None:
    recovery = _Recovery(PASSED_BY_ABORTED_TX_DETECTION)
    add(recovery, _Table(persisted), CHANGELOG, recovery.active_offsets)
    offset: int | None = recovery.active_offsets[CHANGELOG]
    return offset


def test_faust_alone_starts_a_partition_the_store_lacks_past_records_never_applied() -> None:
    """The bug: the store holds nothing, yet recovery would start at the highwater (Faust's
    own `_add` when this process has not installed the repair, else its copy below)."""
    installed = getattr(Recovery, "_tally_recovers_from_the_store", False)
    original = _faust_add if installed else Recovery.__dict__["_add"]
    assert _added(original, persisted=None) == PASSED_BY_ABORTED_TX_DETECTION


def test_a_partition_the_store_lacks_is_read_from_its_start() -> None:
    recovery_offsets.install()
    assert Recovery._add is recovery_offsets._add_from_store
    assert _added(Recovery._add, persisted=None) is None  # read from offset 0


def test_a_partition_the_store_holds_starts_after_what_it_holds() -> None:
    recovery_offsets.install()
    assert _added(Recovery._add, persisted=40) == 40
    recovery = _Recovery(None)
    Recovery._add(recovery, _Table(12), CHANGELOG, recovery.active_offsets)  # type: ignore[arg-type]
    assert recovery.tp_to_table[CHANGELOG].persisted == 12


def _faust_add(self: Any, table: Any, tp: TP, offsets: Counter[Any]) -> None:
    """faust-streaming 0.15.3's Recovery._add, as shipped (for the test above once the
    repair is installed in this process)."""
    self.tp_to_table[tp] = table
    persisted_offset = table.persisted_offset(tp)
    if persisted_offset is not None:
        offsets[tp] = persisted_offset
    offsets.setdefault(tp, None)  # type: ignore[arg-type]  # (Faust ignores it too)
