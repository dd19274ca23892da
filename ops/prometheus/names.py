"""Which series names PromQL here may use, and which it does use.

Rules (rules/*.yml) and the Grafana dashboard must only name series the code exports
(the prometheus_client registry after importing the metric modules), series Prometheus
itself adds (`up`, `ALERTS`, ...), or recording rules. tests/ops checks that with these
helpers, so a renamed metric fails a test instead of leaving an empty panel or a silent
alert.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

RULES_DIR = Path(__file__).resolve().parent / "rules"
RULE_FILES = (RULES_DIR / "recording.yml", RULES_DIR / "alerts.yml", RULES_DIR / "kpis.yml")
METRIC_MODULES = ("processors.metrics", "processors.orders.metrics", "connectors.metrics")

# Series Prometheus writes itself, per scrape target or for alerts.
PROMETHEUS_SERIES = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "ALERTS",
        "ALERTS_FOR_STATE",
    }
)

# The series names one metric family exports, by family type (OpenMetrics suffixes as
# prometheus_client writes them; a counter family is named without `_total`).
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "info": ("_info",),
}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)(\s*\()?")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan", "atan2"}
)


def exported_series_names(modules: Iterable[str] = METRIC_MODULES) -> frozenset[str]:
    """Series names in the default registry once `modules` are imported."""
    for module in modules:
        importlib.import_module(module)
    names: set[str] = set()
    for family in REGISTRY.collect():
        suffixes = _SUFFIXES.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return frozenset(names)


def load_rules(paths: Iterable[Path] = RULE_FILES) -> list[dict[str, Any]]:
    """Every rule (recording and alerting) of the given rule files."""
    rules: list[dict[str, Any]] = []
    for path in paths:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document["groups"]:
            rules.extend(group["rules"])
    return rules


def recording_rule_names(paths: Iterable[Path] = RULE_FILES) -> frozenset[str]:
    return frozenset(rule["record"] for rule in load_rules(paths) if "record" in rule)


def series_names(expr: str) -> frozenset[str]:
    """Series names an expression selects: identifiers that are not functions,
    keywords, label names or label values. Grafana variables ($x) are ignored."""
    text = _STRING.sub(" ", expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    return frozenset(
        name for name, call in _IDENT.findall(text) if not call and name not in _KEYWORDS
    )


def unknown_names(exprs: Iterable[tuple[str, str]], known: frozenset[str]) -> Iterator[str]:
    """`where: name` for each name an expression uses that is not in `known`."""
    for where, expr in exprs:
        for name in sorted(series_names(expr) - known):
            yield f"{where}: {name}"
