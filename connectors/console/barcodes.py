"""Barcodes a store associate scans, mapped to SKUs: a CSV `barcode,sku` named by
`TALLY_CONSOLE__BARCODES_FILE` (no file: a barcode is looked up as a SKU)."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from ledger.fields import Sku

BARCODES_MAX = 5_000_000  # rows of the table
BARCODE_CHARS_MAX = 64
_SKU: TypeAdapter[str] = TypeAdapter(Sku)


class BarcodeTableError(ValueError):
    """The barcode table cannot be read: the line and why."""


def load_barcodes(path: Path | None) -> dict[str, str]:
    """barcode -> SKU, every row checked (a bad row names its line)."""
    if path is None:
        return {}
    table: dict[str, str] = {}
    with path.open(newline="") as rows:
        for line, row in enumerate(csv.reader(rows), 1):
            if not row or row[0].startswith("#") or row[0] == "barcode":
                continue
            code = _barcode(path, line, row)
            table[code] = _sku(path, line, row)
            if len(table) > BARCODES_MAX:
                raise BarcodeTableError(f"{path}: more than {BARCODES_MAX:,} barcodes")
    return table


def _barcode(path: Path, line: int, row: list[str]) -> str:
    code = row[0].strip()
    if not code or len(code) > BARCODE_CHARS_MAX or len(row) != 2:
        raise BarcodeTableError(f"{path}:{line}: want `barcode,sku` (barcode 1-64 characters)")
    return code


def _sku(path: Path, line: int, row: list[str]) -> str:
    try:
        return _SKU.validate_python(row[1].strip())
    except ValidationError:
        raise BarcodeTableError(f"{path}:{line}: {row[1]!r} is not a SKU") from None


def sku_for(query: str, barcodes: Mapping[str, str]) -> str | None:
    """The SKU a scanned or typed query names: a known barcode's SKU, else the query as a SKU."""
    text = query.strip()
    if text in barcodes:
        return barcodes[text]
    try:
        return _SKU.validate_python(text)
    except ValidationError:
        return None
