"""`python -m processors.worker`: run one Tally stream worker.

Rebuilds the local store unless the last run stopped cleanly, waits for Kafka (up to
`TALLY_WORKER__BROKER_WAIT_S`), creates the wire-contract topics if missing, serves
Prometheus metrics on `TALLY_WORKER__METRICS_PORT`, then runs the Faust worker until
SIGINT/SIGTERM. A crash restarts the process in place (bounded, see
processors.faust_repairs.restart). Two workers on one host need their own
`TALLY_WORKER__WEB_PORT`, `__METRICS_PORT` and `__DATA_DIR`.
"""

from __future__ import annotations

from base.settings import Settings, get_settings
from processors.app import build_worker
from processors.faust_process import run_faust_process


def run(settings: Settings, *, loglevel: str = "info") -> None:
    run_faust_process(settings, settings.worker, lambda s: build_worker(s).app, loglevel=loglevel)


def main() -> None:
    run(get_settings())


if __name__ == "__main__":
    main()
