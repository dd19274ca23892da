"""A three-broker KRaft cluster on loopback (`tally up --brokers 3`): every node's config, the
topics' copies and retention, the size a stack home was made with; and, live, a cluster that
loses a broker to kill -9 keeps every acknowledged record and goes on taking writes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from base.settings import (
    KafkaSettings,
    RedisSettings,
    Settings,
    StackSettings,
    TopicSettings,
    get_settings,
)
from base.topics import changelog_configs, ensure_topics, wanted_topics
from ops.stack import StackError, down, ensure_up
from ops.stack.kafka import Kafka, check_cluster_size, nodes, server_properties
from ops.stack.ports import free_port
from ops.stack.procs import kill_hard
from tests.support.isolation import free_cluster_ports


def cluster(home: Path, brokers: int = 3, port: int = 29000) -> Settings:
    kafka = KafkaSettings(port=port, controller_port=port + 1, brokers=brokers, heap_mb=256)
    return Settings(
        stack=StackSettings(home=home, start_timeout_s=180),
        kafka=kafka,
        redis=RedisSettings(port=free_port()),
    )


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line[:60])


def test_each_node_of_three_is_a_voter_with_its_own_ports_and_three_copies(
    tmp_path: Path,
) -> None:
    settings = cluster(tmp_path)
    assert settings.kafka.bootstrap == "127.0.0.1:29000,127.0.0.1:29002,127.0.0.1:29004"
    third = properties(server_properties(settings, tmp_path / "d", node=3))
    assert third["node.id"] == "3"
    assert third["controller.quorum.voters"] == (
        "1@127.0.0.1:29001,2@127.0.0.1:29003,3@127.0.0.1:29005"
    )
    assert third["listeners"] == "PLAINTEXT://127.0.0.1:29004,CONTROLLER://127.0.0.1:29005"
    for name in ("default.replication.factor", "offsets.topic.replication.factor",
                 "transaction.state.log.replication.factor"):  # fmt: skip
        assert third[name] == "3", name
    assert third["min.insync.replicas"] == third["transaction.state.log.min.isr"] == "2"
    assert third["unclean.leader.election.enable"] == "false"
    assert [node.name for node in nodes(settings)] == ["kafka", "kafka-2", "kafka-3"]


def test_the_single_broker_dev_stack_keeps_one_copy(tmp_path: Path) -> None:
    single = Settings(stack=StackSettings(home=tmp_path))
    conf = properties(server_properties(single, tmp_path / "d"))
    assert conf["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert conf["default.replication.factor"] == conf["min.insync.replicas"] == "1"
    assert {t.replication_factor for t in wanted_topics(single)} == {1}
    assert changelog_configs(single) == {"min.insync.replicas": "1"}


def test_the_facts_are_kept_forever_and_copied_three_times_on_a_cluster(tmp_path: Path) -> None:
    settings = cluster(tmp_path)
    topics = {t.name: t for t in wanted_topics(settings)}
    assert {t.replication_factor for t in topics.values()} == {3}
    for name in ("tally.events", "tally.commands", "tally.orders", "tally.capacity"):
        assert topics[name].topic_configs["retention.ms"] == "-1", name
        assert topics[name].topic_configs["min.insync.replicas"] == "2", name
    assert topics["tally.policy"].topic_configs["cleanup.policy"] == "compact"
    assert "retention.ms" not in topics["tally.decisions"].topic_configs  # an output
    assert changelog_configs(settings) == {"min.insync.replicas": "2"}


def test_copies_can_be_set_apart_from_the_broker_count() -> None:
    assert TopicSettings().replication(1) == (1, 1)
    assert TopicSettings().replication(5) == (3, 2)
    assert TopicSettings(replication_factor=2).replication(3) == (2, 1)
    assert TopicSettings(replication_factor=3, min_insync_replicas=3).replication(3) == (3, 3)


def test_overlapping_broker_ports_are_refused() -> None:
    with pytest.raises(ValidationError, match="overlap"):
        KafkaSettings(port=9092, controller_port=9094, brokers=3)


def test_a_home_made_for_three_brokers_is_not_started_with_one(tmp_path: Path) -> None:
    check_cluster_size(cluster(tmp_path, brokers=3))
    with pytest.raises(StackError, match="holds a cluster of 3 broker"):
        check_cluster_size(cluster(tmp_path, brokers=1))
    check_cluster_size(cluster(tmp_path, brokers=3))  # the same size again is fine


@pytest.mark.integration
@pytest.mark.slow  # three JVMs: about a minute on the 2-core dev machine
async def test_a_cluster_that_loses_a_broker_to_kill_9_keeps_every_acknowledged_record(
    tmp_path: Path,
) -> None:
    home = tmp_path / "stack"
    home.mkdir()
    (home / "cache").symlink_to(get_settings().stack.home.resolve() / "cache")  # the jars
    settings = cluster(home, port=free_cluster_ports(3))
    await asyncio.to_thread(ensure_up, settings)
    try:
        await ensure_topics(settings)
        topic = settings.topics.events
        acked = await _produce(settings, [f"before-{n}" for n in range(50)], topic)
        victim = Kafka(settings, node=2)
        assert await asyncio.to_thread(kill_hard, victim.files) is not None
        acked += await _produce(settings, [f"after-{n}" for n in range(50)], topic)
        assert sorted(await _read_all(settings, topic)) == sorted(acked)
    finally:
        await asyncio.to_thread(down, settings)


async def _produce(settings: Settings, values: list[str], topic: str) -> list[str]:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value.encode(), key=uuid.uuid4().bytes)
    finally:
        await producer.stop()
    return values


async def _read_all(settings: Settings, topic: str) -> list[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        found: list[str] = []
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1_000)
                found += [r.value.decode() for r in batch.get(tp, [])]
        return found
    finally:
        await consumer.stop()
