"""Restart after a crash: a worker killed (-9) partway through a backlog, started again on its
data dir; how long until it is ready and folding again. For comparison, a restart after a
clean stop (SIGTERM), whose store is kept: how much of its changelog it reads again.

Under exactly-once the killed worker leaves open transactions; the new one's producers abort
them, so each changelog partition ends in an abort marker (or a commit's), past the last
record the store holds. The time to folding again is the time sync stands still after a
crash. Faust's own recovery waits 10 s for such a marker (`FAUST_IDLE_GIVE_UP` in the log);
the worker reads past them first (processors/faust_repairs/fast_restore.py).

The restarted worker also waits for the broker to time out the killed one's session before
the group hands its partitions out again, unless it is a static member (a group instance id,
processors/faust_repairs/static_membership.py): the run is made both ways. A worker from
another checkout (`--worker-tree`) that predates the setting runs the second as a dynamic
member too.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from base.log_ends import LogEnds
from base.settings import Settings
from base.topics import changelog_topic
from devtools.bench import kafka_io, stages
from devtools.bench.env import with_worker, worker_progress
from devtools.bench.gen import stamp

FAUST_IDLE_GIVE_UP = "Aborted tx until highwater"  # faust/tables/recovery.py, after 10 s idle
BULK_READ = re.compile(r"bulk restore: (\d+) offsets")  # processors/faust_repairs/fast_restore.py
KILLED_AT_SHARE = 0.5  # of the backlog folded when the worker is killed
AFTER_KILL_RECORDS = 100
POLL_S = 0.05
STATIC_INSTANCE_ID = "bench-worker-0"  # TALLY_WORKER__GROUP_INSTANCE_ID of the static run


async def crash_restart(ctx: stages.Context) -> dict[str, Any]:
    """The default worker (a dynamic group member), and one with a group instance id; and a
    worker stopped cleanly (its store kept) for comparison."""
    out = await _crash_and_restart(ctx, "crash", None)
    out["static_member"] = await _crash_and_restart(ctx, "crash-static", STATIC_INSTANCE_ID)
    out["clean_stop"] = await _stop_and_restart(ctx, "clean")
    return out


async def _stop_and_restart(ctx: stages.Context, tag: str) -> dict[str, Any]:
    """A worker folds the whole backlog and stops cleanly (SIGTERM); a new one starts on the
    same data dir, which it keeps: how much of the changelog it reads again, and how soon
    it folds the records that came meanwhile."""
    settings, records = await _backlog(ctx, tag, 8, None)
    sent = await kafka_io.preload(settings, iter(records[:-AFTER_KILL_RECORDS]))
    ctx.echo(f"recovery: restart after a clean stop, {sent:,} records folded first ...")
    await asyncio.to_thread(_run_and_stop, ctx, settings, tag, sent)
    sent += await kafka_io.preload(settings, iter(records[-AFTER_KILL_RECORDS:]))
    out = await asyncio.to_thread(_restart, ctx, settings, tag)
    out |= {"records": sent, "changelog_records": await _changelog_records(settings)}
    out["method"] = (
        f"{sent - AFTER_KILL_RECORDS:,} records preloaded and folded by a worker stopped with "
        f"SIGTERM, {AFTER_KILL_RECORDS} more produced, then a worker started on the same data "
        "dir; the changelog offsets its bulk restore read again (its 'bulk restore: N "
        "offsets' log line) against the changelog's offsets in all"
    )
    ctx.echo(
        f"recovery: after a clean stop, {out['offsets_read_again']:,} of "
        f"{out['changelog_records']:,} changelog offsets read again, ready in "
        f"{out['to_ready_s']} s, folding again in {out['to_folding_s']} s"
    )
    return out


def _run_and_stop(ctx: stages.Context, settings: Settings, tag: str, sent: int) -> None:
    first = stages.start_worker(ctx, settings, f"recovery-{tag}-stopped")
    try:
        port = settings.worker.metrics_port
        stages.wait_progress(first, port, sent, ctx.config.recovery_timeout_s, POLL_S)
    finally:
        first.stop()


async def _changelog_records(settings: Settings) -> int:
    """Offsets in the table's changelog partitions (records and transaction markers)."""
    topic = changelog_topic(settings)
    log_ends = LogEnds(settings.kafka)
    try:
        ends = await log_ends([(topic, p) for p in range(settings.topics.partitions)])
    finally:
        await log_ends.stop()
    return sum(ends.values())


async def _crash_and_restart(
    ctx: stages.Context, tag: str, instance_id: str | None
) -> dict[str, Any]:
    settings, records = await _backlog(ctx, tag, 7, instance_id)
    sent = await kafka_io.preload(settings, iter(records[:-AFTER_KILL_RECORDS]))
    member = "dynamic" if instance_id is None else f"static ({instance_id})"
    ctx.echo(f"recovery: crash restart, {member} member, {sent:,} records, killed halfway ...")
    killed_after = await asyncio.to_thread(_run_and_kill, ctx, settings, tag, sent)
    # so the next worker has records to fold even if the killed one had committed them all
    sent += await kafka_io.preload(settings, iter(records[-AFTER_KILL_RECORDS:]))
    out = await asyncio.to_thread(_restart, ctx, settings, tag)
    out |= {"records": sent, "killed_after_records": int(killed_after)}
    out["method"] = (
        f"{sent - AFTER_KILL_RECORDS:,} records preloaded; a worker killed (-9) once it had "
        f"folded {KILLED_AT_SHARE:.0%} of them, {AFTER_KILL_RECORDS} more produced, then a "
        "worker started on the same data dir; from its spawn to its 'Worker ready' log line "
        f"and to its first record folded (its progress counter, polled every "
        f"{POLL_S * 1000:.0f} ms)"
    )
    ctx.echo(
        f"recovery: {member} after kill -9, ready in {out['to_ready_s']} s, "
        f"folding again in {out['to_folding_s']} s"
    )
    return out


async def _backlog(
    ctx: stages.Context, tag: str, seed: int, instance_id: str | None
) -> tuple[Settings, list[tuple[str, bytes, bytes]]]:
    """The run's settings (topics made) and its records: `crash_records` to fold first, then
    `AFTER_KILL_RECORDS` for the restarted worker."""
    config, namespace = ctx.config, ctx.namespace
    settings = namespace.settings(ctx.base, tag, ctx.work_dir, config.partitions)
    settings = with_worker(settings, group_instance_id=instance_id)
    await stages.prepare_topics(settings, namespace)
    feed = stages.workload(ctx, seed, tag)
    topics = {"events": settings.topics.events, "commands": settings.topics.commands}
    records = [
        (topics[i.kind], i.key, stamp(i))
        for i in feed.items(config.crash_records + AFTER_KILL_RECORDS)
    ]
    return settings, records


def _run_and_kill(ctx: stages.Context, settings: Settings, tag: str, sent: int) -> float:
    """Records folded when the worker was killed."""
    port = settings.worker.metrics_port
    first = stages.start_worker(ctx, settings, f"recovery-{tag}-killed")
    try:
        halfway = sent * KILLED_AT_SHARE
        stages.wait_progress(first, port, halfway, ctx.config.recovery_timeout_s, POLL_S)
        return worker_progress(port)
    finally:
        first.kill_hard()


def _restart(ctx: stages.Context, settings: Settings, tag: str) -> dict[str, Any]:
    spawned = time.time()
    second = stages.start_worker(ctx, settings, f"recovery-{tag}-restarted")
    try:
        ready = stages.wait_log(second, "Worker ready", ctx.config.recovery_timeout_s)
        folding = stages.wait_progress(
            second, settings.worker.metrics_port, 1, ctx.config.recovery_timeout_s, POLL_S
        )
        log = second.log_path.read_text(errors="replace")
    finally:
        second.stop()
    return {
        "to_ready_s": round(ready - spawned, 3),
        "to_folding_s": round(folding - spawned, 3),
        "faust_waited_for_markers": FAUST_IDLE_GIVE_UP in log,
        "offsets_read_again": sum(int(n) for n in BULK_READ.findall(log)),
    }
