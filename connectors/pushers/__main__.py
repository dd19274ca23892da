"""`python -m connectors.pushers --channel NAME --pusher shopify|webhook|amazon [--mapping FILE]`
(and its `redrive` / `enable` commands, as `tally push`)."""

from __future__ import annotations

from connectors.pushers.cli import push_app


def main() -> None:
    push_app()


if __name__ == "__main__":
    main()
