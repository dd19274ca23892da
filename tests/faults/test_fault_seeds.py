"""Seeded fault runs (devtools/faults): a workload (part of it through the HTTP gateway) with
faults at seeded steps, then the table, the decisions, the answers clients got, Redis and the
pushed figures compared with both judges: the ledger's fold of the log and the independent
judge written from the docs. A seed converges or the test fails: nothing is excused.

Default tier: four small seeds that together inject every fault kind. `slow`: 50 seeds of
the full size on one broker and 5 on a three-broker cluster (each kills a broker with -9);
`python -m devtools.faults --seeds 50 [--brokers 3]` runs the same with a JSON report.
Seeds that once diverged stay here as regressions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from base.settings import Settings
from devtools.faults.__main__ import parse_kinds
from devtools.faults.plan import FAULT_KINDS, SIZES, build_plan
from devtools.faults.run import SeedReport, run_seed

pytestmark = [pytest.mark.integration, pytest.mark.faults]

# Small seeds whose plans inject, between them, every fault kind (checked below).
DEFAULT_SEEDS = (1, 13, 22, 174)
SLOW_SEEDS = range(50)
CLUSTER_SEEDS = range(5)
# Seeds that once diverged: seed 1 (small) lost 10 events of one SKU from the committed table
# after a kill -9 then a SIGSTOP rebalance; seed 101 (full) crash-looped on ConsistencyError.
# Seed 1 is a default seed already; 101 (full, a few minutes) runs in the slow tier.
# Seed 42 (full) left Redis ahead of a lost changelog write (docs/RELIABILITY.md); it is one of
# SLOW_SEEDS.
REGRESSION_SEEDS = ((101, "full"),)


def explain(report: SeedReport) -> str:
    lines = [report.line(), f"schedule: {report.fault_schedule}"]
    if report.error:
        lines.append(f"error: {report.error}")
    lines += report.divergences[:30]
    lines += [
        f"exit {e['what']} code {e['code']}: {e['tail'][-800:]}"
        for e in report.unexpected_exits[-3:]
    ]
    return "\n".join(lines)


def check(report: SeedReport, workdir: Path) -> None:
    """Pass or fail: a seed converges with both judges or the test fails (no failure is
    labelled known and excused). The seed's logs stay in `workdir` when it fails."""
    if not report.ok:
        raise AssertionError(f"{explain(report)}\nlogs: {workdir}")


def test_the_default_seeds_cover_every_fault_kind() -> None:
    kinds = {f.kind for seed in DEFAULT_SEEDS for f in build_plan(seed, SIZES["small"], 4).faults}
    assert kinds == set(FAULT_KINDS)


def test_every_seed_sends_part_of_its_workload_through_the_gateway() -> None:
    for seed in (*DEFAULT_SEEDS, *SLOW_SEEDS):
        steps = build_plan(seed, SIZES["full" if seed in SLOW_SEEDS else "small"], 4).steps
        assert any(s.facts_over_http and s.facts for s in steps), seed
        assert any(s.commands_over_http and s.commands for s in steps), seed
        assert not all(s.facts_over_http for s in steps), seed


def test_a_cluster_seed_kills_a_broker_with_9() -> None:
    for seed in CLUSTER_SEEDS:
        plan = build_plan(seed, SIZES["full"], 4, brokers=3)
        assert any(f.kind == "kafka_kill" for f in plan.faults), seed


def test_a_hunt_draws_only_the_named_fault_kinds() -> None:
    for seed in range(20):
        plan = build_plan(seed, SIZES["full"], 4, kinds=("net_drop",))
        assert plan.faults, seed
        assert {f.kind for f in plan.faults} == {"net_drop"}, seed


def test_a_hunt_for_no_kind_or_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty subset"):
        build_plan(0, SIZES["small"], 4, kinds=())
    with pytest.raises(ValueError, match="non-empty subset"):
        build_plan(0, SIZES["small"], 4, kinds=("net_flood",))  # type: ignore[arg-type]
    with pytest.raises(typer.BadParameter, match="net_flood"):
        parse_kinds("net_drop,net_flood")
    assert parse_kinds(" kill9 , net_drop ") == ("kill9", "net_drop")


def test_a_seed_replays_the_same_schedule() -> None:
    def shape(seed: int) -> object:
        plan = build_plan(seed, SIZES["full"], 4)
        strip = ("occurred_at", "updated_at")
        steps = [
            ([{k: v for k, v in f.items() if k not in strip} for f in step.facts], step.commands)
            for step in plan.steps
        ]
        return plan.faults, steps, plan.canaries, plan.hold_skus

    assert shape(7) == shape(7)
    assert shape(7) != shape(8)


@pytest.mark.parametrize("seed", DEFAULT_SEEDS)
def test_a_small_seed_converges_to_the_reference(
    fault_stack: Settings, tmp_path: Path, seed: int
) -> None:
    workdir = tmp_path / f"seed-{seed}"
    check(run_seed(seed, SIZES["small"], fault_stack, workdir), workdir)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_a_full_seed_converges_to_the_reference(
    fault_stack: Settings, tmp_path: Path, seed: int
) -> None:
    workdir = tmp_path / f"seed-{seed}"
    check(run_seed(seed, SIZES["full"], fault_stack, workdir), workdir)


@pytest.mark.slow
@pytest.mark.parametrize("seed", CLUSTER_SEEDS)
def test_a_full_seed_on_a_three_broker_cluster_converges(
    fault_cluster: Settings, tmp_path: Path, seed: int
) -> None:
    workdir = tmp_path / f"seed-{seed}"
    check(run_seed(seed, SIZES["full"], fault_cluster, workdir), workdir)


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "size"), REGRESSION_SEEDS)
def test_a_seed_that_once_diverged_converges(
    fault_stack: Settings, tmp_path: Path, seed: int, size: str
) -> None:
    workdir = tmp_path / f"seed-{seed}"
    check(run_seed(seed, SIZES[size], fault_stack, workdir), workdir)
