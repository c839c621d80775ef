"""Deadline rules: each step's due date from the meeting date, overdue and lagging at an instant (R12, R19, R20)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from states.machine import DUE_COLUMN_OF_STEP, STEP_OF_STATE


@dataclass(frozen=True)
class DeadlineRules:
    """Offsets in days relative to the meeting (negative: before it). Defaults are cli.md's."""

    submission_lead_days: int = 10  # R12: the report reaches the reviewer 10 days before
    review_days_before: int = 3
    evaluation_days_after: int = 1  # R19
    feedback_days_after: int = 7
    commitment_days_after: int = 15


def step_dues(meeting: date, rules: DeadlineRules) -> dict[str, date]:
    """Due date of every stored deadline column for a meeting on `meeting`."""
    return {
        "submit_due": meeting - timedelta(days=rules.submission_lead_days),
        "review_due": meeting - timedelta(days=rules.review_days_before),
        "present_due": meeting,
        "evaluate_due": meeting + timedelta(days=rules.evaluation_days_after),
        "feedback_due": meeting + timedelta(days=rules.feedback_days_after),
        "commitment_due": meeting + timedelta(days=rules.commitment_days_after),
    }


def due_of_state(state: str, dues: dict[str, date | None]) -> date | None:
    """The due date of the step owed in `state`, from a cycle's stored deadlines."""
    step = STEP_OF_STATE.get(state)
    if step is None:
        return None
    column = DUE_COLUMN_OF_STEP[step]
    return dues.get(column) if column else None


def is_overdue(due: date | None, today: date) -> bool:
    """A step is overdue the day after its due date (the due day itself is still on time)."""
    return due is not None and today > due


def is_lagging(due: date | None, today: date, *, window_days: int) -> bool:
    """R20: past due, or due within the reminder window."""
    return due is not None and due <= today + timedelta(days=window_days)


def lagging_horizon(today: date, *, window_days: int) -> date:
    """The latest due date that counts as lagging today: lets the query be one indexed range."""
    return today + timedelta(days=window_days)
