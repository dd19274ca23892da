"""The worker's cyclic-GC setting: collect the young generation less often.

Folding builds a new immutable state per event (`ledger.fold`): a state tuple, a positions
dict and a position tuple that live until the SKU's next event. CPython starts a young
collection after 700 net allocations, so nearly every state is traced at least once (in
the young generation, then again in the middle one) while it is still alive, although the
ledger never makes a reference cycle: refcounting frees all of it. A larger young
threshold lets most states be replaced before any collection sees them.
`devtools/bench/fold_bench.py` measures the fold under both settings, with the longest
collection pause, in the same run.
"""

from __future__ import annotations

import gc

PYTHON_DEFAULT_THRESHOLDS = (700, 10, 10)
# Young generation; the older two keep Python's defaults.
YOUNG_THRESHOLD_OBJECTS = 50_000


def worker_thresholds() -> tuple[int, int, int]:
    _, middle, old = PYTHON_DEFAULT_THRESHOLDS
    return (YOUNG_THRESHOLD_OBJECTS, middle, old)


def tune_for_worker() -> None:
    gc.set_threshold(*worker_thresholds())
