"""`python -m processors.worker`: run one Tally stream worker.

Creates the wire-contract topics if missing, serves Prometheus metrics on
`TALLY_WORKER__METRICS_PORT`, then runs the Faust worker until SIGINT/SIGTERM.
Two workers on one host need their own `TALLY_WORKER__WEB_PORT`, `__METRICS_PORT`
and `__DATA_DIR`.
"""

from __future__ import annotations

import asyncio
import logging

import faust
from prometheus_client import start_http_server

from ops.settings import Settings, get_settings
from processors.app import build_worker
from processors.topics import ensure_topics

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def run(settings: Settings, *, loglevel: str = "info") -> None:
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    asyncio.run(ensure_topics(settings))
    start_http_server(settings.worker.metrics_port, addr="127.0.0.1")
    worker = build_worker(settings)
    faust.Worker(worker.app, loglevel=loglevel, redirect_stdouts=False).execute_from_commandline()


def main() -> None:
    run(get_settings())


if __name__ == "__main__":
    main()
