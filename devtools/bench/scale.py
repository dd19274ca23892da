"""Scale: the same records drained by one worker, then (fresh topics) by two, on this machine.

The workers start first and settle into their consumer group (each "Worker ready", then
`SETTLE_S`), so the drain does not include a rebalance; then the records are produced as
fast as Kafka takes them (faster than the workers drain) and the rate is the steady one of
the workers' summed progress counters. With 2 cores shared by both workers, Kafka and
Redis, the ratio says what a second process buys on one small host, not what a second
machine would.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from devtools.bench import kafka_io, stages
from devtools.bench.env import with_worker, worker_cpu_s, worker_progress
from devtools.bench.gen import stamp
from devtools.bench.stats import steady_rate
from ops.child_worker import ChildWorker
from ops.stack.ports import free_port

SETTLE_S = 5.0
POLL_S = 0.1


async def scale(ctx: stages.Context) -> dict[str, Any]:
    out: dict[str, Any] = {
        "records": ctx.config.scale_records,
        "partitions": ctx.config.partitions,
        "processing_guarantee": ctx.base.worker.processing_guarantee,
    }
    for count in (1, 2):
        out[f"workers_{count}"] = await _drain_with(ctx, count)
        ctx.echo(f"scale: {count} worker(s) {out[f'workers_{count}']['records_per_s']:,} records/s")
    one, two = out["workers_1"]["records_per_s"], out["workers_2"]["records_per_s"]
    out["ratio_2_to_1"] = round(two / one, 2) if one else 0.0
    return out


async def _drain_with(ctx: stages.Context, count: int) -> dict[str, Any]:
    config, namespace = ctx.config, ctx.namespace
    main = namespace.settings(ctx.base, f"scale{count}", ctx.work_dir, config.partitions)
    await stages.prepare_topics(main, namespace)
    workers: list[ChildWorker] = []
    try:
        for index in range(count):
            settings = with_worker(
                main,
                web_port=free_port(),
                metrics_port=free_port(),
                data_dir=ctx.work_dir / f"data-scale{count}-{index}",
            )
            workers.append(stages.start_worker(ctx, settings, f"scale{count}-{index}"))
        for worker in workers:
            await asyncio.to_thread(stages.wait_log, worker, "Worker ready", 120.0)
        await asyncio.sleep(SETTLE_S)
        return await _timed_drain(ctx, main, workers)
    finally:
        for worker in workers:
            worker.stop()


async def _timed_drain(
    ctx: stages.Context, main: Any, workers: list[ChildWorker]
) -> dict[str, Any]:
    records = ctx.config.scale_records
    items = stages.workload(ctx, 200 + len(workers), f"scale{len(workers)}").items(records)
    topics = {"events": main.topics.events, "commands": main.topics.commands}
    sending = asyncio.ensure_future(
        kafka_io.preload(main, ((topics[it.kind], it.key, stamp(it)) for it in items))
    )
    cpu_before = sum(worker_cpu_s(w.metrics_text()) for w in workers)
    samples = await asyncio.to_thread(_progress, ctx, workers, records)
    await sending
    cpu_s = sum(worker_cpu_s(w.metrics_text()) for w in workers) - cpu_before
    per_worker = [worker_progress(w.settings.worker.metrics_port) for w in workers]
    return {
        "workers": len(workers),
        "records_per_s": round(steady_rate(samples), 1),
        "drain_s": round(samples[-1][0] - samples[0][0], 3),
        "records_by_worker": per_worker,
        "cpu_us_per_record": round(cpu_s / records * 1e6, 1),
    }


def _progress(
    ctx: stages.Context, workers: list[ChildWorker], records: int
) -> list[tuple[float, float]]:
    """(time, records done by all workers) samples until every record is done."""
    deadline = time.monotonic() + ctx.config.drain_timeout_s
    samples: list[tuple[float, float]] = []
    while True:
        done = sum(worker_progress(w.settings.worker.metrics_port) for w in workers)
        now = time.monotonic()
        if done > 0:
            samples.append((now, done))
        if done >= records:
            return samples
        if now > deadline or not all(w.alive() for w in workers):
            raise TimeoutError(f"bench: scale drained {done}/{records}")
        time.sleep(POLL_S)
