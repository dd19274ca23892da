"""Republish figures from the whole table: after a policy change, and after a rebalance."""

from __future__ import annotations

import logging
from collections.abc import Callable

from base.table_layout import read_all_states
from ledger.availability import Figures, figures, policy_changed_figures
from ledger.policy import PolicyBook
from ledger.state import SkuState
from processors import metrics
from processors.batch import figures_from
from processors.parts import Worker
from processors.promise_outputs import horizon_figures, supply_figures
from processors.publisher import Figure

log = logging.getLogger("tally.worker")

REPUBLISH_CHUNK_FIGURES = 2_000  # figures per Redis call when a policy change republishes


async def republish_policy_change(worker: Worker, old: PolicyBook, new: PolicyBook) -> None:
    """Recompute the figures a policy change altered, for every SKU this worker owns."""
    sku_count = await _republish(worker, lambda state: policy_changed_figures(state, old, new))
    log.info("policy v%d: republished changed figures of %d SKUs", worker.policy.version, sku_count)


async def republish_after_rebalance(worker: Worker) -> None:
    """Publish every figure of the SKUs this worker now owns, under the current policy.

    A policy change that happened while a SKU's partition had no live owner (its worker
    killed, a rebalance under way) was never republished for it: the new owner loads the
    current policy as its starting point, so it sees no change. The publisher's version
    compare-and-set makes this write only the figures Redis holds older versions of.
    """
    await worker.policy.ready.wait()
    sku_count = await _republish(worker, lambda state: figures(state, worker.policy.book))
    log.info(
        "after rebalance: republished %d SKUs under policy v%d", sku_count, worker.policy.version
    )


async def _republish(worker: Worker, figures_of: Callable[[SkuState], Figures]) -> int:
    batch: list[Figure] = []
    sku_count = 0
    async with worker.durable:  # no batch's unacknowledged state in the snapshot
        table = dict(worker.positions.items())
    book = worker.policy.book
    days = worker.settings.worker.atp_horizon_days
    for state in read_all_states(table):
        batch += figures_from(state, figures_of(state), worker.policy.version, ingested_ms=0)
        # every horizon of a SKU with supply incoming: the policy may move any of them
        batch += horizon_figures(None, state, book, worker.policy.version, 0, days)
        batch += supply_figures(None, state, worker.policy.version, 0)
        worker.kpis.stranded.observe(state, book)
        sku_count += 1
        if len(batch) >= REPUBLISH_CHUNK_FIGURES:
            await worker.pending.publish(worker.publisher, batch)
            batch = []
    await worker.pending.publish(worker.publisher, batch)
    await worker.kpis.flush(worker.redis)
    metrics.TABLE_SKUS.set(sku_count)
    return sku_count
