"""The deadline sweep: what is queued, to whom, once (R20–R22)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.app import App
from services.clock import parse_when
from services.cycles import fire_event
from services.sweep import sweep_deadlines
from storage.db import Database
from storage.tables.notify import outbox
from tests.conftest import launch_sample


def keys(db: Database) -> list[tuple[str, str, str, str]]:
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            sa.text("select o.code, outbox.template, outbox.channel, outbox.address from outbox "
                    "join orgs o on o.id = outbox.org_id order by outbox.id"))]


def test_reminders_before_due_each_threshold_once(launched: App) -> None:
    db = launched.db
    # towns and city units owe their report on 2014-12-10 (meeting 12-20 − 10); thresholds [3, 1]
    first = sweep_deadlines(db, now=parse_when("2014-12-07"))
    assert first.as_dict() == {"checked": 16, "lagging": 4, "queued": 8 + 3, "escalated": 2}  # + R9 work plans
    rows = keys(db)
    assert ("T01", "reminder", "sms", "13900000002") in rows
    assert ("T01", "reminder", "email", "t01@example.cn") in rows
    assert ("T02", "reminder", "sms", "13900000003") in rows  # T02 has no e-mail: SMS only
    assert not any(r[0] == "T02" and r[2] == "email" for r in rows)
    # again the same day: nothing new; the next day (2 days before) the 3-day threshold was already sent
    assert sweep_deadlines(db, now=parse_when("2014-12-07T18:00")).queued == 0
    assert sweep_deadlines(db, now=parse_when("2014-12-08")).queued == 2  # only HC's overdue notice of the day
    assert sweep_deadlines(db, now=parse_when("2014-12-09")).queued == 2 + 4  # the 1-day threshold, and HC again


def test_due_today_overdue_daily_and_one_escalation_to_the_parent(launched: App) -> None:
    db = launched.db
    sweep_deadlines(db, now=parse_when("2014-12-05"))  # the city's report is due 2014-12-05
    assert {(r[0], r[1]) for r in keys(db) if r[1] != "work_plan"} == {("HC", "due_today")}
    for day in ("2014-12-06", "2014-12-07", "2014-12-08"):
        sweep_deadlines(db, now=parse_when(day))
    rows = keys(db)
    overdue = [r for r in rows if r[0] == "HC" and r[1] == "overdue"]
    assert len(overdue) == 3 * 2  # one a day, by SMS and e-mail
    escalations = [r for r in rows if r[1] == "escalation"]
    # escalate_after_days = 2 → on 12-07, once, to the prefecture's contact
    assert sorted(escalations) == [("HC", "escalation", "email", "xg@example.cn"), ("HC", "escalation", "sms", "13900000000")]


def test_review_step_reminds_the_reviewer_not_the_secretary(launched: App) -> None:
    db, now = launched.db, parse_when("2014-12-08")
    for event in ("finish_research", "submit"):
        fire_event(db, year=2014, org="V001", event=event, now=now, hooks=launched.hooks,
                   options={"report_text": "# 述职报告"} if event == "submit" else None)
    # villages meet 12-26 at T01: review due 12-23; on 12-22 the reviewer (T01's contact) is reminded
    sweep_deadlines(db, now=parse_when("2014-12-22"))
    rows = [r for r in keys(db) if r[0] == "V001"]
    assert ("V001", "reminder", "sms", "13900000002") in rows  # T01's phone
    assert not any(r[3] == "13900000011" for r in rows)  # not V001's own secretary


def test_a_step_done_stops_its_reminders(launched: App) -> None:
    db = launched.db
    sweep_deadlines(db, now=parse_when("2014-12-06"))
    for event in ("finish_research", "submit"):
        fire_event(db, year=2014, org="HC", event=event, now=parse_when("2014-12-06T10:00"), hooks=launched.hooks,
                   options={"report_text": "# 述职报告"} if event == "submit" else None)
    before = len(keys(db))
    sweep_deadlines(db, now=parse_when("2014-12-07"))
    assert not any(r[0] == "HC" and r[1] in ("overdue", "escalation") for r in keys(db)[before:])


def test_returned_report_queues_a_notice_with_the_reason(launched: App) -> None:
    db, now = launched.db, parse_when("2014-12-08")
    for event in ("finish_research", "submit"):
        fire_event(db, year=2014, org="T01", event=event, now=now, hooks=launched.hooks,
                   options={"report_text": "# 述职报告"} if event == "submit" else None)
    fire_event(db, year=2014, org="T01", event="revise", note="数据不实", now=now, hooks=launched.hooks)
    with db.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.template, outbox.c.channel, outbox.c.note).where(outbox.c.template == "returned")).all()
    assert sorted(rows) == [("returned", "email", "数据不实"), ("returned", "sms", "数据不实")]


def test_sweep_of_an_unlaunched_year_is_not_found(launched: App) -> None:
    from services.errors import NotFound

    with pytest.raises(NotFound):
        sweep_deadlines(launched.db, now=parse_when("2014-12-07"), year=2013)


@pytest.mark.pg
def test_two_sweeps_at_once_on_postgresql_queue_nothing_twice(pg_db: Database, tmp_path: Path) -> None:
    launch_sample(pg_db, now=parse_when("2014-11-25"), tmp_path=tmp_path)
    now = parse_when("2014-12-09")
    N = int(__import__("os").environ.get("NN", "4"))
    barrier = threading.Barrier(N)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(sweep_deadlines(pg_db, now=now).queued)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with pg_db.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
        distinct = conn.execute(sa.select(sa.func.count(sa.distinct(outbox.c.key)))).scalar_one()
    assert total == distinct == sum(results) > 0


def test_sweep_on_both_databases_agrees(any_db: Database, tmp_path: Path) -> None:
    launch_sample(any_db, now=parse_when("2014-11-25"), tmp_path=tmp_path)
    result = sweep_deadlines(any_db, now=parse_when("2014-12-09"), summary=True)
    assert result.as_dict() == {"checked": 16, "lagging": 4, "queued": 11, "escalated": 2}
    assert {r["organizer"]: r["lagging"] for r in result.by_organizer} == {"HC": 3, "XG": 1}


def test_organizers_without_a_work_plan_are_reminded_until_they_file_it(launched: App) -> None:
    from services.outbox import cancel_obsolete
    from storage.tables.core import orgs
    from storage.tables.review import work_plans

    db = launched.db
    sweep_deadlines(db, now=parse_when("2014-11-26"))
    assert sorted(r for r in keys(db) if r[1] == "work_plan") == [
        ("T01", "work_plan", "email", "t01@example.cn"), ("T01", "work_plan", "sms", "13900000002"),
        ("T02", "work_plan", "sms", "13900000003"),
    ]
    sweep_deadlines(db, now=parse_when("2014-11-27"))
    assert len([r for r in keys(db) if r[1] == "work_plan"]) == 3  # once, not daily
    with db.begin() as conn:
        t01 = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == "T01")).scalar_one()
        conn.execute(work_plans.insert().values(year=2014, organizer_id=t01, file_name="方案.txt", file_format="txt",
                                                content=b"x", text="x", sha256="0" * 64,
                                                filed_at=parse_when("2014-11-27").replace(tzinfo=None), filed_by="T01"))
    assert cancel_obsolete(db) == 2  # T01's queued reminders are dropped once the plan is filed
    sweep_deadlines(db, now=parse_when("2014-12-20"))  # a week before their meetings: T02 only, again
    assert [r for r in keys(db) if r[1] == "work_plan"][3:] == [("T02", "work_plan", "sms", "13900000003")]
