"""schemathesis against the gateway's own OpenAPI spec, every check: the spec and server agree.

All of schemathesis' checks run (no 5xx, status codes, content types, response schemas and
headers, auth enforced, schema-valid requests accepted, schema-violating ones rejected) in
the coverage and fuzzing phases. Kafka, Redis and the event log are faked (tests/connectors/
test_gateway_fakes.py), so this runs in the default tier with few fuzzed examples per
operation; the `slow` tier fuzzes many more.

The few refusals of schema-valid requests that the spec documents but JSON Schema cannot
state (an `occurred_at` outside the window around the gateway's clock, `396.0` for an
integer, an as-of `at` outside its range, ...) are excused by
tests/connectors/documented_refusals.py, and only when the same request within those
bounds is then accepted; any other disagreement fails.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import ChecksConfig

from base.settings import GatewaySettings, Settings
from connectors.gateway import create_app
from tests.connectors.documented_refusals import (
    INTEGER_REQUIRED,
    documented_positive_acceptance,
    is_documented_refusal,
    query_within_documented_bounds,
    within_documented_bounds,
)
from tests.connectors.test_gateway_fakes import (
    FakeBus,
    FakeCatalog,
    FakeHistory,
    FakeReads,
    make_keys,
)

_keys = make_keys(Path(tempfile.mkdtemp(prefix="tally-schema-")) / "keys.json")
_app = create_app(
    Settings(gateway=GatewaySettings(requests_burst_per_key_max=100_000)),
    bus=FakeBus(),
    reads=FakeReads(),
    keys=_keys.store,
    catalog=FakeCatalog(permissive=True),
    history=FakeHistory(),
)
REJECTION_STATUSES = ChecksConfig().negative_data_rejection.expected_statuses
CONFIG = schemathesis.Config.from_dict(
    {
        "auth": {"openapi": {"HTTPBearer": {"bearer": _keys.plain["admin"]}}},
        "phases": {
            "examples": {"enabled": False},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
        },
        # 413 is how the gateway refuses a batch or a sku list over its documented maxItems.
        "checks": {"negative_data_rejection": {"expected-statuses": [*REJECTION_STATUSES, "413"]}},
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app, config=CONFIG)
ADMIN = _keys.bearer("admin")
_positive_acceptance = documented_positive_acceptance(TestClient(_app), ADMIN)


def _check(case: Any) -> None:
    case.call_and_validate(
        excluded_checks=[positive_data_acceptance],
        additional_checks=[_positive_acceptance],
    )


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_gateway_answers_as_its_spec_says(case: Any) -> None:
    _check(case)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_gateway_answers_as_its_spec_says_long_run(case: Any) -> None:
    _check(case)


# --- the spec states the bounds; the excuse above is narrow --------------------------------


def test_the_spec_states_the_bounds_the_server_enforces() -> None:
    spec = _app.openapi()
    components = spec["components"]["schemas"]
    version = components["ChannelPolicyRequest"]["properties"]["version"]["anyOf"][0]
    assert version["maximum"] == 2**63 - 1 and isinstance(version["maximum"], int)
    (sku,) = [
        p
        for p in spec["paths"]["/v1/availability/{channel}"]["get"]["parameters"]
        if p["name"] == "sku"
    ]
    assert sku["schema"]["items"]["minLength"] == 1
    assert sku["schema"]["maxItems"] == GatewaySettings().availability_skus_max
    assert components["EventBatch"]["properties"]["events"]["maxItems"] == 1_000
    assert components["Adjusted"]["properties"]["qty"]["not"] == {"const": 0}
    assert components["ChannelPolicyRequest"]["properties"]["locations"]["uniqueItems"]
    assert "422" in components["Received"]["properties"]["occurred_at"]["description"]
    assert "396.0" in spec["info"]["description"]


def _float_bounds(node: Any, where: str = "") -> list[str]:
    if isinstance(node, list):
        return [f for i, item in enumerate(node) for f in _float_bounds(item, f"{where}/{i}")]
    if not isinstance(node, dict):
        return []
    found = [
        f"{where}/{key}"
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        if node.get("type") == "integer" and isinstance(node.get(key), float)
    ]
    return found + [f for k, v in node.items() for f in _float_bounds(v, f"{where}/{k}")]


def test_every_integer_bound_in_the_spec_is_an_exact_integer() -> None:
    assert _float_bounds(_app.openapi()) == []


def _case(path: str, method: str, body: Any) -> Any:
    return schema[path][method].Case(body=body, path_parameters={"hold_id": "h-1"})


HOLD = {"hold_id": "h-1", "sku": "SKU-1", "channel": "web", "ttl_s": 60}


def fact(**fields: Any) -> dict[str, Any]:
    return {"type": "received", "event_id": "e", "sku": "S", "location": "l", "qty": 1, **fields}


@pytest.mark.parametrize(
    ("case", "error", "documented"),
    [
        (
            _case("/v1/holds", "POST", {**HOLD, "qty": 396.0}),
            {"field": "body.qty", "reason": INTEGER_REQUIRED},
            True,
        ),
        (
            _case("/v1/holds", "POST", {**HOLD, "qty": 396}),
            {"field": "body.qty", "reason": INTEGER_REQUIRED},
            False,
        ),
        (
            _case("/v1/holds", "POST", {**HOLD, "qty": 396.0}),
            {"field": "body.ttl_s", "reason": INTEGER_REQUIRED},
            False,
        ),
        (
            _case("/v1/events", "POST", {"events": [fact(occurred_at="2000-01-01T00:00:00Z")]}),
            {"index": 0, "field": "occurred_at", "reason": "more than 300s after or ..."},
            True,
        ),
        (
            _case(
                "/v1/events", "POST", {"events": [fact(occurred_at=datetime.now(UTC).isoformat())]}
            ),
            {"index": 0, "field": "occurred_at", "reason": "more than 300s after or ..."},
            False,
        ),
        (
            _case("/v1/events", "POST", {"events": [fact(occurred_at="2000-01-01T00:00:00Z")]}),
            {"index": 0, "field": "sku", "reason": "String should have at least 1 character"},
            False,
        ),
    ],
)
def test_only_the_documented_refusals_are_excused(
    case: Any, error: dict[str, Any], documented: bool
) -> None:
    assert is_documented_refusal(case, error) is documented


def _as_of(at: str) -> Any:
    return schema["/v1/stock/{sku}"]["GET"].Case(path_parameters={"sku": "S"}, query={"at": at})


AT_TOO_EARLY = {"field": "query.at", "reason": "at: before 2000-01-01T00:00:00+00:00"}
AT_TOO_LATE = {"field": "query.at", "reason": "at: more than 300 s after the gateway's clock"}


@pytest.mark.parametrize(
    ("case", "error", "documented"),
    [
        (_as_of("1999-12-31T23:59:59Z"), AT_TOO_EARLY, True),
        (_as_of("2999-01-01T00:00:00"), AT_TOO_LATE, True),
        (_as_of("2026-01-01T00:00:00Z"), AT_TOO_EARLY, False),  # within the bounds
        (_as_of("1999-12-31T23:59:59Z"), {"field": "query.at", "reason": "other"}, False),
        (_as_of("1999-12-31T23:59:59Z"), {"field": "path.sku", "reason": "at: x"}, False),
    ],
)
def test_only_an_as_of_time_out_of_its_bounds_is_excused(
    case: Any, error: dict[str, Any], documented: bool
) -> None:
    assert is_documented_refusal(case, error) is documented


def test_an_as_of_time_out_of_its_bounds_is_retried_now() -> None:
    retried = query_within_documented_bounds({"at": "1999-12-31T23:59:59Z"}, "/v1/stock/{sku}")
    now = datetime.now(UTC)
    assert now - timedelta(seconds=5) < datetime.fromisoformat(retried["at"]) <= now
    kept = {"at": "2026-01-01T00:00:00Z"}
    assert query_within_documented_bounds(kept, "/v1/stock/{sku}") == kept


def test_within_documented_bounds_moves_only_the_values_that_break_them() -> None:
    in_window = datetime.now(UTC).isoformat()
    body = {
        "events": [
            fact(occurred_at="2000-01-01T00:00:00Z", qty=3.0),
            fact(occurred_at=in_window, type="transfer_out", target_location="l", order_id="o"),
        ]
    }
    first, second = within_documented_bounds(body, "/v1/events")["events"]
    assert first["occurred_at"] != "2000-01-01T00:00:00Z" and first["qty"] == 3
    assert isinstance(first["qty"], int)
    assert second["occurred_at"] == in_window and second["target_location"] != "l"
