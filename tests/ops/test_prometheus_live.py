"""A real Prometheus scrapes a real worker under load; the recording rule gives p99 per channel.

Prometheus (Debian's binary) runs on its own port and data dir with a config generated for
this test: the repo's rule files, one scrape job aimed at this test's worker. The load is a
few hundred `received` events per second over a handful of SKUs, with a channel policy,
kept up until Prometheus answers `tally:sync_latency_seconds:p99{channel=...}` (bounded).
"""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from base.settings import REPO_ROOT, PrometheusSettings, Settings
from ops.stack.ports import free_port
from tests.ops.test_cli_ledger import run_json
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, produce_json
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

RULES_DIR = REPO_ROOT / "ops" / "prometheus" / "rules"
EVENTS_PER_S = 300
SKUS = 20
WAIT_S_MAX = 150.0
READY_TIMEOUT_S = 60.0
SYNC_P99_S_MAX = 10.0


def prometheus_config(worker_metrics_port: int) -> str:
    rules = "\n".join(f"  - {path}" for path in sorted(RULES_DIR.glob("*.yml")))
    return (
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        f"rule_files:\n{rules}\n"
        "scrape_configs:\n"
        "  - job_name: tally-worker\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{worker_metrics_port}']\n"
    )


@pytest.fixture
def prometheus(worker: WorkerProcess, tmp_path: Path) -> Iterator[str]:
    """A Prometheus of this test's own, scraping the test's worker; yields its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the prometheus binary is missing: run ops/bootstrap.sh")
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_config(worker.settings.worker.metrics_port))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, tmp_path / "prometheus.log")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_ready(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base}/-/ready", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"prometheus not ready in {READY_TIMEOUT_S}s")


async def _load(settings: Settings, location: str, stop: asyncio.Event) -> int:
    """`received` events at ~EVENTS_PER_S over SKUS SKUs until `stop`; returns the count."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    skus = [unique("LOAD") for _ in range(SKUS)]
    sent, tick_s = 0, 0.1
    try:
        while not stop.is_set():
            started = time.monotonic()
            for index in range(int(EVENTS_PER_S * tick_s)):
                sku = skus[(sent + index) % SKUS]
                body = fact(unique("e"), "received", sku, location, 1)
                await producer.send(settings.topics.events, orjson.dumps(body), key=sku.encode())
            sent += int(EVENTS_PER_S * tick_s)
            await asyncio.sleep(max(0.0, tick_s - (time.monotonic() - started)))
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def _p99_by_channel(base: str, channel: str) -> float | None:
    """The recording rule's value for `channel`, once it is a number."""
    query = f'tally:sync_latency_seconds:p99{{channel="{channel}"}}'
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(f"{base}/api/v1/query", params={"query": query})
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    for series in body["data"]["result"]:
        value = float(series["value"][1])
        if series["metric"].get("channel") == channel and not math.isnan(value):
            return value
    return None


async def _load_until_p99(settings: Settings, base: str, channel: str, location: str) -> float:
    stop = asyncio.Event()
    load = asyncio.create_task(_load(settings, location, stop))
    try:
        deadline = time.monotonic() + WAIT_S_MAX
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            if load.done():
                load.result()  # raise the producer's error
            value = await _p99_by_channel(base, channel)
            if value is not None:
                return value
        raise AssertionError(f"no p99 for channel {channel} from Prometheus in {WAIT_S_MAX}s")
    finally:
        stop.set()
        sent = await load
        assert sent > 0


def test_prometheus_answers_p99_sync_latency_per_channel_from_the_recording_rule(
    isolated: Settings, worker: WorkerProcess, prometheus: str
) -> None:
    channel, location = unique("web"), unique("wh")
    asyncio.run(
        produce_json(
            isolated, isolated.topics.policy, [channel_policy(channel, [location])], "channel"
        )
    )
    p99_s = asyncio.run(_load_until_p99(isolated, prometheus, channel, location))
    # A latency is a positive duration (the rule interpolates within the histogram's
    # buckets), and ~300 facts/s leave an idle worker far from SYNC_P99_S_MAX behind.
    assert 0 < p99_s <= SYNC_P99_S_MAX

    # `tally top` reads the same rule from this Prometheus.
    port = int(prometheus.rsplit(":", 1)[1])
    settings = isolated.model_copy(update={"prometheus": PrometheusSettings(port=port)})
    body = run_json(settings, "top", "--once", "--source", "prometheus")
    assert body["source"] == "prometheus"
    assert channel in body["p99_sync_latency_s"]
    # The recording rule's 1-minute rate of the known load: never above the rate sent.
    assert 0 < body["events_per_s"] <= EVENTS_PER_S * 1.5, body
