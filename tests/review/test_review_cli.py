"""The contract commands of results.md §1–2 through `shuzhi`, and the rest of the feature's commands end to end."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.review.conftest import REPORTS

NOW = "2014-12-26T09:00"


@pytest.fixture
def season(cli, orgs_csv: Path, plan_file: Path):  # type: ignore[no-untyped-def]
    assert cli("init")[0] == 0
    assert cli("orgs", "import", str(orgs_csv))[0] == 0
    assert cli("year", "start", "2014", "--plan", str(plan_file))[0] == 0
    return cli


def test_report_check_json_contract(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("--json", "report", "check", str(REPORTS / "achievements_only.md"))
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["areas", "achievements_share", "problems", "causes_analysed", "measures", "figures",
                          "findings", "suggestion"]
    assert data["suggestion"] == "rewrite" and data["problems"] == 0 and data["areas"]["6"] is False
    assert isinstance(data["achievements_share"], float)
    code, out, _ = cli("report", "check", str(REPORTS / "good.docx"))
    assert code == 0 and "建议通过" in out
    assert cli("report", "check", str(REPORTS / "nothing.md"))[0] == 2


def test_ballot_commands_contract(season, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli = season
    code, out, err = cli("--json", "ballots", "issue", "--year", "2014", "--meeting", "T01", "--count", "3")
    assert code == 0, err
    issued = json.loads(out)
    assert issued["meeting"] == "T01" and len(issued["codes"]) == 3
    first, second, third = issued["codes"]
    assert cli("ballots", "cast", "--year", "2014", "--code", first, "--ratings", '{"V001": "好", "V002": "good"}')[0] == 0
    assert cli("ballots", "cast", "--year", "2014", "--code", first, "--ratings", '{"V001": "好"}')[0] == 3
    assert cli("ballots", "cast", "--year", "2014", "--code", "NOPE1-NOPE2", "--ratings", '{"V001": "好"}')[0] == 3
    code, _, err = cli("ballots", "cast", "--year", "2014", "--code", second, "--ratings", '{"C001": "好"}')
    assert code == 2 and "C001 不在 T01 的述职会上述职" in err
    assert cli("ballots", "cast", "--year", "2014", "--code", second, "--ratings", '{"V001": "great"}')[0] == 2
    paper = tmp_path / "paper.csv"
    paper.write_text("V001,V002\n一般,差\n", encoding="utf-8")
    assert cli("ballots", "enter", "--year", "2014", "--meeting", "T01", str(paper))[0] == 0
    code, out, err = cli("--json", "ballots", "tally", "--year", "2014", "--meeting", "T01")
    assert code == 0
    rows = json.loads(out)
    assert [set(r) for r in rows] == [{"org", "ballots", "counts", "satisfaction", "score"}] * 2
    v001 = rows[0]
    assert v001 == {"org": "V001", "ballots": 2, "counts": {"好": 1, "较好": 0, "一般": 1, "差": 0},
                    "satisfaction": 0.5, "score": 80.0}
    assert "quorum not met" in err  # 3 codes + 1 paper form handed out: quorum 3, V001 has 2
    assert third


def test_a_season_through_the_cli(season, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli = season

    def ok(*args: str) -> str:
        code, out, err = cli("--now", NOW, *args)
        assert code == 0, (args, err)
        return out

    ok("cycles", "fire", "--year", "2014", "V001", "finish_research")
    ok("cycles", "fire", "--year", "2014", "V001", "submit", "--report", str(REPORTS / "no_problems.txt"))
    assert cli("cycles", "fire", "--year", "2014", "V001", "revise")[0] == 3  # a return needs --note
    ok("cycles", "fire", "--year", "2014", "V001", "revise", "--note", "未查找问题")
    ok("cycles", "fire", "--year", "2014", "V001", "resubmit", "--report", str(REPORTS / "good.md"))
    versions = json.loads(ok("--json", "report", "versions", "--year", "2014", "V001"))
    assert [(v["suggestion"], v["returned"], v["return_note"]) for v in versions] == [
        ("revise", "revise", "未查找问题"), ("approve", None, None)]
    ok("cycles", "fire", "--year", "2014", "V001", "approve")
    code, _, err = cli("--now", NOW, "cycles", "fire", "--year", "2014", "V001", "present")
    assert code == 3 and "meeting open" in err
    ok("meeting", "open", "--year", "2014", "--meeting", "T01", "--presiding", "马口书记")
    ok("meeting", "attendees", "--year", "2014", "--meeting", "T01", "--name", "代表甲", "--name", "代表乙")
    ok("cycles", "fire", "--year", "2014", "V001", "present")
    ok("meeting", "question", "--year", "2014", "--meeting", "T01", "--org", "V001", "--text", "后备干部怎么培养？")
    ok("meeting", "comment", "--year", "2014", "--meeting", "T01", "--org", "V001", "--text", "思路清晰。",
       "--problems", "后备干部不足")
    codes = json.loads(ok("--json", "ballots", "issue", "--year", "2014", "--meeting", "T01", "--count", "2"))["codes"]
    for code_ in codes:
        ok("ballots", "cast", "--year", "2014", "--code", code_, "--ratings", '{"V001": "较好"}')
    closed = json.loads(ok("--json", "ballots", "close", "--year", "2014", "--meeting", "T01"))
    assert closed == {"meeting": "T01", "closed": ["V001"], "skipped": ["V002"]}
    ok("cycles", "fire", "--year", "2014", "V001", "give_feedback")
    notice = ok("feedback", "show", "--year", "2014", "V001")
    assert "较好 2 票" in notice and "后备干部不足" in notice
    ok("feedback", "export", "--year", "2014", "V001", "--out", str(tmp_path / "n.md"))
    assert (tmp_path / "n.md").read_text(encoding="utf-8").startswith("# 2014年度")
    ok("cycles", "fire", "--year", "2014", "V001", "start_rectification")
    assert cli("--now", NOW, "cycles", "fire", "--year", "2014", "V001", "file_commitment")[0] == 3
    ok("rectification", "add", "--year", "2014", "V001", "--problem", "后备干部不足", "--measure", "每村储备2名",
       "--responsible", "组织委员", "--due", "2015-01-10")
    ok("rectification", "commitment", "--year", "2014", "V001", "--text", "2015年底前配齐后备干部")
    ok("cycles", "fire", "--year", "2014", "V001", "file_commitment")
    items = json.loads(ok("--json", "rectification", "list", "--year", "2014", "--org", "V001"))
    ok("rectification", "done", str(items[0]["id"]), "--note", "已储备")
    ok("workplan", "file", "--year", "2014", "--organizer", "T01", str(REPORTS / "good.md"))
    missing = json.loads(ok("--json", "workplan", "list", "--year", "2014", "--missing"))
    assert "T01" not in [m["organizer"] for m in missing] and "T02" in [m["organizer"] for m in missing]
    t02 = next(m for m in missing if m["organizer"] == "T02")
    assert t02["meeting"] == "2014-12-27" and t02["due"] == "2014-12-17" and t02["overdue"] is True
    out = json.loads(ok("--json", "publish", "export", "--year", "2014", "--under", "T01", "--out", str(tmp_path / "pub.zip")))
    assert out["reports"] == 1 and out["commitments"] == 1
    with zipfile.ZipFile(tmp_path / "pub.zip") as archive:
        names = set(archive.namelist())
        assert {"index.md", "reports/V001.md", "results.md", "commitments/V001.md"} <= names
        text = "".join(archive.read(n).decode("utf-8") for n in names)
    assert "13900000011" not in text and "@example.cn" not in text  # no contact data is published
    assert "| V001 |" in archive_text(tmp_path / "pub.zip", "results.md")


def archive_text(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name).decode("utf-8")


def test_own_level_meeting(season) -> None:  # type: ignore[no-untyped-def]
    cli = season

    def ok(*args: str) -> str:
        code, out, err = cli("--now", "2015-01-20", *args)
        assert code == 0, (args, err)
        return out

    for event in ("finish_research", "submit", "approve"):
        ok("cycles", "fire", "--year", "2014", "T01", event, "--kind", "own_level",
           *(["--report", str(REPORTS / "good.md")] if event == "submit" else []))
    assert cli("cycles", "fire", "--year", "2014", "T01", "present", "--kind", "own_level")[0] == 3
    ok("meeting", "open", "--year", "2014", "--own", "T01")
    ok("cycles", "fire", "--year", "2014", "T01", "present", "--kind", "own_level")
    codes = json.loads(ok("--json", "ballots", "issue", "--year", "2014", "--own", "T01", "--count", "1"))["codes"]
    code, _, err = cli("ballots", "cast", "--year", "2014", "--code", codes[0], "--ratings", '{"V001": "好"}')
    assert "V001 不在 T01 (本级) 的述职会上述职" in err
    assert code == 2  # V001 does not present at T01's own committee meeting
    ok("ballots", "cast", "--year", "2014", "--code", codes[0], "--ratings", '{"T01": "好"}')
    ok("ballots", "close", "--year", "2014", "--own", "T01")
    rows = json.loads(ok("--json", "ballots", "tally", "--year", "2014", "--own", "T01"))
    assert rows == [{"org": "T01", "ballots": 1, "counts": {"好": 1, "较好": 0, "一般": 0, "差": 0},
                     "satisfaction": 1.0, "score": 100.0}]
    shown = json.loads(ok("--json", "cycles", "show", "--year", "2014", "T01", "--kind", "own_level"))
    assert shown["state"] == "evaluated"
