"""Markdown from the wire models' JSON schema: one row per field (type, required, meaning).

Types are named after ledger/fields.py (id, token, time, ...). A constraint the renderer does
not recognise raises `UnknownWireType` instead of printing a guess, so a new kind of field
fails the doc check until it is described here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from ledger import limits
from ledger.policy import LOCAL_TIME_PATTERN

BLOCK = re.compile(r"(<!-- wire:([a-z-]+) -->\n)(.*?)(<!-- /wire:\2 -->)", re.DOTALL)
Prop = Mapping[str, Any]


class UnknownWireType(ValueError):
    """A field whose constraints match no named wire type."""


class _WireSchema(GenerateJsonSchema):
    """JSON schema plus the bounds of a datetime (plain JSON schema drops them)."""

    def datetime_schema(self, schema: core_schema.DatetimeSchema) -> JsonSchemaValue:
        json_schema = super().datetime_schema(schema)
        ge, le = schema.get("ge"), schema.get("le")
        json_schema["x-ge"] = None if ge is None else ge.isoformat()
        json_schema["x-le"] = None if le is None else le.isoformat()
        json_schema["x-tz"] = schema.get("tz_constraint")
        return json_schema


def schema_of(model: type[BaseModel]) -> tuple[dict[str, Prop], list[str]]:
    """The model's properties (in field order) and the names JSON must carry."""
    schema = model.model_json_schema(schema_generator=_WireSchema)
    return schema["properties"], schema.get("required", [])


def number(value: float) -> str:
    if value == 2**63 - 1:
        return "2^63 - 1"
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def type_text(prop: Prop) -> str:
    if "anyOf" in prop:
        options = [option for option in prop["anyOf"] if option != {"type": "null"}]
        text = " or ".join(type_text(option) for option in options)
        return f"{text} or null" if len(options) < len(prop["anyOf"]) else text
    if "oneOf" in prop:
        return "one of " + ", ".join(type_text(option) for option in prop["oneOf"])
    if "$ref" in prop:
        return f"object `{prop['$ref'].rsplit('/', 1)[-1]}`"
    if "const" in prop:
        return f'`"{prop["const"]}"`'
    if "enum" in prop:
        names = [f"`{value}`" for value in prop["enum"]]
        return ", ".join(names[:-1]) + f" or {names[-1]}"
    kind = prop.get("type")
    if kind in ("integer", "number"):
        return _number_type(kind, prop)
    if kind == "boolean":
        return "boolean"
    if kind == "array":
        return _array_type(prop)
    if kind == "object" and "additionalProperties" in prop:
        return f"map of {type_text(prop['additionalProperties'])}"
    if kind == "object" and "patternProperties" in prop:
        [values] = prop["patternProperties"].values()
        return f"map of [id](#types) → {type_text(values)}"
    if kind == "string":
        return _string_type(prop)
    raise UnknownWireType(f"no wire type for {dict(prop)}")


def _number_type(kind: str, prop: Prop) -> str:
    low, high = prop.get("minimum"), prop.get("maximum")
    if low is None and kind == "integer":
        return "integer"  # a count the processor writes (a plan's candidates, a score)
    if low is None:
        raise UnknownWireType(f"an unbounded {kind}: {dict(prop)}")
    if high is None:
        return f"{kind}, at least {number(low)}"
    return f"{kind}, {number(low)} to {number(high)}"


def _array_type(prop: Prop) -> str:
    if "prefixItems" in prop:
        return "(" + ", ".join(type_text(item) for item in prop["prefixItems"]) + ")"
    text = f"list of {type_text(prop['items'])}"
    return f"{text}, at most {prop['maxItems']}" if "maxItems" in prop else text


def _string_type(prop: Prop) -> str:
    if prop.get("format") == "date-time":
        bounds = (prop.get("x-ge"), prop.get("x-le"), prop.get("x-tz"))
        if bounds == (limits.TIMESTAMP_MIN.isoformat(), limits.TIMESTAMP_MAX.isoformat(), "aware"):
            return "[time](#types)"
        raise UnknownWireType(f"a time with other bounds: {dict(prop)}")
    length = (prop.get("minLength"), prop.get("maxLength"))
    pattern = prop.get("pattern")
    if length == (1, limits.ID_CHARS_MAX) and pattern == limits.ID_PATTERN:
        return "[id](#types)"
    if length == (1, limits.ID_CHARS_MAX) and pattern == limits.TOKEN_PATTERN:
        return "[token](#types)"
    if prop.get("format") == "date":
        return "date (`YYYY-MM-DD`)"
    if pattern == LOCAL_TIME_PATTERN:
        return "`HH:MM` (24 h)"
    if length == (1, limits.NAME_CHARS_MAX) and pattern is None:
        return f"text, 1 to {limits.NAME_CHARS_MAX} characters"
    if length == (1, limits.TIME_ZONE_CHARS_MAX) and pattern is None:
        return "an IANA time zone name (e.g. `America/New_York`)"
    if prop.keys() <= {"type", "title", "default", "description"}:
        return "text"
    raise UnknownWireType(f"a string of no named type: {dict(prop)}")


def required_text(name: str, prop: Prop, required: Sequence[str], tag: str) -> str:
    if name in required or name == tag:
        return "yes"
    return f"no (default `{json.dumps(prop['default'])}`)"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def field_table(
    model: type[BaseModel],
    meaning: Callable[[str], str],
    *,
    tag: str,
    names: Sequence[str] | None = None,
) -> str:
    """One row per field of `model` (or of `names`, in field order)."""
    properties, required = schema_of(model)
    chosen = [name for name in properties if names is None or name in names]
    chosen.sort(key=lambda name: name != tag)  # the tag first, then in field order
    rows = [
        (f"`{name}`", type_text(properties[name]),
         required_text(name, properties[name], required, tag), meaning(name))
        for name in chosen
    ]  # fmt: skip
    return table(("field", "type", "required", "meaning"), rows)


def fields_differing(model: type[BaseModel], base: type[BaseModel]) -> list[str]:
    """The fields of `model` that `base` lacks or defines otherwise (type, bounds, default)."""
    own, _ = schema_of(model)
    shared, _ = schema_of(base)
    return [name for name, prop in own.items() if _plain(prop) != _plain(shared.get(name, {}))]


def _plain(prop: Prop) -> dict[str, Any]:
    return {key: value for key, value in prop.items() if key != "title"}


def update(doc: str, blocks: Mapping[str, str]) -> str:
    """`doc` with every generated block's body replaced; each block must be in `doc` once."""
    found = [match.group(2) for match in BLOCK.finditer(doc)]
    if sorted(found) != sorted(blocks):
        raise ValueError(f"generated blocks in the doc {sorted(found)} != {sorted(blocks)}")
    return BLOCK.sub(lambda m: f"{m.group(1)}{blocks[m.group(2)]}\n{m.group(4)}", doc)
