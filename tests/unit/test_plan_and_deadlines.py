"""The year plan file and the deadline rules derived from it (R6, R7, R12, R19, R20)."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path

import pytest

from services.errors import render
from states.deadlines import DeadlineRules, due_of_state, is_lagging, is_overdue, step_dues
from states.plan import PlanError, parse_plan, plan_from_stored, plan_to_dict
from tests.conftest import SAMPLE_PLAN


def said(error: PlanError, lang: str = "zh") -> str:
    """A refused plan's problems as the console and the CLI show them, in `lang`."""
    return "; ".join(render(p.code, p.params, lang) for p in error.problems)


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
    ("change", "expected", "english"),
    [
        ({"colour": "red"}, "未知字段 'colour'", "unknown key 'colour'"),
        ({"meetings": {"city": "2014-12-15", "towns": "2014-13-40", "villages": "2014-12-26"}},
         "meetings.towns：'2014-13-40' 不是日期（应为 YYYY-MM-DD）", "meetings.towns: '2014-13-40' is not a date"),
        ({"meetings": {"city": "2014-06-15", "towns": "2014-12-20", "villages": "2014-12-26"}},
         "meetings.city：2014-06-15 不在 2014 年度述职期内（2014-11-01 至 2014-12-31）",
         "meetings.city: 2014-06-15 is outside the 2014 season (2014-11-01 to 2014-12-31)"),
        ({"meetings": {"city": "2014-12-15", "towns": "2014-12-10", "villages": "2014-12-26"}},
         "meetings.towns：不得早于 meetings.city（述职自上而下逐级进行）",
         "meetings.towns: must not be before meetings.city (the cascade runs top-down)"),
        ({"reminders": {"before_days": "three"}}, "reminders.before_days：应为", "reminders.before_days: must be a list"),
        ({"own_level": {"deadline": "2016-01-31"}}, "own_level.deadline：2016-01-31 应在 2014-12-01 至 2015-03-31 之间",
         "own_level.deadline: 2016-01-31 must be between 2014-12-01 and 2015-03-31"),
        ({"submission_lead_days": -1}, "submission_lead_days：'-1' 应为 0 到 366 之间的整数",
         "submission_lead_days: '-1' must be a whole number from 0 to 366"),
        ({"reminders": []}, "reminders：应为一个表 [reminders]", "reminders: must be a table [reminders]"),
        ({"timezone": "Mars/Base"}, "不是有效的时区名称", "is not a valid time zone"),
    ],
)
def test_bad_plans_name_the_field(change: dict[str, object], expected: str, english: str) -> None:
    data = tomllib.loads(SAMPLE_PLAN)
    data.update(change)
    with pytest.raises(PlanError) as refused:
        parse_plan(data)
    assert expected in said(refused.value)
    assert english in said(refused.value, "en")
    assert not re.search(r"[\u4e00-\u9fff]", said(refused.value, "en"))


def test_missing_meeting_level_is_named() -> None:
    data = tomllib.loads(SAMPLE_PLAN)
    del data["meetings"]["villages"]
    with pytest.raises(PlanError) as refused:
        parse_plan(data)
    assert said(refused.value) == "meetings.villages：缺少该级会议日期"
    assert said(refused.value, "en") == "meetings.villages: the date of this level's meetings is missing"


def test_every_plan_problem_has_both_languages() -> None:
    """Each code a plan can be refused with is in the catalogue, in Chinese and in English."""
    from services.errors import MESSAGES

    codes = set(re.findall(r'"(plan\.[a-z_]+)"', Path(parse_plan.__code__.co_filename).read_text(encoding="utf-8")))
    assert len(codes) >= 15
    for code in codes:
        zh, en = MESSAGES[code]
        assert re.search(r"[\u4e00-\u9fff]", zh) and not re.search(r"[\u4e00-\u9fff]", en), code


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
