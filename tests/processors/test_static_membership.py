"""A worker with a group instance id (static membership), killed (-9) and started again on its
data dir, takes its partitions back at once: its first fold comes long before the dead
member's session could time out, which a dynamic member has to wait for
(processors/faust_repairs/static_membership.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from base import redis_keys
from base.settings import SESSION_TIMEOUT_S_MAX, Settings
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, produce_json
from tests.support.waiting import redis_client, wait_for_figure
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

SESSION_TIMEOUT_S = SESSION_TIMEOUT_S_MAX  # a dynamic member's restart waits this long
FIRST, SECOND = 10, 4


def test_a_static_member_restarted_after_kill_9_folds_before_its_old_session_expires(
    isolated: Settings, tmp_path: Path
) -> None:
    worker_settings = isolated.worker.model_copy(
        update={"session_timeout_s": SESSION_TIMEOUT_S, "group_instance_id": unique("worker")}
    )
    settings = isolated.model_copy(update={"worker": worker_settings})
    sku, store, web = unique("SKU"), unique("store"), unique("web")
    topics = settings.topics
    asyncio.run(produce_json(settings, topics.policy, [channel_policy(web, [store])], "channel"))
    received = fact(unique("e"), "received", sku, store, FIRST)
    asyncio.run(produce_json(settings, topics.events, [received]))
    client = redis_client(settings)
    ats = redis_keys.ats_key(web)
    first = WorkerProcess(settings, tmp_path / "worker-1.log").start()
    try:
        wait_for_figure(client, ats, sku, str(FIRST), timeout_s=90)
    finally:
        first.kill_hard()
    killed_at = time.monotonic()
    more = fact(unique("e"), "received", sku, store, SECOND)
    asyncio.run(produce_json(settings, topics.events, [more]))
    second = WorkerProcess(settings, tmp_path / "worker-2.log").start()
    try:
        # a dynamic member could not fold before the killed one's session timed out
        wait_for_figure(client, ats, sku, str(FIRST + SECOND), timeout_s=SESSION_TIMEOUT_S / 2)
    except AssertionError as failure:
        raise AssertionError(f"{failure}\nworker log:\n{second.log_tail(100)}") from None
    finally:
        second.stop()
    assert time.monotonic() - killed_at < SESSION_TIMEOUT_S
