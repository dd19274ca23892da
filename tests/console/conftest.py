"""One real stack for the console's browser tests: a worker, an order processor and a gateway
(uvicorn in a thread) on topics of their own, and Debian's chromium driven by Playwright.

Started once for the folder (a worker takes seconds to start); every test uses SKUs and
channels of its own, so the tests do not see each other's figures.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from base.settings import Settings
from base.topics import ensure_topics
from connectors.auth import new_key, save_keys
from connectors.gateway import create_app
from ops.child_worker import ChildOrderProcessor
from ops.stack.ports import free_port
from tests.support.isolation import isolated_settings
from tests.support.worker_process import WorkerProcess

T = TypeVar("T")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_S = 60.0
ROLES = {
    "admin": ("admin", None),
    "web": ("channel:web", None),
    "associate": ("scanner", None),  # limited to stores per test: see `associate_key`
}


@dataclass
class ConsoleStack:
    settings: Settings
    url: str
    keys: dict[str, str]
    keys_file: Path
    records: list[object] = field(default_factory=list)

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}

    def add_key(self, name: str, role: str, locations: list[str] | None = None) -> str:
        """A further key (e.g. a store associate at this test's stores); the gateway re-reads
        the keys file within `keys_reload_s`."""
        key, record = new_key(role, locations)
        self.records.append(record)
        save_keys(self.keys_file, self.records)  # type: ignore[arg-type]
        self.keys[name] = key
        time.sleep(0.3)  # keys_reload_s below
        return key


def off_loop(function: Callable[..., T], *args: Any) -> T:
    """Run `function` in a thread of its own: Playwright's sync API keeps an event loop
    running in the test's thread, so `asyncio.run` cannot be called there."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


def _serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=settings.gateway.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,  # open event streams must not hold the shutdown
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="console-gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        assert thread.is_alive(), "gateway failed to start"
        assert time.monotonic() < deadline, "gateway not started in time"
        time.sleep(0.05)
    return server, thread


@pytest.fixture(scope="package")
def console_stack(
    live_stack: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleStack]:
    home = tmp_path_factory.mktemp("console")
    base = isolated_settings(live_stack, home)
    off_loop(asyncio.run, ensure_topics(base))
    keys: dict[str, str] = {}
    records = []
    for name, (role, locations) in ROLES.items():
        keys[name], record = new_key(role, locations)
        records.append(record)
    keys_file = home / "keys.json"
    save_keys(keys_file, records)
    gateway = base.gateway.model_copy(
        update={
            "port": free_port(),
            "keys_file": keys_file,
            "keys_reload_s": 0.2,
            "requests_burst_per_key_max": 10_000,
            "location_keys_cache_s": 0.0,
        }
    )
    console = base.console.model_copy(update={"secret_file": home / "console-secret"})
    settings = base.model_copy(update={"gateway": gateway, "console": console})
    worker = WorkerProcess(settings, home / "worker.log").start()
    orders = ChildOrderProcessor(settings, home / "orders.log").start()
    server = None
    try:
        worker.wait_metrics_up()
        orders.wait_metrics_up()
        server, thread = _serve(settings)
        url = f"http://127.0.0.1:{gateway.port}"
        yield ConsoleStack(settings, url, keys, keys_file, list(records))
    finally:
        if server is not None:
            server.should_exit = True
            thread.join(timeout=30)
        orders.stop()
        worker.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watched:
    """A page and every console error or uncaught exception it raised."""

    page: Page
    errors: list[str]


_OPEN_CONTEXTS: list[BrowserContext] = []


@pytest.fixture(autouse=True)
def _close_pages() -> Iterator[None]:
    """Each test's browser contexts end with it (and with them their event streams)."""
    yield
    while _OPEN_CONTEXTS:
        _OPEN_CONTEXTS.pop().close()


def open_page(browser: Browser, width: int = 1280, height: int = 900) -> Watched:
    # bypass_csp: the tests inject axe-core inline; the console's own CSP stays strict.
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    _OPEN_CONTEXTS.append(context)
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text} at {page.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"page error: {error} at {page.url}"))
    return Watched(page, errors)


def sign_in(watched: Watched, stack: ConsoleStack, who: str) -> None:
    page = watched.page
    page.goto(f"{stack.url}/console/login")
    page.fill("#api_key", stack.keys[who])
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/console/")
