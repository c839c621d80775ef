"""The year plan file and the deadline rules derived from it (R6, R7, R12, R19, R20)."""

from __future__ import annotations

import tomllib
from datetime import date

import pytest

from states.deadlines import DeadlineRules, due_of_state, is_lagging, is_overdue, step_dues
from states.plan import PlanError, parse_plan, plan_from_stored, plan_to_dict
from tests.conftest import SAMPLE_PLAN


def test_sample_plan_parses_with_defaults() -> None:
    plan = parse_plan(tomllib.loads(SAMPLE_PLAN))
    assert plan.year == 2014
    assert plan.meetings == {"city": date(2014, 12, 15), "towns": date(2014, 12, 20), "villages": date(2014, 12, 26)}
    assert plan.by_organizer == {"T02": date(2014, 12, 27)}
    assert plan.own_level_deadline == date(2015, 1, 31)
    assert plan.reminders.before_days == (3, 1)
    assert plan.reminders.window_days == 3
    assert plan.deadlines.submission_lead_days == 10


def test_stored_plan_round_trips() -> None:
    plan = parse_plan(tomllib.loads(SAMPLE_PLAN))
    assert plan_from_stored(plan_to_dict(plan)) == plan


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"colour": "red"}, "未知字段 'colour'"),
        ({"meetings": {"city": "2014-12-15", "towns": "2014-13-40", "villages": "2014-12-26"}}, "meetings.towns"),
        ({"meetings": {"city": "2014-06-15", "towns": "2014-12-20", "villages": "2014-12-26"}}, "不在 2014 年度述职期内"),
        ({"meetings": {"city": "2014-12-15", "towns": "2014-12-10", "villages": "2014-12-26"}}, "自上而下"),
        ({"reminders": {"before_days": "three"}}, "reminders.before_days"),
        ({"own_level": {"deadline": "2016-01-31"}}, "own_level.deadline"),
        ({"submission_lead_days": -1}, "submission_lead_days"),
    ],
)
def test_bad_plans_name_the_field(change: dict[str, object], expected: str) -> None:
    data = tomllib.loads(SAMPLE_PLAN)
    data.update(change)
    with pytest.raises(PlanError) as refused:
        parse_plan(data)
    assert expected in str(refused.value)


def test_missing_meeting_level_is_named() -> None:
    data = tomllib.loads(SAMPLE_PLAN)
    del data["meetings"]["villages"]
    with pytest.raises(PlanError, match=r"meetings\.villages：缺少"):
        parse_plan(data)


def test_due_dates_follow_the_meeting() -> None:
    dues = step_dues(date(2014, 12, 26), DeadlineRules())
    assert dues == {
        "submit_due": date(2014, 12, 16),  # R12: ten days before
        "review_due": date(2014, 12, 23),
        "present_due": date(2014, 12, 26),
        "evaluate_due": date(2014, 12, 27),  # R19
        "feedback_due": date(2015, 1, 2),
        "commitment_due": date(2015, 1, 10),
    }
    assert step_dues(date(2014, 12, 26), DeadlineRules(submission_lead_days=7))["submit_due"] == date(2014, 12, 19)
    assert due_of_state("revising", dict(dues)) == date(2014, 12, 23)
    assert due_of_state("committed", dict(dues)) is None


def test_overdue_and_lagging_at_an_instant() -> None:
    due = date(2014, 12, 16)
    assert not is_overdue(due, date(2014, 12, 16))  # the due day itself is on time
    assert is_overdue(due, date(2014, 12, 17))
    assert not is_lagging(due, date(2014, 12, 12), window_days=3)
    assert is_lagging(due, date(2014, 12, 13), window_days=3)  # due within the window (R20)
    assert is_lagging(due, date(2014, 12, 20), window_days=3)  # past due
    assert not is_lagging(None, date(2015, 12, 1), window_days=3)
