"""What each wire field means, in words: the one part of docs/WIRE.md's tables not read from
the code. Every field of every wire model needs a meaning here (`meaning_of` raises without
one), so a new field fails the doc check until it is described."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from ledger import limits

_AHEAD_S = limits.OCCURRED_AHEAD_OF_INGEST_S_MAX
_LATE_DAYS = limits.OCCURRED_BEFORE_INGEST_S_MAX // 86_400
TAG = "The record's type (the tag every decoder reads first)."
ORDER_FOR_AUDIT = "The order it belongs to (kept for the audit trail)."

# By field name, for every model that has the field ...
FIELDS: dict[str, str] = {
    "type": TAG,
    "kind": TAG,
    "event_id": "The fact's id. A fact whose event_id the SKU has seen is ignored "
    "(idempotency; window under [Bounds](#bounds)).",
    "sku": "The SKU. The record's key must be this SKU.",
    "location": "Where the units are (a store, a warehouse).",
    "qty": "Units, always positive: the type says which way they move.",
    "occurred_at": "When it happened, by the source's clock.",
    "source": "Who reported it (a scanner, a POS, an ERP).",
    "ingested_at": "The log time, stamped by the gateway and `tally import` (a client's value "
    f"is overwritten). When present, `occurred_at` is at most {_AHEAD_S} s after it and at "
    f"most {_LATE_DAYS} days before it, else the fact is refused.",
    "order_id": ORDER_FOR_AUDIT,
    "reason": "Why, in words.",
    "eta": "When the units are expected.",
    "issued_at": "The log time, stamped by the gateway (or your producer): holds expire by it, "
    "never by a wall clock.",
    "request_id": "The request's id. A request_id the SKU has answered for the same channel "
    "gets its first decision again (idempotency; window under [Bounds](#bounds)).",
    "hold_id": "The hold.",
    "channel": "The channel.",
    "version": "The record's version: one not newer than the current record of its channel "
    "(or location) is ignored.",
    "updated_at": "When the record was written.",
}

# ... unless the model says otherwise ("Model.field").
OVERRIDES: dict[str, str] = {
    "Received.order_id": "The purchase order / ASN it fills: a `supply_expected` with this "
    "order_id at this location has its incoming units reduced.",
    "Adjusted.qty": "Units added to on_hand (negative: removed); never 0.",
    "Adjusted.reason": "Why on_hand was corrected.",
    "Counted.qty": "Units counted: on_hand is set to it (0 allowed); the variance is recorded.",
    "Damaged.reason": "Why the units are damaged.",
    "OrderPlaced.order_id": "The order (for the audit trail: units are committed by location, "
    "not by order).",
    "OrderCancelled.order_id": "The order cancelled (for the audit trail).",
    "TransferOut.target_location": "Where the units go; differs from `location`.",
    "TransferOut.order_id": "The transfer order: its `transfer_in` at the target reduces the "
    "units in transit.",
    "TransferIn.order_id": "The transfer order of the matching `transfer_out`.",
    "ReturnGraded.disposition": "`restock`: back to sellable; `damaged`: to damaged; "
    "`dispose`: out of on_hand.",
    "SupplyExpected.order_id": "The purchase order / ASN (a `received` with it reduces it).",
    "Reserve.hold_id": "The hold to place. A hold_id the channel has used on the SKU gets "
    "that hold's first decision, whatever the request_id (another channel's same id is "
    "another hold).",
    "Reserve.channel": "The channel asking; it needs a channel policy (else `unknown_channel`).",
    "Reserve.qty": "Units to hold.",
    "Reserve.ttl_s": "The hold's life in seconds from `issued_at`; then it expires.",
    "Reserve.location": "Hold at this location (one the channel sells from or a pickup "
    "location); null: the channel's strategy picks one location that can fill `qty` alone.",
    "Commit.hold_id": "The pending hold to commit.",
    "Commit.order_id": "The order the hold becomes.",
    "Commit.channel": "The channel asking: hold ids and request ids are each channel's own, "
    "so it reaches only its own hold `hold_id` (another channel's is `hold_not_found`); null "
    "(an admin): the SKU's hold `hold_id` when exactly one channel has one.",
    "Release.hold_id": "The pending hold to give back.",
    "Release.channel": "The channel asking: hold ids and request ids are each channel's own, "
    "so it reaches only its own hold `hold_id` (another channel's is `hold_not_found`); null "
    "(an admin): the SKU's hold `hold_id` when exactly one channel has one.",
    "Decision.request_id": "The request answered.",
    "Decision.hold_id": "The hold the request named.",
    "Decision.command": "What was asked.",
    "Decision.outcome": "Accepted or rejected.",
    "Decision.reason": "Why it was rejected; null when accepted.",
    "Decision.location": "The hold's location (null when the ledger does not know one).",
    "Decision.available_after": "Raw available units at `location` after the decision "
    "(negative: oversold).",
    "Decision.decided_at": "The log time of the decision (the command's `issued_at`).",
    "Decision.channel": "The channel whose request this answers (request ids and hold ids are "
    "each channel's own: match a decision by channel and id); null: an admin's request.",
    "ChannelPolicy.locations": "The locations the channel sells from, in priority order, "
    "each once.",
    "ChannelPolicy.buffer_units": "Units held back from the sum of the locations' available.",
    "ChannelPolicy.allocation_cap_units": "The channel shows at most this many (null: no cap).",
    "ChannelPolicy.pickup_locations": "Further locations where holds for pickup may be placed "
    "(their stock is not in the channel's figure), each once.",
    "ChannelPolicy.strategy": "Where a reserve without `location` goes: `priority`: the first "
    "location that can fill it; `most_available`: the one with the most.",
    "ChannelPolicy.low_stock_units": "A figure entering 1..this many units publishes a "
    "`low_stock` event to `tally:stock-events:{channel}` (null: no low-stock events).",
    "ChannelPolicy.sourcing_rules": "The order of the sourcing rules, each once (filters first "
    "wherever they stand; see [ORDERS.md](ORDERS.md#a-channels-sourcing-rules)).",
    "ChannelPolicy.max_shipments": "Shipments an order may be split into, unless it says.",
    "ChannelPolicy.allow_partial": "Whether an order may be partly allocated, unless it says.",
    "ChannelPolicy.shipping_bands": "Shipping cost per shipment by distance (`lowest_cost`): "
    "`up_to_km` ascending, only the last null (any distance); each band's `transit_days` "
    "(null: 1, 2, 3 or 5 days by distance) dates deliveries.",
    "LocationPolicy.location": "The location.",
    "LocationPolicy.name": "A name people read.",
    "LocationPolicy.location_type": "`dc`, `store`, `3pl` or `drop_ship`.",
    "LocationPolicy.latitude": "Where it is (with `longitude`: both or neither).",
    "LocationPolicy.longitude": "Where it is (with `latitude`: both or neither).",
    "LocationPolicy.capabilities": "What it may do: `ship`, `pickup`, `ship_from_store` (a "
    "store ships with either), each once.",
    "LocationPolicy.daily_order_capacity": "Orders it takes per local day (null: no limit).",
    "LocationPolicy.handling_cost_per_order_cents": "Handling cost of one shipment.",
    "LocationPolicy.handling_cost_per_unit_cents": "Handling cost of one unit shipped.",
    "LocationPolicy.processing_minutes": "Pick and pack time of an order.",
    "LocationPolicy.cutoff_local": "`HH:MM`, local: orders after it ship the next open day.",
    "LocationPolicy.open_days": "Days it ships (`mon` .. `sun`), each once.",
    "LocationPolicy.time_zone": "Its IANA time zone (days and cut-offs are local).",
    "LocationPolicy.holidays": "Dates it does not ship, each once.",
    "_OrderRecord.issued_at": "The log time (the gateway's clock, or the order processor's for "
    "its own steps): the saga's only clock, so a replay decides alike.",
    "_OrderRecord.ref": "The order's ref: a digest of the channel and the channel's order id "
    "(the record's key must be it).",
    "PlaceOrder.channel": "The channel that placed the order.",
    "PlaceOrder.order_id": "The channel's order id.",
    "PlaceOrder.lines": "What is ordered: `{sku, qty}`, each SKU once.",
    "PlaceOrder.delivery": "`{mode: ship, latitude, longitude, postal_code}` or "
    "`{mode: pickup, location}`.",
    "PlaceOrder.max_shipments": "Shipments the order may be split into.",
    "PlaceOrder.allow_partial": "Whether what can be filled is allocated when not all can.",
    "PlaceOrder.digest": "A digest of the order as placed: the same id with another digest is "
    "refused by the gateway.",
    "CancelOrder.reason": "Why, in words.",
    "RejectPick.location": "The location that could not pick its shipment.",
    "RejectPick.reason": "`not_found`, `damaged`, `wrong_item` or `other`.",
    "RejectPick.note": "The store's words.",
    "MarkPicked.location": "The shipment's location.",
    "MarkShipped.location": "The shipment's location.",
    "Planned.plan_seq": "The plan's number in the order (the first of each number is adopted).",
    "Planned.shipments": "What to hold where, and its promise: `{location, lines, capacity_day, "
    "ship_on, deliver_on, ready_at, waits_until}`.",
    "Planned.locations": "Every shipment of the order once held: kept ones and new ones.",
    "Planned.unfilled": "What the plan could not source.",
    "Planned.rankings": "Each rule's ranking: `{rule, seen, kept, ranked: [{locations, "
    "score}]}` (the best few).",
    "Planned.candidates_considered": "Candidate location sets scored.",
    "Planned.truncated": "Whether a search bound cut the candidates.",
    "Planned.stock_seen": "The stock the plan was computed from (SKU → location → units, "
    "non-zero only): `tally sourcing simulate` re-plans against it.",
    "OrderDecision.decision": "A [decision](#tallydecisions) on one of the order's holds.",
    "CapacityAnswer.location": "The location asked.",
    "CapacityAnswer.day": "The location's local day.",
    "CapacityAnswer.outcome": "`accepted` or `rejected` (the day is full).",
    "Timeout.step": "The order's version when it began to wait (a later version: ignored).",
    "CapacityAsk.type": "`take` a slot for the order, or `give` it back.",
    "CapacityAsk.location": "The location (the record's key).",
    "CapacityAsk.day": "The location's local day.",
    "CapacityAsk.ref": "The order.",
    "LocationPolicy.safety_stock_units": "Units held back at the location for every SKU (only "
    "units that exist are held back).",
    # promise (docs/PROMISE.md)
    "Reserve.backorder": "Units the location does not have now may wait on supply expected "
    "there (the earliest ETA with units not yet promised; never more): a backorder. Needs "
    "`location`; refused `insufficient_supply` when no supply can take them.",
    "Decision.waiting": "Units of a backorder hold waiting on supply (0: all on hand).",
    "Decision.eta": "The ETA of the supply a backorder hold waits on (null: none).",
    "SupplyExpected.eta": "When the supply is expected (incoming units are never available); "
    "not before `occurred_at`. Sent again for the same order_id: a new ETA or quantity (a "
    "late receipt); what was promised against it stays promised.",
    "TransferOut.eta": "When the units are expected at the target; not before `occurred_at`.",
    "SupplyCancelled.order_id": "The purchase order: `qty` of its expected units will not "
    "come (short or cancelled); the newest backorders it no longer covers must move.",
    "OrderCancelled.hold_id": "The order's backorder hold given back: its units still waiting "
    "on supply are released there first, only the rest from committed.",
    "PlaceOrder.allow_backorder": "Whether units no location has now may wait on supply "
    "expected there (a backorder, dated from the supply's ETA).",
    "PlannedShipment.ship_on": "The day it ships (the location's cut-off, open days, holidays).",
    "PlannedShipment.deliver_on": "The day it reaches the shopper (or the pickup store): the "
    "transit days of the channel's distance band, on its delivery days.",
    "PlannedShipment.ready_at": "A pickup: when the shopper may collect it.",
    "PlannedShipment.waits_until": "A backorder: the ETA its units wait on (its dates count "
    "from it).",
    "SupplyNotice.hold_id": "The order's hold waiting on supply.",
    "SupplyNotice.location": "The hold's location.",
    "SupplyNotice.supply_order": "The purchase (or transfer) order it waits on.",
    "SupplyNotice.waiting": "Units of the hold still waiting (0: arrived, or no longer waiting).",
    "SupplyNotice.eta": "The supply's ETA now.",
    "SupplyNotice.covered": "Whether what is still expected covers the hold (oldest holds "
    "first); not covered: the order gives the hold back and re-plans its line.",
    "SupplyNotice.sku_version": "The SKU's ledger version: an order keeps only a newer notice "
    "than the last it took.",
    "Dated.step": "The order's version when it asked for new dates (a later one: ignored).",
    "Dated.shipments": "The new dates: `{location, ship_on, deliver_on, ready_at, waits_until}`.",
    "MarkDelivered.location": "The shipment's location.",
    "MarkDelivered.delivered_on": "The shopper's day it arrived (or was collected): scored "
    "against the promised day; from 90 days (`DELIVERY_REPORT_DAYS_MAX`) before the UTC day "
    "of `issued_at` to the day after it (else skipped, counted in "
    "`tally_order_bad_records_total`).",
    "ChannelPolicy.delivery_days": "Days the channel's carriers deliver (promise dates skip "
    "the others), each once; default Monday to Saturday.",
}


def meaning_of(model: type[BaseModel]) -> Callable[[str], str]:
    def meaning(name: str) -> str:
        for cls in model.__mro__:
            text = OVERRIDES.get(f"{cls.__name__}.{name}")
            if text is not None:
                return text
        if name in FIELDS:
            return FIELDS[name]
        raise KeyError(f"devtools/wire_doc/notes.py: no meaning for {model.__name__}.{name}")

    return meaning
