"""Shopify pusher: Admin GraphQL `inventorySetQuantities`, 2026-04 form.

Every call carries `@idempotent(key: ...)` with a UUID derived from the request's whole
content (channel, the figures' versions and every variable: item, location, quantity,
changeFromQuantity, reason, reference), so a retry — also one after a crash, before our own
bookkeeping was written — reuses the key and Shopify applies it once, and a call whose
mapping or reason changed in between gets a key of its own (never
IDEMPOTENCY_KEY_PARAMETER_MISMATCH). `@idempotent` and `changeFromQuantity` exist from
API version 2026-04 on: an older `shopify_api_version` is refused at start.
`changeFromQuantity` is the last quantity we pushed for the SKU (null when unknown); on
CHANGE_FROM_QUANTITY_STALE the pusher reads the current quantities and retries with them.
Throttling (HTTP 429/503, errors[].extensions.code THROTTLED) is waited out using the
bucket's throttleStatus; an internal error (5xx, or a 200 whose errors carry
INTERNAL_SERVER_ERROR) is retried with backoff; bounded attempts, then the figures are
dead-lettered.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field

from base.settings import PusherSettings
from connectors.metrics import PUSHER_ERRORS
from connectors.pushers.backoff import retry_after_s, throttle_wait_s
from connectors.pushers.changes import Change, Outcome, PushedFigure
from connectors.pushers.http_sink import GiveUp, HttpSink, Tries, batches, configured
from connectors.pushers.keys import PusherKind
from connectors.pushers.transport import Answer, Sleep, count, json_object, real_sleep
from connectors.pushers.verdicts import Accepted, Failed, Refused, Throttled, Verdict

IDEMPOTENCY_NAMESPACE = uuid.UUID("0f6c2c8e-2b7a-4f57-9d3e-5a1c9e4b7d20")

SET_MUTATION = """mutation TallySetAvailable($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) @idempotent(key: "%s") {
    inventoryAdjustmentGroup { reason changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}"""

STALE = "CHANGE_FROM_QUANTITY_STALE"
INTERNAL = "INTERNAL_SERVER_ERROR"
# The first Admin API version with `@idempotent` and `changeFromQuantity` (YYYY-MM sorts).
API_VERSION_MIN = "2026-04"
ITEM_GID = r"^gid://shopify/InventoryItem/\d+$"
LOCATION_GID = r"^gid://shopify/Location/\d+$"
CONCURRENT = "IDEMPOTENCY_CONCURRENT_REQUEST"
UNMAPPED = "unmapped: no Shopify item/location for the SKU"


class ItemTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    inventory_item_id: str = Field(pattern=ITEM_GID)
    location_id: str | None = Field(default=None, pattern=LOCATION_GID)


class ShopifyMapping(BaseModel):
    """SKU -> Shopify inventory item (and location; `location_id` is the default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    location_id: str | None = Field(default=None, pattern=LOCATION_GID)
    items: dict[str, Annotated[str, Field(pattern=ITEM_GID)] | ItemTarget]

    def target(self, sku: str) -> tuple[str, str] | None:
        """(inventoryItemId, locationId) for a SKU, or None when it is not mapped."""
        item = self.items.get(sku)
        if item is None:
            return None
        if isinstance(item, str):
            item = ItemTarget(inventory_item_id=item)
        location = item.location_id or self.location_id
        return None if location is None else (item.inventory_item_id, location)

    @classmethod
    def load(cls, path: Path) -> ShopifyMapping:
        text = path.read_text()
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return cls.model_validate(raw)


@dataclass(frozen=True, slots=True)
class Item:
    change: Change
    inventory_item_id: str
    location_id: str


@dataclass(slots=True)
class Budget(Tries):
    """Tries, and the CHANGE_FROM_QUANTITY_STALE re-reads, of one push (one `quantities` list)."""

    stales: int = 0


def idempotency_key(channel: str, items: Sequence[Item], variables: Mapping[str, Any]) -> str:
    """A UUIDv5 of the channel, the figures' versions and the call's variables, canonical."""
    versions = ",".join(sorted(f"{i.change.sku}@{i.change.version.wire()}" for i in items))
    canonical = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS).decode()
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{channel}|{versions}|{canonical}"))


def set_request(
    items: Sequence[Item],
    believed: Mapping[str, int | None],
    *,
    channel: str,
    reason: str,
    reference_uri: str,
) -> dict[str, Any]:
    """The GraphQL request body: the mutation with its @idempotent key, and its variables."""
    quantities = [
        {
            "inventoryItemId": i.inventory_item_id,
            "locationId": i.location_id,
            "quantity": i.change.available,
            "changeFromQuantity": believed.get(i.change.sku),  # explicit null when unknown
        }
        for i in items
    ]
    variables = {
        "input": {
            "name": "available",
            "reason": reason,
            "referenceDocumentUri": reference_uri,
            "quantities": quantities,
        }
    }
    return {
        "query": SET_MUTATION % idempotency_key(channel, items, variables),
        "variables": variables,
    }


def read_request(items: Sequence[Item]) -> dict[str, Any]:
    """A query for the current `available` quantity of each item at its location."""
    params = ", ".join(f"$item{n}: ID!, $location{n}: ID!" for n in range(len(items)))
    fields = " ".join(
        f"q{n}: inventoryItem(id: $item{n}) {{ inventoryLevel(locationId: $location{n}) "
        '{ quantities(names: ["available"]) { name quantity } } }'
        for n in range(len(items))
    )
    variables: dict[str, str] = {}
    for n, item in enumerate(items):
        variables[f"item{n}"] = item.inventory_item_id
        variables[f"location{n}"] = item.location_id
    return {"query": f"query TallyReadAvailable({params}) {{ {fields} }}", "variables": variables}


def read_quantities(data: Mapping[str, Any], items: Sequence[Item]) -> dict[str, int | None]:
    believed: dict[str, int | None] = {}
    for n, item in enumerate(items):
        level = (data.get(f"q{n}") or {}).get("inventoryLevel") or {}
        quantity = next(
            (
                q.get("quantity")
                for q in level.get("quantities") or []
                if q.get("name") == "available"
            ),
            None,
        )
        believed[item.change.sku] = quantity if isinstance(quantity, int) else None
    return believed


def bad_indexes(user_errors: Sequence[Mapping[str, Any]]) -> set[int] | None:
    """Indexes of the quantities the errors point at; None when any error points elsewhere."""
    indexes: set[int] = set()
    for error in user_errors:
        field = error.get("field") or []
        if len(field) >= 3 and field[:2] == ["input", "quantities"] and str(field[2]).isdigit():
            indexes.add(int(field[2]))
        else:
            return None
    return indexes


class ShopifySink(HttpSink[dict[str, Any]]):
    name: PusherKind = "shopify"

    def __init__(
        self,
        settings: PusherSettings,
        channel: str,
        mapping: ShopifyMapping,
        *,
        client: httpx.AsyncClient | None = None,
        sleep: Sleep = real_sleep,
    ) -> None:
        shop_url = configured(settings.shopify_shop_url, "TALLY_PUSHER__SHOPIFY_SHOP_URL")
        if settings.shopify_api_version < API_VERSION_MIN:
            raise ValueError(
                f"TALLY_PUSHER__SHOPIFY_API_VERSION={settings.shopify_api_version}: the pusher "
                f"needs {API_VERSION_MIN} or later (@idempotent and changeFromQuantity)"
            )
        batch_max = settings.shopify_quantities_per_call_max
        super().__init__(settings, channel, batch_max=batch_max, client=client, sleep=sleep)
        self._mapping = mapping
        self._url = f"{shop_url.rstrip('/')}/admin/api/{settings.shopify_api_version}/graphql.json"
        self._headers = {
            "content-type": "application/json",
            "x-shopify-access-token": settings.shopify_access_token.get_secret_value(),
        }

    async def push(
        self, changes: Sequence[Change], pushed: Mapping[str, PushedFigure]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        items: list[Item] = []
        for change in changes:
            target = self._mapping.target(change.sku)
            if target is None:
                outcomes += self._dead([change], UNMAPPED, 0)
            else:
                items.append(Item(change, *target))
        for batch in batches(items, self.batch_max):
            outcomes += await self._push_call(batch, pushed)
        return outcomes

    async def _push_call(
        self, items: Sequence[Item], pushed: Mapping[str, PushedFigure]
    ) -> list[Outcome]:
        """Set one `quantities` list; refused single quantities are dropped, the rest retried."""
        believed: dict[str, int | None] = {
            i.change.sku: pushed[i.change.sku].quantity if i.change.sku in pushed else None
            for i in items
        }
        budget = Budget()
        outcomes: list[Outcome] = []
        while items:
            try:
                user_errors = await self._set(items, believed, budget)
            except GiveUp as give_up:
                return outcomes + self._dead(_changes(items), give_up.reason, budget.failures)
            if user_errors is None:
                return outcomes + self._delivered(_changes(items))
            PUSHER_ERRORS.labels("shopify", "rejected").inc()
            reason = "rejected: " + "; ".join(
                f"{e.get('code')} {e.get('field')} {e.get('message')}" for e in user_errors
            )
            indexes = (bad_indexes(user_errors) if user_errors else None) or set()
            indexes &= set(range(len(items)))
            if not indexes:  # not pinned on single quantities: the whole call is refused
                return outcomes + self._dead(_changes(items), reason, 0)
            # Drop the refused quantities and retry the rest (a new call, a new key).
            outcomes += self._dead([items[n].change for n in sorted(indexes)], reason, 0)
            items = [item for n, item in enumerate(items) if n not in indexes]
        return outcomes

    async def _set(
        self, items: Sequence[Item], believed: dict[str, int | None], budget: Budget
    ) -> list[Mapping[str, Any]] | None:
        """Call the mutation until it is applied (None) or answers user errors retrying will
        not cure (an empty list when it answered no result at all). A stale changeFromQuantity
        is re-read into `believed`; a concurrent request with the same key is backed off."""
        settings = self._settings
        while True:
            request = set_request(
                items,
                believed,
                channel=self._channel,
                reason=settings.shopify_reason,
                reference_uri=f"{settings.shopify_reference_uri_prefix}{self._channel}",
            )
            result = (await self._graphql(request, budget)).get("inventorySetQuantities") or {}
            user_errors: list[Mapping[str, Any]] = result.get("userErrors") or []
            if not user_errors and result:
                return None
            codes = {str(error.get("code")) for error in user_errors}
            if STALE in codes:
                budget.stales += 1
                if budget.stales > settings.shopify_stale_retries_max:
                    PUSHER_ERRORS.labels("shopify", "rejected").inc()
                    raise GiveUp(f"rejected: {STALE} after {budget.stales - 1} re-reads")
                count("shopify", "retry", "rejected")
                data = await self._graphql(read_request(items), budget)
                believed.update(read_quantities(data, items))
            elif CONCURRENT in codes:
                budget.failures += 1
                count("shopify", "retry", "rejected")
                if budget.failures >= settings.attempts_max:
                    raise GiveUp(f"rejected: {CONCURRENT}, attempts exhausted")
                await self._sleep(self._backoff(budget.failures))
            else:
                return user_errors

    async def _graphql(self, request: Mapping[str, Any], budget: Budget) -> dict[str, Any]:
        """The `data` of one GraphQL call, waiting out throttling and transient failures."""
        return await self._call(self._url, orjson.dumps(request), lambda: self._headers, budget)

    def _judge(self, answer: Answer) -> Verdict[dict[str, Any]]:
        status = answer.status
        payload = json_object(answer.body) if status == 200 else None
        if status in (429, 503) or (payload is not None and _throttled(payload)):
            return Throttled(f"throttled: HTTP {status}", answer.retry_after, payload)
        if status is None or status >= 500 or (status == 200 and payload is None):
            kind = answer.error or "http"
            return Failed(kind, f"{kind}: {answer.detail or f'HTTP {status}'}")
        if status != 200 or payload is None:
            return Refused(f"rejected: HTTP {status}: {answer.body[:200]!r}")
        if _internal_error(payload):
            return Failed("http", f"http: {INTERNAL} {str(payload['errors'])[:200]}")
        if payload.get("errors"):
            return Refused(f"rejected: GraphQL errors: {str(payload['errors'])[:300]}")
        data = payload.get("data")
        return Accepted(data if isinstance(data, dict) else {})

    def _after_throttle(self, throttle: Throttled, tries: Tries) -> float:
        """Retry-After when given, else the wait the bucket's throttleStatus implies."""
        settings = self._settings
        if tries.throttles > settings.shopify_throttles_max:
            raise GiveUp(f"throttled: gave up after {tries.throttles - 1} waits")
        hinted = retry_after_s(throttle.retry_after, max_s=settings.shopify_throttle_wait_s_max)
        if hinted is not None:
            return max(settings.shopify_throttle_wait_s_min, hinted)
        return throttle_wait_s(
            _cost(throttle.payload),
            min_s=settings.shopify_throttle_wait_s_min,
            max_s=settings.shopify_throttle_wait_s_max,
            fallback_s=self._backoff(tries.throttles),
        )

    def _after_failure(self, failure: Failed, tries: Tries) -> float:
        if tries.failures >= self._settings.attempts_max:
            raise GiveUp(f"attempts exhausted; last: {failure.last}")
        return self._backoff(tries.failures)


def _changes(items: Sequence[Item]) -> list[Change]:
    return [item.change for item in items]


def _throttled(payload: Mapping[str, Any]) -> bool:
    return _error_code(payload, "THROTTLED")


def _error_code(payload: Mapping[str, Any], code: str) -> bool:
    """Whether any top-level GraphQL error carries `extensions.code == code`."""
    errors = payload.get("errors")
    if not isinstance(errors, list):
        return False
    return any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == code for e in errors
    )


def _internal_error(payload: Mapping[str, Any]) -> bool:
    """Shopify's own failure: HTTP 200, errors[].extensions.code INTERNAL_SERVER_ERROR."""
    return _error_code(payload, INTERNAL)


def _cost(payload: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The `cost` block: top-level `extensions.cost`, else one inside a THROTTLED error."""
    if payload is None:
        return None
    cost = (payload.get("extensions") or {}).get("cost")
    if isinstance(cost, dict):
        return cost
    for error in payload.get("errors") or []:
        extensions = error.get("extensions") or {} if isinstance(error, dict) else {}
        if isinstance(extensions.get("cost"), dict):
            return dict(extensions["cost"])
        if isinstance(extensions.get("throttleStatus"), dict):
            return {"throttleStatus": extensions["throttleStatus"]}
    return None
