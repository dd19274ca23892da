"""`python -m devtools.wire_doc [--check]`: rewrite (or check) docs/WIRE.md's tables."""

from __future__ import annotations

import sys

from base.settings import REPO_ROOT
from devtools.wire_doc.blocks import render_all
from devtools.wire_doc.render import update

WIRE_DOC = REPO_ROOT / "docs" / "WIRE.md"


def main(argv: list[str]) -> int:
    current = WIRE_DOC.read_text()
    wanted = update(current, render_all())
    if "--check" in argv:
        if wanted != current:
            sys.stderr.write(f"{WIRE_DOC} is out of date: run python -m devtools.wire_doc\n")
            return 1
        return 0
    WIRE_DOC.write_text(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
