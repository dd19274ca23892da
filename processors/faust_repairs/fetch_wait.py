"""Bound how long one fetch of the worker's consumer may wait at the broker (Faust: 1,500 ms).

aiokafka keeps one fetch request in flight per broker, naming the assigned partitions that
have no fetched records buffered. A worker is also assigned partitions that seldom or never
have records for it: Faust's assignor leader topic and the table changelogs (read only at
recovery; under exactly-once the open transaction also holds their stable offset back). A
request naming only such partitions waits at the broker for the whole `fetch_max_wait_ms`,
which Faust fixes at 1,500 ms, and a source partition whose buffered records ran out
meanwhile is not fetched again until that request returns. The batch loop then sat idle with
thousands of records waiting in Kafka (devtools/bench/FINDINGS.md, eighth session: empty
1.5 s fetches of the leader and changelog partitions during a drain). A short wait ends such
a request soon; a request for partitions that have records is answered at once either way
(fetch_min_bytes is 1), so the wait only bounds the empty ones.
"""

from __future__ import annotations

from typing import Any

from processors.faust_repairs import consumer_factory

_WAIT_MS = "_tally_fetch_wait_max_ms"
_INSTALLED = "_tally_fetch_wait_installed"


def set_fetch_wait(app: Any, wait_ms: int) -> None:
    """The fetch wait for `app`'s consumer, once it is created (`install` first)."""
    setattr(app, _WAIT_MS, wait_ms)


def install() -> None:
    """Wrap Faust's consumer factory (idempotent): an app given a wait gets its consumer
    with that `fetch_max_wait_ms`; any other keeps Faust's."""
    consumer_factory.wrap(_INSTALLED, _set_wait)


def _set_wait(app: Any, consumer: Any) -> None:
    wait_ms = getattr(app, _WAIT_MS, None)
    if wait_ms is not None:
        # read by AIOKafkaConsumer.start() when it builds its Fetcher
        consumer._fetch_max_wait_ms = wait_ms
