"""Working-day arithmetic (R23), pure: which days count is a function handed in (China's calendar plus overrides)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from states.deadlines import DeadlineRules

IsWorkday = Callable[[date], bool]


def add_working_days(start: date, count: int, is_workday: IsWorkday) -> date:
    """The day `count` working days after `start` (before it when negative); `start` itself is not counted."""
    step = 1 if count >= 0 else -1
    day, left = start, abs(count)
    while left:
        day += timedelta(days=step)
        if is_workday(day):
            left -= 1
    return day


def step_dues_in_working_days(meeting: date, rules: DeadlineRules, is_workday: IsWorkday) -> dict[str, date]:
    """The stored deadline columns with every offset counted in working days (plan `[calendar] working_days = true`)."""
    return {
        "submit_due": add_working_days(meeting, -rules.submission_lead_days, is_workday),
        "review_due": add_working_days(meeting, -rules.review_days_before, is_workday),
        "present_due": meeting,
        "evaluate_due": add_working_days(meeting, rules.evaluation_days_after, is_workday),
        "feedback_due": add_working_days(meeting, rules.feedback_days_after, is_workday),
        "commitment_due": add_working_days(meeting, rules.commitment_days_after, is_workday),
    }
