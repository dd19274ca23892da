"""A key's partition: Kafka's murmur2 partitioning, as the Java client and aiokafka do it."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner

from base.topics import cached_partitioner, partition_for


def test_partition_for_is_stable_and_in_range() -> None:
    assert {partition_for("SKU-1", 4) for _ in range(3)} == {partition_for("SKU-1", 4)}
    assert all(0 <= partition_for(f"SKU-{i}", 4) < 4 for i in range(100))
    assert len({partition_for(f"SKU-{i}", 4) for i in range(100)}) == 4


# Kafka's own murmur2 test vectors (clients' UtilsTest.testMurmur2), signed 32-bit results;
# the Java partitioner takes `toPositive(hash) % partitions`.
KAFKA_MURMUR2 = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}


@pytest.mark.parametrize("partitions", [1, 4, 7, 12])
def test_partition_for_is_the_java_clients_partition_cached_or_not(partitions: int) -> None:
    for key, signed in KAFKA_MURMUR2.items():
        java = (signed & 0x7FFFFFFF) % partitions
        assert partition_for(key, partitions) == java, key
        assert partition_for(key, partitions) == java, key  # the cached answer


@pytest.mark.parametrize("all_partitions", [[0], [0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6], [3, 5, 9]])
def test_cached_partitioner_puts_a_key_where_aiokafkas_default_does(
    all_partitions: list[int],
) -> None:
    reference = DefaultPartitioner()
    keys = [k.encode() for k in KAFKA_MURMUR2] + [f"SKU-{i}".encode() for i in range(200)]
    for key in keys:
        expected = reference(key, all_partitions, all_partitions)
        assert cached_partitioner(key, all_partitions, all_partitions) == expected, key
        assert cached_partitioner(key, all_partitions, []) == expected, key  # cached, none up


def test_cached_partitioner_spreads_unkeyed_records_over_the_partitions_up() -> None:
    assert {cached_partitioner(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}
    assert {cached_partitioner(None, [0, 1], []) for _ in range(50)} == {0, 1}
