"""The simulator's Tally side on the real stack, small: a worker of its own folds the model's
facts; its KPI counters equal what the model's facts must give, and every figure it
published gives a sync latency."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.settings import Settings
from devtools.sim import stack
from devtools.sim.model import Streaming, replay
from devtools.sim.trace import SimConfig, generate

pytestmark = pytest.mark.integration


def test_the_worker_counts_what_the_model_s_facts_must_give(
    live_stack: Settings, tmp_path: Path
) -> None:
    model = replay(generate(SimConfig(seed=11, hours=1.0, skus=40)), Streaming((0.0,)))
    run = stack.run(live_stack, model.facts, rate_per_s=600.0, work_dir=tmp_path)
    assert run.facts == len(model.facts) > 500
    assert run.differences == []
    assert run.expected["sold"]  # the check compared something
    assert len(run.latencies_ms) > 100
    assert min(run.latencies_ms) >= 0
