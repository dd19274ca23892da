"""`python -m processors.orders`: run the order processor (see processors.orders.app).

Like the stream worker: rebuilds its local store unless it stopped cleanly, waits for Kafka,
creates the topics if missing, serves metrics on `TALLY_ORDERS__METRICS_PORT`, and restarts
itself in place after a crash (bounded).
"""

from __future__ import annotations

from base.settings import Settings, get_settings
from processors.faust_process import run_faust_process
from processors.orders.app import build_order_app


def run(settings: Settings, *, loglevel: str = "info") -> None:
    run_faust_process(
        settings, settings.orders, lambda s: build_order_app(s).app, loglevel=loglevel
    )


if __name__ == "__main__":
    run(get_settings())
