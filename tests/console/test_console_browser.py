"""The console in a real headless Chromium against a real worker, order processor and gateway:
every page loads with no console error and no serious axe-core violation; a posted fact
reaches an open SKU page within 1 s; the SKU page shows the SKU as of a past time; the policy
preview equals the saved figure and saving keeps every field the form does not edit; a
channel key cannot open admin pages; keyboard-only use; a 390-px-wide viewport.

`TALLY_SCREENSHOTS=1` also writes docs/console/*.png (kept out of CI's runs).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from base import redis_keys
from base.settings import REPO_ROOT
from connectors.console.routes.policy import current_book
from tests.console.conftest import ConsoleStack, off_loop, open_page, sign_in
from tests.processors.test_orders_live import place, send_orders
from tests.support.isolation import unique
from tests.support.kafka_io import fact, produce
from tests.support.waiting import redis_client, wait_for_figure, wait_until

pytestmark = pytest.mark.integration

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SHOTS = REPO_ROOT / "docs" / "console"
LIVE_WITHIN_S = 1.0
# Near New York: three stores a few km apart.
STORES = {"east": (40.71, -74.00), "mid": (40.75, -73.99), "far": (40.85, -73.87)}


@dataclass
class Seeded:
    sku: str
    stores: dict[str, str]  # short name -> location id
    channel: str
    order_id: str


def api(stack: ConsoleStack) -> httpx.Client:
    return httpx.Client(base_url=stack.url, timeout=30, headers=stack.headers("admin"))


def seed(stack: ConsoleStack, channel: str = "web") -> Seeded:
    """A SKU with stock at three stores (with coordinates), supply on its way, a channel."""
    sku = unique("SKU")
    stores = {short: unique(short) for short in STORES}
    with api(stack) as client:
        for short, (lat, lon) in STORES.items():
            body = {
                "name": f"Store {short}",
                "location_type": "store",
                "coordinates": {"latitude": lat, "longitude": lon},
                "capabilities": ["ship", "pickup"],
            }
            assert client.put(f"/v1/policy/locations/{stores[short]}", json=body).status_code == 202
        pool = {"locations": list(stores.values())}
        assert client.put(f"/v1/policy/channels/{channel}", json=pool).status_code == 202
        eta = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        facts = [
            fact(unique("e"), "received", sku, stores["east"], 5),
            fact(unique("e"), "received", sku, stores["mid"], 3),
            fact(unique("e"), "received", sku, stores["far"], 7),
            fact(unique("e"), "supply_expected", sku, stores["east"], 12, order_id="PO-1", eta=eta),
        ]
        assert client.post("/v1/events", json={"events": facts}).status_code == 202
    redis = redis_client(stack.settings)
    for short, units in (("east", "5"), ("mid", "3"), ("far", "7")):
        wait_for_figure(redis, redis_keys.loc_key(stores[short]), sku, units, timeout_s=60)
    wait_for_figure(redis, redis_keys.ats_key(channel), sku, "15", timeout_s=60)
    return Seeded(sku, stores, channel, order_id="")


def axe_serious(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def settle(page: Page) -> None:
    """Wait for a live section (if any) to have received its first update."""
    if page.locator("[data-live]").count():
        page.wait_for_selector("[data-live-state=on]", timeout=15_000)


def shot(page: Page, name: str) -> None:
    if os.environ.get("TALLY_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def place_order(stack: ConsoleStack, seeded: Seeded) -> str:
    order_id = unique("o")
    off_loop(send_orders, stack.settings, place(seeded.channel, order_id, {seeded.sku: 2}))
    wait_until(
        lambda: httpx.get(
            f"{stack.url}/v1/orders/{order_id}",
            params={"channel": seeded.channel},
            headers=stack.headers("admin"),
        ),
        lambda r: r.status_code == 200 and r.json()["status"] == "allocated",
        timeout_s=60,
        what="the order allocated",
    )
    return order_id


def dead_letter(stack: ConsoleStack) -> None:
    """A record the worker cannot read: it dead-letters it (the operations page lists it)."""
    topic = stack.settings.topics.events
    off_loop(asyncio.run, produce(stack.settings, topic, [(b"SKU-X", b"{not json")]))


def test_every_page_loads_clean_and_accessible(
    browser: Browser, console_stack: ConsoleStack
) -> None:
    stack = console_stack
    seeded = seed(stack)
    order_id = place_order(stack, seeded)
    dead_letter(stack)
    watched = open_page(browser)
    page = watched.page
    page.goto(f"{stack.url}/console/login")
    problems = {"login": axe_serious(page)}
    shot(page, "login")
    sign_in(watched, stack, "admin")
    east = seeded.stores["east"]
    pages = {
        "lookup": f"/console/?q={seeded.sku}&store={east}",
        "sku": f"/console/sku/{seeded.sku}",
        "sku-as-of": f"/console/sku/{seeded.sku}?at={utc_now_text()}",
        "order": f"/console/orders/{seeded.channel}/{order_id}",
        "operations": "/console/ops",
        "policy": "/console/policy",
        "policy-channel": f"/console/policy/channels/{seeded.channel}",
        "policy-location": f"/console/policy/locations/{east}",
    }
    for name, path in pages.items():
        response = page.goto(stack.url + path)
        assert response is not None and response.status == 200, (name, response)
        settle(page)
        problems[name] = axe_serious(page)
        shot(page, name)

    def redrive_buttons() -> Locator:
        page.goto(f"{stack.url}/console/ops")
        return page.get_by_role("button", name="Re-drive")

    redrive = wait_until(
        redrive_buttons,
        lambda buttons: buttons.count() >= 1,
        timeout_s=30,
        what="the dead letter listed",
    )
    redrive.first.click()
    page.wait_for_url("**/console/ops?redriven=*")
    assert page.get_by_text("Re-driven: dead letter").is_visible()
    assert {name: found for name, found in problems.items() if found} == {}
    assert watched.errors == []


def test_a_posted_fact_reaches_an_open_sku_page_within_a_second(
    browser: Browser, console_stack: ConsoleStack
) -> None:
    stack = console_stack
    seeded = seed(stack)
    watched = open_page(browser)
    sign_in(watched, stack, "admin")
    page = watched.page
    page.goto(f"{stack.url}/console/sku/{seeded.sku}")
    settle(page)
    cell = page.locator(f"[data-figure='loc:{seeded.stores['mid']}']").first
    assert cell.inner_text() == "3"
    with api(stack) as client:
        started = time.monotonic()
        posted = client.post(
            "/v1/events",
            json={"events": [fact(unique("e"), "received", seeded.sku, seeded.stores["mid"], 4)]},
        )
        assert posted.status_code == 202
    page.wait_for_function(
        "([el, want]) => el.textContent === want",
        arg=[cell.element_handle(), "7"],
        timeout=10_000,
    )
    elapsed_s = time.monotonic() - started
    assert elapsed_s < LIVE_WITHIN_S, f"the page showed the fact after {elapsed_s:.3f} s"
    assert page.locator(f"[data-figure='ats:{seeded.channel}']").first.inner_text() == "19"
    assert watched.errors == []


def utc_now_text() -> str:
    """Now in UTC, as the as-of field (a datetime-local input with seconds) takes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_the_sku_page_shows_the_sku_as_of_a_past_time(
    browser: Browser, console_stack: ConsoleStack
) -> None:
    """mid held 3 before 4 more were received; the channel showed 15 then, 19 now."""
    stack = console_stack
    seeded = seed(stack)
    time.sleep(1.0)  # the field has whole seconds: `before` must follow the seeded records
    before = utc_now_text()
    time.sleep(1.0)
    with api(stack) as client:
        facts = [fact(unique("e"), "received", seeded.sku, seeded.stores["mid"], 4)]
        assert client.post("/v1/events", json={"events": facts}).status_code == 202
    redis = redis_client(stack.settings)
    wait_for_figure(redis, redis_keys.loc_key(seeded.stores["mid"]), seeded.sku, "7")
    watched = open_page(browser)
    sign_in(watched, stack, "admin")
    page = watched.page
    page.goto(f"{stack.url}/console/sku/{seeded.sku}")
    page.fill("#at", before)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/console/sku/{seeded.sku}?at=*")
    assert f"as of {before.replace('T', ' ')} UTC" in page.locator("#as-of-summary").inner_text()
    mid = page.locator(f"#as-of-locations tr[data-location='{seeded.stores['mid']}'] td")
    assert mid.first.inner_text() == "3"  # on hand then
    then = page.locator(f"#as-of-channels tr[data-channel='{seeded.channel}'] td").first
    assert then.inner_text() == "15"
    assert page.locator(f"[data-figure='ats:{seeded.channel}']").first.inner_text() == "19"
    assert watched.errors == []
    refused = page.goto(f"{stack.url}/console/sku/{seeded.sku}?at=1999-12-31T23:59:59")
    assert refused is not None and refused.status == 422
    assert page.get_by_role("alert").inner_text() == "at: before 2000-01-01T00:00:00+00:00"


def test_the_policy_preview_equals_the_channel_after_saving(
    browser: Browser, console_stack: ConsoleStack
) -> None:
    stack = console_stack
    channel = unique("chan")
    seeded = seed(stack, channel)
    with api(stack) as client:  # the fields the form does not edit, set by the API
        assert client.put(f"/v1/policy/channels/{channel}", json=channel_body(seeded)).is_success
    watched = open_page(browser)
    sign_in(watched, stack, "admin")
    page = watched.page
    page.goto(f"{stack.url}/console/policy/channels/{channel}")
    page.fill("#buffer_units", "4")
    page.fill("#allocation_cap_units", "9")
    row = page.locator(
        f"#preview tr[data-sku='{seeded.sku}'][data-figure-name='channel:{channel}']"
    )
    preview_until_listed(page, row)
    assert row.locator("td").nth(1).inner_text() == "15"  # now: 5 + 3 + 7
    previewed = int(row.locator("td.after").inner_text())
    assert previewed == 9  # min(cap 9, 15 - 4)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/console/policy?saved=*")
    redis = redis_client(stack.settings)
    wait_for_figure(redis, redis_keys.ats_key(channel), seeded.sku, str(previewed), timeout_s=30)
    saved = off_loop(asyncio.run, current_book(stack.settings)).channels[channel]
    assert (saved.buffer_units, saved.allocation_cap_units) == (4, 9)
    kept = saved.model_dump(mode="json", include=set(channel_body(seeded)) - {"locations"})
    assert kept == {k: v for k, v in channel_body(seeded).items() if k != "locations"}
    assert watched.errors == []


def preview_until_listed(page: Page, row: Locator, timeout_s: float = 60) -> None:
    """Preview until `row` is listed: the preview reads the committed changelog, which the
    worker commits up to a commit interval after Redis shows the seeded figures."""
    deadline = time.monotonic() + timeout_s
    while True:
        page.get_by_role("button", name="Preview").click()
        try:
            row.wait_for(timeout=2_000)
            return
        except PlaywrightTimeoutError:
            if time.monotonic() > deadline:
                raise


def channel_body(seeded: Seeded) -> dict[str, Any]:
    """A channel's policy with every field the console's form does not edit away from its
    default (docs/CONSOLE.md: saving keeps them)."""
    return {
        "locations": list(seeded.stores.values()),
        "pickup_locations": [seeded.stores["east"]],
        "strategy": "most_available",
        "sourcing_rules": ["exclude_over_capacity", "lowest_cost", "closest"],
        "max_shipments": 1,
        "allow_partial": True,
        "shipping_bands": [
            {"up_to_km": 10, "cents": 300, "transit_days": 1},
            {"up_to_km": None, "cents": 900, "transit_days": 4},
        ],
        "delivery_days": ["mon", "tue", "wed", "thu", "fri"],
    }


def test_a_channel_key_cannot_open_admin_pages(
    browser: Browser, console_stack: ConsoleStack
) -> None:
    stack = console_stack
    watched = open_page(browser)
    sign_in(watched, stack, "web")
    page = watched.page
    for path in ("/console/ops", "/console/policy", "/console/policy/channels/web",
                 "/console/policy/locations/x", "/console/live/ops"):  # fmt: skip
        response = page.goto(stack.url + path)
        assert response is not None and response.status == 403, path
    nav = page.get_by_role("navigation", name="Main")
    page.goto(f"{stack.url}/console/")
    assert nav.get_by_role("link", name="Policy").count() == 0
    # A form posted to an admin action is refused too (and the session is a channel's).
    posted = page.request.post(
        f"{stack.url}/console/policy/channels/web",
        form={"locations": "x", "action": "save"},
        headers={"Origin": stack.url},
    )
    assert posted.status == 403
    # Without a session nothing opens: the browser is sent to the login page.
    anonymous = open_page(browser).page
    anonymous.goto(f"{stack.url}/console/policy")
    assert anonymous.url == f"{stack.url}/console/login"


def test_a_form_from_another_origin_is_refused(
    browser: Browser, console_stack: ConsoleStack
) -> None:
    stack = console_stack
    watched = open_page(browser)
    sign_in(watched, stack, "admin")
    posted = watched.page.request.post(
        f"{stack.url}/console/policy/channels/web",
        form={"locations": "x", "action": "save"},
        headers={"Origin": "http://evil.example"},
    )
    assert posted.status == 403


def test_keyboard_only(browser: Browser, console_stack: ConsoleStack) -> None:
    stack = console_stack
    seeded = seed(stack)
    watched = open_page(browser)
    page = watched.page
    page.goto(f"{stack.url}/console/login")
    assert page.evaluate("document.activeElement.id") == "api_key"  # the one field, focused
    page.keyboard.type(stack.keys["admin"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{stack.url}/console/")
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate("document.activeElement.textContent.trim() || document.activeElement.id")
        )
    assert order == ["Skip to content", "Tally", "Stock lookup", "Orders", "Operations",
                     "Policy", "Sign out", "q"]  # fmt: skip
    page.keyboard.type(seeded.sku)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/?q={seeded.sku}*")
    assert page.get_by_role("heading", name=seeded.sku).is_visible()
    page.keyboard.press("Tab")  # the skip link again, from the top of the new page
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert watched.errors == []


def test_a_390_px_wide_phone_is_usable(browser: Browser, console_stack: ConsoleStack) -> None:
    stack = console_stack
    seeded = seed(stack)
    watched = open_page(browser, width=390, height=844)
    sign_in(watched, stack, "admin")
    page = watched.page
    for path in (f"/console/?q={seeded.sku}&store={seeded.stores['east']}",
                 f"/console/sku/{seeded.sku}", f"/console/sku/{seeded.sku}?at={utc_now_text()}",
                 "/console/ops", "/console/policy",
                 f"/console/policy/channels/{seeded.channel}"):  # fmt: skip
        page.goto(stack.url + path)
        settle(page)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways: {width} px wide"
        search_or_heading = page.locator("h1").bounding_box()
        assert search_or_heading is not None and search_or_heading["width"] <= 390
    page.goto(f"{stack.url}/console/?q={seeded.sku}&store={seeded.stores['east']}")
    settle(page)
    here = page.locator(f".here [data-figure='loc:{seeded.stores['east']}']")
    assert here.inner_text() == "5"
    box = page.get_by_role("button", name="Look up").bounding_box()
    assert box is not None and box["height"] >= 40 and box["x"] + box["width"] <= 390
    nearest = page.locator(".cards li").first.inner_text()
    assert "Store mid" in nearest and "km" in nearest  # the nearest store first, with distance
    shot(page, "lookup-phone")
    assert watched.errors == []
