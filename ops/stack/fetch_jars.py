"""Resolve the Kafka broker jars into the stack's cache (used by ops/bootstrap.sh)."""

from __future__ import annotations

import sys

from base.settings import get_settings
from ops.stack.kafka import ensure_jars, jars_cached, libs_dir
from ops.stack.procs import StackError


def _echo(line: str) -> None:
    sys.stdout.write(line + "\n")


def main() -> int:
    settings = get_settings()
    if jars_cached(settings):
        sys.stdout.write(f"kafka: jars already cached in {libs_dir(settings)}\n")
        return 0
    try:
        libs = ensure_jars(settings, _echo)
    except StackError as error:
        sys.stderr.write(f"{error}\n")
        return 1
    sys.stdout.write(f"kafka: jars cached in {libs}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
