"""docs/WIRE.md matches the code it documents, and the docs lead a new user to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.settings import REPO_ROOT, RedisSettings
from devtools.wire_doc.__main__ import WIRE_DOC
from devtools.wire_doc.blocks import render_all
from devtools.wire_doc.notes import meaning_of
from devtools.wire_doc.render import UnknownWireType, type_text, update
from ledger.events import Received

README = REPO_ROOT / "README.md"
API = REPO_ROOT / "docs" / "API.md"
OPERATING = REPO_ROOT / "docs" / "OPERATING.md"


def test_the_wire_doc_tables_match_the_code() -> None:
    doc = WIRE_DOC.read_text()
    assert update(doc, render_all()) == doc, (
        "docs/WIRE.md is out of date: run `python -m devtools.wire_doc`"
    )


def test_a_field_without_a_meaning_fails_the_doc() -> None:
    with pytest.raises(KeyError, match=r"Received\.shelf"):
        meaning_of(Received)("shelf")


def test_a_field_of_no_known_type_fails_the_doc() -> None:
    with pytest.raises(UnknownWireType):
        type_text({"type": "string", "minLength": 1, "maxLength": 7})
    with pytest.raises(UnknownWireType):
        type_text({"type": "number"})


def test_a_missing_or_unknown_block_fails_the_doc() -> None:
    doc = "<!-- wire:types -->\nold\n<!-- /wire:types -->\n"
    assert update(doc, {"types": "new"}) == "<!-- wire:types -->\nnew\n<!-- /wire:types -->\n"
    with pytest.raises(ValueError, match="generated blocks"):
        update(doc, {"types": "new", "bounds": "b"})


def test_the_readme_and_the_api_doc_link_the_wire_doc() -> None:
    assert "(docs/WIRE.md)" in README.read_text()
    api = API.read_text()
    assert "(WIRE.md)" in api
    assert "DESIGN.md" not in api


@pytest.mark.parametrize("doc", [README, OPERATING, WIRE_DOC], ids=lambda path: path.name)
def test_the_local_redis_password_is_documented(doc: Path) -> None:
    text = doc.read_text()
    assert RedisSettings().secret() in text
    assert "TALLY_REDIS__PASSWORD" in text
