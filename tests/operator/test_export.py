"""Exports: write-only .xlsx read back with openpyxl, CSV with formula-like cells defused."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from services.export import csv_chunks, csv_safe, write_xlsx, xlsx_chunks


def test_xlsx_strings_stay_text_and_numbers_stay_numbers(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "x.xlsx"
    rows = [["=1+1", "+86 139", "-x", "@cmd", 5, None, "普通"]] * 3
    assert write_xlsx(path, ["a", "b", "c", "d", "n", "empty", "中文"], rows) == 3
    sheet = load_workbook(path).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("a", "b", "c", "d", "n", "empty", "中文")
    assert values[1] == ("=1+1", "+86 139", "-x", "@cmd", 5, None, "普通")
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_xlsx_chunks_remove_their_temporary_file(tmp_path: Path) -> None:
    data = b"".join(xlsx_chunks(["h"], ([str(i)] for i in range(10))))
    assert data[:2] == b"PK"


def test_csv_defuses_formulas_and_starts_with_a_bom() -> None:
    data = b"".join(csv_chunks(["编码", "名称"], [["V1", "=HYPERLINK(1)"], ["V2", "-1"], ["V3", 7]], rows_per_chunk=1))
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [["编码", "名称"], ["V1", "'=HYPERLINK(1)"], ["V2", "'-1"], ["V3", "7"]]
    assert csv_safe(None) == "" and csv_safe(-3) == -3
