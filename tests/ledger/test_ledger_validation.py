"""Every bad value is a DecodeError whose reason names the field; nothing else escapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import limits
from ledger.codec import (
    STATE_FORMAT,
    decode_command,
    decode_event,
    decode_ledger_event,
    decode_policy,
    encode,
    join_state,
    split_state,
)
from ledger.errors import DecodeError, LimitExceeded
from ledger.fold import apply_event, fold
from ledger.state import SkuState
from tests.support.ledger_builders import SKU, channel, fact, reserve, safety

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOOD_EVENT: dict[str, Any] = {
    k: v
    for k, v in json.loads(encode(fact("sold_in_store", "STORE-1", 2))).items()
    if v is not None
}
GOOD_COMMAND: dict[str, Any] = json.loads(encode(reserve("h1", "web", 1)))


def event_with(**changes: Any) -> bytes:
    doc = {**GOOD_EVENT, **changes}
    return json.dumps({k: v for k, v in doc.items() if v is not ...}).encode()


def reason_of(raw: bytes, decoder: Any = decode_event) -> str:
    with pytest.raises(DecodeError) as caught:
        decoder(raw)
    return caught.value.reason


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"qty": -1}, "qty"),
        ({"qty": 0}, "qty"),
        ({"qty": limits.QTY_UNITS_MAX + 1}, "qty"),
        ({"qty": 1.5}, "qty"),
        ({"qty": "2"}, "qty"),
        ({"sku": ""}, "sku"),
        ({"sku": "X" * (limits.ID_CHARS_MAX + 1)}, "sku"),
        ({"sku": "bad sku"}, "sku"),
        ({"location": "caf\u00e9"}, "location"),
        ({"event_id": ""}, "event_id"),
        ({"occurred_at": "2025-03-01T09:00:00"}, "occurred_at"),  # naive
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "1970-01-01T00:00:00Z"}, "occurred_at"),
        ({"ingested_at": "2025-03-01T09:00:00"}, "ingested_at"),
        ({"source": ...}, "source"),
        ({"colour": "red"}, "colour"),
        ({"type": "teleported"}, "type"),
        ({"type": ...}, "type"),
    ],
)
def test_a_bad_event_field_is_named(changes: dict[str, Any], field: str) -> None:
    assert reason_of(event_with(**changes)).startswith(f"{field}:")


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"type": "adjusted", "qty": 0, "reason": "x"}, "qty"),
        ({"type": "adjusted", "qty": -3, "reason": ""}, "reason"),
        ({"type": "adjusted", "qty": -3, "reason": "x" * (limits.REASON_CHARS_MAX + 1)}, "reason"),
        ({"type": "counted", "qty": -1}, "qty"),
        ({"type": "return_graded", "disposition": "resell"}, "disposition"),
        (
            {"type": "transfer_out", "target_location": "STORE-1", "order_id": "t"},
            "target_location",
        ),
        ({"type": "supply_expected", "order_id": "po"}, "eta"),
        ({"type": "order_placed"}, "order_id"),
        ({"type": "hold_placed"}, "type"),  # hold events are not accepted from the wire
    ],
)
def test_a_bad_per_type_field_is_named(doc: dict[str, Any], field: str) -> None:
    assert reason_of(event_with(**doc)).startswith(f"{field}:")


def test_clock_skew_against_the_gateway_stamp_is_named() -> None:
    raw = event_with(occurred_at="2025-03-01T10:00:00Z", ingested_at="2025-03-01T09:00:00Z")
    assert reason_of(raw).startswith("occurred_at:")
    assert reason_of(raw, decode_ledger_event).startswith("occurred_at:")


@pytest.mark.parametrize(
    ("occurred_after_ingest_s", "refused"),
    [
        (limits.OCCURRED_AHEAD_OF_INGEST_S_MAX, False),
        (limits.OCCURRED_AHEAD_OF_INGEST_S_MAX + 1, True),
        (-limits.OCCURRED_BEFORE_INGEST_S_MAX, False),
        (-limits.OCCURRED_BEFORE_INGEST_S_MAX - 1, True),
    ],
)
def test_the_clock_skew_bound_is_inclusive_on_both_sides(
    occurred_after_ingest_s: int, refused: bool
) -> None:
    stamp = datetime(2025, 3, 1, 9, tzinfo=UTC)
    occurred = stamp + timedelta(seconds=occurred_after_ingest_s)
    raw = event_with(occurred_at=occurred.isoformat(), ingested_at=stamp.isoformat())
    if refused:
        assert reason_of(raw).startswith("occurred_at:")
    else:
        assert decode_event(raw).occurred_at == occurred


def test_adjusted_may_be_negative_and_counted_may_be_zero() -> None:
    assert decode_event(event_with(type="adjusted", qty=-4, reason="shrink")).qty == -4
    assert decode_event(event_with(type="counted", qty=0)).qty == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ttl_s": limits.HOLD_TTL_S_MAX + 1}, "ttl_s"),
        ({"ttl_s": 0}, "ttl_s"),
        ({"qty": 0}, "qty"),
        ({"channel": ""}, "channel"),
        ({"issued_at": "2025-03-01T09:00:00"}, "issued_at"),
        ({"hold_id": "h" * 65}, "hold_id"),
        ({"type": "reserve!"}, "type"),
    ],
)
def test_a_bad_command_field_is_named(changes: dict[str, Any], field: str) -> None:
    raw = json.dumps({**GOOD_COMMAND, **changes}).encode()
    assert reason_of(raw, decode_command).startswith(f"{field}:")


def test_bad_policy_records_are_named() -> None:
    good = json.loads(encode(channel("web", "A", "B")))
    negative = json.dumps({**good, "buffer_units": -1}).encode()
    twice = json.dumps({**good, "locations": ["A", "A"]}).encode()
    no_kind = json.dumps({k: v for k, v in good.items() if k != "kind"}).encode()
    assert reason_of(negative, decode_policy).startswith("buffer_units:")
    assert "locations" in reason_of(twice, decode_policy)
    assert reason_of(no_kind, decode_policy).startswith("kind:")
    assert decode_policy(encode(safety("A", 3))) == safety("A", 3)


@pytest.mark.parametrize(
    ("raw", "starts"),
    [
        (b"", "malformed JSON"),
        (b"{", "malformed JSON"),
        (b"\xff\xfe", "malformed JSON"),
        (b"[1, 2]", "payload"),
        (b"null", "payload"),
        (b"x" * (limits.PAYLOAD_BYTES_MAX + 1), "payload"),
    ],
)
def test_malformed_bytes_are_named(raw: bytes, starts: str) -> None:
    assert reason_of(raw).startswith(starts)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_only_ever_raise_decode_error(raw: bytes) -> None:
    for decoder in (decode_event, decode_ledger_event, decode_command, decode_policy):
        try:
            decoder(raw)
        except DecodeError as error:
            assert error.reason


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


@FUZZ
@given(st.dictionaries(st.sampled_from([*sorted(GOOD_EVENT), "eta", "x"]), _JSON), st.data())
def test_mutated_events_decode_or_raise_decode_error(
    changes: dict[str, Any], data: st.DataObject
) -> None:
    raw = json.dumps({**GOOD_EVENT, **changes}).encode()
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(raw)))
        raw = raw[:cut]
    try:
        event = decode_event(raw)
    except DecodeError as error:
        assert error.reason
    else:
        assert decode_event(encode(event)) == event


def no_chunks(_chunk: object) -> None:
    return None


def test_state_round_trips_and_bad_state_bytes_are_a_decode_error() -> None:
    state = fold([fact("received", "A", 3), fact("counted", "A", 1)], SkuState.empty(SKU))
    parts = split_state(state, None)
    assert parts.new_chunks == {}  # facts alone: no holds part, no sealed chunk
    assert join_state(parts.core, no_chunks) == state
    with pytest.raises(DecodeError):
        join_state(bytes((STATE_FORMAT,)) + b'-["SKU-1", "not a version"]', no_chunks)


def test_state_bytes_lead_with_their_format_version() -> None:
    state = fold([fact("received", "A", 3)], SkuState.empty(SKU))
    core = split_state(state, None).core
    assert core[0] == STATE_FORMAT
    with pytest.raises(DecodeError) as bad:
        join_state(core[2:], no_chunks)  # the bare JSON array: the old, unversioned layout
    assert bad.value.reason.startswith("state format v1 unknown")
    assert "rebuild the table" in bad.value.reason


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b'["SKU-1", 3, null, {}, {}, {}, {}, {}, ["\\u0000", 0, []], [0, 0, 0, 0, 0, 0]]', "v1"),
        (bytes((STATE_FORMAT + 1,)) + b"-[]", f"v{STATE_FORMAT + 1}"),
        (bytes((STATE_FORMAT - 1,)) + b"[]", f"v{STATE_FORMAT - 1}"),
        (b"", "v?"),
    ],
)
def test_a_state_of_another_format_is_named_not_misread(raw: bytes, named: str) -> None:
    with pytest.raises(DecodeError) as bad:
        join_state(raw, no_chunks)
    assert bad.value.reason.startswith(f"state format {named}")


def test_seen_ids_and_counters_views_match_the_state() -> None:
    events = [fact("received", "A", 3), fact("sold_in_store", "A", 5), fact("counted", "A", 1)]
    state = fold(events, SkuState.empty(SKU))
    assert all(event.event_id in state.seen for event in events)
    assert state.seen.size() == 3
    counters = state.counters
    assert (counters.oversold_units, counters.oversells, counters.counts) == (2, 1, 1)
    assert (counters.variance_net_units, counters.variance_abs_units) == (3, 3)


def test_a_location_past_the_bound_is_refused_and_nothing_changes() -> None:
    state = SkuState.empty(SKU)
    for i in range(limits.LOCATIONS_PER_SKU_MAX):
        state = apply_event(state, fact("received", f"L{i}", 1)).state
    with pytest.raises(LimitExceeded):
        apply_event(state, fact("received", "one-more", 1))
    assert len(state.positions) == limits.LOCATIONS_PER_SKU_MAX
    assert apply_event(state, fact("received", "L0", 1)).outcome == "applied"
