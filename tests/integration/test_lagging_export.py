"""The lagging export on both backends: the same rows, in the same order, as the paged list (PostgreSQL reads them
ahead of the writer in a thread of its own), and an abandoned download gives its connections back."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

import services.lagging as lagging
from services.clock import parse_when
from services.export import xlsx_chunks
from services.lagging import LAGGING_COLUMNS, LaggingFilter, export_lagging, lagging_page
from services.orgs import import_orgs
from services.years import start_year
from storage.db import Database
from tests.conftest import SAMPLE_ORGS, SAMPLE_PLAN

TODAY = date(2015, 1, 10)  # late in the season: every cycle lags


@pytest.fixture
def launched(any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    path = tmp_path / "orgs.csv"
    path.write_text(SAMPLE_ORGS, encoding="utf-8")
    import_orgs(any_db, path, now=parse_when("2014-11-20"))
    start_year(any_db, plan_text=SAMPLE_PLAN, year=2014, now=parse_when("2014-11-20"))
    monkeypatch.setattr(lagging, "STREAM_CHUNK", 3)  # several chunks, read ahead of the writer on PostgreSQL
    return any_db


def test_the_export_holds_the_lists_rows_in_its_order(launched: Database) -> None:
    from openpyxl import load_workbook

    f = LaggingFilter(year=2014)
    page = lagging_page(launched, f, today=TODAY, full_phone=True, limit=100)["rows"]
    assert len(page) > 3
    expected = [(r["org"], r["name"], r["due"], r["days_late"], r["organizer_name"], r["meeting"], r["returns"],
                 r["secretary"], r["phone"]) for r in page]
    book = b"".join(xlsx_chunks([label for _, label in LAGGING_COLUMNS],
                                export_lagging(launched, f, today=TODAY, full_phone=True)))
    sheet = load_workbook(io.BytesIO(book)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == tuple(label for _, label in LAGGING_COLUMNS)
    assert [(r[0], r[1], r[4], r[5], r[6], r[7], r[8], r[9], r[10]) for r in rows[1:]] == expected


def test_an_export_abandoned_half_way_gives_its_connections_back(launched: Database,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lagging, "STREAM_CHUNK", 1)
    monkeypatch.setattr(lagging, "READ_AHEAD", 1)  # the reader is held mid-list, waiting for the writer
    rows = export_lagging(launched, LaggingFilter(year=2014), today=TODAY, full_phone=True)
    first = next(rows)
    rows.close()  # the download stopped after its first row
    assert first[0]
    assert launched.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert len(list(export_lagging(launched, LaggingFilter(year=2014), today=TODAY))) > 3  # and the next one runs


@pytest.mark.parametrize("writer", ["xlsx", "csv"])
def test_a_download_dropped_half_way_gives_its_connections_back(launched: Database, monkeypatch: pytest.MonkeyPatch,
                                                                writer: str) -> None:
    """The response closes the writer, not the rows: closing the writer must close the export under it (on
    PostgreSQL a COPY still running and two connections) at once, not when the garbage collector finds it."""
    from services.export import csv_chunks

    monkeypatch.setattr(lagging, "STREAM_CHUNK", 1)
    monkeypatch.setattr(lagging, "READ_AHEAD", 1)
    rows = export_lagging(launched, LaggingFilter(year=2014), today=TODAY, full_phone=True)
    header = [label for _, label in LAGGING_COLUMNS]
    download = xlsx_chunks(header, rows, chunk_size=1) if writer == "xlsx" else csv_chunks(header, rows, rows_per_chunk=1)
    assert next(download)
    download.close()  # the client went away
    assert launched.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert len(list(export_lagging(launched, LaggingFilter(year=2014), today=TODAY))) > 3


def test_names_with_backslashes_export_as_they_are(launched: Database) -> None:
    """PostgreSQL hands the rows over as COPY text (backslash escapes): what the sheet shows is still what the
    page shows, numbers included."""
    import sqlalchemy as sa

    from storage.tables.core import orgs

    with launched.begin() as conn:
        first = conn.execute(sa.select(orgs.c.id, orgs.c.name).order_by(orgs.c.id.desc()).limit(1)).one()
        conn.execute(orgs.update().where(orgs.c.id == first.id).values(name="城关\\镇\\N党委 \\\\x41"))
    f = LaggingFilter(year=2014)
    page = lagging_page(launched, f, today=TODAY, full_phone=True, limit=100)["rows"]
    exported = list(export_lagging(launched, f, today=TODAY, full_phone=True))
    assert [(r[0], r[1], r[7], r[8]) for r in exported] == [(r["org"], r["name"], r["meeting"], r["returns"]) for r in page]
    assert "城关\\镇\\N党委 \\\\x41" in [r[1] for r in exported]
    assert all(type(r[5]) is int and type(r[8]) is int for r in exported)  # days late and returns are numbers
