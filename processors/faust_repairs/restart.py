"""Restart the worker process in place after a crash, a bounded number of times.

A crashed batch must not be acknowledged (Faust acks a batch when its loop body exits, even
by an exception), so the worker never unwinds: it replaces itself with a fresh process
(`os.execv`, no cleanup, like kill -9) that rebuilds its store from the changelog and replays
from the last committed offsets. Past `worker.crash_restarts_max` consecutive crashes it
exits instead, for a real supervisor (or a person) to look at.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import NoReturn

log = logging.getLogger("tally.restart")

RESTARTS_ENV = "TALLY_CRASH_RESTARTS"  # consecutive crash restarts so far (internal)
STARTED_ENV = "TALLY_CRASH_STARTED_AT"
HEALTHY_RUN_S = 60.0  # a run this long resets the count
EXIT_GAVE_UP = 70  # EX_SOFTWARE


def restart_after_crash(restarts_max: int, reason: str) -> NoReturn:
    restarts = int(os.environ.get(RESTARTS_ENV, "0"))
    started_at = float(os.environ.get(STARTED_ENV, "0") or 0)
    if time.time() - started_at > HEALTHY_RUN_S:
        restarts = 0
    logging.shutdown()
    if restarts >= restarts_max:
        log.critical("crashed (%s) after %d restarts; giving up", reason, restarts)
        os._exit(EXIT_GAVE_UP)
    sys.stderr.write(
        f"tally worker: crashed ({reason}); restarting ({restarts + 1}/{restarts_max})\n"
    )
    sys.stderr.flush()
    os.environ[RESTARTS_ENV] = str(restarts + 1)
    # The same command again (`python -m processors.worker` or `-m processors.orders`).
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def note_start() -> None:
    os.environ[STARTED_ENV] = str(time.time())
