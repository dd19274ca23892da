"""`python -m devtools.sim` end to end at a small size without the stack (the committed run,
24 h x 5 seeds on the real stack, is in docs/KPIS.md): the JSON, the plot, the table."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from devtools.sim.__main__ import app


def test_a_small_run_writes_the_report_and_the_plot(tmp_path: Path) -> None:
    args = ["--no-stack", "--hours", "2", "--skus", "40", "--seeds", "2", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    body = json.loads((tmp_path / "sim.json").read_text())
    assert [p["policy"] for p in body["points"]] == [
        "tally", "batch 1 min", "batch 5 min", "batch 15 min", "batch 30 min",
    ]  # fmt: skip
    assert body["tally_latency"] == "assumed 100 ms"
    assert all(set(p["by_seed"]) == {"7", "8"} for p in body["points"])
    assert (tmp_path / "sim.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| every 30 min |" in result.output
