"""The gateway's OpenAPI document: what FastAPI derives from the routes, plus what it cannot.

`POST /v1/events` reads its body itself (to report every invalid item), so its schema,
`EventBatch` and the fact models, is added here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter

from connectors.gateway.models import EventBatch


def document(app: FastAPI) -> None:
    """Make `app.openapi()` build (once) the spec with the event batch in it."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        defs = TypeAdapter(EventBatch).json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(defs.pop("$defs", {}))
        components["EventBatch"] = defs
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
