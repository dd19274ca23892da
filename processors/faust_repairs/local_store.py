"""The worker's local RocksDB folder is a cache of the changelog, trusted only after a clean stop.

Faust persists a partition's changelog offset in RocksDB when it commits, even when the
exactly-once commit then fails (a fenced producer aborts the transaction): the local store
can end up ahead of the changelog, and Faust refuses to start that partition
(ConsistencyError, faust-streaming #158). Store writes of an aborted batch can linger too.
So a worker that did not stop cleanly rebuilds its store from the changelog, which holds
only committed state; the events after the committed offsets are then replayed.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger("tally.local_store")

CLEAN_STOP_MARKER = "clean-stop"


class LocalStore:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._marker = data_dir / CLEAN_STOP_MARKER

    def prepare(self) -> bool:
        """Before start: keep the store only if the last run stopped cleanly. True if wiped."""
        wiped = False
        if self.data_dir.exists() and not self._marker.exists():
            log.warning(
                "last run did not stop cleanly: rebuilding %s from the changelog", self.data_dir
            )
            shutil.rmtree(self.data_dir)
            wiped = True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._marker.unlink(missing_ok=True)  # a crash from here on leaves no marker
        return wiped

    def mark_clean_stop(self) -> None:
        self._marker.touch()
