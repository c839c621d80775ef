"""Issue 9's rule in the services (so the CLI, the API and the pages obey it): submit and resubmit need a report
attached since the last return; nothing changes when they are refused. Also the queue, my tasks and the plan."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from services.errors import BadInput, Refused
from storage.tables.core import history
from storage.tables.review import rectification_items, report_versions
from tests.review.conftest import REPORTS, fire


def _state(app: Any, org: str = "V001") -> str:
    from services.cycles import show_cycle

    return str(show_cycle(app.db, year=2014, org=org)["state"])


def _rows(app: Any, table: sa.Table) -> int:
    with app.db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _attach(app: Any, name: str = "good.md") -> dict[str, Any]:
    from services.reports import attach_report

    return attach_report(app.db, year=2014, org="V001", name=name, raw=(REPORTS / name).read_bytes(), now=app.now())


def test_submit_without_a_report_is_refused_and_changes_nothing(web_app: Any) -> None:
    fire(web_app, "V001", "finish_research")
    before = _rows(web_app, history)
    with pytest.raises(Refused, match="尚未上传"):
        fire(web_app, "V001", "submit")
    assert (_state(web_app), _rows(web_app, history), _rows(web_app, report_versions)) == ("drafting", before, 0)


def test_an_attached_report_is_what_gets_submitted_and_a_return_needs_a_new_one(web_app: Any) -> None:
    fire(web_app, "V001", "finish_research")
    assert _attach(web_app)["event"] == "attached"
    assert _attach(web_app, "good.docx")["version"] == 1  # uploading again before submitting replaces the draft
    fire(web_app, "V001", "submit")
    fire(web_app, "V001", "rewrite", note="只讲成绩")
    with pytest.raises(Refused, match="自上次退回以来尚未上传"):
        fire(web_app, "V001", "resubmit")
    assert _state(web_app) == "revising"
    assert _attach(web_app)["version"] == 2
    fire(web_app, "V001", "resubmit")
    from services.reports import list_versions

    versions = list_versions(web_app.db, year=2014, org="V001")
    assert [(v["version"], v["event"], v["returned"]) for v in versions] == [(1, "submit", "rewrite"), (2, "resubmit", None)]
    with pytest.raises(Refused):  # under review: no upload
        _attach(web_app)


def test_a_report_handed_with_the_event_still_works(web_app: Any) -> None:
    fire(web_app, "V001", "finish_research")
    fire(web_app, "V001", "submit", report=REPORTS / "good.md")
    assert _state(web_app) == "submitted"


def test_the_cli_refuses_with_exit_3(cli: Any, tmp_path: Any) -> None:
    from tests.conftest import SAMPLE_ORGS, SAMPLE_PLAN

    (tmp_path / "orgs.csv").write_text(SAMPLE_ORGS, encoding="utf-8")
    (tmp_path / "plan.toml").write_text(SAMPLE_PLAN, encoding="utf-8")
    assert cli("init")[0] == 0 and cli("orgs", "import", str(tmp_path / "orgs.csv"))[0] == 0
    assert cli("year", "start", "2014", "--plan", str(tmp_path / "plan.toml"))[0] == 0
    assert cli("cycles", "fire", "--year", "2014", "V001", "finish_research")[0] == 0
    code, _, err = cli("cycles", "fire", "--year", "2014", "V001", "submit")
    assert code == 3 and "尚未上传" in err
    assert cli("cycles", "fire", "--year", "2014", "V001", "submit", "--report", str(REPORTS / "good.md"))[0] == 0


def test_a_plan_without_a_deadline_names_the_row_and_writes_nothing(web_app: Any) -> None:
    from services.rectification import draw_up_plan

    with pytest.raises(BadInput) as refused:
        draw_up_plan(web_app.db, year=2014, org="V001", now=web_app.now(), commitment="我承诺",
                     items=[{"item": "a", "measure": "b", "responsible": "c", "deadline": ""}])
    assert "第1项：完成时限不能为空" in refused.value.problems
    assert _rows(web_app, rectification_items) == 0


def test_my_tasks_and_the_queue(web_app: Any) -> None:
    from services.actors import Actor
    from services.my_tasks import my_tasks
    from services.review_queue import review_queue

    fire(web_app, "V001", "finish_research")
    fire(web_app, "V001", "submit", report=REPORTS / "good.md")
    mine = my_tasks(web_app.db, org="V001", today=web_app.today())
    assert next((t["kind"], t["step"], t["mine"]) for t in mine["tasks"]) == ("upward", "review", False)
    queue = review_queue(web_app.db, actor=Actor("r", "reviewer", "T01"), today=web_app.today())
    assert [w["org"] for w in queue["waiting"]] == ["V001"]
    other = review_queue(web_app.db, actor=Actor("r", "reviewer", "T02"), today=web_app.today())
    assert other["counts"] == {"waiting": 0, "overdue": 0, "returned": 0}


def test_the_rule_the_queue_and_a_ballot_by_code_on_both_backends(any_db: Any, tmp_path: Any) -> None:
    from services.actors import Actor
    from services.ballots import ballot_of_code, issue_codes, vote_with_code
    from services.clock import FixedClock, parse_when
    from services.errors import NotFound
    from services.meetings import open_meeting
    from services.my_tasks import my_tasks
    from services.review_queue import review_queue
    from tests.conftest import launch_sample, make_app

    app = make_app(any_db, FixedClock(parse_when("2014-12-08")))
    launch_sample(any_db, now=app.now(), tmp_path=tmp_path)
    fire(app, "V001", "finish_research")
    with pytest.raises(Refused):
        fire(app, "V001", "submit")
    _attach(app)
    fire(app, "V001", "submit")
    queue = review_queue(any_db, actor=Actor("r", "reviewer", "T01"), today=app.today())
    assert [w["org"] for w in queue["waiting"]] == ["V001"] and queue["waiting"][0]["version"] == 1
    assert my_tasks(any_db, org="V001", today=app.today())["tasks"][0]["state"] == "submitted"
    fire(app, "V001", "approve")
    open_meeting(any_db, year=2014, organizer="T01", now=app.now())
    fire(app, "V001", "present")
    key = b"backend-key" * 4
    code = issue_codes(any_db, year=2014, organizer="T01", count=1, now=app.now(), key=key)["codes"][0]
    assert [p["org"] for p in ballot_of_code(any_db, code=code, key=key)["presenters"] if p["votable"]] == ["V001"]
    with pytest.raises(BadInput):
        vote_with_code(any_db, code=code, ratings={"C001": "好"}, key=key)
    assert vote_with_code(any_db, code=code, ratings={"V001": "较好"}, key=key)["rated"] == 1
    for attempt in (code, "ZZZZZ-ZZZZZ"):
        with pytest.raises(NotFound, match="测评码无效或已使用"):
            vote_with_code(any_db, code=attempt, ratings={"V001": "好"}, key=key)
