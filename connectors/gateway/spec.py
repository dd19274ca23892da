"""The gateway's OpenAPI document: what FastAPI derives from the routes, plus every other
bound the server enforces, so that any request the spec calls valid is one the server takes.

FastAPI cannot derive these:
- `POST /v1/events` reads its body itself (to report every invalid item): `EventBatch` and
  the fact models are added here, with the batch's size bound from the settings.
- A fact's `type` is required (it picks the model), though each model has a default.
- The availability query's `sku` values are checked by the route (to report each one).
- FastAPI writes every number bound as a float: 2**63 - 1 (a policy `version`) becomes
  2**63. The exact integers are put back from the pydantic models.
- Checks made by validators: an adjustment of 0 units, a location listed twice.

Bounds JSON Schema cannot state are documented in descriptions (and answered 422): a fact's
`occurred_at` must lie in a window around the gateway's clock and timestamps within the
ledger's range (`ledger.limits`), an `eta` not before the fact's `occurred_at`, a
transfer's `target_location` must differ from its `location`, an availability `by` date
within the horizon (yesterday to `atp_horizon_days` ahead), one of a promise's `to` and
`pickup`, a `delivered_on` day neither in the future nor older than a report can be late,
and integers must be written as JSON integers (JSON Schema counts `396.0` an
integer; the ledger's models are strict and refuse it).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter

from connectors.gateway import models, order_models, promise_models
from connectors.gateway.state import attached
from ledger import limits
from ledger.fields import Sku
from ledger.policy import ChannelPolicy, LocationPolicy

SHIPPING_BANDS_NOTE = (
    "Shipping cost per shipment by distance: `up_to_km` ascending, only the last band null "
    "(any distance); otherwise the policy is refused with 422."
)
INTEGERS_NOTE = (
    "Integer fields take JSON integers only: a number written with a fraction or exponent "
    "(`396.0`, `4e2`) is refused with 422, though JSON Schema counts `396.0` an integer."
)
_TIMESTAMP_RANGE = f"{limits.TIMESTAMP_MIN.isoformat()} to {limits.TIMESTAMP_MAX.isoformat()}"
OCCURRED_AT_NOTE = (
    "The source's clock: at most "
    f"{limits.OCCURRED_AHEAD_OF_INGEST_S_MAX} s after and "
    f"{limits.OCCURRED_BEFORE_INGEST_S_MAX} s before the gateway's clock on receipt "
    f"(`ingested_at`), and within {_TIMESTAMP_RANGE}; otherwise the batch is refused with 422."
)
FACT_NOTES = {
    "occurred_at": OCCURRED_AT_NOTE,
    "ingested_at": "Ignored: the gateway stamps its own clock.",
    "eta": f"Within {_TIMESTAMP_RANGE} and not before `occurred_at` (an ETA in the past); "
    "otherwise the batch is refused with 422.",
    "target_location": "Must differ from `location`; otherwise the batch is refused with 422.",
}
# The models FastAPI puts in the spec with float bounds (the fact models come exact).
_MODELS: tuple[type[BaseModel], ...] = (
    models.HoldRequest,
    models.CommitRequest,
    models.ReleaseRequest,
    models.HoldReply,
    models.Availability,
    models.AvailabilityBatch,
    models.LocationAvailability,
    models.ChannelPolicyRequest,
    ChannelPolicy,
    order_models.OrderRequest,
    order_models.LocationPolicyRequest,
    LocationPolicy,
    promise_models.PromiseReply,
)
_NUMBER_KEYWORDS = frozenset(
    ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
)
_REF = "#/components/schemas/{model}"


def document(app: FastAPI) -> None:
    """Make `app.openapi()` build (once) the spec with every bound the server enforces."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        gateway = attached(app).settings.gateway
        schema["info"]["description"] = INTEGERS_NOTE
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        _add_event_batch(components, gateway.batch_events_max)
        _restore_exact_numbers(components)
        _state_validator_bounds(components)
        _state_sku_query(schema["paths"], gateway.availability_skus_max)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_event_batch(components: dict[str, Any], batch_events_max: int) -> None:
    defs = TypeAdapter(models.EventBatch).json_schema(ref_template=_REF)
    facts = defs.pop("$defs", {})
    for fact in facts.values():
        fact["required"].append("type")  # the server picks the model by it: no default
        for name, note in FACT_NOTES.items():
            if name in fact["properties"]:
                fact["properties"][name]["description"] = note
    components.update(facts)
    defs["properties"]["events"]["maxItems"] = batch_events_max  # more: 413
    components["EventBatch"] = defs


def _restore_exact_numbers(components: dict[str, Any]) -> None:
    for model in _MODELS:
        exact = TypeAdapter(model).json_schema(ref_template=_REF)
        for name, nested in exact.pop("$defs", {}).items():  # models inside (OrderLine, ...)
            if name in components:
                _copy_numbers(nested, components[name])
        _copy_numbers(exact, components[model.__name__])


def _copy_numbers(exact: Any, written: Any) -> None:
    """Put `exact`'s integer bounds in `written`, the same schema with float bounds."""
    if isinstance(exact, dict) and isinstance(written, dict):
        for key, value in exact.items():
            if key not in written:
                continue
            if key in _NUMBER_KEYWORDS and isinstance(value, int):
                written[key] = value
            else:
                _copy_numbers(value, written[key])
    elif isinstance(exact, list) and isinstance(written, list):
        for exact_item, written_item in zip(exact, written, strict=False):
            _copy_numbers(exact_item, written_item)


def _state_validator_bounds(components: dict[str, Any]) -> None:
    """The bounds the ledger checks in validators (ledger.events, ledger.policy)."""
    components["Adjusted"]["properties"]["qty"]["not"] = {"const": 0}
    for name in ("ChannelPolicyRequest", "ChannelPolicy"):
        for field in ("locations", "pickup_locations", "sourcing_rules", "delivery_days"):
            components[name]["properties"][field]["uniqueItems"] = True
    for name in ("ChannelPolicyRequest", "ChannelPolicy"):
        bands = components[name]["properties"]["shipping_bands"]
        bands["description"] = SHIPPING_BANDS_NOTE


def _state_sku_query(paths: dict[str, Any], skus_max: int) -> None:
    (sku,) = [
        parameter
        for parameter in paths["/v1/availability/{channel}"]["get"]["parameters"]
        if parameter["name"] == "sku"
    ]
    sku_schema = TypeAdapter(Sku).json_schema()
    sku["schema"] |= {"items": sku_schema, "minItems": 1, "maxItems": skus_max}  # more: 413
