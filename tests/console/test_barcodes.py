"""The stock lookup's barcode table: a scanned barcode finds its SKU; a bad table names its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.console.barcodes import BarcodeTableError, load_barcodes, sku_for


def test_a_scanned_barcode_finds_its_sku_and_a_sku_is_itself(tmp_path: Path) -> None:
    table = tmp_path / "barcodes.csv"
    table.write_text("barcode,sku\n# EAN-13\n0614141000036,TEE-BLK-M\n 0614141000043 ,MUG-WHT\n")
    barcodes = load_barcodes(table)
    assert barcodes == {"0614141000036": "TEE-BLK-M", "0614141000043": "MUG-WHT"}
    assert sku_for(" 0614141000036 ", barcodes) == "TEE-BLK-M"
    assert sku_for("CAP-RED", barcodes) == "CAP-RED"  # not a barcode: looked up as a SKU
    assert sku_for("not a sku!", barcodes) is None
    assert load_barcodes(None) == {}


@pytest.mark.parametrize(
    ("row", "reason"),
    [("0614141000036,not a sku", "is not a SKU"), ("0614141000036", "want `barcode,sku`")],
)
def test_a_bad_row_names_its_line(tmp_path: Path, row: str, reason: str) -> None:
    table = tmp_path / "barcodes.csv"
    table.write_text(f"barcode,sku\n{row}\n")
    with pytest.raises(BarcodeTableError, match=rf"barcodes.csv:2: .*{reason}"):
        load_barcodes(table)
