"""store_writes: a batch's keys of a partition go to Faust's RocksDB store in one write batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faust
import pytest

from processors.faust_repairs.store_writes import write_partition

PARTITIONS = 4


@pytest.fixture
def table(tmp_path: Path) -> Iterator[Any]:
    """A Faust table on Faust's own RocksDB store (as the worker's), never started."""
    app = faust.App("store-writes-test", store="rocksdb://", datadir=tmp_path)
    yield app.Table("positions", key_type=bytes, value_type=bytes, partitions=PARTITIONS)


def _db(table: Any, partition: int) -> Any:
    return table.data._db_for_partition(partition)


def test_the_keys_land_in_their_partitions_database_only(table: Any) -> None:
    write_partition(table, 2, [(b"sku-1|core", b"\x05{}"), (b"sku-1|seen|0", b"[]")])
    assert _db(table, 2)[b"sku-1|core"] == b"\x05{}"
    assert _db(table, 2)[b"sku-1|seen|0"] == b"[]"
    for other in (0, 1, 3):
        assert _db(table, other).get(b"sku-1|core") is None


def test_a_tombstone_deletes_and_a_later_write_in_the_same_batch_wins(table: Any) -> None:
    write_partition(table, 1, [(b"chunk|7", b"old"), (b"core", b"v1")])
    write_partition(table, 1, [(b"chunk|7", None), (b"core", b"v2"), (b"core", b"v3")])
    assert _db(table, 1).get(b"chunk|7") is None
    assert _db(table, 1)[b"core"] == b"v3"


def test_faust_reads_outside_an_event_find_what_was_written(table: Any) -> None:
    # the key index is not fed: reads with no current event look in every partition's db
    write_partition(table, 3, [(b"k", b"v")])
    assert table.data.get(b"k") == b"v"
    write_partition(table, 3, [(b"k", None)])
    assert table.data.get(b"k") is None


def test_no_writes_touch_nothing(table: Any) -> None:
    write_partition(table, 0, [])
    assert table.data._dbs == {}  # no database opened for nothing
