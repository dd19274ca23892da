"""How the CLI prints: rich tables for people (never cut when piped), JSON for scripts."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console

# Output that is not a terminal has no width: rich would assume 80 columns and cut table
# cells with "…" (a SKU, a location, a log path). Wider than any row the CLI prints.
PIPED_WIDTH = 100_000


def console() -> Console:
    """A console for one command's output, built when it runs (COLUMNS, the terminal now)."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=PIPED_WIDTH)


def emit_json(body: object, *, indent: int | None = 2) -> None:
    typer.echo(json.dumps(body, indent=indent))
