"""The results commands of results.md: JSON shapes, exit codes, bad rows on stderr, masked phones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.results.conftest import city_csv, plan_for, scores_csv


@pytest.fixture
def ready(cli, tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "city.csv").write_text(city_csv(), encoding="utf-8")
    (tmp_path / "plan.toml").write_text(plan_for(2014), encoding="utf-8")
    (tmp_path / "scores.csv").write_text(scores_csv(), encoding="utf-8")
    assert cli("init")[0] == 0
    assert cli("orgs", "import", str(tmp_path / "city.csv"))[0] == 0
    assert cli("year", "start", "2014", "--plan", str(tmp_path / "plan.toml"))[0] == 0
    return cli


def test_import_compute_show_veto(ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = ready("--json", "scores", "import", str(tmp_path / "scores.csv"), "--year", "2014")
    assert code == 0 and json.loads(out)["imported"] == 40 * 4 - 1 + 7
    code, out, _ = ready("--json", "results", "compute", "--year", "2014")
    assert code == 0 and json.loads(out)["missing"] == [{"org": "U4", "missing": ["daily"]}]
    code, out, _ = ready("--json", "results", "show", "--year", "2014", "--category", "towns")
    rows = json.loads(out)
    assert [(r["org"], r["rank"], r["composite"], r["key_management"]) for r in rows] == [
        ("T2", 1, 90.0, False), ("T3", 1, 90.0, False), ("T1", 3, 80.0, False)]
    assert {"org", "category", "composite", "rank", "components", "key_management"} <= set(rows[0])
    assert rows[0]["components"] == {"onsite": 90.0, "evaluation": 90.0, "survey": 90.0, "daily": 90.0}
    code, out, _ = ready("--json", "veto", "--year", "2014", "--category", "towns", "--honour", "先进单位", "--places", "2")
    decision = json.loads(out)
    assert {k: decision[k] for k in ("honour", "places", "candidates", "awarded", "vetoed")} == {
        "honour": "先进单位", "places": 2, "candidates": ["T1", "T2", "T3"], "awarded": ["T2", "T3"], "vetoed": ["T1"]}
    code, out, _ = ready("results", "show", "--year", "2014", "--category", "city_units")
    assert code == 0 and "缺项" in out
    code, out, _ = ready("--json", "keymgmt", "list", "--year", "2014")
    assert sorted(r["org"] for r in json.loads(out)) == ["C01", "C02", "T1", "U1", "V01", "V02", "V03"]
    out_file = tmp_path / "T1.docx"
    code, out, _ = ready("--json", "report", "summary", "--year", "2014", "--organizer", "T1", "--out", str(out_file))
    assert code == 0 and json.loads(out)["ranking"][0] == "V06" and out_file.exists()
    code, out, _ = ready("--json", "--now", "2015-01-20", "report", "summary-due", "--year", "2014")
    assert [(d["organizer"], d["overdue"]) for d in json.loads(out)] == [("T2", True), ("T3", True)]


def test_bad_rows_exit_2_and_change_nothing(ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text("org,component,score\nV01,onsite,70\nV01,onsite,-1\n", encoding="utf-8")
    code, out, err = ready("--json", "scores", "import", str(bad), "--year", "2014")
    assert (code, out) == (2, "")
    assert err.splitlines() == ["row 3: 得分 -1 超出 0–100 的范围", "row 3: V01 的 onsite 重复（首次出现在第 2 行）"]
    code, out, _ = ready("--json", "scores", "list", "--year", "2014")
    assert json.loads(out) == []
    code, _, err = ready("results", "show", "--year", "2014")
    assert code == 4 and "results compute" in err
    code, _, _ = ready("veto", "--year", "2014", "--category", "towns", "--honour", "x", "--places", "0")
    assert code == 2


def test_samples_from_the_command_line(ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = ready("--json", "assess", "sample", "--year", "2014", "--org", "T1", "--size", "3", "--seed", "7")
    record = json.loads(out)
    assert code == 0 and len(record["sample"]) == 3
    code, out, _ = ready("--json", "assess", "verify", str(record["id"]))
    assert code == 0 and json.loads(out)["redrawn"] == record["sample"]
    people = tmp_path / "people.csv"
    people.write_text("id,name,category,phone\nP1,张三,代表,13912345678\nP2,李四,居民,13987654321\n", encoding="utf-8")
    code, out, _ = ready("survey", "sample", "--year", "2014", "--org", "HC", "--size", "2", "--seed", "7",
                         "--population", str(people))
    assert code == 0 and "139****5678" in out and "13912345678" not in out
    code, out, _ = ready("assess", "verify", "99")
    assert code == 4
