"""`python -m processors.worker`: run one Tally stream worker.

Rebuilds the local store unless the last run stopped cleanly, waits for Kafka (up to
`TALLY_WORKER__BROKER_WAIT_S`), creates the wire-contract topics if missing, serves
Prometheus metrics on `TALLY_WORKER__METRICS_PORT`, then runs the Faust worker until
SIGINT/SIGTERM. A crash restarts the process in place (bounded, see
processors.faust_repairs.restart). Two workers on one host need their own
`TALLY_WORKER__WEB_PORT`, `__METRICS_PORT` and `__DATA_DIR`.
"""

from __future__ import annotations

import asyncio
import logging

import faust
from prometheus_client import start_http_server

from base.settings import Settings, get_settings
from base.topics import ensure_topics_when_reachable
from processors.app import build_worker
from processors.faust_repairs import LocalStore, note_start, restart_after_crash
from processors.gc_tuning import tune_for_worker

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def run(settings: Settings, *, loglevel: str = "info") -> None:
    logging.basicConfig(level=loglevel.upper(), format=LOG_FORMAT)
    tune_for_worker()
    note_start()
    store = LocalStore(settings.worker.data_dir)
    store.prepare()
    asyncio.run(ensure_topics_when_reachable(settings, settings.worker.broker_wait_s))
    start_http_server(settings.worker.metrics_port, addr=settings.worker.metrics_host)
    worker = build_worker(settings)
    try:
        faust.Worker(
            worker.app, loglevel=loglevel, redirect_stdouts=False
        ).execute_from_commandline()
    except SystemExit as stop:
        if stop.code not in (0, None):
            restart_after_crash(settings.worker.crash_restarts_max, f"exit code {stop.code}")
        store.mark_clean_stop()
        raise


def main() -> None:
    run(get_settings())


if __name__ == "__main__":
    main()
