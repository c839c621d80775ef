"""Spreadsheet exports (.xlsx, .csv) streamed with bounded memory, and text that never becomes a formula.

- .xlsx: openpyxl's write-only workbook into a temporary file (rows go to disk as they come), which the caller
  streams and deletes; every string cell is written as a string (`data_type = 's'`), so `=HYPERLINK(…)` stays
  text (issue 10 M4).
- .csv: UTF-8 with a BOM (Excel opens it as UTF-8), produced line by line; a cell that starts with = + - @ or a
  tab / carriage return is prefixed with an apostrophe, as OWASP advises, so a spreadsheet shows it as text.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("xlsx", "csv")
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def csv_safe(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def text_cell(sheet: Any, value: Any) -> Any:
    """A write-only cell; strings are strings whatever they start with (openpyxl makes '=…' a formula)."""
    # openpyxl turns a string into a formula only when it starts with '=' (+ - @ stay strings in .xlsx): only
    # those need a cell of their own, the rest go in as plain values (a cell object per value halves the rate)
    if isinstance(value, str) and value.startswith("="):
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet)
        cell.value = value
        cell.data_type = "s"
        return cell
    return value


def force_text(cell: Any) -> None:
    """A normal worksheet's cell holding a string: keep it a string (never a formula)."""
    if isinstance(cell.value, str) and cell.data_type == "f":
        cell.data_type = "s"


def write_xlsx(path: Path, header: list[str], rows: Iterable[list[Any]], *, title: str = "Sheet1") -> int:
    """Rows into `path` with openpyxl's write-only mode; returns the number of data rows."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "Sheet1")
    sheet.append([text_cell(sheet, h) for h in header])
    count = 0
    for row in rows:
        sheet.append([text_cell(sheet, v) for v in row])
        count += 1
    workbook.save(str(path))
    return count


def xlsx_chunks(header: list[str], rows: Iterable[list[Any]], *, title: str = "Sheet1",
                chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """An .xlsx file built in a temporary file, then read back in chunks; the file is removed when done."""
    handle, name = tempfile.mkstemp(suffix=".xlsx", prefix="shuzhi-export-")
    os.close(handle)
    path = Path(name)
    try:
        write_xlsx(path, header, rows, title=title)
        with path.open("rb") as stream:
            while chunk := stream.read(chunk_size):
                yield chunk
    finally:
        path.unlink(missing_ok=True)


def csv_chunks(header: list[str], rows: Iterable[list[Any]], *, rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """A CSV file (UTF-8 with BOM, CRLF), a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([csv_safe(h) for h in header])
    pending = 0
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")


def chunks(fmt: str, header: list[str], rows: Iterable[list[Any]], *, title: str = "Sheet1") -> Iterator[bytes]:
    if fmt == "xlsx":
        return xlsx_chunks(header, rows, title=title)
    if fmt == "csv":
        return csv_chunks(header, rows)
    from services.errors import BadInput

    raise BadInput("export.format", value=fmt)
