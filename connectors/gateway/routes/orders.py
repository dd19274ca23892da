"""Orders: place one (`POST /v1/orders`), read it, cancel it, and report a shipment's
picking, shipping, delivery or pick rejection. Each is a record on the order's own log
(`tally.orders`, key: the order's ref), answered 202 once Kafka acknowledged it; the order
processor runs the saga (docs/ORDERS.md). Placing the same order again is safe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse

from connectors.auth import KeyRecord
from connectors.gateway.access import Principal, require_channel
from connectors.gateway.backends import Bus, Reads
from connectors.gateway.catalog import Catalog
from connectors.gateway.errors import ERROR_RESPONSES, refuse
from connectors.gateway.kafka_calls import produce
from connectors.gateway.models import ItemError
from connectors.gateway.order_models import (
    CancelRequest,
    DeliveredRequest,
    OrderAccepted,
    OrderRequest,
    OrderView,
    PickRejectionRequest,
    PickUpAt,
    ShipmentEventRequest,
    ShipToPostalCode,
    StepAccepted,
)
from connectors.gateway.params import TokenPath
from connectors.gateway.state import BusDep, CatalogDep, ReadsDep, SettingsDep
from ledger import limits
from ledger.codec import encode
from ledger.orders.ids import order_ref
from ledger.orders.records import (
    CancelOrder,
    Delivery,
    MarkDelivered,
    MarkPicked,
    MarkShipped,
    OrderRecordUnion,
    PickUp,
    PlaceOrder,
    RejectPick,
    ShipTo,
)
from ledger.policy import ChannelPolicy

router = APIRouter()
ChannelQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=limits.ID_CHARS_MAX,
        pattern=limits.ID_PATTERN,
        description="The order's channel (required with a key that is not a channel key).",
    ),
]
ORDER_RESPONSES: dict[int | str, dict[str, Any]] = ERROR_RESPONSES


def channel_of(who: KeyRecord, channel: str | None) -> str:
    """The order's channel: the channel key's own, or `?channel=` (checked against the key)."""
    chosen = channel if channel is not None else who.channel
    if chosen is None:
        raise HTTPException(403, "a channel key, or ?channel= with an admin or store key")
    if who.channel is not None:
        require_channel(who, chosen)
    return chosen


@router.post(
    "/v1/orders",
    status_code=202,
    response_model=OrderAccepted,
    responses=ORDER_RESPONSES,
    summary="Place an order (idempotent by order_id); 202 once the order log has it",
)
async def place_order(
    body: OrderRequest,
    who: Principal,
    settings: SettingsDep,
    bus: BusDep,
    reads: ReadsDep,
    catalog: CatalogDep,
    channel: ChannelQuery = None,
) -> OrderAccepted | JSONResponse:
    name = channel_of(who, channel)
    if who.channel is None and not who.is_admin:
        raise HTTPException(403, "a channel or admin key places orders")
    policy = catalog.channel(name)
    if policy is None:
        unknown = ItemError(field="channel", reason=f"unknown channel {name!r}")
        return refuse(422, "invalid order", [unknown])
    delivery, errors = await _checked(body, name, policy, catalog)
    if errors:
        return refuse(422, "invalid order; nothing was placed", errors)
    record = _place_record(body, name, policy, delivery)
    url = f"/v1/orders/{body.order_id}?channel={name}"
    existing = await reads.order_view(record.ref)
    if existing is not None:
        view = orjson.loads(existing)
        if view.get("digest") != record.digest:
            return refuse(409, f"order {body.order_id!r} was placed before with other content")
        return OrderAccepted(order_id=body.order_id, ref=record.ref, status=view["status"], url=url)
    await _append(bus, settings.topics.orders, record)
    return OrderAccepted(order_id=body.order_id, ref=record.ref, status="placed", url=url)


async def _checked(
    body: OrderRequest, channel: str, policy: ChannelPolicy, catalog: Catalog
) -> tuple[Delivery | None, list[ItemError]]:
    errors = [
        ItemError(field=f"lines.{i}.sku", reason=f"no figure in channel {channel!r}: unknown SKU")
        for i in await catalog.unknown_skus(channel, [line.sku for line in body.lines])
    ]
    wanted = body.delivery
    delivery: Delivery | None = None
    if isinstance(wanted, PickUpAt):
        if catalog.may_hand_over(policy, wanted.location):
            delivery = PickUp(location=wanted.location)
        else:
            reason = f"channel {channel!r} does not hand over orders at {wanted.location!r}"
            errors.append(ItemError(field="delivery.location", reason=reason))
    elif isinstance(wanted, ShipToPostalCode):
        point = catalog.place(wanted.postal_code)
        if point is None:
            errors.append(ItemError(field="delivery.postal_code", reason="unknown postal code"))
        else:
            code = wanted.postal_code.replace(" ", "")
            delivery = ShipTo(latitude=point[0], longitude=point[1], postal_code=code)
    else:
        delivery = ShipTo(latitude=wanted.latitude, longitude=wanted.longitude)
    return delivery, errors


def _place_record(
    body: OrderRequest, channel: str, policy: ChannelPolicy, delivery: Delivery | None
) -> PlaceOrder:
    assert delivery is not None  # _checked reported an error otherwise
    max_shipments = body.max_shipments if body.max_shipments is not None else policy.max_shipments
    allow_partial = body.allow_partial if body.allow_partial is not None else policy.allow_partial
    content: dict[str, Any] = {
        "lines": [line.model_dump() for line in body.lines],
        "delivery": delivery.model_dump(),
        "max_shipments": max_shipments,
        "allow_partial": allow_partial,
    }
    if body.allow_backorder:  # only when asked: older orders keep their digests
        content["allow_backorder"] = True
    canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return PlaceOrder(
        ref=order_ref(channel, body.order_id),
        issued_at=datetime.now(UTC),
        channel=channel,
        order_id=body.order_id,
        lines=tuple(body.lines),
        delivery=delivery,
        max_shipments=max_shipments,
        allow_partial=allow_partial,
        allow_backorder=body.allow_backorder,
        digest=hashlib.sha256(canonical).hexdigest()[:32],
    )


async def _append(bus: Bus, topic: str, record: OrderRecordUnion) -> None:
    await produce(bus, topic, [(record.ref.encode(), encode(record))])


async def _view(reads: Reads, ref: str, order_id: str) -> dict[str, Any]:
    raw = await reads.order_view(ref)
    if raw is None:
        raise HTTPException(404, f"order {order_id!r} is unknown")
    view: dict[str, Any] = orjson.loads(raw)
    return view


@router.get(
    "/v1/orders/{order_id}",
    response_model=OrderView,
    responses=ORDER_RESPONSES,
    summary="An order: status, shipments, rejections, and why each location was chosen",
)
async def get_order(
    order_id: TokenPath, who: Principal, reads: ReadsDep, channel: ChannelQuery = None
) -> dict[str, Any]:
    name = channel_of(who, channel)
    return await _view(reads, order_ref(name, order_id), order_id)


@router.post(
    "/v1/orders/{order_id}/cancel",
    status_code=202,
    response_model=StepAccepted,
    responses=ORDER_RESPONSES,
    summary="Cancel an order: its holds and committed units are given back",
)
async def cancel_order(
    order_id: TokenPath,
    body: CancelRequest,
    who: Principal,
    settings: SettingsDep,
    bus: BusDep,
    reads: ReadsDep,
    channel: ChannelQuery = None,
) -> StepAccepted:
    name = channel_of(who, channel)
    ref = order_ref(name, order_id)
    view = await _view(reads, ref, order_id)
    if view["status"] == "completed":
        raise HTTPException(409, f"order {order_id!r} has shipped: it cannot be cancelled")
    record = CancelOrder(ref=ref, issued_at=datetime.now(UTC), reason=body.reason)
    await _append(bus, settings.topics.orders, record)
    return StepAccepted(order_id=order_id, ref=ref, step="cancel")


@dataclass(frozen=True)
class ShipmentReports:
    """What a shipment report needs (the key, the channel, Kafka and Redis), resolved once by
    FastAPI; `report` checks and appends one record to the order's log."""

    who: KeyRecord
    channel: str | None
    topic: str
    bus: Bus
    reads: Reads

    async def report(
        self,
        order_id: str,
        location: str,
        waiting_in: tuple[str, ...],
        record: Callable[[str, datetime], OrderRecordUnion],
    ) -> StepAccepted:
        """Append `record(ref, now)` once the key may report for `location` and the order has
        a shipment there in one of the `waiting_in` statuses (else 403, 404 or 409)."""
        who = self.who
        if not (who.is_admin or who.may_post_at(location)):
            raise HTTPException(403, f"this key may not report for location {location!r}")
        ref = order_ref(channel_of(who, self.channel), order_id)
        view = await _view(self.reads, ref, order_id)
        statuses = {s["location"]: s["status"] for s in view["shipments"]}
        if statuses.get(location) not in waiting_in:
            found = statuses.get(location, "none")
            raise HTTPException(409, f"the order's shipment at {location!r} is {found}")
        step = record(ref, datetime.now(UTC))
        await _append(self.bus, self.topic, step)
        return StepAccepted(order_id=order_id, ref=ref, step=step.type)


def _shipment_reports(
    who: Principal,
    settings: SettingsDep,
    bus: BusDep,
    reads: ReadsDep,
    channel: ChannelQuery = None,
) -> ShipmentReports:
    return ShipmentReports(who, channel, settings.topics.orders, bus, reads)


Reports = Annotated[ShipmentReports, Depends(_shipment_reports)]
WAITING_TO_SHIP = ("allocated", "picked")


@router.post(
    "/v1/orders/{order_id}/rejections",
    status_code=202,
    response_model=StepAccepted,
    responses=ORDER_RESPONSES,
    summary="A location cannot pick its shipment: give it back, count the SKU, re-route",
)
async def reject_pick(
    order_id: TokenPath, body: PickRejectionRequest, reports: Reports
) -> StepAccepted:
    def record(ref: str, at: datetime) -> RejectPick:
        return RejectPick(
            ref=ref, issued_at=at, location=body.location, reason=body.reason, note=body.note
        )

    return await reports.report(order_id, body.location, WAITING_TO_SHIP, record)


@router.post(
    "/v1/orders/{order_id}/picked",
    status_code=202,
    response_model=StepAccepted,
    responses=ORDER_RESPONSES,
    summary="The shipment at a location was picked",
)
async def mark_picked(
    order_id: TokenPath, body: ShipmentEventRequest, reports: Reports
) -> StepAccepted:
    def record(ref: str, at: datetime) -> MarkPicked:
        return MarkPicked(ref=ref, issued_at=at, location=body.location)

    return await reports.report(order_id, body.location, ("allocated",), record)


@router.post(
    "/v1/orders/{order_id}/shipped",
    status_code=202,
    response_model=StepAccepted,
    responses=ORDER_RESPONSES,
    summary="The shipment at a location left (or, for a pickup, was handed over)",
)
async def mark_shipped(
    order_id: TokenPath, body: ShipmentEventRequest, reports: Reports
) -> StepAccepted:
    def record(ref: str, at: datetime) -> MarkShipped:
        return MarkShipped(ref=ref, issued_at=at, location=body.location)

    return await reports.report(order_id, body.location, WAITING_TO_SHIP, record)


@router.post(
    "/v1/orders/{order_id}/delivered",
    status_code=202,
    response_model=StepAccepted,
    responses=ORDER_RESPONSES,
    summary="The shipment from a location reached the shopper (a pickup: was collected); "
    "scored against its promise",
)
async def mark_delivered(
    order_id: TokenPath, body: DeliveredRequest, reports: Reports
) -> StepAccepted:
    def record(ref: str, at: datetime) -> MarkDelivered:
        day = body.delivered_on if body.delivered_on is not None else at.date()
        return MarkDelivered(ref=ref, issued_at=at, location=body.location, delivered_on=day)

    return await reports.report(order_id, body.location, ("shipped",), record)
