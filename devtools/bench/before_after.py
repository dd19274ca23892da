"""The before/after table of the report: the same figures from a run of the code before a
change (`--worker-tree`) and from this run, side by side.

Each run's ratios (to the floor, to PostgreSQL) come from that run alone; the after/before
column compares two runs, so it carries the machine's noise between them (both runs' load
averages are in the table).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Getter = Callable[[dict[str, Any]], float | None]


def _get(*path: str | int) -> Getter:
    def get(out: dict[str, Any]) -> float | None:
        node: Any = out
        for step in path:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                return None
        return float(node) if isinstance(node, int | float) else None

    return get


def _level(load: float | None, key: str) -> Getter:
    """A latency figure (or "offered": its rate) of the trickle (None) or the level at `load`.

    The shares are of each run's own maximum: compare latencies at similar offered rates."""

    def get(out: dict[str, Any]) -> float | None:
        for lv in out.get("latency", {}).get("levels", []):
            trickle = lv.get("trickle", False)
            if (load is None and trickle) or (
                load is not None and not trickle and abs(lv["load"] - load) < 1e-9
            ):
                return float(lv["offered_rate"] if key == "offered" else lv["tally_sync_ms"][key])
        return None

    return get


def _throughput_ratio(guarantee: str) -> Getter:
    def get(out: dict[str, Any]) -> float | None:
        t = out.get("throughput")
        if not t:
            return None
        floor_rate = t["floor"]["steady_records_per_s"] or t["floor"]["records_per_s"]
        rate = t[guarantee]["steady_records_per_s"] or t[guarantee]["records_per_s"]
        return rate / floor_rate if floor_rate else None

    return get


FIGURES: list[tuple[str, Getter]] = [
    ("raw floor, records/s", _get("throughput", "floor", "steady_records_per_s")),
    ("exactly_once, records/s", _get("throughput", "exactly_once", "steady_records_per_s")),
    ("exactly_once / floor (same run)", _throughput_ratio("exactly_once")),
    ("exactly_once, worker CPU us/record", _get("throughput", "exactly_once", "cpu_us_per_record")),
    ("at_least_once, records/s", _get("throughput", "at_least_once", "steady_records_per_s")),
    ("at_least_once / floor (same run)", _throughput_ratio("at_least_once")),
    ("at_least_once, worker CPU us/record",
     _get("throughput", "at_least_once", "cpu_us_per_record")),
    ("offered at 25 %, records/s", _level(0.25, "offered")),
    ("offered at 50 %, records/s", _level(0.5, "offered")),
    ("offered at 80 %, records/s", _level(0.8, "offered")),
    ("sync p50 at a trickle, ms", _level(None, "p50")),
    ("sync p99 at a trickle, ms", _level(None, "p99")),
    ("sync p50 at 25 %, ms", _level(0.25, "p50")),
    ("sync p99 at 25 %, ms", _level(0.25, "p99")),
    ("sync p50 at 50 %, ms", _level(0.5, "p50")),
    ("sync p99 at 50 %, ms", _level(0.5, "p99")),
    ("sync p50 at 80 %, ms", _level(0.8, "p50")),
    ("sync p99 at 80 %, ms", _level(0.8, "p99")),
    ("cold restore, records/s", _get("recovery", "records_per_s")),
    ("restart after kill -9 to folding again, s",
     _get("recovery", "crash_restart", "to_folding_s")),
    ("... a static group member, s",
     _get("recovery", "crash_restart", "static_member", "to_folding_s")),
    ("restart after a clean stop: changelog offsets read again",
     _get("recovery", "crash_restart", "clean_stop", "offsets_read_again")),
    ("... to folding again, s", _get("recovery", "crash_restart", "clean_stop", "to_folding_s")),
    ("hot-SKU holds/s", _get("holds", "tally", "holds_per_s")),
    ("hot-SKU decision p99, ms", _get("holds", "tally", "decision_latency_ms", "p99")),
    ("PostgreSQL conditional UPDATE, holds/s",
     _get("holds", "postgres_conditional", "holds_per_s")),
    ("PostgreSQL FOR UPDATE, holds/s", _get("holds", "postgres_for_update", "holds_per_s")),
    ("oversells (Tally)", _get("holds", "tally", "oversells")),
]  # fmt: skip


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"


def section(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Before / after",
        "",
        f"Before: worker at commit `{before.get('worker_commit') or before['commit']}` "
        f"(`{before['config'].get('worker_tree') or '.'}`), {before['date']}, load average "
        f"{before['load_average']['before']} -> {before['load_average']['after']}. After: "
        f"commit `{after['commit']}`, {after['date']}, load average "
        f"{after['load_average']['before']} -> {after['load_average']['after']}. Same harness, "
        "same workload; the before worker run from a checkout of the code before "
        "(`--worker-tree`).",
        "",
        "| figure | before | after | after / before |",
        "|---|---|---|---|",
    ]
    for label, get in FIGURES:
        old, new = get(before), get(after)
        change = f"{new / old:.2f} x" if old and new is not None else "-"
        lines.append(f"| {label} | {_cell(old)} | {_cell(new)} | {change} |")
    return lines
