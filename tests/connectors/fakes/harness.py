"""Helpers for pusher integration tests: fast settings, writing change entries, recorders."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import REGISTRY
from pydantic import SecretStr

from base.redis_keys import changes_key
from base.settings import REPO_ROOT, PusherSettings, Settings, settings_env
from connectors.pushers import keys

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LOCATION = "gid://shopify/Location/1"


def fast_settings(**overrides: Any) -> PusherSettings:
    """Bounds small enough that retries take milliseconds (waits are recorded, not slept)."""
    base: dict[str, Any] = {
        "coalesce_window_s": 0.0,
        "read_block_ms": 200,
        "http_timeout_s": 0.5,
        "attempts_max": 4,
        "backoff_base_s": 0.001,
        "backoff_max_s": 0.01,
        "shopify_throttle_wait_s_min": 0.0,
        "shopify_access_token": SecretStr("shpat_fake_token"),
        "webhook_secret": SecretStr(WEBHOOK_SECRET),
    }
    return PusherSettings(**{**base, **overrides})


def item_id(sku: str) -> str:
    return f"gid://shopify/InventoryItem/{sku}"


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
    """Stands in for asyncio.sleep in sinks: records each wait, yields without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class PusherProcess:
    """`python -m connectors.pushers` as a real child process (kill -9 for crash tests)."""

    def __init__(self, settings: Settings, args: Sequence[str], log_path: Path) -> None:
        self.settings = settings
        self.args = list(args)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> PusherProcess:
        env = {**os.environ, **settings_env(self.settings)}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "connectors.pushers", *self.args],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill_hard(self) -> None:
        assert self._process is not None
        if self.alive():
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL; the exit code."""
        if self._process is None:
            return None
        if self.alive():
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill_hard()
        return self._process.returncode

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
