"""What both Faust apps (the stream worker and the order processor) share: their faust.App
options from our settings, and the life of their process (a store trusted only after a clean
stop, Kafka waited for, topics created, metrics served, a crash restarted in place)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

import faust
import uvloop
from prometheus_client import start_http_server

from base.settings import Settings
from base.topics import ensure_topics_when_reachable
from processors.faust_repairs import LocalStore, note_start, restart_after_crash
from processors.gc_tuning import tune_for_worker
from processors.kafka_auth import faust_broker_options

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class AppSettings(Protocol):
    """The settings section of one Faust app (`settings.worker`, `settings.orders`)."""

    @property
    def data_dir(self) -> Path: ...
    @property
    def web_host(self) -> str: ...
    @property
    def web_port(self) -> int: ...
    @property
    def metrics_host(self) -> str: ...
    @property
    def metrics_port(self) -> int: ...
    @property
    def processing_guarantee(self) -> Literal["exactly_once", "at_least_once"]: ...
    @property
    def commit_interval_s(self) -> float: ...
    @property
    def session_timeout_s(self) -> float: ...
    @property
    def heartbeat_interval_s(self) -> float: ...
    @property
    def metadata_max_age_s(self) -> float: ...
    @property
    def broker_wait_s(self) -> float: ...
    @property
    def crash_restarts_max(self) -> int: ...
    @property
    def event_loop(self) -> Literal["uvloop", "asyncio"]: ...


def faust_options(settings: Settings, app: AppSettings) -> dict[str, Any]:
    """faust.App settings from ours (pure: nothing connects)."""
    return {
        **faust_broker_options(settings.kafka),
        "store": "rocksdb://",
        "processing_guarantee": app.processing_guarantee,
        "topic_partitions": settings.topics.partitions,
        # A cluster's copies (the changelogs are the tables' durable state; docs/OPERATING.md).
        "topic_replication_factor": settings.topics.replication(settings.kafka.brokers)[0],
        "topic_allow_declare": True,
        "datadir": str(app.data_dir),
        "web_enabled": True,
        # web_host only names the server in URLs; Faust binds web_bind (0.0.0.0 by default).
        "web_bind": app.web_host,
        "web_host": app.web_host,
        "web_port": app.web_port,
        "table_standby_replicas": 0,
        "broker_commit_interval": app.commit_interval_s,
        "broker_session_timeout": app.session_timeout_s,
        "broker_heartbeat_interval": app.heartbeat_interval_s,
        "consumer_auto_offset_reset": "earliest",
        "consumer_metadata_max_age_ms": round(app.metadata_max_age_s * 1000),
        "producer_acks": -1,
        "stream_wait_empty": False,
        "logging_config": None,
    }


def use_event_loop(kind: Literal["uvloop", "asyncio"]) -> None:
    """The event loop policy of this process: it makes every loop started after it, Faust's
    consumer thread's too, so it is set before any loop exists."""
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy() if kind == "uvloop" else None)


def run_faust_process(
    settings: Settings,
    app_settings: AppSettings,
    build: Callable[[Settings], faust.App],
    *,
    loglevel: str = "info",
) -> None:
    """Run one Faust app in this process until SIGINT/SIGTERM (see the module docstring)."""
    logging.basicConfig(level=loglevel.upper(), format=LOG_FORMAT)
    use_event_loop(app_settings.event_loop)
    logging.getLogger(__name__).info("event loop: %s", app_settings.event_loop)
    tune_for_worker()
    note_start()
    store = LocalStore(app_settings.data_dir)
    store.prepare()
    asyncio.run(ensure_topics_when_reachable(settings, app_settings.broker_wait_s))
    start_http_server(app_settings.metrics_port, addr=app_settings.metrics_host)
    app = build(settings)
    try:
        faust.Worker(app, loglevel=loglevel, redirect_stdouts=False).execute_from_commandline()
    except SystemExit as stop:
        if stop.code not in (0, None):
            restart_after_crash(app_settings.crash_restarts_max, f"exit code {stop.code}")
        store.mark_clean_stop()
        raise
