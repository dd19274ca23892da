"""Prometheus config and rules: promtool accepts them, their unit tests pass, every alert
is tested both firing and quiet, and every series they name exists in the code.

promtool runs as a subprocess (no Prometheus server is started). It is installed by
ops/bootstrap.sh; without it the promtool tests skip, the name checks still run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from base.settings import OrdersSettings
from ops.prometheus.names import (
    PROMETHEUS_SERIES,
    RULE_FILES,
    exported_series_names,
    load_rules,
    recording_rule_names,
    series_names,
    unknown_names,
)

PROM_DIR = Path(__file__).resolve().parents[2] / "ops" / "prometheus"
CONFIGS = ("prometheus.yml", "prometheus.docker.yml")
UNIT_TESTS = sorted((PROM_DIR / "tests").glob("*.yml"))
PROMTOOL = shutil.which("promtool")

needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (ops/bootstrap.sh installs it)"
)


def promtool(*args: str) -> None:
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, *args], cwd=PROM_DIR, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def alerting_rules() -> list[dict[str, Any]]:
    return [rule for rule in load_rules() if "alert" in rule]


def load_unit_tests() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in UNIT_TESTS:
        cases.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["tests"])
    return cases


@needs_promtool
@pytest.mark.parametrize("config", CONFIGS)
def test_promtool_check_config(config: str) -> None:
    promtool("check", "config", config)


@needs_promtool
def test_promtool_check_rules() -> None:
    promtool("check", "rules", *(str(path) for path in RULE_FILES))


@needs_promtool
def test_promtool_unit_tests() -> None:
    assert UNIT_TESTS, "no promtool unit tests in ops/prometheus/tests"
    promtool("test", "rules", *(str(path) for path in UNIT_TESTS))


@pytest.mark.parametrize("config", CONFIGS)
def test_config_scrapes_tally_and_loads_the_rules(config: str) -> None:
    document = yaml.safe_load((PROM_DIR / config).read_text(encoding="utf-8"))
    rule_files = [(PROM_DIR / name).resolve() for name in document["rule_files"]]
    assert sorted(rule_files) == sorted(RULE_FILES)
    jobs = {job["job_name"]: job for job in document["scrape_configs"]}
    ports = {
        name: job["static_configs"][0]["targets"][0].rsplit(":", 1)[1] for name, job in jobs.items()
    }
    wanted = {
        "tally-worker": "9108",
        "tally-gateway": "8000",
        "tally-pusher": "9109",
        "tally-orders": str(OrdersSettings().metrics_port),
    }
    if config == "prometheus.docker.yml":
        # Compose starts no pusher: a target there would never answer
        # (tests/ops/test_docker_compose.py matches every target with a service).
        del wanted["tally-pusher"]
    assert ports == wanted
    assert jobs["tally-gateway"]["metrics_path"] == "/metrics"
    assert document["global"]["scrape_interval"] == "1s"


def test_every_name_in_the_rules_is_exported_or_recorded() -> None:
    known = exported_series_names() | recording_rule_names() | PROMETHEUS_SERIES
    exprs = [(rule.get("record") or rule["alert"], rule["expr"]) for rule in load_rules()]
    assert list(unknown_names(exprs, known)) == []


def test_the_name_check_sees_the_names() -> None:
    """Guards the check above against a parser that finds nothing."""
    used = frozenset().union(*(series_names(rule["expr"]) for rule in load_rules()))
    assert {
        "tally_sync_latency_seconds_bucket",
        "tally_dead_letters_total",
        "tally_consumer_lag_messages",
        "tally:sync_latency_seconds:p99",
        "up",
    } <= used
    assert series_names('sum by (le) (rate(x_bucket{a="b"}[1m])) > on(job) y offset 5m') == {
        "x_bucket",
        "y",
    }


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda rule: str(rule["alert"]))
def test_alert_has_summary_description_and_runbook(rule: dict[str, Any]) -> None:
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert annotations["description"].strip()
    runbook = annotations["runbook"]
    assert "Means:" in runbook
    assert "Check:" in runbook
    assert "`tally " in runbook
    assert rule["labels"]["severity"] in {"page", "ticket"}


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in load_unit_tests():
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerting_rules()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"


def test_every_recording_rule_has_a_unit_test() -> None:
    tested = frozenset().union(
        *(
            series_names(check["expr"])
            for case in load_unit_tests()
            for check in case.get("promql_expr_test", [])
        )
    )
    assert recording_rule_names() - tested == set()
