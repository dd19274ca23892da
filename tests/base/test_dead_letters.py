"""base.dead_letters: a letter names the refused record exactly, and is bounded in size."""

from __future__ import annotations

import base64
import hashlib
import os

import orjson

from base.dead_letters import (
    DEAD_LETTER_BYTES_MAX,
    KEY_PREVIEW_BYTES_MAX,
    RAW_PREVIEW_BYTES_MAX,
    dead_letter_key,
    dead_letter_record,
)

RECORD_BYTES = 900 * 1_024  # the broker takes it (message.max.bytes is about 1 MB)


def letter_of(key: bytes | None, raw: bytes | None, reason: str = "payload too big") -> bytes:
    return dead_letter_record(
        reason=reason,
        reason_kind="invalid",
        topic="tally.events",
        partition=2,
        offset=41,
        key=key,
        raw=raw,
    )


def test_a_record_near_the_broker_limit_makes_a_letter_far_under_the_producers() -> None:
    # A 900 KB value once made a ~1.2 MB letter (value + base64), over the producer's 1 MB
    # request size: the batch failed and the worker restarted on it until it gave up.
    for raw in (os.urandom(RECORD_BYTES), b"\x01" * RECORD_BYTES, b"a" * RECORD_BYTES):
        key = raw[:RECORD_BYTES]
        letter = letter_of(key, raw, reason=repr(key))
        assert len(letter) <= DEAD_LETTER_BYTES_MAX
        fields = orjson.loads(letter)
        assert fields["raw_bytes"] == RECORD_BYTES
        assert fields["raw_sha256"] == hashlib.sha256(raw).hexdigest()
        assert base64.b64decode(fields["raw_base64"]) == raw[:RAW_PREVIEW_BYTES_MAX]
        assert len(fields["key"].encode()) <= 3 * KEY_PREVIEW_BYTES_MAX  # U+FFFD is 3 bytes
        assert dead_letter_key(key) == key[:KEY_PREVIEW_BYTES_MAX]


def test_a_record_of_any_accepted_size_is_kept_whole() -> None:
    raw = b'{"type": "received", "qty": "four"}'
    fields = orjson.loads(letter_of(b"SKU-1", raw))
    assert base64.b64decode(fields["raw_base64"]) == raw
    assert fields["raw"] == raw.decode()
    assert (fields["key"], fields["raw_bytes"], fields["offset"]) == ("SKU-1", len(raw), 41)


def test_an_empty_record_has_the_digest_of_no_bytes() -> None:
    fields = orjson.loads(letter_of(None, None))
    assert fields["key"] is None and fields["raw_bytes"] == 0
    assert fields["raw_sha256"] == hashlib.sha256(b"").hexdigest()
