"""Exports: the streamed .xlsx read back with openpyxl, CSV with formula-like cells defused."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    assert sheet["A1"].font.b and sheet.freeze_panes == "A2"  # a bold header, frozen


def test_xlsx_chunks_stream_a_zip_before_the_rows_run_out() -> None:
    produced = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal produced
        for i in range(50_000):
            produced += 1
            yield [f"V{i:06d}", f"第{i}村" * 5, i]

    stream = xlsx_chunks(["h", "名称", "n"], rows(), chunk_size=1 << 14)
    first = next(stream)
    assert first[:2] == b"PK"
    assert produced < 50_000  # the first bytes leave before the last row is read: streamed, not built whole
    data = first + b"".join(stream)
    assert produced == 50_000 and len(data) > 1 << 14


def test_a_100000_row_export_reads_back_with_openpyxl(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    def rows() -> Iterator[list[Any]]:
        for i in range(100_000):
            if i == 4_242:
                yield ["=SUM(A1:A9)", "城关镇党委 <&> \x01控制符", 3.5, None, True]
            elif i == 99_999:
                yield ["V099999", "最后一行", -7, None, ""]
            else:
                yield [f"V{i:06d}", f"马口镇第{i}村党支部", i, None, f"  {i}  "]

    path = tmp_path / "big.xlsx"
    assert write_xlsx(path, ["编码", "单位", "数", "空", "备注"], rows(), title="滞后单位/2014") == 100_000
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["滞后单位_2014"]
    values = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert len(values) == 100_001
    assert values[0] == ("编码", "单位", "数", "空", "备注")
    assert values[1] == ("V000000", "马口镇第0村党支部", 0, None, "  0  ")
    assert values[4_243] == ("=SUM(A1:A9)", "城关镇党委 <&> 控制符", 3.5, None, True)  # a string, never a formula
    assert values[-1][:4] == ("V099999", "最后一行", -7, None)
    assert isinstance(values[50_001][2], int) and values[50_001][2] == 50_000
    cells = next(book.active.iter_rows(min_row=4_244, max_row=4_244))  # type: ignore[union-attr]
    assert [c.data_type for c in cells[:3]] == ["s", "s", "n"]
    book.close()


def test_csv_defuses_formulas_and_starts_with_a_bom() -> None:
    data = b"".join(csv_chunks(["编码", "名称"], [["V1", "=HYPERLINK(1)"], ["V2", "-1"], ["V3", 7]], rows_per_chunk=1))
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [["编码", "名称"], ["V1", "'=HYPERLINK(1)"], ["V2", "'-1"], ["V3", "7"]]
    assert csv_safe(None) == "" and csv_safe(-3) == -3


def test_xlsx_drops_what_xml_forbids_and_keeps_edge_spaces(tmp_path: Path) -> None:
    """Control characters and U+FFFE/U+FFFF cannot be in an .xlsx: they are dropped, the rest of the text kept;
    white space at either end of a text survives; full-width punctuation (EF-led UTF-8) is untouched."""
    from openpyxl import load_workbook

    from services.export import ColumnChunks

    path = tmp_path / "x.xlsx"
    rows = [["a\x01b", "c\ufffed\uffff", " 前后 ", "城关镇（筹）"], ["x", "y", "z", "w"]]
    columns = ColumnChunks(iter([[list(column) for column in zip(*rows, strict=True)]]))
    assert write_xlsx(path, ["1", "2", "3", "4"], columns) == 2
    sheet = load_workbook(path).active
    assert sheet is not None
    assert list(sheet.iter_rows(min_row=2, values_only=True)) == [("ab", "cd", " 前后 ", "城关镇（筹）"), ("x", "y", "z", "w")]


def test_csv_from_columns_defuses_formulas_as_from_rows() -> None:
    from services.export import ColumnChunks

    rows = [["V1", "=HYPERLINK(1)", None], ["V2", "-1", "+8613800000000"], ["V3", 7, "@x"]]
    as_rows = b"".join(csv_chunks(["编码", "名称", "手机"], rows))
    as_columns = b"".join(csv_chunks(["编码", "名称", "手机"],
                                     ColumnChunks(iter([[list(c) for c in zip(*rows[:2], strict=True)],
                                                        [list(c) for c in zip(*rows[2:], strict=True)]]))))
    assert as_columns == as_rows
    assert list(csv.reader(io.StringIO(as_rows.decode("utf-8").lstrip("\ufeff"))))[1:] == [
        ["V1", "'=HYPERLINK(1)", ""], ["V2", "'-1", "'+8613800000000"], ["V3", "7", "'@x"]]
