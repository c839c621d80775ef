"""Reading the spreadsheets offices actually keep: CSV (UTF-8 with or without BOM, or GB18030) and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from services.errors import BadInput


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone typed into Excel comes back as 13812345678.0
    return str(value).strip()


def read_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield (spreadsheet row number, cells) for every non-empty row, header included (row 1)."""
    if not path.exists():
        raise BadInput("file.missing", name=path.name)
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        yield from _read_xlsx(path)
    elif suffix in {".csv", ".txt", ""}:
        yield from _read_csv(path)
    else:
        raise BadInput("file.type", name=path.name, suffix=suffix)


def _read_csv(path: Path) -> Iterator[tuple[int, list[str]]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes nearly anything
        raise BadInput("file.encoding", name=path.name)
    reader = csv.reader(io.StringIO(text, newline=""))
    for cells in reader:
        number = reader.line_num
        stripped = [c.strip() for c in cells]
        if any(stripped):
            yield number, stripped


def _read_xlsx(path: Path) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise BadInput("file.xlsx", name=path.name) from None
    try:
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in row]
            if any(cells):
                yield number, cells
    finally:
        workbook.close()


def map_header(cells: list[str], aliases: dict[str, str], required: tuple[str, ...]) -> dict[str, int]:
    """Column name → index, accepting English or Chinese names; a missing column is bad input."""
    index: dict[str, int] = {}
    for position, name in enumerate(cells):
        key = aliases.get(name.strip().lower()) or aliases.get(name.strip())
        if key and key not in index:
            index[key] = position
    missing = [c for c in required if c not in index]
    if missing:
        raise BadInput("file.header", missing=", ".join(missing), got=", ".join(c[:40] for c in cells[:20]))
    return index


def stream_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """`read_rows`, streaming: a CSV is decoded line by line (a national file is never held whole in memory).

    The encoding (UTF-8 with or without BOM, else GB18030) is decided by one incremental decoding pass first,
    so the rows handed out never change encoding half-way. A line the csv module cannot read is bad input."""
    if not path.exists():
        raise BadInput("file.missing", name=path.name)
    if path.suffix.lower() not in {".csv", ".txt", ""}:
        yield from read_rows(path)
        return
    import codecs

    encoding = "utf-8-sig"
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        encoding = "gb18030"
    with path.open(encoding=encoding, errors="strict", newline="") as text:
        reader = csv.reader(text)
        strip = str.strip
        try:
            for cells in reader:
                stripped = list(map(strip, cells))  # map: the per-row cost of a national file (~2× a list display)
                if any(stripped):
                    yield reader.line_num, stripped
        except csv.Error as error:
            raise BadInput("file.csv_row", name=path.name, row=reader.line_num, detail=str(error)) from None
        except UnicodeDecodeError:  # pragma: no cover - gb18030 decodes nearly anything
            raise BadInput("file.encoding", name=path.name) from None
