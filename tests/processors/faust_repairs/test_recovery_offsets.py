"""processors.faust_repairs.recovery_offsets: a changelog partition's recovery starts from
what the local store holds, whatever offset Faust's recovery held in memory or moved to
since (fault seed 12 on a cluster: "Aborted tx until highwater" between a partition's
assignment and its recovery, which then started at the highwater and restored nothing)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from faust.tables.recovery import Recovery
from faust.types import TP

from processors.faust_repairs import recovery_offsets

CHANGELOG = TP("tally-x-positions-changelog", 2)
HIGHWATER = 75  # where Faust's aborted-transaction detection moved the counter


class _Table:
    def __init__(self, persisted: int | None) -> None:
        self.persisted = persisted

    def persisted_offset(self, tp: TP) -> int | None:
        return self.persisted


class _Recovery:
    """What the two wrapped methods touch."""

    def __init__(self, persisted: int | None) -> None:
        self.tp_to_table: dict[TP, Any] = {CHANGELOG: _Table(persisted)}
        self.active_offsets: Counter[TP] = Counter({CHANGELOG: HIGHWATER})
        self.sought: dict[TP, int] = {}


async def _faust_build(
    recovery: Any, consumer: Any, tps: set[TP], destination: Counter[Any], title: str
) -> None:
    """Faust's merge: the counter's offset, or the log's earliest - 1 if larger (none here
    was compacted away, so the counter's stands; None becomes -1)."""
    for tp in tps:
        destination[tp] = -1 if destination[tp] is None else destination[tp]


async def _faust_seek(
    recovery: Any, consumer: Any, tps: set[TP], offsets: Counter[Any], title: str
) -> None:
    recovery.sought.update({tp: max(offsets[tp], 0) for tp in tps})


async def _recover(persisted: int | None, *, moved_before_the_seek: bool) -> int:
    """Build the offsets and seek, as Faust's recovery does; where the consumer was sought."""
    build = recovery_offsets.from_the_store(_faust_build)
    seek = recovery_offsets.at_the_starts(_faust_seek)
    recovery = _Recovery(persisted)
    await build(recovery, None, {CHANGELOG}, recovery.active_offsets, "active")
    if moved_before_the_seek:  # detect_aborted_tx on a stale consumer position
        recovery.active_offsets[CHANGELOG] = HIGHWATER
    await seek(recovery, None, {CHANGELOG}, recovery.active_offsets, "active")
    return recovery.sought[CHANGELOG]


async def test_faust_alone_starts_a_partition_the_store_lacks_at_the_highwater() -> None:
    """The bug: nothing of the partition in the store, yet its recovery starts at 75."""
    recovery = _Recovery(persisted=None)
    await _faust_build(recovery, None, {CHANGELOG}, recovery.active_offsets, "active")
    await _faust_seek(recovery, None, {CHANGELOG}, recovery.active_offsets, "active")
    assert recovery.sought[CHANGELOG] == HIGHWATER


async def test_a_partition_the_store_lacks_is_recovered_from_its_start() -> None:
    assert await _recover(None, moved_before_the_seek=False) == 0


async def test_a_partition_the_store_holds_is_recovered_after_what_it_holds() -> None:
    assert await _recover(40, moved_before_the_seek=False) == 40


async def test_the_counter_moved_between_building_and_seeking_is_not_followed() -> None:
    assert await _recover(None, moved_before_the_seek=True) == 0
    assert await _recover(40, moved_before_the_seek=True) == 40


async def test_standby_offsets_are_left_to_faust() -> None:
    build = recovery_offsets.from_the_store(_faust_build)
    recovery = _Recovery(persisted=None)
    await build(recovery, None, {CHANGELOG}, recovery.active_offsets, "standby")
    assert recovery.active_offsets[CHANGELOG] == HIGHWATER


def test_the_repair_wraps_faust_recovery_once() -> None:
    recovery_offsets.install()
    build, seek = Recovery._build_offsets, Recovery._seek_offsets
    recovery_offsets.install()
    assert (Recovery._build_offsets, Recovery._seek_offsets) == (build, seek)
    assert build.__qualname__.startswith("from_the_store")
    assert seek.__qualname__.startswith("at_the_starts")
