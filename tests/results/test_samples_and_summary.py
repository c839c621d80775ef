"""Recorded samples re-draw identically; the summary report reads back in order; its deadline is tracked."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.app import App
from services.errors import BadInput
from services.results import compute_results
from services.sampling import get_sample, sample_orgs, sample_survey, verify_sample
from services.summary_report import summary_reports_due, write_summary_report
from storage.tables.results import samples


def population_file(path: Path, n: int = 150) -> Path:
    rows = ["id,name,category,phone"] + [f"R{i:03d},居民{i},{'代表' if i % 3 else '居民'},139{i:08d}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_org_sample_is_recorded_and_redraws(sqlite_city: App) -> None:
    app = sqlite_city
    first = sample_orgs(app.db, year=2014, org="T3", size=5, seed="2014-12-01 公证", now=app.now())
    second = sample_orgs(app.db, year=2014, org="T3", size=5, seed="2014-12-01 公证", now=app.now())
    assert first["sample"] == second["sample"] and first["id"] != second["id"]
    assert len(set(first["sample"])) == 5 and all(code.startswith("C") for code in first["sample"])
    assert first["population_size"] == 21
    record = get_sample(app.db, first["id"])
    assert (record["seed"], record["sample"], record["population_hash"]) == ("2014-12-01 公证", first["sample"], first["population_hash"])
    assert verify_sample(app.db, first["id"])["matches"] is True
    whole_city = sample_orgs(app.db, year=2014, org="HC", size=3, seed="x", now=app.now())
    assert whole_city["population_size"] == 33  # 12 villages + 21 communities and others, no towns or units
    with pytest.raises(BadInput, match="超过 T3 下的 21 个组织"):
        sample_orgs(app.db, year=2014, org="T3", size=22, seed="x", now=app.now())


def test_a_tampered_record_no_longer_verifies(sqlite_city: App) -> None:
    app = sqlite_city
    drawn = sample_orgs(app.db, year=2014, org="HC", size=4, seed="s", now=app.now())
    swapped = [*drawn["sample"][:-1], next(c for c in ("V01", "V02", "V03") if c not in drawn["sample"])]
    with app.db.begin() as conn:
        conn.execute(samples.update().where(samples.c.id == drawn["id"]).values(sample=swapped))
    result = verify_sample(app.db, drawn["id"])
    assert (result["matches"], result["redrawn"]) == (False, drawn["sample"])


def test_survey_sample_from_a_population_file(sqlite_city: App, tmp_path: Path) -> None:
    app = sqlite_city
    population = population_file(tmp_path / "people.csv")
    result = sample_survey(app.db, year=2014, org="HC", size=100, seed="42", population=population, now=app.now())
    assert len(result["sample"]) == len(set(result["sample"])) == 100
    assert sum(result["by_category"].values()) == 100
    # the same people in another order draw the same respondents, and the file checks against the record
    lines = population.read_text(encoding="utf-8").splitlines()
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n", encoding="utf-8")
    again = sample_survey(app.db, year=2014, org="HC", size=100, seed="42", population=shuffled, now=app.now())
    assert again["sample"] == result["sample"] and again["population_hash"] == result["population_hash"]
    check = verify_sample(app.db, result["id"], population=shuffled)
    assert (check["matches"], check["file_matches"]) == (True, True)
    with app.db.connect() as conn:
        stored = conn.execute(sa.select(samples.c.population).where(samples.c.id == result["id"])).scalar_one()
    assert stored[0] == "R000"  # ids only: names and phones of people not drawn are not kept


def test_survey_population_bad_rows_are_named(sqlite_city: App, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,name,category,phone\nR1,甲,代表,13900000001\nR1,乙,居民,\nR3,,居民,12345\n", encoding="utf-8")
    with pytest.raises(BadInput) as error:
        sample_survey(sqlite_city.db, year=2014, org="HC", size=1, seed="1", population=path, now=sqlite_city.now())
    assert error.value.problems == ["第 3 行：编号 'R1' 重复（首次出现在第 2 行）", "第 4 行：姓名（name）为空",
                                    "第 4 行：手机号 '*****' 格式有误"]
    assert error.value.problems_in("en") == ["row 3: duplicate id 'R1' (first at row 2)", "row 4: empty name",
                                             "row 4: malformed phone '*****'"]
    with sqlite_city.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(samples)).scalar_one() == 0


@pytest.mark.parametrize("suffix", [".docx", ".xlsx", ".md"])
def test_summary_report_shows_the_ranking_in_order(sqlite_city: App, tmp_path: Path, suffix: str) -> None:
    app = sqlite_city
    compute_results(app.db, year=2014, now=app.now())
    out = tmp_path / f"summary{suffix}"
    result = write_summary_report(app.db, year=2014, organizer="T1", out=out, now=app.now())
    expected = ["V06", "V05", "V04", "V02", "V03", "V01"]  # T1's villages: 75, 72, 70, 65, 65, 60
    assert result["ranking"] == expected
    if suffix == ".docx":
        from docx import Document

        document = Document(str(out))
        texts = [p.text for p in document.paragraphs]
        assert texts[0] == "关于一号镇党委2014年度党组织书记抓基层党建工作述职评议考核情况的报告"
        headings = [p.text for p in document.paragraphs if p.style is not None and p.style.name == "Heading 1"]
        assert [h[:2] for h in headings] == ["一、", "二、", "三、", "四、", "五、", "六、"]
        ranking = document.tables[0]
        assert [row.cells[1].text for row in ranking.rows][1:] == expected
        assert any("V01 V01村党支部：" in t for t in texts)  # per-unit items to rectify
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(out)
        sheet = book["综合得分及排序"]
        assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == expected
        assert book["报告"]["A1"].value.startswith("关于一号镇党委")
    else:
        text = out.read_text(encoding="utf-8")
        positions = [text.index(f"| {code} |") for code in expected]
        assert positions == sorted(positions)
        assert "## 五、重点管理" in text and "V01" in text.split("## 五、重点管理")[1]


def test_summary_deadline_is_tracked(sqlite_city: App, tmp_path: Path) -> None:
    app = sqlite_city
    compute_results(app.db, year=2014, now=app.now())
    due = summary_reports_due(app.db, year=2014, today=date(2015, 1, 5))
    # meetings: T1 on 26 Dec, T2 (by organizer) on 27 Dec → end 27 Dec, due 11 Jan
    assert [(d["organizer"], d["due"], d["overdue"]) for d in due] == [
        ("T1", "2015-01-11", False), ("T2", "2015-01-11", False), ("T3", "2015-01-11", False)]
    write_summary_report(app.db, year=2014, organizer="T2", out=tmp_path / "t2.md", now=app.now())
    late = summary_reports_due(app.db, year=2014, today=date(2015, 1, 12))
    assert [(d["organizer"], d["overdue"]) for d in late] == [("T1", True), ("T3", True)]
    with pytest.raises(BadInput):
        write_summary_report(app.db, year=2014, organizer="T1", out=tmp_path / "x.pdf", now=app.now())
