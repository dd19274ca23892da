"""The real local stack: Kafka (KRaft) and Redis as our own processes."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from base.settings import KafkaSettings, PrometheusSettings, RedisSettings, Settings, StackSettings
from ops.stack import StackError, ensure_up, status
from ops.stack.kafka import round_trip
from ops.stack.ports import free_port

pytestmark = pytest.mark.integration


def test_up_again_starts_nothing(live_stack: Settings) -> None:
    again = ensure_up(live_stack)
    assert again.started == ()
    assert set(again.already_running) == {"kafka", "redis"}


def test_status_reports_running_and_ready(live_stack: Settings) -> None:
    report = {service.name: service for service in status(live_stack)}
    for name in ("kafka", "redis"):
        assert report[name].running, name
        assert report[name].ready, name
        assert report[name].pid is not None
    assert live_stack.kafka.port in report["kafka"].ports


async def test_kafka_round_trip(live_stack: Settings) -> None:
    topic = f"tally.test.roundtrip.{uuid.uuid4().hex[:8]}"
    assert await round_trip(live_stack.kafka.bootstrap, topic, timeout_s=30)


def test_redis_refuses_unauthenticated_commands(live_stack: Settings) -> None:
    anonymous = redis.Redis(
        host="127.0.0.1", port=live_stack.redis.port, socket_timeout=5, retry=Retry(NoBackoff(), 0)
    )
    with anonymous, pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    with redis.Redis.from_url(live_stack.redis.url, socket_timeout=5) as client:
        assert client.ping()


def test_port_held_by_a_foreign_socket_fails_fast(tmp_path: Path) -> None:
    """A separate stack (own home, own ports) so the shared one is never disturbed."""
    isolated = Settings(
        stack=StackSettings(home=tmp_path / "stack", start_timeout_s=30),
        kafka=KafkaSettings(port=free_port(), controller_port=free_port()),
        redis=RedisSettings(port=free_port()),
        prometheus=PrometheusSettings(port=free_port()),
    )
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", isolated.kafka.port))
        foreign.listen()
        with pytest.raises(StackError) as raised:
            ensure_up(isolated)
    message = str(raised.value)
    assert f"kafka: port {isolated.kafka.port} is already in use" in message
    assert "TALLY_KAFKA__PORT" in message
    assert not any((tmp_path / "stack" / "run").glob("*.pid")), "nothing may have started"
