"""The gateway's refusals of schema-valid requests that its spec documents but JSON Schema
cannot state, and a schemathesis check that excuses those and nothing else (no tests here).

Documented in connectors/gateway/spec.py (each answered 422):
- an integer written with a fraction (`396.0`: JSON Schema counts it an integer);
- a fact's `occurred_at` outside the window around the gateway's clock, or a timestamp
  outside the ledger's range; an `eta` before the fact's `occurred_at`; a transfer's
  `target_location` equal to its `location`;
- an order listing one SKU in two lines (`uniqueItems` cannot compare one property);
- an availability `by` date before yesterday or past the horizon (relative to today);
- a promise query with both or neither of `to` and `pickup`;
- a delivery's `delivered_on` in the future or older than a report may be late (relative
  to today);
- a channel policy's shipping bands not ascending, or not ending (only) with an unbounded one;
- an as-of read's `at` before the ledger's range or too far after the gateway's clock.
And one that is schemathesis' own: it sends a `%XX` inside a path value as an escape, so a
generated `a%C3b` reaches the server as invalid UTF-8, not as the value generated.

A refusal is excused only if every error in the reply is one of these, about a value that
really breaks the bound, and the same request with every such value put inside its bound is
then accepted (2xx, or an answer about the resource rather than the data: 401, 403, 404,
409, 429): so the documented bounds were the only reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from fastapi.testclient import TestClient
from schemathesis.checks import positive_data_acceptance
from schemathesis.openapi.checks import RejectedPositiveData

from base.settings import WorkerSettings
from connectors.gateway.routes.promise import ONE_OF
from ledger import limits

SKEW_SLACK = timedelta(seconds=5)  # between the server's clock read and this check's
INTEGER_REQUIRED = "Input should be a valid integer"
OUT_OF_RANGE = ("Input should be greater than or equal to", "Input should be less than or equal to")
SKEWED = "more than"
TARGET_IS_LOCATION = "must differ from location"
ETA_IN_THE_PAST = "before occurred_at"
SKU_TWICE = "lines: a sku is listed twice"
BANDS = "shipping_bands:"
CHANNEL_POLICY = "/v1/policy/channels/{channel}"
EVENTS = "/v1/events"
VALID_DATA_ANSWERS = (401, 403, 404, 409, 429)
ORDERS = "/v1/orders"
STOCK_AS_OF = "/v1/stock/{sku}"
AT_BOUND = "at: "
AVAILABILITY_ONE = "/v1/availability/{channel}/{sku}"
PROMISE = "/v1/promise"
DELIVERED = "/v1/orders/{order_id}/delivered"
DELIVERED_ON = "body.delivered_on"

Check = Callable[[Any, Any, Any], bool | None]


def _outside_skew_window(sent: str) -> bool:
    occurred_at = datetime.fromisoformat(sent)
    now = datetime.now(UTC)
    earliest = now - timedelta(seconds=limits.OCCURRED_BEFORE_INGEST_S_MAX) + SKEW_SLACK
    latest = now + timedelta(seconds=limits.OCCURRED_AHEAD_OF_INGEST_S_MAX) - SKEW_SLACK
    return not earliest <= occurred_at <= latest


def _as_of_outside_bounds(sent: str) -> bool:
    """An as-of `at` before the ledger's range or past the gateway's clock and the skew."""
    at = datetime.fromisoformat(sent)
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    latest = datetime.now(UTC) + timedelta(seconds=limits.OCCURRED_AHEAD_OF_INGEST_S_MAX)
    return not limits.TIMESTAMP_MIN <= at <= latest - SKEW_SLACK


def _outside_timestamp_range(sent: str) -> bool:
    return not limits.TIMESTAMP_MIN <= datetime.fromisoformat(sent) <= limits.TIMESTAMP_MAX


def _eta_before_occurred_at(fact: dict[str, Any]) -> bool:
    try:
        eta = datetime.fromisoformat(fact["eta"])
        return eta < datetime.fromisoformat(fact["occurred_at"])
    except (KeyError, TypeError, ValueError):
        return False


def _path_value_sent_otherwise(case: Any, error: dict[str, Any]) -> bool:
    location, _, name = error["field"].partition(".")
    value = (case.path_parameters or {}).get(name) if location == "path" else None
    return isinstance(value, str) and unquote(value) != value


def _holder(body: Any, path: str, error: dict[str, Any]) -> tuple[Any, str | int]:
    """The object (in `body`) holding the value `error` is about, and the value's key."""
    if path == EVENTS:
        holder, parts = body["events"][error["index"]], error["field"].split(".")
    else:
        location, *parts = error["field"].split(".")
        if location != "body":
            raise LookupError(error["field"])
        holder = body
    for part in parts[:-1]:
        holder = holder[int(part) if isinstance(holder, list) else part]
    return holder, int(parts[-1]) if isinstance(holder, list) else parts[-1]


def _fact_refusal_documented(fact: dict[str, Any], field: str, reason: str) -> bool:
    sent = fact[field]
    if field == "occurred_at":
        return reason.startswith((*OUT_OF_RANGE, SKEWED)) and _outside_skew_window(sent)
    if field == "eta":
        if reason.startswith(ETA_IN_THE_PAST):
            return _eta_before_occurred_at(fact)
        return reason.startswith(OUT_OF_RANGE) and _outside_timestamp_range(sent)
    if field == "target_location":
        return reason == TARGET_IS_LOCATION and sent == fact["location"]
    return False


def _bands_in_order(body: Any) -> bool:
    bands = body.get("shipping_bands") if isinstance(body, dict) else None
    if not bands:
        return True
    bounded = [band.get("up_to_km") for band in bands[:-1]]
    if None in bounded or bands[-1].get("up_to_km") is not None:
        return False
    return bounded == sorted(set(bounded))


def _bands_put_in_order(bands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same distances ascending (distinct, bounded ones first), then an unbounded band."""
    kms = sorted({band["up_to_km"] for band in bands if band.get("up_to_km") is not None})
    bounded = [{"up_to_km": km, "cents": bands[0]["cents"]} for km in kms]
    return [
        *bounded[: limits.SHIPPING_BANDS_MAX - 1],
        {"up_to_km": None, "cents": bands[-1]["cents"]},
    ]


def _lines_repeat_a_sku(body: Any) -> bool:
    skus = [line.get("sku") for line in body.get("lines", [])] if isinstance(body, dict) else []
    return len(set(skus)) != len(skus)


def _by_outside_horizon(case: Any, error: dict[str, Any]) -> bool:
    """An availability `by` date before yesterday or past the horizon (gateway's UTC day)."""
    if case.path != AVAILABILITY_ONE or error["field"] != "query.by":
        return False
    try:
        by = date.fromisoformat((case.query or {})["by"])
    except (KeyError, TypeError, ValueError):
        return False
    today = datetime.now(UTC).date()
    horizon_days = WorkerSettings().atp_horizon_days
    return not today - timedelta(days=1) <= by <= today + timedelta(days=horizon_days - 1)


def _delivered_on_out_of_range(case: Any, error: dict[str, Any]) -> bool:
    """A `delivered_on` after tomorrow or more than the report bound before today (UTC)."""
    if case.path != DELIVERED or error["field"] != DELIVERED_ON:
        return False
    try:
        day = date.fromisoformat(case.body["delivered_on"])
    except (KeyError, TypeError, ValueError):
        return False
    today = datetime.now(UTC).date()
    earliest = today - timedelta(days=limits.DELIVERY_REPORT_DAYS_MAX)
    return not earliest <= day <= today + timedelta(days=1)


def is_documented_refusal(case: Any, error: dict[str, Any]) -> bool:
    """Whether `error` (an ErrorReply item of a 422 to a schema-valid `case`) is documented."""
    if _path_value_sent_otherwise(case, error):
        return True
    if _by_outside_horizon(case, error) or _delivered_on_out_of_range(case, error):
        return True
    if case.path == PROMISE and error["field"] == "query.to" and error["reason"] == ONE_OF:
        query = case.query or {}
        return ("to" in query) == ("pickup" in query)
    if case.path == ORDERS and error["reason"].startswith(SKU_TWICE):
        return _lines_repeat_a_sku(case.body)
    if case.path == CHANNEL_POLICY and error["reason"].startswith(BANDS):
        return not _bands_in_order(case.body)
    if case.path == STOCK_AS_OF and error["field"] == "query.at":
        sent = (case.query or {}).get("at")
        reason_fits = error["reason"].startswith(AT_BOUND)
        return reason_fits and isinstance(sent, str) and _as_of_outside_bounds(sent)
    try:
        holder, key = _holder(case.body, case.path, error)
        if error["reason"] == INTEGER_REQUIRED:
            sent = holder[key]
            return isinstance(sent, float) and sent.is_integer()
        if case.path == EVENTS:
            return _fact_refusal_documented(holder, str(key), error["reason"])
    except (LookupError, TypeError, ValueError):
        return False
    return False


def _as_integers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_as_integers(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_integers(item) for key, item in value.items()}
    return value


def _within_fact_bounds(fact: Any) -> Any:
    if not isinstance(fact, dict):
        return fact
    now = datetime.now(UTC).isoformat()
    if isinstance(fact.get("occurred_at"), str) and _outside_skew_window(fact["occurred_at"]):
        fact = {**fact, "occurred_at": now}
    if isinstance(fact.get("eta"), str) and (
        _outside_timestamp_range(fact["eta"]) or _eta_before_occurred_at(fact)
    ):
        fact = {**fact, "eta": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    if "target_location" in fact and fact["target_location"] == fact.get("location"):
        fact = {**fact, "target_location": "x" if fact["location"] != "x" else "y"}
    return fact


def within_documented_bounds(body: Any, path: str) -> Any:
    """`body` with every value that breaks a documented (unstated) bound put inside it."""
    body = _as_integers(body)
    if path == EVENTS:
        body = {**body, "events": [_within_fact_bounds(fact) for fact in body["events"]]}
    if path == CHANNEL_POLICY and isinstance(body, dict) and not _bands_in_order(body):
        body = {**body, "shipping_bands": _bands_put_in_order(body["shipping_bands"])}
    if path == DELIVERED and isinstance(body, dict) and "delivered_on" in body:
        body = {**body, "delivered_on": datetime.now(UTC).date().isoformat()}
    if path == ORDERS and _lines_repeat_a_sku(body):
        first = {line["sku"]: line for line in reversed(body["lines"])}
        body = {**body, "lines": list(reversed(first.values()))}
    return body


def query_within_documented_bounds(query: Any, path: str) -> Any:
    """`query` with an as-of `at` or an availability `by` outside its bounds put inside
    them (now, today)."""
    sent = query.get("at") if isinstance(query, dict) else None
    if path == STOCK_AS_OF and isinstance(sent, str) and _as_of_outside_bounds(sent):
        return {**query, "at": datetime.now(UTC).isoformat()}
    if path == AVAILABILITY_ONE and isinstance(query, dict) and "by" in query:
        return {**query, "by": datetime.now(UTC).date().isoformat()}
    if path == PROMISE and isinstance(query, dict):
        return {**{k: v for k, v in query.items() if k != "pickup"}, "to": "10001"}
    return query


def _retry_within_bounds(client: TestClient, headers: dict[str, str], case: Any) -> Any:
    """`case` again, within the documented bounds, its path values sent literally.

    A `%` in a path value cannot be sent literally through starlette's TestClient: `%25`
    arrives decoded twice (`a%2541b` is routed as `aAb`), so `%` is sent as `_`, which every
    id pattern accepts where it accepts `%`.
    """
    literal = {
        name: quote(str(v).replace("%", "_"), safe="")
        for name, v in (case.path_parameters or {}).items()
    }
    return client.request(
        case.method,
        case.path.format(**literal),
        params=query_within_documented_bounds(case.query, case.path),
        json=None if _no_body(case.body) else within_documented_bounds(case.body, case.path),
        headers=headers,
    )


def _no_body(body: Any) -> bool:
    return type(body).__name__ == "NotSet"  # schemathesis' marker of a request without one


def documented_positive_acceptance(client: TestClient, headers: dict[str, str]) -> Check:
    """schemathesis' positive_data_acceptance, less the documented refusals (`client` and
    `headers` send the request again within the documented bounds: it must be accepted)."""

    def check(ctx: Any, response: Any, case: Any) -> bool | None:
        try:
            verdict: bool | None = positive_data_acceptance(ctx, response, case)
            return verdict
        except RejectedPositiveData:
            errors = response.json().get("errors") if response.status_code == 422 else None
            if not errors or not all(is_documented_refusal(case, e) for e in errors):
                raise
        retried = _retry_within_bounds(client, headers, case)
        # Within the bounds, the request gets what schemathesis accepts for valid data
        # (a 404 for an order no one placed is the right answer, not a refusal of the data).
        assert 200 <= retried.status_code < 300 or retried.status_code in VALID_DATA_ANSWERS, (
            f"refused with only documented errors {errors}, then refused within the bounds: "
            f"{retried.status_code} {retried.text}"
        )
        return None

    check.__name__ = "documented_positive_acceptance"
    return check
