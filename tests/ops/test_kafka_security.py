"""Kafka with SASL/SCRAM over TLS and ACLs per principal, on a broker of this test's own.

The broker (own home, own ports) has a SASL_SSL client listener, SCRAM users made at format
time and the StandardAuthorizer; the ACLs are ops.stack.kafka_security.principal_acls. The
shared local stack is never touched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from base.kafka_client import client_options
from base.settings import KafkaSettings, Settings, StackSettings, TopicSettings
from base.topics import ensure_topics
from ops.stack.control import start_services, stop_started
from ops.stack.kafka import jars_cached
from ops.stack.kafka_security import (
    ADMIN,
    SecureKafka,
    as_principal,
    create_acls,
    make_tls,
    principal_acls,
)
from ops.stack.ports import free_port

pytestmark = pytest.mark.integration
PASSWORDS = {ADMIN: "admin-secret", "gateway": "gw-secret", "worker": "wk-secret"}
SOCKETS_CLOSE_WITHIN_S = 10.0
T = TypeVar("T")


class SocketRecordingLoop(asyncio.SelectorEventLoop):
    """An event loop that keeps every connection's socket, so a run can wait for them to close.

    aiokafka closes a connection whose handshake or login fails without awaiting the close.
    Over TLS the socket closes only once the broker answers the close_notify, which can come
    after asyncio.run has closed its loop; the socket is then reported unclosed at collection.
    """

    def __init__(self) -> None:
        super().__init__()
        self.sockets: list[Any] = []

    async def create_connection(self, *args: Any, **kwargs: Any) -> Any:
        transport, protocol = await super().create_connection(*args, **kwargs)
        self.sockets.append(transport.get_extra_info("socket"))
        return transport, protocol


async def sockets_closed(loop: SocketRecordingLoop, within_s: float) -> None:
    """Return once every recorded socket is closed, or after within_s (the leak then shows)."""
    deadline = time.monotonic() + within_s
    while any(sock.fileno() != -1 for sock in loop.sockets) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def run_to_closed_sockets(work: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, but the loop stays up until the sockets the work opened are closed."""
    with asyncio.Runner(loop_factory=SocketRecordingLoop) as runner:
        try:
            return runner.run(work)
        finally:
            loop = runner.get_loop()
            assert isinstance(loop, SocketRecordingLoop)
            runner.run(sockets_closed(loop, SOCKETS_CLOSE_WITHIN_S))


@pytest.fixture(scope="module")
def secured(live_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Admin settings of a SASL_SSL broker of this module's own, topics and ACLs made."""
    home = tmp_path_factory.mktemp("secure-kafka")
    tls = make_tls(home / "tls", "127.0.0.1")
    settings = Settings(
        stack=StackSettings(home=home / "stack", start_timeout_s=90),
        kafka=KafkaSettings(
            port=free_port(),
            controller_port=free_port(),
            heap_mb=256,
            security_protocol="SASL_SSL",
            sasl_username=ADMIN,
            sasl_password=PASSWORDS[ADMIN],
            ssl_cafile=tls.ca_cert,
        ),
        topics=TopicSettings(partitions=1),
    )
    # The jars of the shared stack's cache (a new home would download them again).
    cache = settings.stack.home / "cache"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.symlink_to(live_stack.stack.home.resolve() / "cache")
    assert jars_cached(settings)
    broker = SecureKafka(settings, tls, PASSWORDS)
    started = start_services(settings, [broker], echo=lambda message: None)
    try:
        run_to_closed_sockets(ensure_topics(settings))
        create_acls(settings, principal_acls(settings), home / "acls")
        yield settings
    finally:
        stop_started(settings, started, echo=lambda message: None)


def as_user(settings: Settings, name: str, password: str | None = None) -> KafkaSettings:
    return as_principal(settings.kafka, name, password or PASSWORDS[name])


async def produce_one(kafka: KafkaSettings, topic: str) -> None:
    producer = AIOKafkaProducer(**client_options(kafka), acks="all", request_timeout_ms=10_000)
    try:
        await producer.start()
        await producer.send_and_wait(topic, b"{}", key=b"SKU-1")
    finally:
        await producer.stop()


def refusal(kafka: KafkaSettings, topic: str) -> type[BaseException] | None:
    """The error a produce ends with (None: it was written)."""
    try:
        run_to_closed_sockets(asyncio.wait_for(produce_one(kafka, topic), 20))
    except (KafkaError, TimeoutError) as error:
        return type(error)
    return None


def test_each_principal_writes_only_where_its_acls_say(secured: Settings) -> None:
    topics = secured.topics
    gateway, worker = as_user(secured, "gateway"), as_user(secured, "worker")
    run_to_closed_sockets(produce_one(gateway, topics.events))  # a fact, gateway's principal
    run_to_closed_sockets(produce_one(worker, topics.decisions))
    # Past the API keys, a gateway's credentials cannot forge a decision or a dead letter,
    # and the worker's cannot inject facts.
    assert refusal(gateway, topics.decisions) is TopicAuthorizationFailedError
    assert refusal(gateway, topics.dlq) is TopicAuthorizationFailedError
    assert refusal(worker, topics.events) is TopicAuthorizationFailedError


def test_a_wrong_password_or_no_tls_gets_nothing(secured: Settings) -> None:
    wrong = refusal(as_user(secured, "gateway", "not-it"), secured.topics.events)
    assert wrong is not None and issubclass(wrong, KafkaError), wrong
    assert refusal(as_user(secured, "gateway"), secured.topics.events) is None
    plaintext = KafkaSettings(port=secured.kafka.port)  # no SASL, no TLS

    async def read_anything() -> None:
        consumer = AIOKafkaConsumer(
            secured.topics.events, **client_options(plaintext), request_timeout_ms=5_000
        )
        try:
            await consumer.start()
        finally:
            await consumer.stop()

    with pytest.raises((KafkaError, TimeoutError, OSError)):
        run_to_closed_sockets(asyncio.wait_for(read_anything(), 20))
