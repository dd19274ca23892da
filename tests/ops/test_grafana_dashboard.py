"""The Grafana dashboard and its provisioning: well-formed panels on the provisioned
datasource, and every series a query names is exported by the code or recorded by a rule."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.prometheus.names import (
    PROMETHEUS_SERIES,
    exported_series_names,
    recording_rule_names,
    series_names,
    unknown_names,
)

GRAFANA_DIR = Path(__file__).resolve().parents[2] / "ops" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "tally.json"
DATASOURCES = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = GRAFANA_DIR / "provisioning" / "dashboards" / "tally.yml"
GRID_WIDTH = 24
LABEL_VALUES = re.compile(r"^label_values\((?P<expr>.+),\s*\w+\)$")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def datasource() -> dict[str, Any]:
    (source,) = load_yaml(DATASOURCES)["datasources"]
    assert isinstance(source, dict)
    return source


def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from walk(panel.get("panels", []))


def query_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in walk(dashboard["panels"]) if panel["type"] != "row"]


def exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    found = [
        (f"panel {panel['title']!r} {target['refId']}", target["expr"])
        for panel in query_panels(dashboard)
        for target in panel["targets"]
    ]
    for variable in dashboard["templating"]["list"]:
        query = variable["query"]["query"]
        match = LABEL_VALUES.match(query)
        found.append((f"variable {variable['name']}", match["expr"] if match else query))
    return found


def test_provisioning(datasource: dict[str, Any]) -> None:
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    (provider,) = load_yaml(PROVIDERS)["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_dashboard_header(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"]
    assert dashboard["title"]
    assert 36 <= dashboard["schemaVersion"] <= 41


def test_panels_have_unique_ids_and_fit_the_grid(dashboard: dict[str, Any]) -> None:
    panels = list(walk(dashboard["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert all(isinstance(grid[key], int) for key in ("h", "w", "x", "y")), panel["title"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= GRID_WIDTH
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"panel {panel['title']!r} overlaps another"
        cells |= area


def test_every_query_runs_on_the_provisioned_datasource(
    dashboard: dict[str, Any], datasource: dict[str, Any]
) -> None:
    panels = query_panels(dashboard)
    assert panels
    for panel in panels:
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == datasource["uid"], panel["title"]
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] == datasource["uid"], variable["name"]


def test_every_name_in_a_query_is_exported_or_recorded(dashboard: dict[str, Any]) -> None:
    known = exported_series_names() | recording_rule_names() | PROMETHEUS_SERIES
    assert list(unknown_names(exprs(dashboard), known)) == []


def test_recording_rules_the_dashboard_reads_exist(dashboard: dict[str, Any]) -> None:
    used = frozenset().union(*(series_names(expr) for _, expr in exprs(dashboard)))
    recorded_names_used = {name for name in used if ":" in name}
    assert recorded_names_used, "the dashboard reads no recording rule"
    assert recorded_names_used - recording_rule_names() == set()


def test_dashboard_covers_the_operations_views(dashboard: dict[str, Any]) -> None:
    used = frozenset().union(*(series_names(expr) for _, expr in exprs(dashboard)))
    assert {
        "tally:sync_latency_seconds:p50",
        "tally:sync_latency_seconds:p99",
        "tally:events_folded:rate1m",
        "tally:consumer_lag_messages:sum",
        "tally:hold_decisions:rate1m",
        "tally_holds_expired_total",
        "tally_oversells_total",
        "tally:dead_letters:rate1m",
        "tally:pusher_push_seconds:p99",
        "tally:pusher_pushes:error_ratio_rate1m",
        "tally:gateway_requests:rate1m",
    } <= used


def test_dashboard_shows_the_kpis(dashboard: dict[str, Any]) -> None:
    used = frozenset().union(*(series_names(expr) for _, expr in exprs(dashboard)))
    assert {
        "tally:inventory_accuracy:ratio1d",
        "tally:oversell_rate_per_10k:1h",
        "tally:stranded_skus:sum",
        "tally:stranded_units:sum",
        "tally:stranded_sku_minutes:increase1h",
        "tally:sync_slo:error_budget_left_ratio7d",
        "tally:sync_slo:burn_rate1h",
        "tally:order_fill_rate:ratio1h",
        "tally:order_split_rate:ratio1h",
        "tally:order_cost_per_order_cents:ratio1h",
        "tally:pick_rejection_rate:ratio1d",
    } <= used
