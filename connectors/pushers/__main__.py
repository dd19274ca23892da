"""`python -m connectors.pushers --channel NAME --pusher shopify|webhook [--mapping FILE]`."""

from __future__ import annotations

import typer

from connectors.pushers.cli import push


def main() -> None:
    typer.run(push)


if __name__ == "__main__":
    main()
