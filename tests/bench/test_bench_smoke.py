"""The bench harness's smoke mode on the shared stack: every figure present, sane, no oversell.

Never asserts timing (the machine is shared); it keeps the harness from rotting.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from base.settings import REPO_ROOT, Settings, settings_env

pytestmark = [pytest.mark.bench, pytest.mark.integration]
SMOKE_TIMEOUT_S = 180


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and value > 0


def test_smoke_run_reports_every_figure(live_stack: Settings, tmp_path: Path) -> None:
    env = {**os.environ, **settings_env(live_stack)}
    completed = subprocess.run(
        [sys.executable, "-m", "devtools.bench", "--mode", "smoke", "--out-dir", str(tmp_path),
         "--doc", str(tmp_path / "BENCHMARKS.md")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    out = orjson.loads((tmp_path / "bench-smoke.json").read_bytes())

    for key in ("command", "date", "commit", "machine", "load_average", "config", "targets"):
        assert out[key], key
    assert out["machine"]["cores"] >= 1 and out["machine"]["memory_gib"] > 0

    throughput = out["throughput"]
    for path in ("exactly_once", "at_least_once", "floor"):
        assert _positive(throughput[path]["records_per_s"]), path
        assert throughput[path]["records"] == throughput["records"]
    assert _positive(throughput["exactly_once"]["ratio_to_floor"])
    for guarantee in ("exactly_once", "at_least_once"):
        cores = throughput[guarantee]["cpu_cores"]  # the worker's share of what the machine did
        assert set(cores) == {"worker", "worker_loop", "bench", "machine"}, cores
        # all read in 10 ms ticks: over a short smoke drain two may differ by that much
        tick_cores = 0.02 / max(throughput[guarantee]["drain_s"], 0.01)
        assert 0 <= cores["worker_loop"] <= cores["worker"] + tick_cores, (guarantee, cores)
        assert cores["worker"] <= cores["machine"] + tick_cores, (guarantee, cores)

    levels = out["latency"]["levels"]
    shares = [level["load"] for level in levels if not level["trickle"]]
    assert shares == [0.25, 0.5, 0.8]
    trickles = [level for level in levels if level["trickle"]]
    assert [level["offered_rate"] for level in trickles] == [out["config"]["trickle_rate"]]
    for level in levels:
        assert _positive(level["offered_rate"])
        # where the batches' time went: every phase and the loop's two waits timed, none
        # negative
        phases = level["phase_mean_ms"]
        batch_phases = {"queued", "fold", "durable", "in_order", "publish"}
        assert set(phases) == batch_phases | {"idle", "room"}, phases
        assert all(ms >= 0 for ms in phases.values()), phases
        assert level["commits"]["count"] > 0  # the default guarantee commits transactions
        lag = level["consumer_lag"]  # sampled once a second: a 1 s smoke level may have none
        assert lag["samples"] >= 0 and 0 <= lag["mean"] <= lag["max"], lag
        cores = level["cpu_cores"]
        assert set(cores) == {"worker", "worker_loop", "bench", "machine"}, cores
        assert min(cores.values()) >= 0, cores
        for side in ("tally_sync_ms", "kafka_ms"):
            figures = level[side]
            assert figures["count"] > 0, (level["load"], side)
            assert 0 <= figures["p50"] <= figures["p95"] <= figures["p99"] <= figures["max"]
    assert _positive(out["latency"]["p99_ratio_at_50"])
    assert out["latency"]["max_rate_pinned"] is False  # the shares are of this run's drain

    recovery = out["recovery"]
    assert recovery["records"] == out["config"]["recovery_records"]
    assert _positive(recovery["records_per_s"])
    assert _positive(recovery["warm_restart_to_ready_s"])
    for crash in (recovery["crash_restart"], recovery["crash_restart"]["static_member"]):
        assert 0 < crash["killed_after_records"] < crash["records"]
        assert 0 < crash["to_ready_s"] <= crash["to_folding_s"]
        # the bulk read passed the killed worker's transaction markers: Faust never waited
        assert crash["faust_waited_for_markers"] is False
    clean = recovery["crash_restart"]["clean_stop"]
    assert 0 < clean["to_ready_s"] <= clean["to_folding_s"], clean
    # the kept store knew its committed changelog offsets: at most each partition's last
    # transaction marker is read again, not the changelog (robinhood/faust#599)
    partitions = out["config"]["partitions"]
    assert clean["changelog_records"] > partitions, clean
    assert clean["offsets_read_again"] <= partitions, clean

    holds = out["holds"]
    for system in ("tally", "postgres_for_update", "postgres_conditional"):
        result = holds[system]
        assert _positive(result["holds_per_s"]), system
        assert result["decision_latency_ms"]["p99"] > 0, system
        assert result["oversells"] == 0, (system, result)
        assert result["holds_accepted"] == result["stock_units"], (system, result)
    tally = holds["tally"]
    assert tally["worker_oversells_counted"] == 0
    # every decision split in two: a reserve each hold (then a commit when accepted)
    decisions = 2 * tally["holds_accepted"] + tally["holds_rejected"]
    split = tally["decision_split"]
    inbound, outbound = split["command_sent_to_decision_sent_ms"], split["decision_sent_to_read_ms"]
    assert inbound["count"] == outbound["count"] == decisions, split
    # the decision's stamp is whole ms (truncated), the two ends are not: at most 1 ms early
    assert inbound["p50"] >= -1 and outbound["p50"] >= 0, split
    assert tally["worker_batches"]["batches"] > 0

    assert (tmp_path / "latency-smoke.png").stat().st_size > 0
    doc = (tmp_path / "BENCHMARKS.md").read_text()
    assert "Hot-SKU holds" in doc
    assert "Tally's decisions split" in doc
    assert "Where a batch's time went" in doc
