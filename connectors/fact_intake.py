"""Facts at the edge: stamp `ingested_at`, validate with the ledger models, report every error.

Shared by `POST /v1/events` and `tally import`. An item is validated as JSON (the ledger's
models are strict: RFC 3339 strings are timestamps only in JSON mode), with the edge's own
clock as `ingested_at` (a client's value is overwritten), so the ledger's clock-skew bound
between `occurred_at` and `ingested_at` is checked here, before anything is produced.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from ledger.events import Event, Fact
from ledger.fields import JSON_DECODE_CONFIG

FACT: TypeAdapter[Fact] = TypeAdapter(Event, config=JSON_DECODE_CONFIG)
ERRORS_PER_ITEM_MAX = 8
_FIELD_IN_MESSAGE = re.compile(r"^([a-z_]+): (.+)$")


@dataclass(frozen=True, slots=True)
class FactError:
    """One reason an item was refused: its index in the batch (or line), field and reason."""

    index: int
    field: str
    reason: str


def now_utc() -> datetime:
    return datetime.now(UTC)


def stamp(now: datetime) -> str:
    return now.isoformat()


def validate_item(index: int, item: Any, ingested_at: str) -> Fact | list[FactError]:
    """The fact, or every reason (bounded) it is invalid."""
    if not isinstance(item, dict):
        return [FactError(index, "", "must be a JSON object")]
    try:
        return FACT.validate_json(orjson.dumps({**item, "ingested_at": ingested_at}))
    except ValidationError as error:
        return item_errors(index, error)
    except orjson.JSONEncodeError as error:  # e.g. an integer beyond 64 bits
        return [FactError(index, "", f"not encodable: {error}")]


def validate_batch(items: Sequence[Any], now: datetime) -> tuple[list[Fact], list[FactError]]:
    """All facts, or all errors: every item is checked, none is produced on any error."""
    ingested_at = stamp(now)
    facts: list[Fact] = []
    errors: list[FactError] = []
    for index, item in enumerate(items):
        result = validate_item(index, item, ingested_at)
        if isinstance(result, list):
            errors += result
        else:
            facts.append(result)
    return facts, errors


def item_errors(index: int, error: ValidationError) -> list[FactError]:
    found = []
    for detail in error.errors(include_url=False, include_input=False)[:ERRORS_PER_ITEM_MAX]:
        found.append(FactError(index, *_field_and_reason(detail)))
    return found


def _field_and_reason(detail: Any) -> tuple[str, str]:
    kind: str = detail["type"]
    message: str = detail["msg"].removeprefix("Value error, ")
    if kind == "union_tag_not_found":
        return "type", "missing"
    if kind == "union_tag_invalid":
        return "type", f"unknown type {detail.get('ctx', {}).get('tag', '')!r}"
    if kind == "json_invalid":
        return "", f"malformed JSON: {message}"
    loc = [str(part) for part in detail["loc"][1:]]  # drop the union member's tag
    if loc:
        return ".".join(loc), message
    named = _FIELD_IN_MESSAGE.match(message)
    return (named.group(1), named.group(2)) if named else ("", message)
