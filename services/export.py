"""Spreadsheet exports (.xlsx, .csv) streamed with bounded memory, and text that never becomes a formula.

- .xlsx: SpreadsheetML written here, a batch of 1,000 rows at a time, straight into a zip that is handed out in
  chunks as it grows (zipfile on an unseekable sink: sizes go in data descriptors), so nothing waits for the last
  row and memory holds one batch. openpyxl's write-only mode managed ~800 rows/s on the national list (its own
  writing was 85 % of the time); this writer builds a batch column by column with C-level joins (see
  `_columns_xml`), several times faster than the query that feeds it. Every string is an inline string
  (`t="inlineStr"`): never a formula, whatever it starts with (issue 10 M4); the header row is bold and frozen.
  openpyxl stays for reading and for the small formatted summary report (services.summary_report).
- .csv: UTF-8 with a BOM (Excel opens it as UTF-8), produced line by line; a cell that starts with = + - @ or a
  tab / carriage return is prefixed with an apostrophe, as OWASP advises, so a spreadsheet shows it as text.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import math
import operator
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("xlsx", "csv")
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
ROWS_PER_BATCH = 1000  # rows turned into XML (or CSV) at once: one join, one encode, one compress call
MAX_ROWS = 1_048_575  # a worksheet holds 1,048,576 rows, the header included
# characters XML 1.0 forbids (and lone surrogates, which UTF-8 cannot encode): dropped from every string
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


def csv_safe(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def force_text(cell: Any) -> None:
    """A normal (openpyxl) worksheet's cell holding a string: keep it a string (never a formula)."""
    if isinstance(cell.value, str) and cell.data_type == "f":
        cell.data_type = "s"


class ColumnChunks:
    """Rows handed over a chunk at a time as columns (a list per column, all of one length): the writers below read
    the columns as they are (no row tuples built and taken apart again); iterated, it yields the rows as tuples.
    `close()` closes the source (an abandoned download releases what it holds)."""

    def __init__(self, chunks: Iterator[list[Sequence[Any]]]) -> None:
        self._chunks = chunks
        self._rows: Iterator[tuple[Any, ...]] = itertools.chain.from_iterable(zip(*c, strict=True) for c in chunks)

    def __iter__(self) -> ColumnChunks:
        return self

    def __next__(self) -> tuple[Any, ...]:
        return next(self._rows)

    def columns(self) -> Iterator[list[Sequence[Any]]]:
        return self._chunks

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


@contextlib.contextmanager
def _closing_source(rows: Iterable[Any]) -> Iterator[None]:
    """Close the rows' source (a `ColumnChunks`, a generator) when the writer ends, finished or abandoned: a
    download dropped mid-way releases its connections when the response closes the writer, not when the garbage
    collector finds the source."""
    try:
        yield
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()


# --- .xlsx ---------------------------------------------------------------------------------------------------------

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '</Types>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<bookViews><workbookView/></bookViews>'
    '<sheets><sheet name="{title}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
# style 0: the default; style 1: bold (the header row)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft"/></sheetView></sheetViews>'
    '<sheetFormatPr defaultRowHeight="15"/>'
)


def _xml_text(text: str) -> str:
    """Escaped element text (quotes need no escape outside attributes); forbidden characters are removed later,
    once per batch."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _display_width(value: Any) -> int:
    text = "" if value is None else str(value)
    return sum(2 if ord(c) > 0x2E7F else 1 for c in text[:80])


def _sheet_title(title: str) -> str:
    """A worksheet name Excel accepts: no []:*?/\\, at most 31 characters, not empty."""
    cleaned = _SHEET_NAME_BAD.sub("_", _ILLEGAL_XML.sub("", title)).strip("'")[:31]
    return _xml_text(cleaned).replace('"', "&quot;") or "Sheet1"


_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_CONTROLS = [bytes([c]) for c in _CONTROL_BYTES]


def _utf8(text: str) -> bytes:
    """UTF-8 of a piece of the sheet with the characters XML forbids removed: C0 controls are single bytes in
    UTF-8, deleted with one bytes.translate (a regex over CJK text cost half the writing time); U+FFFE/U+FFFF and
    lone surrogates are rare enough for the regex."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = _ILLEGAL_XML.sub("", text).encode("utf-8")
    # U+FFFE/U+FFFF are EF BF BE/BF: one memchr for EF (absent from the common CJK range) before the 3-byte
    # searches, which cost more than the encoding itself
    if b"\xef" in data and (b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data):
        data = _ILLEGAL_XML.sub("", data.decode("utf-8")).encode("utf-8")
    # one memchr per control byte finds none in almost every batch: half the time of an unconditional translate
    if any(control in data for control in _CONTROLS):
        data = data.translate(None, _CONTROL_BYTES)
    return data


class _Sink(io.RawIOBase):
    """An unseekable file that keeps what the zip writer wrote until it is taken."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.size += len(chunk)
        return len(chunk)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts, self.size = [], 0
        return data


_STR_OPEN, _STR_CLOSE = '<c t="inlineStr"><is><t xml:space="preserve">', "</t></is></c>"
_PLAIN_STR_OPEN = '<c t="inlineStr"><is><t>'
_NUM_OPEN, _NUM_CLOSE = "<c><v>", "</v></c>"
_NUMBER_TYPES = ({int}, {float}, {int, float})


def _cell(value: Any) -> str:
    """One whole <c> element, for a column whose values are of mixed types: strings inline (never formulas),
    numbers as numbers, booleans as booleans, dates as ISO text, None as an empty cell."""
    kind = type(value)
    if kind is str:
        return f"{_STR_OPEN}{_xml_text(value)}{_STR_CLOSE}"
    if value is None:
        return "<c/>"
    if kind is bool:
        return f'<c t="b"><v>{int(value)}</v></c>'
    if kind is int or (kind is float and math.isfinite(value)):
        return f"{_NUM_OPEN}{value!r}{_NUM_CLOSE}"
    if isinstance(value, (date, datetime)):
        return _cell(value.isoformat())
    return _cell(str(value))


def _escaped_column(texts: Iterable[str]) -> tuple[list[str], bool]:
    """The texts XML-escaped, and whether any of them starts or ends with white space (then the column's cells
    need xml:space="preserve"; the others go without its 21 bytes per cell)."""
    items = texts if isinstance(texts, (list, tuple)) else list(texts)
    joined = _xml_text("\x00".join(items))  # one escape over the whole column
    values = joined.split("\x00")
    if len(values) != len(items):  # a text held NUL (forbidden in XML anyway): drop it and split again
        return _escaped_column([t.replace("\x00", "") for t in items])
    # str.strip hands back the very object when there is nothing to strip: one C-level pass, stopping at the first
    # text with white space at an edge (Unicode spaces count too: xml:space="preserve" is never wrong, only longer)
    return values, any(map(operator.is_not, items, map(str.strip, items)))


def _columns_xml(batch_columns: list[Sequence[Any]], count: int, first_row: int) -> str:
    """The <row> elements of a batch given as columns, built column by column: a column of one type (all text, all
    numbers, all empty) is escaped or converted in one C-level pass and placed between constant markup; only a
    column of mixed types goes cell by cell. The rows are then one join over zip()ped columns: no Python code runs
    per row. Cells carry no reference (`r` is optional in SpreadsheetML: a reader counts them); an empty cell is
    <c/>."""
    pieces: list[str] = ['<row r="', '">']
    columns: list[Iterable[str]] = [map(str, range(first_row, first_row + count))]
    for column in batch_columns:
        kinds = set(map(type, column))
        if kinds == {str}:
            texts, edged = _escaped_column(column)
            pieces[-1] += _STR_OPEN if edged else _PLAIN_STR_OPEN
            pieces.append(_STR_CLOSE)
            columns.append(texts)
        elif kinds in _NUMBER_TYPES and (float not in kinds or all(map(math.isfinite, column))):
            pieces[-1] += _NUM_OPEN
            pieces.append(_NUM_CLOSE)
            columns.append(map(repr, column))
        elif kinds == {type(None)}:
            pieces[-1] += "<c/>"
        else:
            pieces.append("")
            columns.append(map(_cell, column))
    pieces[-1] += "</row>"
    # row i = pieces[0] + columns[0][i] + pieces[1] + columns[1][i] + … + pieces[-1]
    streams: list[Iterable[str]] = []
    for piece, cells in zip(pieces, columns, strict=False):  # pieces has one more: the row's end
        streams += [itertools.repeat(piece, count), cells]
    streams.append(itertools.repeat(pieces[-1], count))
    return "".join(itertools.chain.from_iterable(zip(*streams, strict=True)))


def _column_batches(rows: Iterable[Sequence[Any]]) -> Iterator[tuple[list[Sequence[Any]], int]]:
    """(columns, row count) per batch: a ColumnChunks' own chunks, or ROWS_PER_BATCH rows turned into columns."""
    if isinstance(rows, ColumnChunks):
        for columns in rows.columns():
            if columns and (count := len(columns[0])):
                yield columns, count
        return
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, ROWS_PER_BATCH)):
        width = max(map(len, batch))
        if min(map(len, batch)) != width:
            batch = [[*row, *[None] * (width - len(row))] for row in batch]
        yield [list(column) for column in zip(*batch, strict=True)], len(batch)


def _sheet_batches(header: list[str], rows: Iterable[Sequence[Any]], counter: list[int]) -> Iterator[str]:
    """sheet1.xml in pieces: the head (column widths from the header and the first rows), then a batch of rows
    at a time; counter[0] holds the number of data rows written so far."""
    batches = _column_batches(rows)
    first = next(batches, None)
    first_columns = first[0] if first else []
    width = max(len(header), len(first_columns))
    widths = [_display_width(h) for h in header] + [0] * (width - len(header))
    for i, column in enumerate(first_columns):
        widths[i] = max([widths[i], *map(_display_width, column[:200])])
    cols = "".join(f'<col min="{i}" max="{i}" width="{min(max(w, 6), 60) + 2}" customWidth="1"/>'
                   for i, w in enumerate(widths, start=1))
    head = "".join(f'<c s="1" t="inlineStr"><is><t xml:space="preserve">{_xml_text(str(h))}</t></is></c>' for h in header)
    yield f'{_SHEET_HEAD}<cols>{cols}</cols><sheetData><row r="1">{head}</row>'
    number = 2
    batch = first
    while batch is not None:
        columns, count = batch
        if number + count > MAX_ROWS + 2:
            from services.errors import BadInput

            raise BadInput("export.too_many", limit=f"{MAX_ROWS:,}")
        yield _columns_xml(columns, count, number)
        number += count
        counter[0] += count
        batch = next(batches, None)
    yield "</sheetData></worksheet>"


def xlsx_chunks(header: list[str], rows: Iterable[Sequence[Any]], *, title: str = "Sheet1", chunk_size: int = 1 << 16,
                counter: list[int] | None = None) -> Iterator[bytes]:
    """An .xlsx file as a stream of byte chunks of about `chunk_size`, each handed out as soon as it is
    compressed. `counter`, if given, is a one-item list that receives the number of data rows."""
    counter = counter if counter is not None else [0]
    sink = _Sink()
    # deflate at level 1: ~10× smaller than stored XML for a fraction of the time level 6 would take
    with _closing_source(rows), zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _ROOT_RELS),
                           ("xl/workbook.xml", _WORKBOOK.format(title=_sheet_title(title))),
                           ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS), ("xl/styles.xml", _STYLES)):
            book.writestr(name, text)
        with book.open("xl/worksheets/sheet1.xml", "w") as sheet:
            for piece in _sheet_batches(header, rows, counter):
                sheet.write(_utf8(piece))
                if sink.size >= chunk_size:
                    yield sink.take()
    if sink.size:
        yield sink.take()


def write_xlsx(path: Path, header: list[str], rows: Iterable[Sequence[Any]], *, title: str = "Sheet1") -> int:
    """Rows into the .xlsx file `path` (the streamed writer, to disk); returns the number of data rows."""
    counter = [0]
    with Path(path).open("wb") as stream:
        for chunk in xlsx_chunks(header, rows, title=title, counter=counter):
            stream.write(chunk)
    return counter[0]


# --- .csv ----------------------------------------------------------------------------------------------------------

def _csv_batches(rows: Iterable[Sequence[Any]], size: int) -> Iterator[Iterable[Sequence[Any]]]:
    """Batches of rows for csv.writer.writerows, each cell that a spreadsheet would evaluate defused. Most batches
    hold none: one scan of the batch's text says so, instead of a check per cell (per column for ColumnChunks,
    whose rows are then zipped once, in C)."""
    starts = FORMULA_STARTS
    probes = tuple("\x00" + c for c in starts)

    def risky(texts: Iterable[str]) -> bool:
        text = "\x00" + "\x00".join(texts)
        return any(probe in text for probe in probes)

    if isinstance(rows, ColumnChunks):
        for columns in rows.columns():
            texts = [(i, c if kinds == {str} else [v for v in c if type(v) is str])
                     for i, c in enumerate(columns) if str in (kinds := set(map(type, c)))]
            if risky(itertools.chain.from_iterable(t for _, t in texts)):  # the whole chunk at once, then per column
                columns = list(columns)
                for i, column_texts in texts:
                    if risky(column_texts):
                        columns[i] = [("'" + v if isinstance(v, str) and v.startswith(starts) else v) for v in columns[i]]
            yield zip(*columns, strict=True)
        return
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        if risky([v for v in itertools.chain.from_iterable(batch) if type(v) is str]):
            batch = [[("'" + v if isinstance(v, str) and v.startswith(starts) else v) for v in row] for row in batch]
        yield batch


def csv_chunks(header: list[str], rows: Iterable[Sequence[Any]], *, rows_per_chunk: int = ROWS_PER_BATCH) -> Iterator[bytes]:
    """A CSV file (UTF-8 with BOM, CRLF), a batch of rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([csv_safe(h) for h in header])
    with _closing_source(rows):
        for batch in _csv_batches(rows, rows_per_chunk):
            writer.writerows(batch)
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def chunks(fmt: str, header: list[str], rows: Iterable[Sequence[Any]], *, title: str = "Sheet1") -> Iterator[bytes]:
    if fmt == "xlsx":
        return xlsx_chunks(header, rows, title=title)
    if fmt == "csv":
        return csv_chunks(header, rows)
    from services.errors import BadInput

    raise BadInput("export.format", value=fmt)
