"""The callgrind instruction counter of the fold bench: its stages, its parsing, one real run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from devtools.bench import fold_instructions


@pytest.mark.parametrize("stage", fold_instructions.STAGES)
def test_every_stage_runs_in_process(stage: str) -> None:
    fold_instructions.run_stage(stage, events=60, skus=4, locations=2, seed=1)


def test_the_total_is_read_from_a_callgrind_file() -> None:
    sample = b"# callgrind format\nversion: 1\ncmd: python\nevents: Ir\nsummary: 1234567\n"
    found = fold_instructions._TOTALS.search(sample)
    assert found is not None and int(found.group(1)) == 1234567
    assert fold_instructions._TOTALS.search(b"events: Ir\n") is None


def test_sizes_below_one_are_refused() -> None:
    with pytest.raises(SystemExit):
        fold_instructions.main(["--events", "0"])


@pytest.mark.slow
@pytest.mark.bench
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="ops/bootstrap.sh installs valgrind")
def test_a_small_run_counts_every_loop_and_writes_the_figures(tmp_path: Path) -> None:
    out = tmp_path / "fold_instructions.json"
    result = fold_instructions.main(["--events", "200", "--skus", "10", "--out", str(out)])
    assert result is not None
    assert json.loads(out.read_text()) == result
    per_event = result["instructions_per_event"]
    assert set(per_event) == {"decode", "fold", "baseline"}
    # Each loop adds work to the same setup; decoding a ~240-byte event takes thousands.
    assert all(count > 1_000 for count in per_event.values())
    assert result["instruction_ratio"] > 0
