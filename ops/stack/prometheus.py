"""Prometheus from the system's `prometheus` binary, with the repo's scrape config."""

from __future__ import annotations

from pathlib import Path

import httpx

from base.settings import REPO_ROOT, Settings
from ops.stack.procs import Echo
from ops.stack.service import Service, require_binary

CONFIG_FILE = REPO_ROOT / "ops" / "prometheus" / "prometheus.yml"


def minimal_config(settings: Settings) -> str:
    """The fallback scrape config: the worker's and the gateway's /metrics on this machine."""
    return (
        "# Minimal scrape config written by `tally up --with-prometheus`.\n"
        "global:\n"
        f"  scrape_interval: {settings.prometheus.scrape_interval_s:g}s\n"
        f"  evaluation_interval: {settings.prometheus.scrape_interval_s:g}s\n"
        "scrape_configs:\n"
        "  - job_name: tally-worker\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{settings.worker.metrics_port}']\n"
        "  - job_name: tally-gateway\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{settings.gateway.port}']\n"
    )


class Prometheus(Service):
    name = "prometheus"

    @property
    def data_dir(self) -> Path:
        return self.home / "prometheus"

    @property
    def ports(self) -> tuple[tuple[str, int, str], ...]:
        prometheus = self.settings.prometheus
        return ((prometheus.host, prometheus.port, "TALLY_PROMETHEUS__PORT"),)

    def marker(self) -> str:
        return f"--storage.tsdb.path={self.data_dir}"

    def prepare(self, echo: Echo) -> None:
        require_binary("prometheus", "prometheus", "install it (ops/bootstrap.sh does)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not CONFIG_FILE.exists():
            echo(f"prometheus: writing a minimal {CONFIG_FILE}")
            CONFIG_FILE.parent.mkdir(parents=True, exist_ok=True)
            CONFIG_FILE.write_text(minimal_config(self.settings))

    def argv(self) -> list[str]:
        binary = require_binary("prometheus", "prometheus", "install it (ops/bootstrap.sh does)")
        prometheus = self.settings.prometheus
        return [
            binary,
            f"--config.file={CONFIG_FILE}",
            self.marker(),
            f"--web.listen-address={prometheus.host}:{prometheus.port}",
        ]

    def probe(self) -> bool:
        prometheus = self.settings.prometheus
        url = f"http://{prometheus.host}:{prometheus.port}/-/ready"
        try:
            response = httpx.get(url, timeout=self.settings.stack.probe_timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
