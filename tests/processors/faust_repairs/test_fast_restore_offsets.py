"""processors.faust_repairs.fast_restore starts a bulk read from the store's own offset.

Faust's in-memory counter may stand past records the store never got (exactly-once's
aborted-transaction detection, see recovery_offsets: fault seed 12 on a cluster); a bulk
read from there, persisted as the partition's new offset, would skip them for good."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from faust.tables.recovery import Recovery
from faust.types import TP

from processors.faust_repairs import fast_restore

CHANGELOG = TP("tally-x-positions-changelog", 1)
COUNTER = 75  # where the aborted-transaction detection moved Faust's counter
STORED = 40  # what the store really holds


class _Table:
    data = "the partition's store"

    def persisted_offset(self, tp: TP) -> int | None:
        return STORED


async def test_the_bulk_read_starts_after_what_the_store_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: dict[TP, int | None] = {}

    async def restore(
        settings: Any, stores: Mapping[TP, Any], persisted: Mapping[TP, int | None]
    ) -> dict[TP, int]:
        asked.update(persisted)
        return {}

    async def faust_build(*args: Any) -> None:
        return None

    monkeypatch.setattr(fast_restore, "restore", restore)
    monkeypatch.setattr(Recovery, fast_restore._FAUST_BUILD_OFFSETS, faust_build, raising=False)
    settings = fast_restore.RestoreSettings({}, read_committed=True, records_min=1)
    recovery = SimpleNamespace(
        app=SimpleNamespace(**{fast_restore._SETTINGS: settings}),
        tp_to_table={CHANGELOG: _Table()},
    )
    counter: Counter[TP] = Counter({CHANGELOG: COUNTER})
    await fast_restore._build_offsets(recovery, None, {CHANGELOG}, counter, "active")
    assert asked == {CHANGELOG: STORED}
