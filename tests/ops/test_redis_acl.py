"""The local stack's Redis: a read-only channel reader user (ACL), on a Redis of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from base import redis_keys
from base.settings import RedisSettings, Settings, StackSettings
from ops.stack.control import start_services, stop_started
from ops.stack.ports import free_port
from ops.stack.redis import Redis

pytestmark = pytest.mark.integration


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Settings]:
    """A Redis of this test's own (own home and port): the shared stack is never touched."""
    settings = Settings(
        stack=StackSettings(home=tmp_path / "stack", start_timeout_s=30),
        redis=RedisSettings(port=free_port()),
    )
    started = start_services(settings, [Redis(settings)], echo=lambda message: None)
    try:
        yield settings
    finally:
        stop_started(settings, started, echo=lambda message: None)


def test_a_channel_reader_can_read_figures_and_nothing_else(own_redis: Settings) -> None:
    admin = redis.Redis.from_url(own_redis.redis.url, decode_responses=True)
    admin.hset(redis_keys.ats_key("web"), "SKU-1", "5")
    admin.xadd(redis_keys.changes_key("web"), {"sku": "SKU-1", "available": "5"})
    admin.hset(redis_keys.order_key("1001"), "view", "{}")
    settings = own_redis.redis
    reader = redis.Redis(
        port=settings.port,
        username=settings.reader_username,
        password=settings.reader_secret(),
        decode_responses=True,
    )
    assert reader.hget(redis_keys.ats_key("web"), "SKU-1") == "5"
    assert len(reader.xrange(redis_keys.changes_key("web")) or ()) == 1
    for write in (
        lambda: reader.hset(redis_keys.ats_key("web"), "SKU-1", "500"),
        lambda: reader.delete(redis_keys.ats_key("web")),
        lambda: reader.hget(redis_keys.order_key("1001"), "view"),  # not a channel's figure
        lambda: reader.keys("*"),
        lambda: reader.flushall(),
        lambda: reader.config_get("requirepass"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            write()
    assert admin.hget(redis_keys.ats_key("web"), "SKU-1") == "5"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=settings.port, username=settings.reader_username, password="not-it").ping()
