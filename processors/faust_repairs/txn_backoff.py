"""Retry a partition's first send after a transaction commit sooner than aiokafka does.

After EndTxn the broker writes the transaction's markers in the background; a new
transaction's AddPartitionsToTxn sent meanwhile is answered CONCURRENT_TRANSACTIONS, and
aiokafka 0.12 waits a fixed 20 ms (`sender.BACKOFF_OVERRIDE`) before asking again. Under
exactly-once every partition's first changelog send after each commit (every
`commit_interval_s`) paid it: `python -m devtools.bench.txn_acks` (four transactional
producers, 40 records, acks=all) measured a median 1.4 ms to be acknowledged inside a
transaction and 24.1 ms right after a commit; with a 2 ms retry, 1.9 ms after a commit. On
one host the markers take about a millisecond, so the retry comes after `RETRY_S`; a busier
broker only answers the same error again, a few requests more.
"""

from __future__ import annotations

from aiokafka.producer import sender

RETRY_S = 0.002


def install() -> None:
    """Idempotent (a module constant aiokafka reads at each retry)."""
    sender.BACKOFF_OVERRIDE = RETRY_S
