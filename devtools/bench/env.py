"""The bench's own corner of the shared stack, the machine it ran on, and small probes.

Every topic, consumer group, app id, channel and location of a run carries the run's prefix
(`bench<id>`), so a run never reads or writes anyone else's records or Redis keys, and
`cleanup` removes exactly what the run made.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from base.settings import REPO_ROOT, Settings, TopicSettings
from ops.stack.ports import free_port

PROGRESS_READ_ATTEMPTS = 3


@dataclass(frozen=True)
class Namespace:
    """Names of one run: topics, channels and locations nobody else uses."""

    run_id: str
    locations: tuple[str, ...]
    channels: dict[str, tuple[str, ...]]  # channel -> the locations that feed it

    @classmethod
    def new(cls, location_count: int) -> Namespace:
        run_id = f"bench{uuid.uuid4().hex[:8]}"
        locations = tuple(f"{run_id}-loc-{i:02d}" for i in range(location_count))
        half = max(1, location_count // 2)
        channels = {
            f"{run_id}-web": locations,  # every location ships web orders
            f"{run_id}-market": locations[:half],  # the marketplace: warehouses only
            f"{run_id}-pickup": locations[half:] or locations,  # click & collect: stores
        }
        return cls(run_id, locations, channels)

    @property
    def prefix(self) -> str:
        return self.run_id

    def settings(self, base: Settings, tag: str, data_root: Path, partitions: int) -> Settings:
        """Settings of one worker: its own topics (`{run}-{tag}.*`), app id, data dir, ports."""
        name = f"{self.run_id}-{tag}"
        topics = TopicSettings.named(name, partitions)
        worker = base.worker.model_copy(
            update={
                "app_id": name,
                "data_dir": data_root / name,
                "web_port": free_port(),
                "metrics_port": free_port(),
                "changes_stream_len_max": 10_000_000,
            }
        )
        return base.model_copy(update={"topics": topics, "worker": worker})

    def redis_keys(self) -> list[str]:
        keys: list[str] = []
        for channel in self.channels:
            keys += [f"tally:ats:{channel}", f"tally:ver:ats:{channel}", f"tally:changes:{channel}"]
        for location in self.locations:
            keys += [f"tally:loc:{location}", f"tally:ver:loc:{location}"]
        return keys


def with_worker(settings: Settings, **updates: Any) -> Settings:
    return settings.model_copy(update={"worker": settings.worker.model_copy(update=updates)})


async def reset_redis(settings: Settings, namespace: Namespace) -> None:
    client = aioredis.Redis.from_url(settings.redis.url)
    try:
        await client.delete(*namespace.redis_keys())
    finally:
        await client.aclose()


async def create_topics(settings: Settings, topics: list[NewTopic]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            await admin.create_topics(missing)
    finally:
        await admin.close()


async def delete_run_topics(settings: Settings, namespace: Namespace) -> list[str]:
    """Delete every topic whose name starts with the run's prefix (ours only)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(namespace.prefix)]
        if ours:
            await admin.delete_topics(ours)
        return sorted(ours)
    finally:
        await admin.close()


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def metric_sums(text: str) -> dict[str, float]:
    """Prometheus text -> the sum of every sample per metric name (labels dropped)."""
    sums: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        name, value = match.group(1), float(match.group(3))
        sums[name] = sums.get(name, 0.0) + value
    return sums


def labelled(text: str, name: str) -> dict[str, float]:
    """The samples of one metric, by their label text."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is not None and match.group(1) == name:
            out[match.group(2) or ""] = float(match.group(3))
    return out


PROGRESS_COUNTERS = ("tally_events_folded_total", "tally_hold_decisions_total")
# Only the progress counters are asked for (prometheus_client's `name[]` filter): rendering
# every metric the worker has, ten times a second, took 6.6 % of a draining worker's samples.
_PROGRESS_QUERY = urllib.parse.urlencode([("name[]", name) for name in PROGRESS_COUNTERS])


def worker_progress(metrics_port: int) -> float:
    """Records the worker finished: facts folded + hold decisions (its own counters)."""
    # urllib, not httpx.get: a fresh httpx client builds an SSL context per call, which cost
    # the polling harness a third of a core (seen in py-spy) on a 2-core machine.
    for attempt in range(PROGRESS_READ_ATTEMPTS):
        try:
            url = f"http://127.0.0.1:{metrics_port}/metrics?{_PROGRESS_QUERY}"
            with urllib.request.urlopen(url, timeout=5.0) as r:
                text = r.read().decode()
            break
        except OSError:  # a reset under heavy load (seen at load average 12): ask again
            if attempt == PROGRESS_READ_ATTEMPTS - 1:
                raise
            time.sleep(0.2)
    sums = metric_sums(text)
    return sum(sums.get(name, 0.0) for name in PROGRESS_COUNTERS)


def worker_cpu_s(metrics_text: str) -> float:
    """The worker process's CPU seconds so far (prometheus_client's process collector)."""
    return metric_sums(metrics_text).get("process_cpu_seconds_total", 0.0)


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds so far: the worker's (and, given its pid, its event loop thread's: the
    main thread, which folds every batch), this bench process's (its producer), the
    machine's."""

    wall_s: float
    worker_s: float
    bench_s: float
    machine_busy_s: float
    worker_loop_s: float | None = None

    @classmethod
    def take(cls, worker_metrics_text: str, worker_pid: int | None = None) -> CpuSnapshot:
        return cls(
            time.monotonic(),
            worker_cpu_s(worker_metrics_text),
            time.process_time(),
            machine_busy_s(),
            None if worker_pid is None else thread_cpu_s(worker_pid, worker_pid),
        )

    def cores_until(self, later: CpuSnapshot) -> dict[str, float]:
        """Cores each kept busy on average between this snapshot and `later`."""
        wall = later.wall_s - self.wall_s
        if wall <= 0:
            return {}
        cores = {
            "worker": round((later.worker_s - self.worker_s) / wall, 2),
            "bench": round((later.bench_s - self.bench_s) / wall, 2),
            "machine": round((later.machine_busy_s - self.machine_busy_s) / wall, 2),
        }
        if self.worker_loop_s is not None and later.worker_loop_s is not None:
            cores["worker_loop"] = round((later.worker_loop_s - self.worker_loop_s) / wall, 2)
        return cores


def thread_cpu_s(pid: int, tid: int, proc: Path = Path("/proc")) -> float:
    """CPU seconds one thread (`tid`) of process `pid` has used so far (0.0 where unknown)."""
    try:
        stat = (proc / str(pid) / "task" / str(tid) / "stat").read_text()
        # after the command name's closing ")": the state (field 3), ..., utime and stime
        # (fields 14 and 15, in clock ticks)
        fields = stat.rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0.0
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_s(stat: Path = Path("/proc/stat")) -> float:
    """CPU seconds every core of the machine spent busy since boot (0.0 where unknown)."""
    try:
        fields = stat.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return 0.0
    # cpu user nice system idle iowait irq softirq steal ...: all but idle and iowait
    ticks = [int(v) for v in fields[1:9]]
    busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
    return busy / os.sysconf("SC_CLK_TCK")


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def machine() -> dict[str, Any]:
    cpu_model = ""
    mem_total_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_total_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def git_commit(tree: Path = REPO_ROOT) -> str:
    """The checkout's commit (12 hex digits), "-dirty" when its code differs from it."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=tree,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        dirty = subprocess.run(
            # the bench's own outputs (results/) are not code: they made every run -dirty
            [
                "git",
                "status",
                "--porcelain",
                "--",
                "devtools/bench",
                "processors",
                "ledger",
                ":(exclude)devtools/bench/results",
            ],
            cwd=tree,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def wait_for(probe: Any, timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench: {what} not reached in {timeout_s}s")
        time.sleep(interval_s)
