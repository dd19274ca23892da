"""Pusher pieces without I/O: signing, coalescing and versions, backoff, request shapes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from base.redis_keys import FigureVersion
from base.settings import PusherSettings
from connectors.pushers import signing
from connectors.pushers.backoff import backoff_s, retry_after_s, throttle_wait_s
from connectors.pushers.changes import (
    Change,
    PushedFigure,
    coalesce,
    newer_than_pushed,
    parse_entry,
)
from connectors.pushers.shopify import (
    Item,
    ShopifyMapping,
    ShopifySink,
    bad_indexes,
    read_quantities,
    read_request,
    set_request,
)
from connectors.pushers.webhook import body, message_id
from tests.connectors.fakes.shopify import MUTATION_RE, READ_RE

# The Standard Webhooks spec's own library test vector (FIELD-NOTES.md).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def change(sku: str, available: int, version: str, entry: str = "1-0") -> Change:
    return Change(entry, sku, available, FigureVersion.parse(version), 1_700_000_000_000)


# --- signing -----------------------------------------------------------------------------


def test_signer_matches_the_standard_webhooks_test_vector() -> None:
    key = signing.secret_key(VECTOR_SECRET)
    assert signing.sign(key, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_verify_accepts_the_vector_and_rejects_tampering() -> None:
    key = signing.secret_key(VECTOR_SECRET)
    headers = signing.headers(key, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    assert headers["webhook-signature"] == VECTOR_SIGNATURE
    signing.verify(key, headers, VECTOR_BODY, now_s=VECTOR_TIMESTAMP + 10)
    multi = {**headers, "webhook-signature": f"v1,bm90LWl0 {VECTOR_SIGNATURE}"}
    signing.verify(key, multi, VECTOR_BODY, now_s=VECTOR_TIMESTAMP)
    with pytest.raises(signing.SignatureError):
        signing.verify(key, headers, b'{"test": 2432232315}', now_s=VECTOR_TIMESTAMP)
    with pytest.raises(signing.SignatureError):
        signing.verify(key, headers, VECTOR_BODY, now_s=VECTOR_TIMESTAMP + 301)


@pytest.mark.parametrize("secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_!!!"])
def test_bad_secrets_are_refused(secret: str) -> None:
    with pytest.raises(signing.SignatureError):
        signing.secret_key(secret)


# --- versions and coalescing ---------------------------------------------------------------


def test_versions_compare_as_integer_pairs() -> None:
    burst = [
        change("A", 1, "9-5", "1-0"),
        change("A", 2, "10-0", "2-0"),
        change("A", 3, "9-9", "3-0"),
    ]
    assert [c.available for c in coalesce(burst)] == [2]
    assert [
        c.available for c in coalesce([change("B", 1, "4-2", "1-0"), change("B", 2, "4-10", "1-1")])
    ] == [2]


def test_coalesce_keeps_the_newest_per_sku_in_stream_order() -> None:
    burst = [
        change("A", 1, "1-1", "5-0"),
        change("B", 7, "3-1", "5-1"),
        change("A", 2, "2-1", "6-0"),
        change("C", 4, "1-1", "10-0"),
        change("B", 8, "2-1", "11-0"),  # older than B's 3-1 though read later
    ]
    assert [(c.sku, c.available) for c in coalesce(burst)] == [("B", 7), ("A", 2), ("C", 4)]


def test_figures_not_newer_than_the_confirmed_one_are_dropped() -> None:
    pushed = {"A": PushedFigure(FigureVersion(5, 1), 3), "B": PushedFigure(FigureVersion(5, 1), 3)}
    candidates = [change("A", 9, "5-1"), change("B", 9, "5-2"), change("C", 9, "1-0")]
    assert [c.sku for c in newer_than_pushed(candidates, pushed)] == ["B", "C"]
    assert PushedFigure.parse(PushedFigure(FigureVersion(12, 3), 40).wire()) == PushedFigure(
        FigureVersion(12, 3), 40
    )


@given(
    st.lists(
        st.tuples(
            st.sampled_from("ABC"), st.integers(0, 50), st.integers(0, 30), st.integers(0, 5)
        ),
        min_size=1,
        max_size=40,
    )
)
def test_coalesce_picks_the_max_version_of_each_sku(rows: list[tuple[str, int, int, int]]) -> None:
    burst = [change(s, a, f"{v}-{p}", f"{n}-0") for n, (s, a, v, p) in enumerate(rows)]
    result = {c.sku: c for c in coalesce(burst)}
    assert set(result) == {s for s, *_ in rows}
    for sku, picked in result.items():
        assert picked.version == max(c.version for c in burst if c.sku == sku)


def test_parse_entry_rejects_malformed_and_trimmed_entries() -> None:
    good = {"sku": "A", "available": "3", "version": "4-1", "ingested_at": "17"}
    assert parse_entry("1-0", good) == Change("1-0", "A", 3, FigureVersion(4, 1), 17)
    assert parse_entry("1-0", None) is None
    assert parse_entry("1-0", {**good, "available": "-1"}) is None
    assert parse_entry("1-0", {**good, "version": "x"}) is None
    assert parse_entry("1-0", {"sku": "A"}) is None


# --- backoff ---------------------------------------------------------------------------------


def test_backoff_is_exponential_full_jitter_and_bounded() -> None:
    top = [backoff_s(n, base_s=0.5, max_s=8, uniform=lambda lo, hi: hi) for n in range(1, 9)]
    assert top == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert backoff_s(3, base_s=0.5, max_s=8, uniform=lambda lo, hi: lo) == 0.0
    assert backoff_s(10_000, base_s=1, max_s=30) <= 30


def test_throttle_wait_comes_from_the_bucket_and_is_bounded() -> None:
    cost = {
        "requestedQueryCost": 50,
        "throttleStatus": {"maximumAvailable": 1000, "currentlyAvailable": 10, "restoreRate": 50},
    }
    assert throttle_wait_s(cost, min_s=0.05, max_s=10, fallback_s=1) == pytest.approx(0.8)
    assert throttle_wait_s(cost, min_s=0.05, max_s=0.5, fallback_s=1) == 0.5
    full = {
        "requestedQueryCost": 5,
        "throttleStatus": {"currentlyAvailable": 900, "restoreRate": 50},
    }
    assert throttle_wait_s(full, min_s=0.05, max_s=10, fallback_s=1) == 0.05
    assert throttle_wait_s(None, min_s=0.05, max_s=10, fallback_s=2) == 2
    assert throttle_wait_s({"throttleStatus": {}}, min_s=0, max_s=1, fallback_s=5) == 1


def test_retry_after_is_bounded_and_tolerant() -> None:
    assert retry_after_s("3", max_s=10) == 3
    assert retry_after_s("300", max_s=10) == 10
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", max_s=10) is None
    assert retry_after_s(None, max_s=10) is None


# --- Shopify request shape -------------------------------------------------------------------


ITEMS = [
    Item(change("A", 12, "3-1"), "gid://shopify/InventoryItem/1", "gid://shopify/Location/9"),
    Item(change("B", 0, "7-1"), "gid://shopify/InventoryItem/2", "gid://shopify/Location/9"),
]


def test_set_request_is_the_2026_04_form() -> None:
    request = set_request(
        ITEMS, {"A": 5}, channel="web", reason="correction", reference_uri="gid://tally/Sync/web"
    )
    assert MUTATION_RE.search(request["query"]) is not None
    assert request["variables"] == {
        "input": {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": "gid://tally/Sync/web",
            "quantities": [
                {
                    "inventoryItemId": "gid://shopify/InventoryItem/1",
                    "locationId": "gid://shopify/Location/9",
                    "quantity": 12,
                    "changeFromQuantity": 5,
                },
                {
                    "inventoryItemId": "gid://shopify/InventoryItem/2",
                    "locationId": "gid://shopify/Location/9",
                    "quantity": 0,
                    "changeFromQuantity": None,  # unknown: an explicit null
                },
            ],
        }
    }


def key_of(items: list[Item], believed: dict[str, int | None], **overrides: str) -> str:
    """The @idempotent key of the call `set_request` builds."""
    args = {"channel": "web", "reason": "correction", "reference_uri": "gid://tally/Sync/web"}
    request = set_request(items, believed, **{**args, **overrides})
    match = MUTATION_RE.search(request["query"])
    assert match is not None
    return match.group(1)


def test_idempotency_key_is_deterministic_per_content() -> None:
    key = key_of(ITEMS, {"A": 5})
    assert key == key_of(ITEMS, {"A": 5, "B": None})
    assert key != key_of(ITEMS, {"A": 5}, channel="shop")
    assert key != key_of(ITEMS, {"A": 6})  # after a stale re-read: a new call
    moved = [Item(change("A", 12, "3-2"), ITEMS[0].inventory_item_id, ITEMS[0].location_id)]
    assert key_of(moved, {"A": 5}) != key_of(ITEMS[:1], {"A": 5})


def test_idempotency_key_changes_with_item_location_and_reason() -> None:
    """A mapping or reason changed between a crash and its retry is a new call, not a reuse
    of the old key with other parameters (IDEMPOTENCY_KEY_PARAMETER_MISMATCH)."""
    first = ITEMS[0]
    key = key_of([first], {"A": 5})
    other_item = Item(first.change, "gid://shopify/InventoryItem/77", first.location_id)
    other_location = Item(first.change, first.inventory_item_id, "gid://shopify/Location/77")
    assert key_of([other_item], {"A": 5}) != key
    assert key_of([other_location], {"A": 5}) != key
    assert key_of([first], {"A": 5}, reason="cycle_count_available") != key
    assert key_of([first], {"A": 5}, reference_uri="gid://tally/Sync/other") != key


def test_an_api_version_before_2026_04_is_refused() -> None:
    settings = PusherSettings(shopify_shop_url="https://x.myshopify.com")
    mapping = ShopifyMapping(items={})
    ShopifySink(settings, "web", mapping)  # the default, 2026-04
    ShopifySink(settings.model_copy(update={"shopify_api_version": "2026-07"}), "web", mapping)
    old = settings.model_copy(update={"shopify_api_version": "2025-10"})
    with pytest.raises(ValueError, match="2026-04 or later"):
        ShopifySink(old, "web", mapping)


@pytest.mark.parametrize(
    "items",
    [
        {"A": "30322695"},
        {"A": "gid://shopify/Location/1"},
        {"A": {"inventory_item_id": "gid://shopify/InventoryItem/1", "location_id": "L2"}},
    ],
)
def test_mapping_ids_must_be_shopify_gids(items: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ShopifyMapping.model_validate({"location_id": "gid://shopify/Location/1", "items": items})
    with pytest.raises(ValidationError):
        ShopifyMapping.model_validate({"location_id": "124656943", "items": {}})


def test_read_request_and_its_answer() -> None:
    request = read_request(ITEMS)
    assert READ_RE.findall(request["query"]) == ["0", "1"]
    assert request["variables"]["item1"] == "gid://shopify/InventoryItem/2"
    data = {
        "q0": {"inventoryLevel": {"quantities": [{"name": "available", "quantity": 4}]}},
        "q1": {"inventoryLevel": None},
    }
    assert read_quantities(data, ITEMS) == {"A": 4, "B": None}


def test_user_error_fields_point_at_quantities() -> None:
    assert bad_indexes([{"field": ["input", "quantities", "1", "quantity"]}]) == {1}
    assert bad_indexes([{"field": ["input", "reason"]}]) is None


def test_mapping_loads_json_and_yaml(tmp_path: Path) -> None:
    raw = {
        "location_id": "gid://shopify/Location/1",
        "items": {
            "A": "gid://shopify/InventoryItem/10",
            "B": {
                "inventory_item_id": "gid://shopify/InventoryItem/11",
                "location_id": "gid://shopify/Location/2",
            },
        },
    }
    (tmp_path / "m.json").write_text(json.dumps(raw))
    (tmp_path / "m.yaml").write_text(
        "location_id: gid://shopify/Location/1\nitems:\n  A: gid://shopify/InventoryItem/10\n"
        "  B: {inventory_item_id: gid://shopify/InventoryItem/11,"
        " location_id: gid://shopify/Location/2}\n"
    )
    for name in ("m.json", "m.yaml"):
        mapping = ShopifyMapping.load(tmp_path / name)
        assert mapping.target("A") == ("gid://shopify/InventoryItem/10", "gid://shopify/Location/1")
        assert mapping.target("B") == (
            "gid://shopify/InventoryItem/11",
            "gid://shopify/Location/2",
        )
        assert mapping.target("C") is None


# --- webhook payload ------------------------------------------------------------------------


def test_webhook_body_and_id() -> None:
    one = [change("A", 12, "3-1")]
    assert json.loads(body("web", one, payload="v1")) == {
        "channel": "web",
        "sku": "A",
        "available": 12,
        "version": "3-1",
        "ingested_at": 1_700_000_000_000,
    }
    two = [change("A", 12, "3-1"), change("B", 1, "1-1")]
    assert [f["sku"] for f in json.loads(body("web", two, payload="v1"))["changes"]] == ["A", "B"]
    assert message_id("web", two) == message_id("web", list(reversed(two)))
    assert message_id("web", one) != message_id("web", [change("A", 12, "3-2")])
    assert message_id("web", one).startswith("msg_")


def test_the_standard_webhook_body_is_type_timestamp_data() -> None:
    one = [change("A", 12, "3-1")]
    assert json.loads(body("web", one)) == {
        "type": "tally.available.updated",
        "timestamp": "2023-11-14T22:13:20.000Z",  # the figure's ingested_at, 1_700_000_000_000
        "data": json.loads(body("web", one, payload="v1")),
    }
    two = [change("A", 12, "3-1"), change("B", 1, "1-1")]
    batch = json.loads(body("web", two))
    assert batch["type"] == "tally.available.batch"
    assert batch["data"] == json.loads(body("web", two, payload="v1"))


def test_a_secret_without_base64_padding_is_accepted() -> None:
    key = bytes(range(31))  # 31 bytes: base64 ends in "=="
    padded = "whsec_" + base64.b64encode(key).decode()
    assert padded.endswith("==")
    assert signing.secret_key(padded.rstrip("=")) == key
    assert signing.secret_key(padded) == key
