"""`tally bench ...`: the harness behind the CLI; every option is passed to `python -m ops.bench`.

Registered in ops/cli.py with:
    app.command("bench", context_settings=BENCH_CONTEXT)(bench_command)
"""

from __future__ import annotations

import typer

from ops.bench.__main__ import main

BENCH_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}


def bench_command(ctx: typer.Context) -> None:
    """Benchmark harness: --mode full|smoke [--seed N] [--stages ...] (see --help)."""
    main(ctx.args)
