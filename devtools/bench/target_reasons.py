"""Why a missed target is missed, in the run's own figures (issue 17 asks for each target
"met or its measured reason").

Each function reads one stage's JSON and returns a sentence of measured facts, or None where
the run lacks the figures (runs from before they were measured). The sentences state what
bounds the figure; the findings (devtools/bench/FINDINGS.md) hold the experiments behind them.
"""

from __future__ import annotations

from typing import Any


def throughput(out: dict[str, Any], guarantee: str, share: float) -> str | None:
    """The drain against the floor: the worker's CPU per record, and what one core holds."""
    t = out.get("throughput") or {}
    drain, floor = t.get(guarantee) or {}, t.get("floor") or {}
    us = drain.get("cpu_us_per_record")
    floor_rate = floor.get("steady_records_per_s") or floor.get("records_per_s")
    if not us or not floor_rate:
        return None
    one_core = 1e6 / us
    needed_us = 1e6 / (share * floor_rate)
    return (
        f"the worker spent {us:g} us of CPU a record{_cores(drain, out)}; one core at that cost "
        f"holds {one_core:,.0f} records/s ({one_core / floor_rate:.2f} x the floor), and "
        f"{share:g} x needs at most {needed_us:.0f} us"
    )


def latency(out: dict[str, Any], level: dict[str, Any]) -> str | None:
    """A latency level: how busy the worker was, and its CPU per record against the drain's."""
    cores = level.get("cpu_cores") or {}
    rate = level.get("achieved_rate")
    if not cores.get("worker") or not rate:
        return None
    us = cores["worker"] * 1e6 / rate
    text = (
        f"the worker kept {cores['worker']:g} cores busy ({_loop(cores)}the machine "
        f"{cores.get('machine', '-')}): {us:,.0f} us of CPU a record in batches of "
        f"{_num(level.get('mean_batch_records'))}"
    )
    guarantee = (out.get("latency") or {}).get("processing_guarantee", "exactly_once")
    drain = (out.get("throughput") or {}).get(guarantee) or {}
    if drain.get("cpu_us_per_record"):
        text += (
            f", {us / drain['cpu_us_per_record']:.1f} x the drain's {drain['cpu_us_per_record']:g}"
            f" us in batches of {_num(drain.get('mean_batch_records'))}"
        )
    commits = level.get("commits") or {}
    if commits.get("count"):
        text += f"; {commits['count']:,.0f} commits of {commits.get('mean_ms', '-')} ms each"
    return text


def holds_rate(out: dict[str, Any]) -> str | None:
    """Holds against PostgreSQL: a decision's two Kafka hops, the clients' lock-step rounds."""
    h = out.get("holds") or {}
    tally = h.get("tally") or {}
    split, batches = tally.get("decision_split"), tally.get("worker_batches")
    if not split or not batches or not batches.get("batches"):
        return None
    phases = batches.get("phase_mean_ms") or {}
    round_ms = tally["elapsed_s"] * 1000 / batches["batches"]
    text = (
        f"a decision is two Kafka hops (command sent -> decision sent p50 "
        f"{split['command_sent_to_decision_sent_ms']['p50']} ms, decision sent -> read p50 "
        f"{split['decision_sent_to_read_ms']['p50']} ms{_kafka_hop(out)}), and the "
        f"{tally['clients']} clients move in lock-step: {batches['batches']:,.0f} rounds of "
        f"{_num(batches['mean_batch_records'])} commands, {round_ms:.1f} ms each (the fold "
        f"{phases.get('fold', '-')} ms, the worker waiting for the next commands "
        f"{phases.get('idle', '-')} ms)"
    )
    conditional = h.get("postgres_conditional") or {}
    if conditional:
        text += (
            f"; PostgreSQL answered a statement in p50 "
            f"{conditional['decision_latency_ms']['p50']} ms"
        )
    return text


def decision_p99(out: dict[str, Any]) -> str | None:
    """The hold decision's tail, split into its two hops."""
    split = ((out.get("holds") or {}).get("tally") or {}).get("decision_split")
    if not split:
        return None
    return (
        f"command sent -> decision sent p99 {split['command_sent_to_decision_sent_ms']['p99']} "
        f"ms, decision sent -> read p99 {split['decision_sent_to_read_ms']['p99']} ms"
    )


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,g}"


def _cores(stage: dict[str, Any], out: dict[str, Any]) -> str:
    cores = stage.get("cpu_cores") or {}
    if not cores.get("worker"):
        return ""
    of = (out.get("machine") or {}).get("cores", "-")
    machine = cores.get("machine", "-")
    return f", busy {cores['worker']:g} cores ({_loop(cores)}the machine {machine} of {of})"


def _loop(cores: dict[str, Any]) -> str:
    """The event loop thread's share, where measured (it folds every batch: one core at most)."""
    loop = cores.get("worker_loop")
    return "" if loop is None else f"its event loop's thread {loop:g}; "


def _kafka_hop(out: dict[str, Any]) -> str:
    """Kafka's own produce -> consume p50 at the trickle, where the run measured it."""
    for level in (out.get("latency") or {}).get("levels", []):
        if level.get("trickle"):
            return f"; Kafka's own hop p50 {level['kafka_ms']['p50']} ms at a trickle"
    return ""
