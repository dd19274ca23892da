"""`python -m processors.orders`: run the order processor (see processors.orders.app).

Like the stream worker: rebuilds its local store unless it stopped cleanly, waits for Kafka,
creates the topics if missing, serves metrics on `TALLY_ORDERS__METRICS_PORT`, and restarts
itself in place after a crash (bounded).
"""

from __future__ import annotations

import asyncio
import logging

import faust
from prometheus_client import start_http_server

from base.settings import Settings, get_settings
from base.topics import ensure_topics_when_reachable
from processors.faust_repairs import LocalStore, note_start, restart_after_crash
from processors.gc_tuning import tune_for_worker
from processors.orders.app import build_order_app

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def run(settings: Settings, *, loglevel: str = "info") -> None:
    logging.basicConfig(level=loglevel.upper(), format=LOG_FORMAT)
    tune_for_worker()
    note_start()
    orders = settings.orders
    store = LocalStore(orders.data_dir)
    store.prepare()
    asyncio.run(ensure_topics_when_reachable(settings, orders.broker_wait_s))
    start_http_server(orders.metrics_port, addr=orders.metrics_host)
    worker = build_order_app(settings)
    try:
        faust.Worker(
            worker.app, loglevel=loglevel, redirect_stdouts=False
        ).execute_from_commandline()
    except SystemExit as stop:
        if stop.code not in (0, None):
            restart_after_crash(orders.crash_restarts_max, f"exit code {stop.code}")
        store.mark_clean_stop()
        raise


if __name__ == "__main__":
    run(get_settings())
