"""The five measured stages, each a function of the run's context returning raw numbers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic

from base.settings import REPO_ROOT, Settings
from base.topics import changelog_topic, ensure_topics
from devtools.bench import floor, holds, kafka_io, pg
from devtools.bench.config import BenchConfig
from devtools.bench.env import (
    CpuSnapshot,
    Namespace,
    create_topics,
    labelled,
    metric_sums,
    reset_redis,
    with_worker,
    worker_progress,
)
from devtools.bench.gen import Item, Workload, stamp
from devtools.bench.profile import FlameGraph, ProfileRun
from devtools.bench.stats import percentiles, steady_rate
from ledger.codec import join_state, split_state
from ledger.state import Position, SkuState
from ops.child_process import ChildProcess
from ops.child_worker import ChildWorker

Echo = Callable[[str], None]
PROGRESS_POLL_S = 0.1
LEVEL_SETTLE_S = 0.5
REDIS_READ_CHUNK = 10_000
PROBE_MODULE = "devtools.bench.kafka_probe"
PROBE_READY_S = 60.0  # until the probe has assigned its partitions and printed `ready`
PROBE_STOP_TIMEOUT_S = 30.0  # it writes its latencies on SIGTERM
# The restore starts with the worker's bulk read (processors.faust_repairs.fast_restore) or,
# without one, Faust's own; it ends when Faust's recovery completes (after its own reading).
RESTORE_BEGIN_MARKERS = ("bulk restore: reading", "Restoring state from changelog topics")
RESTORE_END_MARKER = "Recovery complete"
_LOG_TIME = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[,.]\d{3})")


@dataclass
class Context:
    config: BenchConfig
    base: Settings
    namespace: Namespace
    work_dir: Path  # worker data dirs, logs, probe output (removed at the end)
    echo: Echo
    out_dir: Path | None = None  # where the run's files that outlive it go (the flame graph)
    main: Settings | None = None  # the topics/app of the throughput + latency + holds worker
    worker: ChildWorker | None = None  # the default-guarantee worker kept between stages
    max_rate: float = 0.0
    skus: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)


def _policy_records(namespace: Namespace) -> list[tuple[str, bytes, bytes]]:
    at = datetime.now(UTC).isoformat()
    return [
        (
            "",
            channel.encode(),
            orjson.dumps(
                {
                    "kind": "channel",
                    "channel": channel,
                    "locations": list(locations),
                    "buffer_units": 1 if channel.endswith("-market") else 0,
                    "version": 1,
                    "updated_at": at,
                }
            ),
        )
        for channel, locations in namespace.channels.items()
    ]


async def prepare_topics(settings: Settings, namespace: Namespace) -> None:
    await ensure_topics(settings)
    policy = [(settings.topics.policy, k, v) for _t, k, v in _policy_records(namespace)]
    await kafka_io.preload(settings, policy)


def _web_channel(namespace: Namespace) -> str:
    return next(iter(namespace.channels))


def workload(ctx: Context, seed_offset: int, source: str) -> Workload:
    return Workload(
        seed=ctx.config.seed + seed_offset,
        skus=ctx.skus,
        locations=ctx.namespace.locations,
        channel=_web_channel(ctx.namespace),
        command_share=ctx.config.command_share,
        hold_ttl_s=ctx.config.hold_ttl_s,
        source=source,
    )


def _new_worker(ctx: Context, settings: Settings, name: str) -> ChildWorker:
    log = ctx.work_dir / f"{name}.log"
    tree = Path(ctx.config.worker_tree) if ctx.config.worker_tree else REPO_ROOT
    return ChildWorker(settings, log, ctx.config.worker_module, tree=tree).start()


def start_worker(ctx: Context, settings: Settings, name: str) -> ChildWorker:
    worker = _new_worker(ctx, settings, name)
    worker.wait_metrics_up()
    return worker


def _drain_cpu(worker: ChildWorker, first: CpuSnapshot | None, timed: float) -> dict[str, Any]:
    """From the drain's first progress sample (`first`, taken with it) to now: the worker
    process's CPU time (all threads) per record over the `timed` records, what the machine's
    other load changes least; and the cores the worker, its loop thread and the whole machine
    kept busy (why a drain stops where it does: the worker's one interpreter, or the
    machine)."""
    assert first is not None  # a drain that ended has a first sample
    last = CpuSnapshot.take(worker.metrics_text(), worker.pid)
    cpu_s = last.worker_s - first.worker_s
    return {
        "cpu_us_per_record": round(cpu_s / timed * 1e6, 1) if timed > 0 else None,
        "cpu_cores": first.cores_until(last),
    }


def _drain_worker(ctx: Context, settings: Settings, name: str, expected: int) -> dict[str, Any]:
    """Start a worker on the preloaded topics; time it from its first record to the last."""
    worker = start_worker(ctx, settings, name)
    samples: list[tuple[float, float]] = []
    cpu_first: CpuSnapshot | None = None
    profile: ProfileRun | None = None
    idle_at: float | None = None  # the last poll that saw nothing done
    deadline = time.monotonic() + ctx.config.drain_timeout_s
    try:
        while True:
            done = worker_progress(settings.worker.metrics_port)
            now = time.monotonic()
            if done == 0:
                idle_at = now
            else:
                if not samples:
                    cpu_first = CpuSnapshot.take(worker.metrics_text(), worker.pid)
                    # A drain shorter than a poll would otherwise have no span at all: it
                    # started after the last idle poll (a bound: the rate is a lower one).
                    samples.extend([] if idle_at is None else [(idle_at, 0.0)])
                samples.append((now, done))
                if profile is None and ctx.config.profile_s > 0:
                    profile = ProfileRun.start(worker.pid, ctx.config.profile_s, ctx.work_dir, name)
            if done >= expected:
                break
            if now > deadline or not worker.alive():
                raise TimeoutError(
                    f"bench: {name} worker drained {done}/{expected} in "
                    f"{ctx.config.drain_timeout_s}s\n{worker.log_tail()}"
                )
            time.sleep(ctx.config.progress_poll_s)
    except BaseException:
        worker.stop()
        raise
    first, last = samples[0], samples[-1]
    span = last[0] - first[0]
    timed = last[1] - next(done for _, done in samples if done > 0)  # CPU read from there
    result: dict[str, Any] = {
        **_drain_cpu(worker, cpu_first, timed),
        "records": expected,
        "drain_s": round(span, 3),
        # from the last idle poll, or the first progress sample (what was done then is not timed)
        "records_per_s": round((last[1] - first[1]) / span, 1) if span > 0 else 0.0,
        "steady_records_per_s": round(steady_rate(samples), 1),
        "processing_guarantee": settings.worker.processing_guarantee,
        **_batch_shape(worker.metrics_text()),
    }
    if profile is not None:
        result["profile"] = profile.finish()
    if settings.worker.processing_guarantee == ctx.base.worker.processing_guarantee:
        ctx.worker = worker  # the latency and holds stages measure the default guarantee
    else:
        worker.stop()
    return result


def _batch_delta(before: str, after: str) -> dict[str, Any]:
    """How the worker batched between two metric scrapes (a latency level)."""
    old, new = _batch_shape(before), _batch_shape(after)
    batches = new["batches"] - old["batches"]
    records = (
        new["batches"] * new["mean_batch_records"] - old["batches"] * old["mean_batch_records"]
    )
    return {
        "batches": batches,
        "mean_batch_records": round(records / batches, 1) if batches else 0.0,
        "phase_mean_ms": _phase_means(before, after),
        "commits": _commit_shape(before, after),
    }


def _commit_shape(before: str, after: str) -> dict[str, float]:
    """The exactly_once offsets commits between two scrapes: how many, their mean ms."""
    old, new = metric_sums(before), metric_sums(after)
    name = "tally_transaction_commit_seconds"
    count = new.get(f"{name}_count", 0.0) - old.get(f"{name}_count", 0.0)
    total = new.get(f"{name}_sum", 0.0) - old.get(f"{name}_sum", 0.0)
    return {"count": count, "mean_ms": round(total / count * 1000, 2) if count else 0.0}


def _phase_means(before: str, after: str) -> dict[str, float]:
    """Mean milliseconds a batch spent in each phase between two scrapes (by its label)."""
    name = "tally_batch_phase_seconds"
    sums = [labelled(text, f"{name}_sum") for text in (before, after)]
    counts = [labelled(text, f"{name}_count") for text in (before, after)]
    out: dict[str, float] = {}
    for label, total in sums[1].items():
        n = counts[1].get(label, 0.0) - counts[0].get(label, 0.0)
        phase = label.split('"')[1] if '"' in label else label
        if n:
            out[phase] = round((total - sums[0].get(label, 0.0)) / n * 1000, 2)
    return out


def _batch_shape(metrics_text: str) -> dict[str, float]:
    """How the worker batched the drain: mean records per batch, and the batch count."""
    sums = metric_sums(metrics_text)
    batches = sums.get("tally_batch_messages_count", 0.0)
    records = sums.get("tally_batch_messages_sum", 0.0)
    return {
        "batches": batches,
        "mean_batch_records": round(records / batches, 1) if batches else 0.0,
    }


async def throughput(ctx: Context) -> dict[str, Any]:
    config, namespace = ctx.config, ctx.namespace
    main = namespace.settings(ctx.base, "main", ctx.work_dir, config.partitions)
    ctx.main = main
    await prepare_topics(main, namespace)
    preloaded = workload(ctx, 0, "preload")
    topics = {"events": main.topics.events, "commands": main.topics.commands}
    ctx.echo(f"throughput: preloading {config.events:,} records (seed {config.seed}) ...")
    started = time.monotonic()
    counts = {"events": 0, "commands": 0}

    def records() -> Any:
        for item in preloaded.items(config.events):
            counts[item.kind] += 1
            yield topics[item.kind], item.key, stamp(item)

    sent = await kafka_io.preload(main, records())
    preload_s = time.monotonic() - started
    ctx.echo(f"throughput: preloaded {sent:,} in {preload_s:.1f}s ({sent / preload_s:,.0f}/s)")

    out: dict[str, Any] = {
        "records": sent,
        "facts": counts["events"],
        "commands": counts["commands"],
        "preload_records_per_s": round(sent / preload_s, 1),
    }
    ctx.echo("throughput: floor (raw aiokafka consumer -> Redis pipelines) ...")
    await reset_redis(main, namespace)
    floor_run = await floor.drain(
        main, list(topics.values()), namespace.channels, sent, config.drain_timeout_s
    )
    out["floor"] = {
        "records": floor_run.records,
        "drain_s": round(floor_run.last_at - floor_run.first_at, 3),
        "records_per_s": round(floor_run.rate, 1),
        "steady_records_per_s": round(
            steady_rate([(t, float(n)) for t, n in floor_run.samples]), 1
        ),
        "redis_pipelines": floor_run.redis_calls,
    }
    ctx.echo(f"throughput: floor {floor_run.rate:,.0f} records/s")
    guarantees = (("at_least_once", "alo"), ("exactly_once", "eos"))
    # the default guarantee drains last: its worker stays up for the latency and holds stages
    for guarantee, tag in sorted(
        guarantees, key=lambda g: g[0] == ctx.base.worker.processing_guarantee
    ):
        await reset_redis(main, namespace)
        settings = with_worker(
            main,
            processing_guarantee=guarantee,
            app_id=f"{main.worker.app_id}-{tag}",
            data_dir=ctx.work_dir / f"data-{tag}",
        )
        ctx.echo(f"throughput: worker {guarantee} draining {sent:,} ...")
        result = await asyncio.to_thread(_drain_worker, ctx, settings, f"throughput-{tag}", sent)
        out[guarantee] = result
        ctx.echo(
            f"throughput: {guarantee} {result['records_per_s']:,.0f} records/s "
            f"(steady {result['steady_records_per_s']:,.0f})"
        )
        if guarantee == ctx.base.worker.processing_guarantee:
            ctx.main = settings
    floor_rate = out["floor"]["steady_records_per_s"] or out["floor"]["records_per_s"]
    for guarantee in ("exactly_once", "at_least_once"):
        rate = out[guarantee]["steady_records_per_s"] or out[guarantee]["records_per_s"]
        out[guarantee]["ratio_to_floor"] = round(rate / floor_rate, 3) if floor_rate else 0.0
    kept = out[ctx.base.worker.processing_guarantee]  # the guarantee later stages measure
    measured = kept["steady_records_per_s"] or kept["records_per_s"]
    ctx.max_rate = ctx.config.rate_basis or measured
    return out


# --- latency ------------------------------------------------------------------------------


async def _redis_time_ms(client: aioredis.Redis) -> int:
    seconds, micros = await client.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def _stream_latencies(
    client: aioredis.Redis, namespace: Namespace, since_ms: int
) -> list[float]:
    """Redis stream entry time (the XADD's server clock) - the entry's ingested_at, in ms."""
    latencies: list[float] = []
    for channel in namespace.channels:
        key = f"tally:changes:{channel}"
        start = f"{since_ms}-0"
        while True:
            entries = cast(
                list[tuple[bytes, dict[bytes, bytes]]],
                await client.xrange(key, min=start, max="+", count=REDIS_READ_CHUNK),
            )
            for entry_id, fields in entries:
                ingested_ms = int(fields[b"ingested_at"])
                if ingested_ms >= since_ms:
                    latencies.append(float(int(entry_id.split(b"-")[0]) - ingested_ms))
            if len(entries) < REDIS_READ_CHUNK:
                break
            start = "(" + entries[-1][0].decode()
        await client.delete(key)
    return latencies


def _histogram_buckets(text: str) -> dict[float, float]:
    """tally_sync_latency_seconds cumulative bucket counts summed over channels, by le."""
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("tally_sync_latency_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
    return buckets


def _histogram_p99_ms(before: dict[float, float], after: dict[float, float]) -> float | None:
    """The worker histogram's p99 bucket bound over the level (coarse: bucket edges only)."""
    delta = {le: after.get(le, 0.0) - before.get(le, 0.0) for le in after}
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        return None
    for le in sorted(delta):
        if delta[le] >= 0.99 * total:
            return le * 1000
    return None


def wait_progress(
    worker: ChildWorker, port: int, target: float, timeout_s: float, poll_s: float = PROGRESS_POLL_S
) -> float:
    """Until the worker's progress counter reads `target` records; the wall-clock time then."""
    deadline = time.monotonic() + timeout_s
    while worker_progress(port) < target:
        if time.monotonic() > deadline or not worker.alive():
            raise TimeoutError(f"bench: worker did not catch up to {target:.0f} records")
        time.sleep(poll_s)
    return time.time()


async def _start_probe(ctx: Context, main: Settings, topic: str, out: Path) -> ChildProcess:
    """The plain Kafka consumer of `devtools.bench.kafka_probe`, assigned and ready."""
    partitions = ctx.config.partitions
    await create_topics(
        main, [NewTopic(topic, partitions, 1, topic_configs={"cleanup.policy": "delete"})]
    )
    args = ["--bootstrap", main.kafka.bootstrap, "--topic", topic,
            "--partitions", str(partitions), "--out", str(out)]  # fmt: skip
    probe = ChildProcess(PROBE_MODULE, args, None, ctx.work_dir / "kafka-probe.log").start()
    try:
        await asyncio.to_thread(
            probe.wait_until, lambda: "ready" in probe.log_lines(), "not ready", PROBE_READY_S
        )
    except BaseException:
        probe.stop(PROBE_STOP_TIMEOUT_S)
        raise
    return probe


@dataclass
class _LatencyRig:
    """What every latency level sends through and reads back from."""

    main: Settings
    worker: ChildWorker
    producer: AIOKafkaProducer
    redis: aioredis.Redis
    probe_topic: str


async def _latency_level(
    ctx: Context, rig: _LatencyRig, index: int, load: float, trickle: bool = False
) -> dict[str, Any]:
    """One offered rate through Tally, then the same records through the plain probe.

    `load` is a share of the measured maximum, or with `trickle` the config's trickle rate.
    """
    config, main, worker = ctx.config, rig.main, rig.worker
    port = main.worker.metrics_port
    if trickle:
        rate = config.trickle_rate
        load = rate / ctx.max_rate if ctx.max_rate else 0.0
        tag = "TRICKLE"
    else:
        rate = min(config.offered_rate_max, load * ctx.max_rate)
        tag = f"L{round(load * 100):03d}"
    count = max(1, int(rate * config.level_duration_s))
    items = list(workload(ctx, 100 + index, f"lat-{tag}").items(count))
    done_before = worker_progress(port)
    metrics_before = worker.metrics_text()
    hist_before = _histogram_buckets(metrics_before)
    since_ms = await _redis_time_ms(rig.redis)
    ctx.echo(f"latency: {tag} {load:.1%} of max = {rate:,.0f}/s for {config.level_duration_s}s")
    topics = {"events": main.topics.events, "commands": main.topics.commands}
    flame = _maybe_flame(ctx, worker, load)
    cpu_before = CpuSnapshot.take(await asyncio.to_thread(worker.metrics_text), worker.pid)
    async with _lag_sampled(worker) as lag_samples:
        tally_run = await kafka_io.paced(rig.producer, topics, items, rate, config.level_duration_s)
    cpu_cores = cpu_before.cores_until(
        CpuSnapshot.take(await asyncio.to_thread(worker.metrics_text), worker.pid)
    )
    if flame is not None:
        await asyncio.to_thread(flame.finish)
    caught_up = done_before + tally_run.sent
    await asyncio.to_thread(wait_progress, worker, port, caught_up, config.settle_timeout_s)
    await asyncio.sleep(0.2)  # the last batch's Redis write follows its counters
    tally_ms = percentiles(await _stream_latencies(rig.redis, ctx.namespace, since_ms))
    metrics_after = worker.metrics_text()
    hist_p99 = _histogram_p99_ms(hist_before, _histogram_buckets(metrics_after))
    batches = _batch_delta(metrics_before, metrics_after)
    probe_items = [Item("events", it.key, {**it.body, "source": tag}) for it in items]
    kafka_run = await kafka_io.paced(
        rig.producer, {"events": rig.probe_topic, "commands": rig.probe_topic}, probe_items,
        rate, config.level_duration_s,
    )  # fmt: skip
    await asyncio.sleep(LEVEL_SETTLE_S)
    ctx.echo(
        f"latency: {tag} tally p50/p99 {tally_ms['p50']}/{tally_ms['p99']} ms "
        f"({tally_ms['count']} figures)"
    )
    return {
        "load": load,
        "trickle": trickle,
        "offered_rate": round(rate, 1),
        "achieved_rate": round(tally_run.achieved_rate, 1),
        "records": tally_run.sent,
        "tally_sync_ms": tally_ms,
        "worker_histogram_p99_ms_le": hist_p99,
        **batches,
        "consumer_lag": _lag_summary(lag_samples),
        "cpu_cores": cpu_cores,
        "kafka_achieved_rate": round(kafka_run.achieved_rate, 1),
        "tag": tag,
    }


LAG_SAMPLE_S = 1.0  # the worker refreshes its lag gauge once a second (processors/app.py)
LAG_METRIC = "tally_consumer_lag_messages"


@contextlib.asynccontextmanager
async def _lag_sampled(worker: ChildWorker) -> AsyncIterator[list[float]]:
    """While the block runs: the worker's own consumer lag (events + commands), once a second."""
    samples: list[float] = []
    task = asyncio.ensure_future(_sample_into(worker, samples))
    try:
        yield samples
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _sample_into(worker: ChildWorker, samples: list[float]) -> None:
    while True:
        await asyncio.sleep(LAG_SAMPLE_S)
        try:
            text = await asyncio.to_thread(worker.metrics_text)
        except (OSError, httpx.HTTPError):
            continue  # a sample missed under load; the level goes on
        samples.append(metric_sums(text).get(LAG_METRIC, 0.0))


def _lag_summary(samples: list[float]) -> dict[str, float | int]:
    """Records the worker had not processed yet, between the log end (as of its last fetch)
    and its last processed offset: where a level's backlog waits, if not in the batch."""
    if not samples:
        return {"samples": 0, "mean": 0.0, "max": 0.0}
    return {
        "samples": len(samples),
        "mean": round(sum(samples) / len(samples), 1),
        "max": max(samples),
    }


def _maybe_flame(ctx: Context, worker: ChildWorker, load: float) -> FlameGraph | None:
    """A py-spy flame graph of the worker during the 50 % level, into the results folder."""
    if ctx.config.flame_s <= 0 or ctx.out_dir is None or abs(load - 0.5) > 1e-9:
        return None
    path = ctx.out_dir / "flame-50.svg"
    return FlameGraph.start(worker.pid, ctx.config.flame_s, path)


def _add_kafka_latencies(ctx: Context, levels: list[dict[str, Any]], probe_out: Path) -> None:
    """Each level's `kafka_ms`, from the probe's output (filed under the level's tag)."""
    kafka = orjson.loads(probe_out.read_bytes()) if probe_out.exists() else {}
    for level in levels:
        level["kafka_ms"] = percentiles(kafka.get(level.pop("tag"), []))
        ctx.echo(
            f"latency: {level['load']:.0%} kafka p50/p99 "
            f"{level['kafka_ms']['p50']}/{level['kafka_ms']['p99']} ms"
        )


def _latency_summary(ctx: Context, levels: list[dict[str, Any]]) -> dict[str, Any]:
    half = next((lv for lv in levels if not lv["trickle"] and abs(lv["load"] - 0.5) < 1e-9), None)
    out: dict[str, Any] = {
        "max_rate_basis": round(ctx.max_rate, 1),
        "max_rate_pinned": bool(ctx.config.rate_basis),
        "processing_guarantee": ctx.base.worker.processing_guarantee,
        "method": (
            "tally: Redis stream entry id (server clock at XADD) minus the entry's ingested_at "
            "(the earliest stamp among the SKU's events in the batch); kafka: a plain consumer "
            "process, receive time minus the same stamp"
        ),
        "levels": levels,
    }
    if half is not None and half["kafka_ms"]["p99"] > 0:
        out["p99_ratio_at_50"] = round(half["tally_sync_ms"]["p99"] / half["kafka_ms"]["p99"], 2)
    return out


async def latency(ctx: Context) -> dict[str, Any]:
    assert ctx.main is not None and ctx.worker is not None, "latency needs the throughput stage"
    main, probe_topic = ctx.main, f"{ctx.namespace.prefix}-probe"
    probe_out = ctx.work_dir / "kafka-probe.json"
    probe = await _start_probe(ctx, main, probe_topic, probe_out)
    client = aioredis.Redis.from_url(main.redis.url)
    producer = kafka_io.producer(main, linger_ms=1)
    rig = _LatencyRig(main, ctx.worker, producer, client, probe_topic)
    await producer.start()
    levels: list[dict[str, Any]] = []
    try:
        if ctx.config.trickle_rate > 0:
            levels.append(await _latency_level(ctx, rig, 99, 0.0, trickle=True))
        for index, load in enumerate(ctx.config.load_levels):
            levels.append(await _latency_level(ctx, rig, index, load))
    finally:
        await producer.stop()
        await rig.redis.aclose()
        await asyncio.to_thread(probe.stop, PROBE_STOP_TIMEOUT_S)
    _add_kafka_latencies(ctx, levels, probe_out)
    return _latency_summary(ctx, levels)


# --- holds --------------------------------------------------------------------------------


async def _ensure_worker(ctx: Context) -> tuple[Settings, ChildWorker]:
    if ctx.main is None or ctx.worker is None:
        main = ctx.namespace.settings(ctx.base, "main", ctx.work_dir, ctx.config.partitions)
        main = with_worker(
            main, app_id=f"{main.worker.app_id}-kept", data_dir=ctx.work_dir / "data-kept"
        )
        await prepare_topics(main, ctx.namespace)
        ctx.main = main
        ctx.worker = await asyncio.to_thread(start_worker, ctx, main, "holds")
    return ctx.main, ctx.worker


async def _wait_figure(
    settings: Settings, key: str, sku: str, expected: int, timeout_s: float
) -> None:
    client = aioredis.Redis.from_url(settings.redis.url)
    try:
        deadline = time.monotonic() + timeout_s
        while await client.hget(key, sku) != str(expected).encode():
            if time.monotonic() > deadline:
                raise TimeoutError(f"bench: {key}[{sku}] never reached {expected}")
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()


async def hot_holds(ctx: Context) -> dict[str, Any]:
    config, namespace = ctx.config, ctx.namespace
    main, worker = await _ensure_worker(ctx)
    sku = f"{namespace.prefix}-hot-sku"
    location = namespace.locations[0]
    channel = _web_channel(namespace)
    at = datetime.now(UTC).isoformat()
    receipt = {
        "event_id": f"{namespace.prefix}-hot-receipt", "type": "received", "sku": sku,
        "location": location, "qty": config.hold_stock_units, "occurred_at": at,
        "ingested_at": at, "source": "bench",
    }  # fmt: skip
    await kafka_io.preload(main, [(main.topics.events, sku.encode(), orjson.dumps(receipt))])
    await _wait_figure(main, f"tally:loc:{location}", sku, config.hold_stock_units, 30.0)
    metrics_before = worker.metrics_text()
    oversells_before = metric_sums(metrics_before).get("tally_oversells_total", 0.0)
    ctx.echo(
        f"holds: tally, {config.hold_clients} clients on one SKU, "
        f"stock {config.hold_stock_units:,} ..."
    )
    run, _reasons = await holds.tally_holds(
        main, sku, channel, config.hold_clients, config.hold_ttl_s, config.holds_timeout_s
    )
    await asyncio.sleep(0.5)
    client = aioredis.Redis.from_url(main.redis.url)
    try:
        raw = await client.hget(f"tally:loc:{location}", sku)
    finally:
        await client.aclose()
    final = int(raw) if raw is not None else None
    tally = run.summary(config.hold_stock_units, config.hold_clients, final)
    metrics_after = worker.metrics_text()
    tally["worker_oversells_counted"] = (
        metric_sums(metrics_after).get("tally_oversells_total", 0.0) - oversells_before
    )
    tally["worker_batches"] = _batch_delta(metrics_before, metrics_after)
    ctx.echo(
        f"holds: tally {tally['holds_per_s']:,} holds/s, "
        f"p99 {tally['decision_latency_ms']['p99']} ms, oversells {tally['oversells']}"
    )
    out: dict[str, Any] = {"tally": tally}
    cluster = await asyncio.to_thread(pg.PgCluster.start)
    try:
        out["postgres_version"] = cluster.version()
        for pattern in holds.PATTERNS:
            ctx.echo(f"holds: postgres {pattern} ...")
            result = await holds.pg_holds(
                cluster, pattern, sku, config.hold_clients, config.hold_stock_units,
                config.holds_timeout_s,
            )  # fmt: skip
            out[f"postgres_{pattern}"] = result
            ctx.echo(
                f"holds: postgres {pattern} {result['holds_per_s']:,} holds/s, "
                f"p99 {result['decision_latency_ms']['p99']} ms, oversells {result['oversells']}"
            )
    finally:
        await asyncio.to_thread(cluster.stop)
    best = max(out[f"postgres_{p}"]["holds_per_s"] for p in holds.PATTERNS)
    out["ratio_to_best_postgres"] = round(tally["holds_per_s"] / best, 2) if best else 0.0
    out["postgres_settings"] = pg.PG_SERVER_OPTIONS
    return out


# --- recovery -----------------------------------------------------------------------------


def _state_template(location: str) -> tuple[bytes, bytes]:
    """One realistic encoded state with placeholders for the SKU and its on-hand units."""
    state = SkuState(
        sku="SKUPLACEHOLDER",
        version=5,
        clock=datetime(2026, 1, 1, tzinfo=UTC),
        positions={location: Position(on_hand=777777, committed=2, reserved=1)},
        seen_fresh="\x00" + "\x00".join(f"evt-SKUPLACEHOLDER-{i}" for i in range(5)) + "\x00",
        seen_fresh_count=5,
    )
    raw = split_state(state, None).core  # a core with no chunks: as the worker stores it
    return raw.split(b"777777")[0], raw.split(b"777777")[1]


def _log_times(log: Path, marker: str) -> list[float]:
    times: list[float] = []
    for line in log.read_text(errors="replace").splitlines():
        if marker in line:
            match = _LOG_TIME.search(line)
            if match:
                stamp_text = match.group(1).replace(".", ",")
                parsed = datetime.strptime(stamp_text, "%Y-%m-%d %H:%M:%S,%f")
                times.append(parsed.timestamp())
    return times


def wait_log(worker: ChildWorker, marker: str, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _log_times(worker.log_path, marker) if worker.log_path.exists() else []
        if found:
            return found[-1]
        if not worker.alive():
            raise RuntimeError(f"bench: worker exited\n{worker.log_tail()}")
        time.sleep(0.1)
    raise TimeoutError(f"bench: no {marker!r} in {timeout_s}s\n{worker.log_tail()}")


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def recovery(ctx: Context) -> dict[str, Any]:
    config, namespace = ctx.config, ctx.namespace
    settings = namespace.settings(ctx.base, "recovery", ctx.work_dir, config.partitions)
    await prepare_topics(settings, namespace)
    changelog = changelog_topic(settings)
    await create_topics(
        settings,
        [NewTopic(changelog, config.partitions, 1, topic_configs={"cleanup.policy": "compact"})],
    )
    head, tail = _state_template(namespace.locations[0])
    sample = head.replace(b"SKUPLACEHOLDER", b"X") + b"5" + tail
    join_state(sample, lambda chunk: None)  # the template is a valid stored state, whole
    count = config.recovery_records
    prefix = f"{namespace.prefix}-r".encode()

    def records() -> Any:
        for i in range(count):
            sku = prefix + b"%07d" % i
            value = head.replace(b"SKUPLACEHOLDER", sku) + b"%d" % (i % 1000) + tail
            # the SKU's partition, as the worker's own writes pick it (the source partition)
            yield changelog, sku, value

    ctx.echo(f"recovery: writing {count:,} SKU states to {changelog} ...")
    started = time.monotonic()
    await _produce_keyed(settings, records())
    ctx.echo(f"recovery: written in {time.monotonic() - started:.1f}s")
    out: dict[str, Any] = {
        "records": count,
        "bytes_per_record": len(sample) + len(prefix) + 7,
        "method": (
            "changelog records written directly (split_state cores, one location each, keyed and "
            "partitioned as the worker's own changelog writes), then a worker with an empty "
            "data dir; restore span from the first of the worker's 'bulk restore: reading' and "
            "Faust's 'Restoring state from changelog topics' log lines to Faust's next "
            "'Recovery complete'"
        ),
    }
    cold = await asyncio.to_thread(_timed_start, ctx, settings, "recovery-cold", True)
    restore = cold["restore_s"]
    out.update(
        {
            "restore_s": round(restore, 3) if restore else None,
            "records_per_s": round(count / restore, 1) if restore else None,
            "cold_start_to_ready_s": round(cold["ready_s"], 3),
            "store_bytes": _dir_bytes(settings.worker.data_dir),
        }
    )
    ctx.echo(
        f"recovery: restored {count:,} in {restore:.2f}s = {out['records_per_s']:,} records/s"
        if restore
        else "recovery: no restore span found in the worker log"
    )
    warm = await asyncio.to_thread(_timed_start, ctx, settings, "recovery-warm", False)
    out["warm_restart_to_ready_s"] = round(warm["ready_s"], 3)
    out["warm_restore_s"] = round(warm["restore_s"], 3) if warm["restore_s"] else 0.0
    ctx.echo(f"recovery: warm restart ready in {warm['ready_s']:.2f}s")
    return out


async def _produce_keyed(settings: Settings, records: Any) -> None:
    """Send records on the partition Faust's default partitioner would pick for the key."""
    await kafka_io.preload(settings, records)


def _timed_start(ctx: Context, settings: Settings, name: str, fresh: bool) -> dict[str, float]:
    if fresh and settings.worker.data_dir.exists():
        shutil.rmtree(settings.worker.data_dir)
    spawned = time.time()
    worker = _new_worker(ctx, settings, name)
    try:
        ready = wait_log(worker, "Worker ready", ctx.config.recovery_timeout_s)
        begun = sorted(t for m in RESTORE_BEGIN_MARKERS for t in _log_times(worker.log_path, m))
        ends = _log_times(worker.log_path, RESTORE_END_MARKER)
        done = [t for t in ends if begun and t >= begun[0]]
        restore = done[0] - begun[0] if done else 0.0
        return {"ready_s": ready - spawned, "restore_s": restore}
    finally:
        worker.stop()


def cleanup_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
