"""base.policy_log: every record of the policy topic applied in order, refused ones skipped."""

from __future__ import annotations

from base.policy_log import PolicyLog
from ledger import limits
from ledger.codec import encode
from ledger.errors import DecodeError, LimitExceeded
from tests.support import ledger_builders as t


def test_a_channel_past_channels_max_is_skipped_and_returned_not_raised() -> None:
    log = PolicyLog()
    for offset in range(limits.CHANNELS_MAX):
        assert log.apply(offset, encode(t.channel(f"c{offset}", "A"))) is None
    refused = log.apply(limits.CHANNELS_MAX, encode(t.channel("one-too-many", "A")))
    assert isinstance(refused, LimitExceeded)
    assert "one-too-many" not in log.book.channels
    assert log.version == limits.CHANNELS_MAX + 1  # the version still moves past it
    # An existing channel's newer record still applies after the refused one.
    assert log.apply(limits.CHANNELS_MAX + 1, encode(t.channel("c0", "B", version=2))) is None
    assert log.book.channels["c0"].locations == ("B",)


def test_an_invalid_record_is_returned_and_only_moves_the_version() -> None:
    log = PolicyLog()
    refused = log.apply(7, b"{oops")
    assert isinstance(refused, DecodeError)
    assert (log.version, log.book.channels) == (8, {})
