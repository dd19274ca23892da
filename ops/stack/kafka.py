"""Kafka in KRaft combined mode (broker + controller in one JVM), from Maven Central jars: one
node for the dev stack, or a cluster of `TALLY_KAFKA__BROKERS` nodes on loopback ports."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from base.settings import REPO_ROOT, Settings
from ops.stack.procs import Echo, StackError, log_tail, port_open
from ops.stack.service import Service, require_binary, run_coroutine

POM = REPO_ROOT / "ops" / "kafka" / "pom.xml"
LOG4J2_CONFIG = REPO_ROOT / "ops" / "kafka" / "log4j2.properties"
MAVEN_TIMEOUT_S = 900.0
FORMAT_TIMEOUT_S = 120.0
# The JVM flags bin/kafka-server-start.sh uses, minus the heap (that comes from settings).
JVM_FLAGS = (
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)


def cache_dir(settings: Settings) -> Path:
    return settings.stack.home.resolve() / "cache" / f"kafka-{settings.kafka.version}"


def libs_dir(settings: Settings) -> Path:
    return cache_dir(settings) / "libs"


def _cache_stamp(settings: Settings) -> str:
    pom_sha256 = hashlib.sha256(POM.read_bytes()).hexdigest()
    return json.dumps({"kafka_version": settings.kafka.version, "pom_sha256": pom_sha256})


def jars_cached(settings: Settings) -> bool:
    libs = libs_dir(settings)
    stamp = libs / ".complete"
    broker_jar = libs / f"kafka_2.13-{settings.kafka.version}.jar"
    return stamp.is_file() and stamp.read_text() == _cache_stamp(settings) and broker_jar.is_file()


def ensure_jars(settings: Settings, echo: Echo) -> Path:
    """Resolve the broker jars into the cache with Maven, unless a complete cache exists."""
    libs = libs_dir(settings)
    if jars_cached(settings):
        return libs
    mvn = require_binary("kafka", "mvn", "install Maven (ops/bootstrap.sh does)")
    echo(f"kafka: resolving Kafka {settings.kafka.version} jars with Maven into {libs}")
    shutil.rmtree(libs, ignore_errors=True)
    libs.mkdir(parents=True)
    maven_log = settings.stack.home.resolve() / "logs" / "maven.log"
    maven_log.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-Dkafka.version={settings.kafka.version}",
        f"-DoutputDirectory={libs}",
        "-DincludeScope=runtime",
    ]
    with maven_log.open("w") as log:
        try:
            subprocess.run(
                argv, stdout=log, stderr=subprocess.STDOUT, timeout=MAVEN_TIMEOUT_S, check=True
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            tail = log_tail(maven_log, settings.stack.log_tail_lines)
            raise StackError(
                f"kafka: Maven could not resolve the broker jars ({error}).\n"
                f"log: {maven_log}:\n{tail}"
            ) from error
    (libs / ".complete").write_text(_cache_stamp(settings))
    return libs


def server_properties(settings: Settings, data_dir: Path, node: int = 1) -> str:
    """Node `node` (1-based) of the stack's KRaft cluster: broker and controller in one JVM.

    One node is the dev stack: one copy of everything. Three or more: the internal topics
    (offsets, transactions) get 3 copies with 2 in sync, and no out-of-sync replica is
    ever elected leader (a leader that lost acknowledged records).
    """
    kafka = settings.kafka
    port, controller_port = kafka.node_ports()[node - 1]
    factor, insync = settings.topics.replication(kafka.brokers)
    voters = ",".join(
        f"{n}@{kafka.host}:{controller}"
        for n, (_, controller) in enumerate(kafka.node_ports(), start=1)
    )
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(node),
        # Static voters: the quorum follows the configured ports, even after a port change.
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{kafka.host}:{port},CONTROLLER://{kafka.host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{kafka.host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": str(settings.topics.partitions),
        "auto.create.topics.enable": "true",
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.replication.factor": str(factor),
        "transaction.state.log.replication.factor": str(factor),
        "transaction.state.log.min.isr": str(insync),
        "share.coordinator.state.topic.replication.factor": str(factor),
        "share.coordinator.state.topic.min.isr": str(insync),
        "default.replication.factor": str(factor),
        "min.insync.replicas": str(insync),
        "unclean.leader.election.enable": "false",
    }
    header = "# Generated by `tally up` from base/settings.py; edits are overwritten.\n"
    return header + "".join(f"{key}={value}\n" for key, value in lines.items())


def random_cluster_id() -> str:
    """Kafka's Uuid.randomUuid(): url-safe base64 of 16 random bytes, never starting with '-'."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class Kafka(Service):
    """One node of the stack's Kafka: `kafka` (node 1, the dev stack's only broker), then
    `kafka-2`, `kafka-3`, ... each with its own config, data, pid file and log."""

    name = "kafka"

    def __init__(self, settings: Settings, node: int = 1) -> None:
        self.node = node
        self.name = node_name(node)
        super().__init__(settings)

    @property
    def conf_dir(self) -> Path:
        return self.home / self.name

    @property
    def config_file(self) -> Path:
        return self.conf_dir / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.conf_dir / "data"

    @property
    def ports(self) -> tuple[tuple[str, int, str], ...]:
        kafka = self.settings.kafka
        port, controller_port = kafka.node_ports()[self.node - 1]
        return (
            (kafka.host, port, "TALLY_KAFKA__PORT"),
            (kafka.host, controller_port, "TALLY_KAFKA__CONTROLLER_PORT"),
        )

    def marker(self) -> str:
        return str(self.config_file)

    def properties(self) -> str:
        """This node's server.properties (a fault run adds a listener of its own)."""
        return server_properties(self.settings, self.data_dir, self.node)

    def _java(self, main_class: str, *args: str) -> list[str]:
        java = require_binary("kafka", "java", "install Java 17+ (ops/bootstrap.sh does)")
        heap = f"{self.settings.kafka.heap_mb}m"
        return [
            java,
            f"-Xmx{heap}",
            f"-Xms{heap}",
            *JVM_FLAGS,
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp",
            f"{libs_dir(self.settings)}/*",
            main_class,
            *args,
        ]

    def format_args(self) -> list[str]:
        """StorageTool arguments beyond the cluster id and config (e.g. SCRAM users)."""
        return []

    def prepare(self, echo: Echo) -> None:
        ensure_jars(self.settings, echo)
        if self.node == 1:  # once per start, before any node is formatted
            check_cluster_size(self.settings)
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.properties())
        if (self.data_dir / "meta.properties").is_file():
            return
        echo(f"{self.name}: formatting storage in {self.data_dir}")
        argv = self._java(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id(self.settings),
            "-c",
            str(self.config_file),
            *self.format_args(),
        )
        self.files.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.files.log_file.open("a") as log:
            done = subprocess.run(
                argv, stdout=log, stderr=subprocess.STDOUT, timeout=FORMAT_TIMEOUT_S, check=False
            )
        if done.returncode != 0:
            tail = log_tail(self.files.log_file, self.settings.stack.log_tail_lines)
            raise StackError(
                f"{self.name}: formatting storage failed (exit {done.returncode}).\n"
                f"log: {self.files.log_file}:\n{tail}"
            )

    def argv(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.config_file))

    def probe(self) -> bool:
        kafka = self.settings.kafka
        port, _ = kafka.node_ports()[self.node - 1]
        if not port_open(kafka.host, port, timeout_s=1.0):
            return False
        return run_coroutine(
            round_trip(
                f"{kafka.host}:{port}",
                self.settings.stack.healthcheck_topic,
                self.settings.stack.probe_timeout_s,
            )
        )


def node_name(node: int) -> str:
    return "kafka" if node == 1 else f"kafka-{node}"


def nodes(settings: Settings) -> list[Kafka]:
    """Every node of the configured cluster (`TALLY_KAFKA__BROKERS`), node 1 first."""
    return [Kafka(settings, node) for node in range(1, settings.kafka.brokers + 1)]


def cluster_size_file(home: Path) -> Path:
    return home.resolve() / "kafka" / "brokers"


def recorded_brokers(home: Path) -> int | None:
    """The cluster size this stack home was formatted for (None: not formatted yet)."""
    try:
        text = cluster_size_file(home).read_text().strip()
    except FileNotFoundError:
        text = ""
    if text.isdigit():
        return int(text)
    legacy = home.resolve() / "kafka" / "data" / "meta.properties"  # before the record
    return 1 if legacy.is_file() else None


def check_cluster_size(settings: Settings) -> None:
    """A stack home formatted for N brokers is started with N (a quorum of other voters
    would never form); the first `up` records N. Another size needs `down --wipe` first."""
    recorded = recorded_brokers(settings.stack.home)
    wanted = settings.kafka.brokers
    if recorded is not None and recorded != wanted:
        raise StackError(
            f"kafka: {settings.stack.home} holds a cluster of {recorded} broker(s), asked "
            f"for {wanted}: set TALLY_KAFKA__BROKERS={recorded} (or `tally up --brokers "
            f"{recorded}`), or `tally down --wipe` to start over"
        )
    size_file = cluster_size_file(settings.stack.home)
    size_file.parent.mkdir(parents=True, exist_ok=True)
    size_file.write_text(f"{wanted}\n")


def cluster_id(settings: Settings) -> str:
    """The cluster's id: the one a formatted node already has, else a new one (every node
    of a cluster is formatted with the same id)."""
    for meta in settings.stack.home.resolve().glob("kafka*/data/meta.properties"):
        for line in meta.read_text().splitlines():
            if line.startswith("cluster.id="):
                return line.partition("=")[2]
    return random_cluster_id()


async def round_trip(
    bootstrap: str, topic: str, timeout_s: float, options: dict[str, Any] | None = None
) -> bool:
    """Produce one unique record and read it back. False on any failure or timeout.
    `options`: the clients' connection options (e.g. SASL_SSL), else plain `bootstrap`."""
    connect = options or {"bootstrap_servers": bootstrap}
    try:
        return await asyncio.wait_for(_round_trip(connect, topic, timeout_s), timeout_s)
    except Exception:
        return False


async def _round_trip(connect: dict[str, Any], topic: str, timeout_s: float) -> bool:
    payload = uuid.uuid4().bytes
    request_timeout_ms = int(timeout_s * 1000)
    producer = AIOKafkaProducer(**connect, acks="all", request_timeout_ms=request_timeout_ms)
    try:  # stopped even when it never started (a broker not up yet): no leaked client
        await producer.start()
        sent = await producer.send_and_wait(topic, payload, partition=0)
    finally:
        await producer.stop()
    partition = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        **connect,
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=request_timeout_ms,
    )
    try:
        await consumer.start()
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        record = await consumer.getone(partition)
    finally:
        await consumer.stop()
    return bool(record.value == payload)
