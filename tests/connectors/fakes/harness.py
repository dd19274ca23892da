"""Helpers for pusher integration tests: fast settings, writing change entries, recorders."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import REGISTRY
from pydantic import SecretStr

from base.redis_keys import changes_key
from base.settings import PusherSettings, Settings
from connectors.pushers import keys
from ops.child_process import ChildProcess

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LOCATION = "gid://shopify/Location/1"


def fast_settings(**overrides: Any) -> PusherSettings:
    """Bounds small enough that retries take milliseconds (waits are recorded, not slept)."""
    base: dict[str, Any] = {
        "coalesce_window_s": 0.0,
        "read_block_ms": 200,
        "http_timeout_s": 0.5,
        "webhook_timeout_s": 0.5,
        "webhook_retry_schedule_s": (0.01, 0.02, 0.04),
        "attempts_max": 4,
        "backoff_base_s": 0.001,
        "backoff_max_s": 0.01,
        "shopify_throttle_wait_s_min": 0.0,
        "shopify_access_token": SecretStr("shpat_fake_token"),
        "webhook_secret": SecretStr(WEBHOOK_SECRET),
    }
    return PusherSettings(**{**base, **overrides})


def item_id(sku: str) -> str:
    """A numeric Shopify inventory item gid, stable per SKU."""
    return f"gid://shopify/InventoryItem/{int(hashlib.sha1(sku.encode()).hexdigest()[:12], 16)}"


def write_mapping(path: Path, skus: Sequence[str]) -> Path:
    path.write_text(json.dumps({"location_id": LOCATION, "items": {s: item_id(s) for s in skus}}))
    return path


async def add_changes(
    client: aioredis.Redis, channel: str, rows: Sequence[tuple[str, int, str]]
) -> None:
    """XADD (sku, available, "S-P") rows to the channel's change stream, like the worker."""
    now_ms = int(time.time() * 1000)
    async with client.pipeline(transaction=False) as pipe:
        for sku, available, version in rows:
            fields = {"sku": sku, "available": available, "version": version, "ingested_at": now_ms}
            pipe.xadd(changes_key(channel), fields)  # type: ignore[arg-type]
        await pipe.execute()


async def pending_count(client: aioredis.Redis, channel: str, pusher: keys.PusherKind) -> int:
    summary = await client.xpending(changes_key(channel), keys.group_name(pusher))
    return int(summary["pending"])


async def dead_letters(client: aioredis.Redis, channel: str) -> list[dict[str, str]]:
    entries: Any = await client.xrange(keys.dlq_key(channel))
    return [dict(fields) for _, fields in entries]


class Sleeps:
    """Stands in for asyncio.sleep in sinks: records each wait, yields without waiting, and
    moves its own clock (`clock`) on by the wait, for sinks that pace by a clock."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now_s = 1_000.0

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now_s += seconds
        await asyncio.sleep(0)

    def clock(self) -> float:
        return self.now_s


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def pusher_process(settings: Settings, args: Sequence[str], log_path: Path) -> ChildProcess:
    """`python -m connectors.pushers <args>` as a real child process (kill -9 for crash tests)."""
    return ChildProcess("connectors.pushers", args, settings, log_path)
