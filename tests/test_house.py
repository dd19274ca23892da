"""The house's rules that no linter checks by itself: the README's picture of the layers is
the import contract's, no function outside tests is over 80 lines (the named exceptions are
ruff's, in pyproject.toml), and every module says its one job in a docstring."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ledger", "base", "processors", "connectors", "ops", "devtools")
FUNCTION_LINES_MAX = 80


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def contracts() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = pyproject()["tool"]["importlinter"]["contracts"]
    return found


def modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_the_readme_draws_the_layers_of_the_import_contract() -> None:
    (layers,) = [c["layers"] for c in contracts() if c["type"] == "layers"]
    readme = (ROOT / "README.md").read_text()
    diagram = re.search(r"```mermaid\n(.*?)```", readme, re.S)
    assert diagram is not None, "README has no mermaid diagram"
    chains = [line.strip() for line in diagram.group(1).splitlines() if "-->" in line]
    drawn = [[part.strip() for part in chain.split("-->")] for chain in chains]
    assert layers in drawn, f"README draws {drawn}, the contract's layers are {layers}"
    forbidden = [c for c in contracts() if c["type"] == "forbidden"]
    assert any(c["forbidden_modules"] == ["devtools"] for c in forbidden)
    assert "devtools -.-> " in diagram.group(1)


def _ruff_exempt() -> set[str]:
    ignores: dict[str, list[str]] = pyproject()["tool"]["ruff"]["lint"]["per-file-ignores"]
    return {path for path, codes in ignores.items() if "PLR0915" in codes}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_is_over_80_lines_and_every_module_says_its_job(path: Path) -> None:
    tree = ast.parse(path.read_text())
    relative = str(path.relative_to(ROOT))
    assert ast.get_docstring(tree), f"{relative}: no module docstring"
    if relative in _ruff_exempt():
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            assert lines <= FUNCTION_LINES_MAX, (
                f"{relative}:{node.lineno} {node.name}: {lines} lines"
            )
