"""The hold-expiry tick: ask, through `tally.commands`, to expire the holds now due.

Which SKUs are due comes from `processors.expiry` (rebuilt from the table after an
assignment); the ledger decides each expiry when the `expire` command comes back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from base.table_layout import read_all_states
from ledger.codec import encode
from ledger.commands import Expire
from processors.parts import Worker


async def expire_due_holds(worker: Worker) -> None:
    if worker.expiry.rescan_requested:
        worker.expiry.rebuild(read_all_states(dict(worker.positions.items())))
    now = datetime.now(UTC)
    topic = worker.settings.topics.commands
    await worker.side_producer.send_all(
        [
            (topic, sku.encode(), encode(Expire(sku=sku, issued_at=now)))
            for sku in worker.expiry.pop_due(int(now.timestamp() * 1000))
        ]
    )
