"""Guards and rules: every template renders, working days follow China's calendar, one scheduler per database."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import jinja2
import pytest

from notifications.render import MESSAGE_TYPES, Renderer, sms_segments
from services.app import App
from services.clock import FixedClock, parse_when
from services.errors import BadInput
from services.scheduler import DISPATCH_JOB_ID, SWEEP_JOB_ID, LeasedScheduler, acquire_lease, run_once
from services.settings import Settings
from services.workdays import WorkCalendar
from states.deadlines import DeadlineRules
from states.workdays import add_working_days, step_dues_in_working_days

CONTEXT = {
    "year": 2014, "org_code": "V001", "org_name": "东村党支部", "secretary": "东村书记", "recipient_name": "马口镇党委",
    "recipient_person": "马口书记", "kind_label": "向上级述职", "step_label": "报送述职报告", "due": "2014年12月16日",
    "days": 3, "overdue_days": 2, "meeting": "2014年12月26日", "note": "材料不全", "template": "reminder",
}


@pytest.mark.parametrize("message_type", MESSAGE_TYPES)
def test_every_template_renders_on_both_channels(message_type: str) -> None:
    renderer = Renderer()
    context = {**CONTEXT, "items": [{**CONTEXT, "status": "今天截止"}, {**CONTEXT, "status": "已逾期2天"}]}
    sms = renderer.sms(message_type, context)
    email = renderer.email(message_type, context)
    assert sms.startswith("【") and len(sms_segments(sms)) <= 3
    assert email.subject and "\n" not in email.subject and email.text.strip()
    assert "<html" in email.html and email.subject in email.html


def test_a_missing_variable_fails_loudly_and_overrides_win(tmp_path: Path) -> None:
    with pytest.raises(jinja2.UndefinedError):
        Renderer().sms("reminder", {k: v for k, v in CONTEXT.items() if k != "due"})
    (tmp_path / "reminder.sms.j2").write_text("自定义：{{ org_name }}", encoding="utf-8")
    assert Renderer(tmp_path).sms("reminder", CONTEXT) == "自定义：东村党支部"


def test_sms_segments() -> None:
    assert sms_segments("短" * 70) == ["短" * 70]
    assert [len(p) for p in sms_segments("长" * 150)] == [67, 67, 16]
    parts = sms_segments("长" * 400)
    assert len(parts) == 3 and parts[-1].endswith("…")


def test_working_days_follow_chinas_calendar_with_make_up_days() -> None:
    calendar = WorkCalendar({})
    # 2015 Spring Festival: 18–24 Feb off, Sunday 15 Feb and Saturday 28 Feb are make-up working days
    assert calendar.is_workday(date(2015, 2, 15)) and not calendar.is_workday(date(2015, 2, 18))
    assert add_working_days(date(2015, 2, 17), 1, calendar.is_workday) == date(2015, 2, 25)
    assert add_working_days(date(2015, 2, 25), -1, calendar.is_workday) == date(2015, 2, 17)
    dues = step_dues_in_working_days(date(2014, 12, 26), DeadlineRules(), calendar.is_workday)
    assert dues["submit_due"] == date(2014, 12, 12)  # 10 working days before, weekends skipped
    assert dues["evaluate_due"] == date(2014, 12, 29)  # Friday's meeting → Monday
    with pytest.raises(BadInput, match="calendar set"):
        calendar.is_workday(date(2031, 5, 6))
    overridden = WorkCalendar({date(2031, 5, 5): "holiday"})
    assert not overridden.is_workday(date(2031, 5, 5)) and overridden.is_workday(date(2031, 5, 6))


def test_two_schedulers_on_one_database_only_one_runs_jobs(launched: App, tmp_path: Path) -> None:
    settings = Settings.from_env({}, db_url=launched.db.url, sink_dir=str(tmp_path / "sink"))
    clock = FixedClock(parse_when("2014-12-07"))
    first = LeasedScheduler(settings, sweep_cron="0 8 * * *", dispatch_seconds=60, clock=clock, background=True, owner="one")
    second = LeasedScheduler(settings, sweep_cron="0 8 * * *", dispatch_seconds=60, clock=clock, background=True, owner="two")
    try:
        first.start()
        second.start()
        assert first.job_ids() == sorted([SWEEP_JOB_ID, DISPATCH_JOB_ID, "shuzhi-lease"])
        assert second.job_ids() == ["shuzhi-lease"]  # stands by
        trigger = first.scheduler.get_job(SWEEP_JOB_ID).trigger
        assert str(trigger.timezone) == "Asia/Shanghai"
        assert first.scheduler.get_job(SWEEP_JOB_ID).misfire_grace_time >= 3600
        assert run_once(settings, clock=clock, owner="three")["ran"] == []  # `--once` refuses while the lease is held
        # the holder stops renewing; when its lease has run out the stand-by takes over
        clock.advance(minutes=10)
        second.tend_lease()
        assert second.holds_lease
        first.tend_lease()
        assert not first.holds_lease and first.job_ids() == ["shuzhi-lease"]
    finally:
        first.shutdown()
        second.shutdown()
    outcome = run_once(settings, clock=FixedClock(parse_when("2014-12-07T10:00")))
    assert outcome["ran"] == ["sweep", "dispatch"] and outcome["sweep"]["queued"] == 11 and outcome["dispatch"]["sent"] == 11
    assert acquire_lease(launched.db, owner="four", now=clock.now() + timedelta(seconds=1))  # `--once` gave it back
