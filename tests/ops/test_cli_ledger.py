"""`tally stock | history | explain | top | resync` against the real stack and a real worker.

One worker and one retail story per module (starting a worker is the slow part):

    policy:   channel web <- [wh, store], buffer 2; safety stock 1 at store
    events:   wh receives 20, 1 damaged, an order commits 3; store receives 5, 2 returns;
              the first fact is sent again (the ledger ignores it)
    command:  reserve 4 for web at wh

    wh     20 - 3 committed - 4 reserved - 1 unsellable - 0 safety = 12
    store   7 - 0 committed - 0 reserved - 2 unsellable - 1 safety =  4
    web    12 + 4 - buffer 2 = 14
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from base import redis_keys
from base.settings import KafkaSettings, RedisSettings, Settings, get_settings, settings_env
from ops.cli import app
from ops.stack.ports import free_port
from tests.support.isolation import isolated_settings, unique
from tests.support.kafka_io import channel_policy, fact, now_iso, produce_json
from tests.support.steady_load import steady_load
from tests.support.waiting import redis_client, wait_for_figure, wait_until
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

EXIT_SERVICE_DOWN = 3


def run_cli(settings: Settings, *args: str) -> Result:
    """Run `tally ARGS` in-process with `settings` as its environment."""
    get_settings.cache_clear()
    try:
        env = {**settings_env(settings), "COLUMNS": "200"}
        return CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()


def run_json(settings: Settings, *args: str) -> Any:
    result = run_cli(settings, *args, "--json")
    assert result.exit_code == 0, f"{result.output}\n{result.stderr}"
    return json.loads(result.stdout)


class Story:
    def __init__(self, settings: Settings, worker: WorkerProcess) -> None:
        self.settings = settings
        self.worker = worker
        self.sku = unique("SKU")
        self.channel = unique("web")
        self.wh = unique("wh")
        self.store = unique("store")
        self.hold_id = unique("h")


def _location_policy(location: str, safety: int) -> dict[str, Any]:
    return {
        "kind": "location",
        "location": location,
        "safety_stock_units": safety,
        "version": 1,
        "updated_at": now_iso(),
    }


def _play(story: Story) -> None:
    settings, sku, wh, store = story.settings, story.sku, story.wh, story.store
    policy = [
        channel_policy(story.channel, [wh, store], buffer_units=2),
        _location_policy(store, 1),
    ]
    events = [
        fact(unique("e"), "received", sku, wh, 20),
        fact(unique("e"), "damaged", sku, wh, 1, reason="forklift"),
        fact(unique("e"), "order_placed", sku, wh, 3, order_id=unique("o")),
        fact(unique("e"), "received", sku, store, 5),
        fact(unique("e"), "return_received", sku, store, 2),
    ]
    reserve = {
        "type": "reserve",
        "sku": sku,
        "issued_at": now_iso(),
        "request_id": unique("r"),
        "hold_id": story.hold_id,
        "channel": story.channel,
        "qty": 4,
        "ttl_s": 3600,
        "location": wh,
    }
    asyncio.run(produce_json(settings, settings.topics.policy, policy[:1], "channel"))
    asyncio.run(produce_json(settings, settings.topics.policy, policy[1:], "location"))
    asyncio.run(produce_json(settings, settings.topics.events, [*events, events[0]]))
    client = redis_client(settings)
    wait_for_figure(client, redis_keys.ats_key(story.channel), sku, "18", timeout_s=60)
    asyncio.run(produce_json(settings, settings.topics.commands, [reserve]))
    wait_for_figure(client, redis_keys.ats_key(story.channel), sku, "14", timeout_s=60)


@pytest.fixture(scope="module")
def story(live_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    tmp_path: Path = tmp_path_factory.mktemp("cli")
    settings = isolated_settings(live_stack, tmp_path)
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        worker.wait_metrics_up()
        built = Story(settings, worker)
        _play(built)
        yield built
    finally:
        worker.stop()


def _committed(story: Story, *args: str) -> Any:
    """The JSON of a read once the committed ledger has caught up with Redis (the worker
    publishes before its transaction commits, up to a commit interval later)."""
    return wait_until(
        lambda: run_json(story.settings, *args),
        lambda body: (
            body.get("known", True) is True
            and body.get("status", "current") == "current"
            and body.get("version", "1-") != "0-0"
        ),
        timeout_s=30,
        what=f"tally {' '.join(args)} to see the committed state",
    )


def test_stock_shows_buckets_and_published_figures_with_versions(story: Story) -> None:
    body = _committed(story, "stock", story.sku)
    assert body["known"] is True
    locations = {row["location"]: row for row in body["locations"]}
    wh, store = locations[story.wh], locations[story.store]
    assert (wh["on_hand"], wh["committed"], wh["reserved"], wh["damaged"]) == (20, 3, 4, 1)
    assert wh["available"] == 12
    assert (store["on_hand"], store["inspection"], store["safety"]) == (7, 2, 1)
    assert store["available"] == 4
    [web] = [row for row in body["channels"] if row["channel"] == story.channel]
    assert web["ats"] == 14
    assert web["published"]["units"] == 14
    assert web["published"]["version"].count("-") == 1
    assert web["published"]["age_s"] >= 0
    assert wh["published"]["units"] == 12
    assert body["pending_holds"] == 1

    table = run_cli(story.settings, "stock", story.sku)
    assert table.exit_code == 0, table.output
    assert story.wh in table.stdout
    assert "channels" in table.stdout


def test_explain_numbers_add_up_to_the_published_figure(story: Story) -> None:
    body = _committed(story, "explain", story.channel, story.sku)
    total = 0
    for term in body["locations"]:
        assert (
            term["on_hand"]
            - term["committed"]
            - term["reserved"]
            - term["unsellable"]
            - term["safety_applied"]
            == term["available"]
        ), term
        total += term["available"]
    assert total == body["sum_available"] == 16
    assert body["sum_available"] - body["buffer"] == body["ats"] == 14
    assert body["published"]["units"] == body["ats"]
    assert body["status"] == "current"
    [wh] = [term for term in body["locations"] if term["location"] == story.wh]
    assert [hold["hold_id"] for hold in wh["holds"]] == [story.hold_id]

    text = run_cli(story.settings, "explain", story.channel, story.sku)
    assert text.exit_code == 0, text.output
    assert "ATS 14" in text.stdout
    assert "current" in text.stdout


def test_explain_unknown_channel_is_a_clear_error(story: Story) -> None:
    result = run_cli(story.settings, "explain", "no-such-channel", story.sku)
    assert result.exit_code == 1
    assert "no-such-channel" in result.stderr
    assert story.channel in result.stderr


def test_history_lists_every_record_with_its_effect_and_pages(story: Story) -> None:
    body = wait_until(
        lambda: run_json(story.settings, "history", story.sku),
        lambda page: page["total"] >= 8,
        timeout_s=30,
        what="6 events (one sent twice), 1 command and 1 decision",
    )
    effects = [entry["effect"] for entry in body["entries"]]
    assert effects.count(f"on_hand +20 at {story.wh}") == 1
    [resent] = [entry for entry in body["entries"] if entry["ignored"]]
    assert resent["effect"] == "ignored: duplicate event_id"
    assert resent["what"] == "received"
    assert f"damaged +1 at {story.wh}" in effects
    assert f"on_hand +2, inspection +2 at {story.store}" in effects
    kinds = {entry["kind"] for entry in body["entries"]}
    assert kinds == {"event", "command", "decision"}
    [decision] = [entry for entry in body["entries"] if entry["kind"] == "decision"]
    assert f"hold {story.hold_id} accepted at {story.wh}" in decision["effect"]
    times = [entry["time"] for entry in body["entries"]]
    assert times == sorted(times)

    newest = run_json(story.settings, "history", story.sku, "--limit", "2")
    older = run_json(story.settings, "history", story.sku, "--limit", "2", "--page", "2")
    assert newest["entries"] == body["entries"][-2:]
    assert older["entries"] == body["entries"][-4:-2]
    assert newest["pages"] == -(-body["total"] // 2)

    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert run_json(story.settings, "history", story.sku, "--since", later)["total"] == 0

    table = run_cli(story.settings, "history", story.sku)
    assert table.exit_code == 0, table.output
    assert "page 1 of 1" in table.stdout
    assert "ignored: duplicate event_id" in table.stdout


LOAD_EVENTS_PER_S = 100


def test_top_once_reports_rates_latency_and_lag_from_the_worker(story: Story) -> None:
    url = f"http://127.0.0.1:{story.settings.worker.metrics_port}/metrics"
    body = run_json(
        story.settings, "top", "--once", "--source", "metrics", "--metrics-url", url,
        "--interval", "0.5",
    )  # fmt: skip
    assert body["source"] == "metrics"
    assert body["events_per_s"] == 0  # the story was folded long ago: nothing arrives now
    assert story.channel in body["p99_sync_latency_s"]
    assert set(body["consumer_lag"]) == {"events", "commands"}
    assert body["dead_letters"] == 0

    table = run_cli(
        story.settings, "top", "--once", "--source", "metrics", "--metrics-url", url,
        "--interval", "0.5",
    )  # fmt: skip
    assert table.exit_code == 0, table.output
    assert "sync latency" in table.stdout


def test_top_once_reports_a_known_load_at_its_rate(
    isolated: Settings, worker: WorkerProcess
) -> None:
    url = f"http://127.0.0.1:{isolated.worker.metrics_port}/metrics"
    client = redis_client(isolated)
    with steady_load(isolated, LOAD_EVENTS_PER_S) as load:
        wait_until(  # the worker folds the load (its partitions are assigned) ...
            lambda: client.hget(redis_keys.loc_key(load.location), load.sku),
            lambda units: (  # within half a second of what was sent: no backlog left
                units is not None
                and int(units) >= LOAD_EVENTS_PER_S
                and int(units) >= load.sent - LOAD_EVENTS_PER_S // 2
            ),
            timeout_s=60,
            what="the worker folding the load",
        )  # ... and has caught up with it: what it folds now is what arrives
        body = run_json(
            isolated, "top", "--once", "--source", "metrics", "--metrics-url", url,
            "--interval", "2",
        )  # fmt: skip
    # Folded facts per second within a factor of the rate sent (the worker folds in
    # batches, so a 2 s window may see a batch more or less).
    assert LOAD_EVENTS_PER_S / 3 <= body["events_per_s"] <= LOAD_EVENTS_PER_S * 2, body


def test_top_names_the_worker_endpoint_when_it_is_down(story: Story) -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"
    result = run_cli(story.settings, "top", "--once", "--source", "metrics", "--metrics-url", url)
    assert result.exit_code == EXIT_SERVICE_DOWN
    assert url in result.stderr
    assert "processors.worker" in result.stderr


def test_resync_restores_figures_redis_lost(story: Story) -> None:
    client = redis_client(story.settings)
    keys = [
        redis_keys.ats_key(story.channel),
        redis_keys.version_key("ats", story.channel),
        redis_keys.loc_key(story.wh),
        redis_keys.version_key("loc", story.wh),
        redis_keys.loc_key(story.store),
        redis_keys.version_key("loc", story.store),
    ]
    before = {key: client.hget(key, story.sku) for key in keys[::2]}
    assert before[redis_keys.ats_key(story.channel)] == "14"
    client.delete(*keys)  # only this test's channel and locations: Redis "lost its data"

    body = run_json(story.settings, "resync")
    assert body["skus"] == 1
    assert body["written"] == body["figures"] == 3  # web, wh, store
    after = {key: client.hget(key, story.sku) for key in keys[::2]}
    assert after == before

    again = run_json(story.settings, "resync")
    assert again["written"] == 0
    assert again["current"] == 3

    text = run_cli(story.settings, "resync")
    assert text.exit_code == 0, text.output
    assert "already current" in text.stdout


@pytest.mark.parametrize("command", [["stock", "X"], ["history", "X"], ["resync"]])
def test_kafka_down_names_the_service_address_and_fix(
    live_stack: Settings, command: list[str]
) -> None:
    port = free_port()
    settings = live_stack.model_copy(update={"kafka": KafkaSettings(port=port)})
    result = run_cli(settings, *command, "--json")
    assert result.exit_code == EXIT_SERVICE_DOWN
    body = json.loads(result.stdout)
    assert body["service"] == "Kafka"
    assert f"127.0.0.1:{port}" in result.stderr
    assert "tally up" in result.stderr


def test_redis_down_names_the_service_address_and_fix(live_stack: Settings) -> None:
    port = free_port()
    settings = live_stack.model_copy(update={"redis": RedisSettings(port=port)})
    result = run_cli(settings, "resync")
    assert result.exit_code == EXIT_SERVICE_DOWN
    assert f"Redis is not reachable at 127.0.0.1:{port}" in result.stderr
    assert "`tally up`" in result.stderr


def test_stock_at_a_past_time_is_rebuilt_from_the_log(story: Story) -> None:
    """Just before the reserve: no hold yet, web at 18; now: the hold, web at 14, and the
    replayed reserve decided as the worker recorded it."""
    _committed(story, "stock", story.sku)
    entries = run_json(story.settings, "history", story.sku)["entries"]
    (reserve,) = [entry for entry in entries if entry["what"] == "reserve"]
    before = datetime.fromisoformat(reserve["time"]) - timedelta(milliseconds=1)

    then = run_json(story.settings, "stock", story.sku, "--at", before.isoformat())
    assert then["complete"] is True
    assert then["pending_holds"] == 0
    wh = {row["location"]: row for row in then["locations"]}[story.wh]
    assert (wh["on_hand"], wh["committed"], wh["reserved"], wh["damaged"]) == (20, 3, 0, 1)
    assert {row["channel"]: row["ats"] for row in then["channels"]} == {story.channel: 18}

    now = run_json(story.settings, "stock", story.sku, "--at", datetime.now(UTC).isoformat())
    assert now["pending_holds"] == 1
    assert {row["channel"]: row["ats"] for row in now["channels"]} == {story.channel: 14}
    assert (now["decisions_checked"], now["decisions_differing"]) == (1, [])
    assert now["version"] == _committed(story, "stock", story.sku)["version"]


def test_stock_at_a_time_before_the_sku_existed_knows_nothing(story: Story) -> None:
    body = run_json(story.settings, "stock", story.sku, "--at", "2001-01-01T00:00:00")
    assert body["known"] is False
    assert body["locations"] == []
