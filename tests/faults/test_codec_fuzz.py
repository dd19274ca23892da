"""Codec fuzzing beyond tests/ledger/test_ledger_validation.py (which covers short random
bytes and mutated events): deep nesting, JSON-shaped garbage for every decoder, mutated
commands and policy records, truncation at every byte, huge numbers, lone surrogates.
Every decoder either returns a model that round-trips or raises DecodeError, nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ledger import limits
from ledger.codec import decode_command, decode_event, decode_ledger_event, decode_policy, encode
from ledger.errors import DecodeError

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DECODERS: list[Callable[[bytes], BaseModel]] = [
    decode_event,
    decode_ledger_event,
    decode_command,
    decode_policy,
]

GOOD_COMMAND = {
    "type": "reserve",
    "request_id": "r-1",
    "hold_id": "h-1",
    "sku": "SKU-1",
    "channel": "web",
    "qty": 2,
    "ttl_s": 60,
    "location": "store-1",
    "issued_at": "2025-03-01T09:00:00+00:00",
}
GOOD_POLICY = {
    "kind": "channel",
    "channel": "web",
    "locations": ["store-1", "store-2"],
    "buffer_units": 1,
    "pickup_locations": [],
    "strategy": "priority",
    "version": 3,
    "updated_at": "2025-03-01T09:00:00+00:00",
}
GOOD_EVENT = {
    "event_id": "e-1",
    "type": "received",
    "sku": "SKU-1",
    "location": "store-1",
    "qty": 3,
    "occurred_at": "2025-03-01T09:00:00+00:00",
    "source": "scanner",
}

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["", "\x00", "\ud800", "2999-01-01T00:00:00Z", "1970-01-01T00:00:00Z"])
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


def decodes_or_decode_error(decoder: Callable[[bytes], BaseModel], raw: bytes) -> None:
    try:
        model = decoder(raw)
    except DecodeError as error:
        assert error.reason and len(error.reason) < 2_000
    else:
        assert decoder(encode(model)) == model


def to_json(value: Any) -> bytes:
    # Python's json: allows NaN/Infinity, huge ints and lone surrogates (escaped), as a
    # careless producer would send them.
    return json.dumps(value).encode()


@pytest.mark.parametrize("depth", [10, 100, 1_000, 2_000])
@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.__name__)
def test_deep_nesting_is_a_decode_error(decoder: Callable[[bytes], BaseModel], depth: int) -> None:
    for raw in (
        b"[" * depth + b"]" * depth,
        b'{"a":' * depth + b"1" + b"}" * depth,
        b'{"sku": ' + b"[" * depth + b"]" * depth + b"}",
        b"[" * depth,  # unterminated
    ):
        if len(raw) <= limits.PAYLOAD_BYTES_MAX:
            with pytest.raises(DecodeError):
                decoder(raw)


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.__name__)
def test_over_the_payload_limit_is_refused_before_parsing(
    decoder: Callable[[bytes], BaseModel],
) -> None:
    with pytest.raises(DecodeError, match="payload"):
        decoder(b" " * (limits.PAYLOAD_BYTES_MAX + 1))


@FUZZ
@given(_JSON)
def test_any_json_value_decodes_or_is_a_decode_error(value: Any) -> None:
    raw = to_json(value)
    for decoder in DECODERS:
        decodes_or_decode_error(decoder, raw)


@FUZZ
@given(st.dictionaries(st.sampled_from([*GOOD_COMMAND, "order_id", "x"]), _JSON), st.data())
def test_mutated_commands_decode_or_raise_decode_error(
    changes: dict[str, Any], data: st.DataObject
) -> None:
    raw = to_json({**GOOD_COMMAND, **changes})
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    decodes_or_decode_error(decode_command, raw)


@FUZZ
@given(st.dictionaries(st.sampled_from([*GOOD_POLICY, "kind", "location", "x"]), _JSON))
def test_mutated_policy_records_decode_or_raise_decode_error(changes: dict[str, Any]) -> None:
    decodes_or_decode_error(decode_policy, to_json({**GOOD_POLICY, **changes}))


@pytest.mark.parametrize(
    ("good", "decoder"),
    [(GOOD_EVENT, decode_event), (GOOD_COMMAND, decode_command), (GOOD_POLICY, decode_policy)],
    ids=["event", "command", "policy"],
)
def test_every_truncation_of_a_good_record_is_a_decode_error(
    good: dict[str, Any], decoder: Callable[[bytes], BaseModel]
) -> None:
    raw = to_json(good)
    decoder(raw)  # whole: fine
    for cut in range(len(raw)):
        with pytest.raises(DecodeError):
            decoder(raw[:cut])


@FUZZ
@given(st.binary(min_size=1, max_size=64), st.integers(0, 200))
def test_random_bytes_spliced_into_a_good_record(noise: bytes, at: int) -> None:
    raw = to_json(GOOD_EVENT)
    at = min(at, len(raw))
    decodes_or_decode_error(decode_event, raw[:at] + noise + raw[at:])
