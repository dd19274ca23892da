"""docs/KPIS.md and the README's lead say what the committed simulation run measured, and the
KPI page documents every KPI rule, alert and metric the code has."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from base.settings import REPO_ROOT
from devtools.sim.report import RESULTS_DIR, markdown_table
from ops.prometheus.names import RULES_DIR, load_rules

README = REPO_ROOT / "README.md"
KPIS = REPO_ROOT / "docs" / "KPIS.md"
RESULT = RESULTS_DIR / "sim.json"


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(RESULT.read_text())
    return body


def lead(path: Path) -> str:
    """The first paragraph after the title."""
    text = path.read_text()
    return text.split("\n\n")[1] if path == README else text.split("## The result")[1]


def headline(result: dict[str, Any]) -> list[str]:
    """The figures the one-sentence result quotes, as it writes them."""
    by_policy = {point["policy"]: point for point in result["points"]}
    tally = by_policy["tally"]
    figures = [
        f"{by_policy['batch 15 min']['mean']['oversold_units']:.0f} units",
        f"{by_policy['batch 15 min']['mean']['stranded_sku_min']:.0f} SKU-minutes",
        f"{by_policy['batch 30 min']['mean']['oversold_units']:.0f} units",
        f"{by_policy['batch 30 min']['mean']['stranded_sku_min']:.0f}\nSKU-minutes",
        f"median {tally['interval_s'] * 1000:.0f} ms",
        f"{round(tally['mean']['stranded_sku_min'], 1):g}\nSKU-minutes",
    ]
    assert tally["mean"]["oversold_units"] == 0  # "oversold none"
    return figures


@pytest.mark.parametrize("doc", [README, KPIS], ids=lambda path: path.name)
def test_the_lead_sentence_quotes_the_committed_run(doc: Path, result: dict[str, Any]) -> None:
    text = " ".join(lead(doc).split())
    for figure in headline(result):
        assert " ".join(figure.split()) in text, figure
    assert "oversold none" in text


def test_the_readme_leads_with_the_plot_of_that_run() -> None:
    image = re.search(r"!\[[^\]]*\]\(([^)]+)\)", README.read_text().split("## ")[0])
    assert image is not None
    assert (REPO_ROOT / image[1]).resolve() == RESULTS_DIR / "sim.png"
    assert (RESULTS_DIR / "sim.png").read_bytes()[:4] == b"\x89PNG"


def test_the_kpi_page_table_is_the_committed_run(result: dict[str, Any]) -> None:
    assert markdown_table(result) in KPIS.read_text()
    assert f"`{result['command']}`" in KPIS.read_text()
    assert result["stack"]["worker_counters_match_the_model"] is True


def test_the_kpi_page_names_every_kpi_rule_and_alert() -> None:
    text = KPIS.read_text()
    names = [rule.get("record") or rule["alert"] for rule in load_rules([RULES_DIR / "kpis.yml"])]
    assert [name for name in names if f"`{name}`" not in text] == []
