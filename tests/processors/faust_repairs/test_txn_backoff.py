"""processors.faust_repairs.txn_backoff: aiokafka retries a new transaction's first send
after the repair's short wait, not its own 20 ms."""

from __future__ import annotations

from aiokafka.producer import sender

from processors.faust_repairs import txn_backoff


def test_the_retry_after_a_commit_waits_milliseconds_not_twenty() -> None:
    txn_backoff.install()
    assert sender.BACKOFF_OVERRIDE == txn_backoff.RETRY_S
    assert txn_backoff.RETRY_S < 0.02
