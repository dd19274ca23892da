"""`POST /v1/events`: a batch of facts, validated item by item, produced all-or-nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from connectors import fact_intake as ingest
from connectors import metrics
from connectors.auth import KeyRecord
from connectors.gateway.access import Principal, require_scanner
from connectors.gateway.errors import ERROR_RESPONSES, ERRORS_SHOWN_MAX, refuse
from connectors.gateway.kafka_calls import produce
from connectors.gateway.models import EventsAccepted, ItemError
from connectors.gateway.state import BusDep, SettingsDep
from ledger.codec import encode
from ledger.events import Fact

router = APIRouter()


@router.post(
    "/v1/events",
    status_code=202,
    response_model=EventsAccepted,
    responses=ERROR_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}}
            },
        }
    },
    summary="Post a batch of facts (all-or-nothing); 202 once Kafka acknowledged all",
)
async def post_events(
    request: Request, who: Principal, settings: SettingsDep, bus: BusDep
) -> EventsAccepted | JSONResponse:
    require_scanner(who)
    body = await request.body()  # size already bounded by the body-limit middleware
    items = _batch_items(body, settings.gateway.batch_events_max)
    if isinstance(items, JSONResponse):
        return items
    now = datetime.now(UTC)
    facts, errors = ingest.validate_batch(items, now)
    if errors:
        shown = [ItemError(index=e.index, field=e.field, reason=e.reason) for e in errors]
        return refuse(
            422, f"{len(errors)} invalid item(s); nothing was accepted", shown[:ERRORS_SHOWN_MAX]
        )
    outside = _outside_locations(who, facts)
    if outside:
        return refuse(403, "facts at locations this key may not post for", outside)
    records = [(fact.sku.encode(), encode(fact)) for fact in facts]
    await produce(bus, settings.topics.events, records)
    metrics.GATEWAY_EVENTS_ACCEPTED.inc(len(facts))
    return EventsAccepted(accepted=len(facts), ingested_at=now)


def _batch_items(body: bytes, batch_events_max: int) -> list[Any] | JSONResponse:
    """The batch's items, or the refusal of a body that is no batch (400 / 413 / 422)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        return refuse(400, f"malformed JSON: {error}")
    items = document.get("events") if isinstance(document, dict) else None
    if not isinstance(items, list) or set(document) != {"events"}:
        return refuse(422, 'body must be {"events": [fact, ...]}')
    if not items:
        return refuse(422, "events: at least one fact is required")
    if len(items) > batch_events_max:
        return refuse(413, f"events: {len(items)} facts, over {batch_events_max}")
    return items


def _outside_locations(who: KeyRecord, facts: list[Fact]) -> list[ItemError]:
    """The facts at locations `who` may not post for (shown up to ERRORS_SHOWN_MAX)."""
    outside = [
        ItemError(index=i, field="location", reason=f"not a location of key {who.key_id}")
        for i, fact in enumerate(facts)
        if not who.may_post_at(fact.location)
    ]
    return outside[:ERRORS_SHOWN_MAX]
