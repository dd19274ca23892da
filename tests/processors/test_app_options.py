"""The worker's faust.App settings, as Faust reads them (nothing connects)."""

from __future__ import annotations

import faust

from base.settings import Settings, WorkerSettings
from devtools.faults.run import QUIESCE_TIMEOUT_S
from processors.app import app_options


def test_the_consumer_refreshes_cluster_metadata_at_the_configured_age() -> None:
    settings = Settings(worker=WorkerSettings(metadata_max_age_s=12.5))
    app = faust.App("tally-options-test", **app_options(settings))
    assert app.conf.consumer_metadata_max_age_ms == 12_500


def test_the_default_refresh_comes_well_inside_the_fault_runners_wait() -> None:
    # An assignment made while a restarting broker reported no topics lasts until the next
    # refresh: Kafka's default age (300 s) outlasted the runner's phase wait (seed 45).
    app = faust.App("tally-options-test", **app_options(Settings()))
    assert app.conf.consumer_metadata_max_age_ms * 3 <= QUIESCE_TIMEOUT_S * 1000
    assert app.conf.broker_session_timeout == Settings().worker.session_timeout_s
