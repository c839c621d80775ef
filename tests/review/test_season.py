"""One secretary's season through the review hooks: versions, returns, the meeting, ballots, feedback, commitment."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from services.app import App
from services.ballots import cast_ballot, evaluation_scores, issue_codes, tally
from services.errors import BadInput, Refused
from services.feedback import export_notice, show_notice
from services.meetings import open_meeting, record_comment, show_meeting
from services.rectification import add_item, list_items, mark_done, set_commitment
from services.reports import get_version, list_versions
from tests.review.conftest import REPORTS, fire


def test_versions_returns_and_reasons(launched: App) -> None:
    fire(launched, "V001", "finish_research")
    fire(launched, "V001", "submit", report=REPORTS / "achievements_only.md")
    fire(launched, "V001", "rewrite", note="只讲成绩不讲问题，责令重写")
    fire(launched, "V001", "resubmit", report=REPORTS / "empty_measures.md")
    fire(launched, "V001", "revise", note="整改措施空洞")
    fire(launched, "V001", "resubmit", report=REPORTS / "good.docx")
    fire(launched, "V001", "approve")
    versions = list_versions(launched.db, year=2014, org="V001")
    assert [(v["version"], v["event"], v["suggestion"], v["returned"]) for v in versions] == [
        (1, "submit", "rewrite", "rewrite"), (2, "resubmit", "revise", "revise"), (3, "resubmit", "approve", None),
    ]
    assert versions[0]["return_note"] == "只讲成绩不讲问题，责令重写"
    latest = get_version(launched.db, year=2014, org="V001")
    assert latest["format"] == "docx" and "存在的问题" in latest["text"]
    assert latest["sha256"] == __import__("hashlib").sha256((REPORTS / "good.docx").read_bytes()).hexdigest()
    from services.cycles import show_cycle

    assert show_cycle(launched.db, year=2014, org="V001")["returns"] == 2


@pytest.mark.parametrize("name", ["missing.md", "report.pdf"])
def test_bad_report_file_changes_nothing(launched: App, tmp_path: Path, name: str) -> None:
    fire(launched, "V001", "finish_research")
    path = tmp_path / name
    if name.endswith(".pdf"):
        path.write_bytes(b"%PDF-1.4")
    with pytest.raises(BadInput):
        fire(launched, "V001", "submit", report=path)
    from services.cycles import show_cycle

    assert show_cycle(launched.db, year=2014, org="V001")["state"] == "drafting"
    assert list_versions(launched.db, year=2014, org="V001") == []


def _to_presented(app: App, orgs: tuple[str, ...] = ("V001", "V002")) -> None:
    for org in orgs:
        fire(app, org, "finish_research")
        fire(app, org, "submit", report=REPORTS / "good.md")
        fire(app, org, "approve")
    with pytest.raises(Refused, match="尚未召开"):
        fire(app, orgs[0], "present")
    open_meeting(app.db, year=2014, organizer="T01", now=app.now(), presiding="马口书记", venue="镇党委会议室")
    for org in orgs:
        fire(app, org, "present")


def test_meeting_ballots_feedback_and_commitment(launched: App, tmp_path: Path) -> None:
    app = launched
    _to_presented(app)
    record_comment(app.db, year=2014, organizer="T01", org="V001", now=app.now(), comment="抓党建思路清晰，问题找得准。",
                   strengths="软弱涣散村整顿有力", problems="一是后备干部不足；二是流动党员管理松散", direction="抓班子带队伍")
    meeting = show_meeting(app.db, year=2014, organizer="T01")
    assert meeting["open"] and meeting["agenda"][0]["org"] == "V001" and meeting["agenda"][0]["presented_at"]
    assert meeting["agenda"][0]["comment"].startswith("抓党建")
    codes = issue_codes(app.db, year=2014, organizer="T01", count=3, now=app.now())["codes"]
    cast_ballot(app.db, year=2014, code=codes[0], ratings={"V001": "好", "V002": "一般"})
    cast_ballot(app.db, year=2014, code=codes[1], ratings={"V001": "较好", "V002": "差"})
    fire(app, "V001", "close_evaluation")
    with pytest.raises(Refused, match="测评已结束"):
        cast_ballot(app.db, year=2014, code=codes[2], ratings={"V001": "差"})
    cast_ballot(app.db, year=2014, code=codes[2], ratings={"V002": "好"})  # V002's evaluation is still open
    rows = {r["org"]: r for r in tally(app.db, year=2014, organizer="T01")}
    assert rows["V001"]["frozen"] and rows["V001"]["ballots"] == 2 and rows["V001"]["score"] == 90.0
    assert rows["V002"]["ballots"] == 3 and not rows["V002"]["frozen"]
    assert evaluation_scores(app.db, year=2014) == {"V001": 90.0, "V002": pytest.approx(53.33, abs=0.01)}

    fire(app, "V001", "give_feedback")
    notice = show_notice(app.db, year=2014, org="V001")["markdown"]
    assert "好 1 票，较好 1 票" in notice and "满意率（好和较好）100.0%" in notice
    assert "1. 后备干部不足" in notice and "2. 流动党员管理松散" in notice and "抓党建思路清晰" in notice
    docx_path = export_notice(app.db, year=2014, org="V001", out=tmp_path / "V001.docx")
    with zipfile.ZipFile(docx_path) as archive:
        assert "后备干部不足" in archive.read("word/document.xml").decode("utf-8")

    fire(app, "V001", "start_rectification")
    with pytest.raises(Refused, match="commitment"):
        fire(app, "V001", "file_commitment")
    with pytest.raises(BadInput, match="晚于整改方案备案期限"):
        add_item(app.db, year=2014, org="V001", problem="后备干部不足", measure="储备2名", responsible="组织委员",
                 due="2015-03-31", now=app.now())
    item = add_item(app.db, year=2014, org="V001", problem="后备干部不足", measure="每村储备2名后备干部",
                    responsible="组织委员", due="2015-01-05", now=app.now())
    with pytest.raises(Refused):
        fire(app, "V001", "file_commitment")  # still no commitment text
    set_commitment(app.db, year=2014, org="V001", text="我承诺2015年底前配齐后备干部。", now=app.now())
    fire(app, "V001", "file_commitment")
    assert list_items(app.db, year=2014, org="V001")[0]["status"] == "open"
    assert item["id"]


def test_open_items_are_carried_into_next_years_report(launched: App, tmp_path: Path) -> None:
    app = launched
    _to_presented(app, ("V001",))
    fire(app, "V001", "close_evaluation")
    fire(app, "V001", "give_feedback")
    fire(app, "V001", "start_rectification")
    first = add_item(app.db, year=2014, org="V001", problem="后备干部不足", measure="每村储备2名",
                     responsible="组织委员", due="2015-01-05", now=app.now())
    second = add_item(app.db, year=2014, org="V001", problem="流动党员管理松散", measure="建立台账",
                      responsible="支部书记", due="2015-01-05", now=app.now())
    set_commitment(app.db, year=2014, org="V001", text="公开承诺。", now=app.now())
    fire(app, "V001", "file_commitment")
    mark_done(app.db, item_id=second["id"], now=app.now(), note="台账已建")
    from services.years import start_year
    from tests.conftest import SAMPLE_PLAN

    start_year(app.db, plan_text=SAMPLE_PLAN.replace("2014", "2015").replace("2015-01-31", "2016-01-31"), year=2015,
               now=app.now())
    from services.cycles import fire_event

    fire_event(app.db, year=2015, org="V001", event="finish_research", now=app.now(), hooks=app.hooks)
    fire_event(app.db, year=2015, org="V001", event="submit", now=app.now(), hooks=app.hooks,
               options={"report": REPORTS / "good.md"})
    version = get_version(app.db, year=2015, org="V001")
    assert [i["id"] for i in version["open_items"]] == [first["id"]]
    assert any("上年整改事项1项" in f for f in version["findings"])
    carried = list_items(app.db, year=2015, org="V001")
    assert [(i["problem"], i["carried_from"]) for i in carried] == [("后备干部不足", first["id"])]
    mark_done(app.db, item_id=carried[0]["id"], now=app.now())
    assert list_items(app.db, year=2014, org="V001", status="open") == []


def test_demo_can_submit_sample_texts_in_process(launched: App) -> None:
    from services.reports import sample_report

    fire(launched, "V002", "finish_research")
    fire(launched, "V002", "submit", report_text=sample_report("achievements_only"), report_name="西村述职报告.md")
    fire(launched, "V002", "rewrite", note="责令重写")
    fire(launched, "V002", "resubmit", report_text=sample_report("no_problems"))
    fire(launched, "V002", "revise", note="未查找问题")
    fire(launched, "V002", "resubmit", report_text=sample_report("good"))
    assert [v["suggestion"] for v in list_versions(launched.db, year=2014, org="V002")] == ["rewrite", "revise", "approve"]
