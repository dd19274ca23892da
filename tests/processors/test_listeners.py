"""Every listener of the worker and the order processor is bound where the settings say."""

from __future__ import annotations

import faust
import pytest

from base.settings import OrdersSettings, Settings, WorkerSettings
from ops.child_worker import ChildOrderProcessor, ChildWorker
from processors.app import app_options
from processors.orders.app import app_options as orders_app_options
from tests.support.listeners import listening_addresses
from tests.support.waiting import wait_until
from tests.support.worker_process import WorkerProcess


def test_faust_binds_the_web_server_to_the_configured_host() -> None:
    # Faust binds `web_bind` (0.0.0.0 by default); `web_host` only names the server in URLs.
    settings = Settings(
        worker=WorkerSettings(web_host="10.1.2.3"), orders=OrdersSettings(web_host="10.1.2.4")
    )
    assert faust.App("t-worker", **app_options(settings)).conf.web_bind == "10.1.2.3"
    assert faust.App("t-orders", **orders_app_options(settings)).conf.web_bind == "10.1.2.4"


def _bound_only_to_loopback(process: ChildWorker) -> None:
    for name, port in process.ports().items():
        addresses = wait_until(
            lambda port=port: listening_addresses(port),  # type: ignore[misc]
            bool,
            timeout_s=30,
            what=f"{process.name}'s {name} port {port} listening",
        )
        assert addresses == {"127.0.0.1"}, (name, port, addresses)


@pytest.mark.integration
def test_the_worker_listens_on_loopback_only(worker: WorkerProcess) -> None:
    _bound_only_to_loopback(worker)


@pytest.mark.integration
def test_the_order_processor_listens_on_loopback_only(
    order_processor: ChildOrderProcessor,
) -> None:
    _bound_only_to_loopback(order_processor)
