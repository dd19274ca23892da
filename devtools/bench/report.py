"""The bench's outputs from its JSON: targets met or missed, the latency plot, the Markdown.

    .venv/bin/python -m devtools.bench.report [bench.json] [--doc docs/BENCHMARKS.md]

re-renders the plot and the report from a stored result without re-running anything.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from base.settings import REPO_ROOT
from devtools.bench import before_after, target_reasons

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# Hand-written analysis (profiles, before/after, what is left), appended to the report.
FINDINGS = Path(__file__).resolve().parent / "FINDINGS.md"


def _rate(stage: dict[str, Any]) -> float:
    return float(stage.get("steady_records_per_s") or stage.get("records_per_s") or 0.0)


def _level(out: dict[str, Any], load: float | None) -> dict[str, Any] | None:
    """The latency level at `load` (a share of the maximum), or the trickle for None."""
    levels: list[dict[str, Any]] = out.get("latency", {}).get("levels", [])
    for lv in levels:
        if load is None and lv.get("trickle"):
            return lv
        if load is not None and not lv.get("trickle") and abs(lv["load"] - load) < 1e-9:
            return lv
    return None


def _target(name: str, value: str, met: bool, why: str | None = None) -> dict[str, Any]:
    """A target, met or not, with the run's figures that bound it (None: not measured)."""
    return {"name": name, "value": value, "met": met, "why": why}


def targets(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 17's targets, each met or missed by this run's figures."""
    found: list[dict[str, Any]] = []
    if "throughput" in out:
        t = out["throughput"]
        floor_rate = _rate(t["floor"])
        for guarantee, share in (("exactly_once", 0.5), ("at_least_once", 0.6)):
            ratio = _rate(t[guarantee]) / floor_rate if floor_rate else 0.0
            found.append(
                _target(f"full pipeline ({guarantee}) >= {share} x raw floor", f"{ratio:.2f} x",
                        ratio >= share, target_reasons.throughput(out, guarantee, share))
            )  # fmt: skip
    found += _latency_targets(out)
    if "recovery" in out:
        rate = out["recovery"].get("records_per_s") or 0.0
        found.append(
            _target("cold restore >= 100,000 records/s", f"{rate:,.0f} records/s", rate >= 100_000)
        )
    if "holds" in out:
        found += _holds_targets(out)
    return found


def _latency_targets(out: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    trickle = _level(out, None)
    if trickle is not None:
        p50 = trickle["tally_sync_ms"]["p50"]
        found.append(
            _target(f"sync p50 at a trickle ({trickle['offered_rate']:,.0f}/s) <= 10 ms",
                    f"{p50} ms", 0 < p50 <= 10, target_reasons.latency(out, trickle))
        )  # fmt: skip
    for load, bound in ((0.25, 25), (0.5, 50), (0.8, 100)):
        level = _level(out, load)
        if level is not None:
            p99 = level["tally_sync_ms"]["p99"]
            found.append(
                _target(f"sync p99 at {load:.0%} of max <= {bound} ms", f"{p99} ms",
                        0 < p99 <= bound, target_reasons.latency(out, level))
            )  # fmt: skip
    return found


def _holds_targets(out: dict[str, Any]) -> list[dict[str, Any]]:
    h = out["holds"]
    tally, conditional = h["tally"], h["postgres_conditional"]
    ratio = tally["holds_per_s"] / conditional["holds_per_s"] if conditional["holds_per_s"] else 0
    p99 = tally["decision_latency_ms"]["p99"]
    oversells = sum(
        h[k]["oversells"] for k in ("tally", "postgres_for_update", "postgres_conditional")
    )
    return [
        _target("hot-SKU holds/s >= 1 x PostgreSQL's conditional UPDATE", f"{ratio:.2f} x",
                ratio >= 1.0, target_reasons.holds_rate(out)),
        _target("hot-SKU hold decision p99 <= 20 ms", f"{p99} ms", 0 < p99 <= 20,
                target_reasons.decision_p99(out)),
        _target("oversells == 0 (all three)", str(oversells), oversells == 0),
    ]  # fmt: skip


def plot(out: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = out["latency"]["levels"]
    rates = [lv["offered_rate"] for lv in levels]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    styles = {"p50": ":", "p95": "--", "p99": "-", "max": "-."}
    for key, style in styles.items():
        ax.plot(rates, [lv["tally_sync_ms"][key] for lv in levels], style, marker="o",
                color="tab:blue", label=f"Tally sync {key}")  # fmt: skip
        ax.plot(rates, [lv["kafka_ms"][key] for lv in levels], style, marker="s",
                color="tab:orange", label=f"Kafka produce->consume {key}")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("offered rate (records/s)")
    ax.set_ylabel("latency (ms, log scale)")
    basis = out["latency"]["max_rate_basis"]
    ax.set_title(f"Sync latency vs offered rate (max measured {basis:,.0f}/s) - {out['date']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _ms(p: dict[str, Any]) -> str:
    return f"{p['p50']} / {p['p95']} / {p['p99']} / {p['max']}"


def markdown(
    out: dict[str, Any], json_path: Path, png_path: Path, before: dict[str, Any] | None = None
) -> str:
    lines = _header(out, json_path, png_path) + _targets(out)
    if before is not None:
        lines += before_after.section(before, out)
    if "throughput" in out:
        lines += _throughput(out["throughput"])
    if "latency" in out:
        lines += _latency(out["latency"], png_path)
    if "recovery" in out:
        lines += _recovery(out["recovery"])
    if "holds" in out:
        lines += _holds(out["holds"])
    if "scale" in out:
        lines += _scale(out["scale"])
    if out.get("mode") == "full" and FINDINGS.exists():
        lines += ["", FINDINGS.read_text().rstrip()]
    return "\n".join(lines) + "\n"


def _header(out: dict[str, Any], json_path: Path, png_path: Path) -> list[str]:
    m = out["machine"]
    return [
        "# Tally benchmarks",
        "",
        "Generated by `devtools/bench` "
        "(`python -m devtools.bench.report` re-renders it from the JSON).",
        f"Raw numbers: [`{_rel(json_path)}`](../{_rel(json_path)}); "
        f"plot: [`{_rel(png_path)}`](../{_rel(png_path)}).",
        "",
        f"- **Command:** `{out['command']}`",
        f"- **Date:** {out['date']} - **commit:** `{out['commit']}` - **run time:** "
        f"{out['elapsed_s']} s",
        f"- **Machine:** {m['cores']} cores ({m['cpu_model']}), {m['memory_gib']} GiB memory, "
        f"Linux {m['kernel']}, Python {m['python']}; Kafka 4.1 (KRaft, one broker) and Redis "
        "on the same host",
        f"- **Noise:** load average (1/5/15 min) {out['load_average']['before']} before, "
        f"{out['load_average']['after']} after. The machine is shared with other engineers' "
        "test runs; compare the ratios (both sides measured in the same run), not absolute "
        "figures across runs.",
    ]


def _section(title: str, intro: str, columns: str) -> list[str]:
    """A section's opening: its title, a paragraph, and the head of its table."""
    return ["", f"## {title}", "", intro, *_table(columns)]


def _table(columns: str) -> list[str]:
    """The head of a Markdown table: the column names, then the rule under them."""
    return ["", columns, "|" + "---|" * (columns.count("|") - 1)]


def _targets(out: dict[str, Any]) -> list[str]:
    """Each target met or missed, a missed one with the figures that bound it (recomputed
    from the run's figures, so an older run's JSON gets them where it has the figures)."""
    lines = [
        "",
        "## Targets",
        "",
        "A missed target's \"why\" is this run's own figures for what bounds it; the findings "
        "below have the experiments behind them.",
        *_table("| target | measured | | why (this run's figures) |"),
    ]
    for t in targets(out):
        met = "met" if t["met"] else "**missed**"
        why = "" if t["met"] else (t.get("why") or "not measured in this run")
        lines.append(f"| {t['name']} | {t['value']} | {met} | {why} |")
    return lines


def _throughput(t: dict[str, Any]) -> list[str]:
    lines = _section(
        "1-2. Throughput: full pipeline vs the raw floor",
        f"{t['records']:,} records ({t['facts']:,} facts, {t['commands']:,} hold commands) "
        "preloaded with `ingested_at` stamped at produce time, then drained; rate from the "
        "consumer's own progress counter, steady = between 10% and 90% of the drain.",
        "| path | records/s (steady) | records/s (whole drain) | drain s | / floor | "
        "worker CPU us/record | cores worker / machine |",
    )
    floor_rate = _rate(t["floor"])
    for name, key in (
        ("Tally worker, exactly_once", "exactly_once"),
        ("Tally worker, at_least_once", "at_least_once"),
        ("floor: raw aiokafka -> Redis pipeline", "floor"),
    ):
        s = t[key]
        ratio = _rate(s) / floor_rate if floor_rate else 0.0
        cores = s.get("cpu_cores") or {}
        cores_text = f"{_worker_cores(cores)} / {cores['machine']}" if cores else "-"
        lines.append(
            f"| {name} | {s['steady_records_per_s']:,.0f} | {s['records_per_s']:,.0f} | "
            f"{s['drain_s']} | {ratio:.2f} | {s.get('cpu_us_per_record') or '-'} | {cores_text} |"
        )
    lines += [
        "",
        "Worker CPU us/record: the worker process's CPU time (all its threads) over the "
        "records it drained; the figure the machine's other load disturbs least. Cores: what "
        "the worker process (its event loop's thread, which folds every batch, in brackets) "
        "and the whole machine kept busy over the same span (`-` in runs before it was "
        "measured).",
    ]
    return lines


def _latency(lat: dict[str, Any], png_path: Path) -> list[str]:
    if lat.get("max_rate_pinned"):
        basis = "pinned with `--rate-basis`"
    else:
        basis = f"{lat.get('processing_guarantee', 'exactly_once')}, steady"
    lines = _section(
        "3. Sync latency at shares of the measured maximum",
        f"Basis: {lat['max_rate_basis']:,.0f} records/s ({basis}). Method: "
        f"{lat['method']}. Percentiles p50 / p95 / p99 / max, in ms.",
        "| load | offered/s | achieved/s | Tally sync | Kafka produce->consume | "
        "p99 ratio | worker histogram p99 (bucket) |",
    )
    for lv in lat["levels"]:
        ratio = lv["tally_sync_ms"]["p99"] / lv["kafka_ms"]["p99"] if lv["kafka_ms"]["p99"] else 0
        load = "trickle" if lv.get("trickle") else f"{lv['load']:.0%}"
        lines.append(
            f"| {load} | {lv['offered_rate']:,.0f} | {lv['achieved_rate']:,.0f} | "
            f"{_ms(lv['tally_sync_ms'])} | {_ms(lv['kafka_ms'])} | {ratio:.2f} | "
            f"<= {lv['worker_histogram_p99_ms_le']} |"
        )
    lines += _phases(lat["levels"])
    return [*lines, "", f"![latency percentiles vs offered rate](../{_rel(png_path)})"]


PHASES = ("queued", "fold", "durable", "in_order", "publish", "room")


def _phases(levels: list[dict[str, Any]]) -> list[str]:
    """Where a batch's time went at each level (the worker's tally_batch_phase_seconds)."""
    measured = [lv for lv in levels if lv.get("phase_mean_ms")]
    if not measured:
        return []
    lines = [
        "",
        "Where a batch's time went, mean ms per batch by phase (`tally_batch_phase_seconds`, "
        "docs/OPERATING.md), the exactly_once commits (`tally_transaction_commit_seconds`), and "
        "the worker's consumer lag sampled once a second during the level (records between its "
        "last processed offset and the log end, `tally_consumer_lag_messages`; `-` in runs "
        "before it was sampled), and the cores the worker (its event loop's thread in "
        "brackets, where measured), the bench process (its producer) and the whole machine "
        "kept busy during the level:",
        *_table(
            "| load | batches | records/batch | "
            + " | ".join(PHASES)
            + " | commits | commit ms | lag mean / max | cores worker / bench / machine |"
        ),
    ]
    for lv in measured:
        load = "trickle" if lv.get("trickle") else f"{lv['load']:.0%}"
        phases = " | ".join(str(lv["phase_mean_ms"].get(p, "-")) for p in PHASES)
        commits = lv.get("commits") or {}
        lag = lv.get("consumer_lag") or {}
        lag_text = f"{lag['mean']:,.0f} / {lag['max']:,.0f}" if lag.get("samples") else "-"
        cores = lv.get("cpu_cores") or {}
        cores_text = (
            f"{_worker_cores(cores)} / {cores['bench']} / {cores['machine']}" if cores else "-"
        )
        lines.append(
            f"| {load} | {lv['batches']:,.0f} | {lv['mean_batch_records']} | {phases} | "
            f"{commits.get('count', 0):,.0f} | {commits.get('mean_ms', '-')} | {lag_text} | "
            f"{cores_text} |"
        )
    return lines


def _worker_cores(cores: dict[str, float]) -> str:
    """The worker's cores, its event loop thread's in brackets where the run measured it."""
    loop = cores.get("worker_loop")
    return f"{cores['worker']}" + ("" if loop is None else f" ({loop})")


def _recovery(r: dict[str, Any]) -> list[str]:
    return [
        *_section("4. Recovery", f"Method: {r['method']}.", "| figure | value |"),
        f"| records (SKU states) | {r['records']:,} (~{r['bytes_per_record']} bytes each) |",
        f"| restore time | {r['restore_s']} s |",
        f"| restore rate | {r['records_per_s'] or 0:,.0f} records/s |",
        f"| cold start to 'Worker ready' | {r['cold_start_to_ready_s']} s |",
        f"| warm restart (data dir kept) to 'Worker ready' | {r['warm_restart_to_ready_s']} s |",
        f"| RocksDB store size | {r['store_bytes'] / 1e6:,.1f} MB |",
        *_crash_restart(r.get("crash_restart")),
    ]


def _crash_restart(c: dict[str, Any] | None) -> list[str]:
    if c is None:  # runs before the fifteenth session
        return []
    runs = [("dynamic (the default)", c)]
    if "static_member" in c:
        runs.append(("static (`TALLY_WORKER__GROUP_INSTANCE_ID`)", c["static_member"]))
    lines = [
        "",
        f"Restart after a crash: {c['method']}; the group member the worker is in each run.",
        "",
        "| group member | killed after | to 'Worker ready' | to folding again "
        "| Faust waited 10 s for transaction markers |",
        "|---|---|---|---|---|",
    ]
    for member, run in runs:
        waited = "yes" if run["faust_waited_for_markers"] else "no"
        lines.append(
            f"| {member} | {run['killed_after_records']:,} of {run['records']:,} records "
            f"| {run['to_ready_s']} s | {run['to_folding_s']} s | {waited} |"
        )
    return lines + _clean_restart(c.get("clean_stop"))


def _clean_restart(run: dict[str, Any] | None) -> list[str]:
    """The restart after a clean stop (runs before the seventeenth session have none)."""
    if run is None:
        return []
    return [
        "",
        f"Restart after a clean stop, the store kept: {run['method']}. It read "
        f"{run['offsets_read_again']:,} of the changelog's {run['changelog_records']:,} "
        f"offsets again; 'Worker ready' after {run['to_ready_s']} s, folding again after "
        f"{run['to_folding_s']} s.",
    ]


def _holds(h: dict[str, Any]) -> list[str]:
    lines = _section(
        "5. Hot-SKU holds vs PostgreSQL",
        f"{h['tally']['clients']} concurrent clients, one SKU, stock "
        f"{h['tally']['stock_units']:,}: each client reserves 1 unit, commits the hold when "
        "accepted, and stops at its first rejection (stock exhausted). Latency = the "
        "reserve's decision (request sent -> decision read). PostgreSQL "
        f"{h.get('postgres_version', '')} started by the harness (`{h['postgres_settings']}`)"
        "; psycopg 3 async, one connection per client.",
        "| system | holds/s | decision p50 / p95 / p99 / max ms | accepted | oversells |",
    )
    for name, key in (
        ("Tally (Kafka request/reply)", "tally"),
        ("PostgreSQL SELECT ... FOR UPDATE + UPDATE", "postgres_for_update"),
        ("PostgreSQL conditional UPDATE ... WHERE available >= qty", "postgres_conditional"),
    ):
        s = h[key]
        lines.append(
            f"| {name} | {s['holds_per_s']:,.0f} | {_ms(s['decision_latency_ms'])} | "
            f"{s['holds_accepted']:,} | {s['oversells']} |"
        )
    lines.append(f"\nTally / better PostgreSQL pattern: {h['ratio_to_best_postgres']} x.")
    return lines + _decision_split(h["tally"])


def _decision_split(tally: dict[str, Any]) -> list[str]:
    """Where Tally's decisions spent their time (runs before it was measured have none)."""
    split, batches = tally.get("decision_split"), tally.get("worker_batches")
    if not split or not batches:
        return []
    phases = ", ".join(f"{name} {ms}" for name, ms in batches["phase_mean_ms"].items())
    return [
        "",
        "Tally's decisions split at the decision record's Kafka timestamp (ms resolution; one "
        "host, one clock), p50 / p95 / p99 / max ms: command sent -> decision sent "
        f"{_ms(split['command_sent_to_decision_sent_ms'])}; decision sent -> read "
        f"{_ms(split['decision_sent_to_read_ms'])}. The worker meanwhile: "
        f"{batches['batches']:,.0f} batches of {batches['mean_batch_records']} records on "
        f"average, mean ms per batch by phase: {phases}; {batches['commits']['count']:,.0f} "
        f"commits of {batches['commits']['mean_ms']} ms on average.",
    ]


def _scale(sc: dict[str, Any]) -> list[str]:
    lines = _section(
        "6. Scale: one worker vs two on this machine",
        f"{sc['records']:,} records over {sc['partitions']} partitions "
        f"({sc['processing_guarantee']}), produced after the workers settled into their "
        "group; steady rate of their summed progress. Both workers share this host's 2 cores "
        "with Kafka and Redis.",
        "| workers | records/s | drain s | records by worker | CPU us/record |",
    )
    for count in (1, 2):
        w = sc[f"workers_{count}"]
        lines.append(
            f"| {count} | {w['records_per_s']:,.0f} | {w['drain_s']} | "
            f"{', '.join(f'{n:,.0f}' for n in w['records_by_worker'])} | {w['cpu_us_per_record']} |"
        )
    lines.append(f"\nTwo workers / one: {sc['ratio_2_to_1']} x.")
    return lines


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("json", type=Path, nargs="?", default=RESULTS_DIR / "bench.json")
    parser.add_argument("--doc", type=Path, default=REPO_ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--png", type=Path, default=RESULTS_DIR / "latency.png")
    parser.add_argument("--before", type=Path, help="a run of the code before, to compare")
    args = parser.parse_args(argv)
    out = orjson.loads(args.json.read_bytes())
    before = orjson.loads(args.before.read_bytes()) if args.before else None
    if "latency" in out:
        plot(out, args.png)
    args.doc.write_text(markdown(out, args.json, args.png, before))


if __name__ == "__main__":
    main()
