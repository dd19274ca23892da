"""A fake Shopify Admin GraphQL endpoint for `inventorySetQuantities` (2026-04 form).

It checks the request shape strictly (records violations), keeps `available` per
(inventoryItemId, locationId), applies changeFromQuantity compare-and-swap, replays the
stored answer for a repeated @idempotent key (and rejects a key reused with other
variables), answers the pusher's re-read query, and serves scripted throttling/faults.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import orjson

from tests.connectors.fakes.server import FakeServer, plain_fault

API_PATH = "/admin/api/2026-04/graphql.json"
TOKEN = "shpat_fake_token"
REASONS = {"correction", "cycle_count_available", "other", "restock", "received"}
MUTATION_RE = re.compile(
    r"mutation\b[^{]*\(\$input: InventorySetQuantitiesInput!\)\s*\{\s*"
    r'inventorySetQuantities\(input: \$input\) @idempotent\(key: "([0-9a-f-]{36})"\)'
)
READ_RE = re.compile(
    r"q(\d+): inventoryItem\(id: \$item\1\) \{ inventoryLevel\(locationId: \$location\1\)"
)
QUANTITY_KEYS = {"inventoryItemId", "locationId", "quantity", "changeFromQuantity"}
THROTTLED = {
    "errors": [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/limits",
            },
        }
    ],
    "extensions": {
        "cost": {
            "requestedQueryCost": 12,
            "actualQueryCost": None,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": 2,
                "restoreRate": 100.0,
            },
        }
    },
}
INTERNAL_ERROR = {
    "errors": [
        {
            "message": "Internal error. Looks like something went wrong on our end.",
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "fake-request-1"},
        }
    ]
}
THROTTLE_WAIT_S = (12 - 2) / 100.0  # what the pusher must compute from THROTTLED above


class FakeShopify(FakeServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.levels: dict[tuple[str, str], int] = {}  # (item, location) -> available
        self.history: dict[str, list[int]] = {}  # item -> every quantity applied, in order
        self.mutations: list[dict[str, Any]] = []  # every well-formed mutation received
        self.keys_applied: list[str] = []  # idempotency keys whose mutation was applied
        self.keys_seen: list[str] = []  # the idempotency key of every mutation received
        self.reads = 0
        self._answers: dict[str, tuple[bytes, Any]] = {}  # key -> (variables, answer)
        self._apply_lock = threading.Lock()

    @property
    def shop_url(self) -> str:
        return self.url

    def answer(
        self, path: str, headers: dict[str, str], body: bytes, fault: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        if path != API_PATH:
            self.violation(f"path {path}")
            return 404, {"errors": "Not Found"}, {}
        if headers.get("x-shopify-access-token") != TOKEN:
            self.violation("access token")
            return 401, {"errors": "Invalid API key or access token"}, {}
        failure = plain_fault(fault)
        if failure is not None:
            return failure
        if fault == "throttled":
            return 200, THROTTLED, {}
        if fault == "internal":  # Shopify's own failure, reported inside a 200
            return 200, INTERNAL_ERROR, {}
        if fault == "too_low_1":  # the second quantity of the call is refused
            field = ["input", "quantities", "1", "quantity"]
            return 200, _user_errors([{"code": "INVALID_QUANTITY_TOO_LOW", "field": field}]), {}
        request = orjson.loads(body)
        query, variables = request.get("query", ""), request.get("variables") or {}
        if "inventorySetQuantities" in query:
            return 200, self._mutation(query, variables), {}
        if READ_RE.search(query):
            return 200, self._read(query, variables), {}
        self.violation(f"unknown query {query[:80]}")
        return 200, {"errors": [{"message": "unknown query"}]}, {}

    def _mutation(self, query: str, variables: dict[str, Any]) -> Any:
        match = MUTATION_RE.search(query)
        if match is None:
            self.violation(f"mutation document: {query}")
            return {"errors": [{"message": "idempotent directive required"}]}
        key = match.group(1)
        self._check_input(variables)
        canonical = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
        with self._apply_lock:
            self.mutations.append(variables)
            self.keys_seen.append(key)
            if key in self._answers:
                stored_variables, stored = self._answers[key]
                if stored_variables == canonical:
                    return stored
                return _user_errors([{"code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH", "field": None}])
            answer = self._apply(key, variables["input"]["quantities"])
            self._answers[key] = (canonical, answer)
            return answer

    def _apply(self, key: str, quantities: list[dict[str, Any]]) -> Any:
        errors = []
        for n, q in enumerate(quantities):
            current = self.levels.get((q["inventoryItemId"], q["locationId"]))
            expected = q["changeFromQuantity"]
            if expected is not None and expected != current:
                errors.append(
                    {
                        "code": "CHANGE_FROM_QUANTITY_STALE",
                        "field": ["input", "quantities", str(n), "changeFromQuantity"],
                        "message": f"expected {expected}, is {current}",
                    }
                )
        if errors:
            return _user_errors(errors)
        changes = []
        for q in quantities:
            where = (q["inventoryItemId"], q["locationId"])
            before = self.levels.get(where, 0)
            self.levels[where] = q["quantity"]
            self.history.setdefault(q["inventoryItemId"], []).append(q["quantity"])
            changes.append(
                {"name": "available", "delta": q["quantity"] - before, "quantityAfterChange": None}
            )
        self.keys_applied.append(key)
        group = {"reason": "correction", "changes": changes}
        return {
            "data": {
                "inventorySetQuantities": {"inventoryAdjustmentGroup": group, "userErrors": []}
            }
        }

    def _check_input(self, variables: dict[str, Any]) -> None:
        data = variables.get("input") or {}
        if set(data) != {"name", "reason", "referenceDocumentUri", "quantities"}:
            self.violation(f"input fields {sorted(data)}")
        if data.get("name") != "available":
            self.violation(f"name {data.get('name')}")
        if data.get("reason") not in REASONS:
            self.violation(f"reason {data.get('reason')}")
        if not str(data.get("referenceDocumentUri", "")).startswith("gid://"):
            self.violation("referenceDocumentUri")
        for q in data.get("quantities") or [None]:
            if not isinstance(q, dict) or set(q) != QUANTITY_KEYS:
                self.violation(f"quantity fields {q}")  # changeFromQuantity must be present
            elif not isinstance(q["quantity"], int) or not (
                q["changeFromQuantity"] is None or isinstance(q["changeFromQuantity"], int)
            ):
                self.violation(f"quantity types {q}")

    def _read(self, query: str, variables: dict[str, Any]) -> Any:
        with self._apply_lock:
            self.reads += 1
            data = {}
            for n in READ_RE.findall(query):
                where = (variables[f"item{n}"], variables[f"location{n}"])
                quantity = self.levels.get(where)
                data[f"q{n}"] = {
                    "inventoryLevel": None
                    if quantity is None
                    else {"quantities": [{"name": "available", "quantity": quantity}]}
                }
            return {"data": data}


def _user_errors(errors: list[dict[str, Any]]) -> Any:
    for error in errors:
        error.setdefault("message", error["code"])
    return {
        "data": {"inventorySetQuantities": {"inventoryAdjustmentGroup": None, "userErrors": errors}}
    }
