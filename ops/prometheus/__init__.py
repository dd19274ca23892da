"""Prometheus config, rules and their unit tests (YAML), and the metric-name check."""
