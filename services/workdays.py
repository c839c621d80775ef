"""China's working-day calendar: the `chinese_calendar` package, overridden by an admin-edited table (R23)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput
from states.deadlines import step_dues
from states.plan import YearPlan
from states.workdays import step_dues_in_working_days
from storage.db import Database, to_db_time
from storage.tables.notify import calendar_days

DAY_KINDS = ("workday", "holiday")


class WorkCalendar:
    """Overrides first; then the package; a year neither knows is an error naming what to do."""

    def __init__(self, overrides: dict[date, str]) -> None:
        self.overrides = overrides
        self.override_years = {d.year for d in overrides}

    @classmethod
    def load(cls, conn: sa.Connection) -> WorkCalendar:
        return cls({row.day: row.kind for row in conn.execute(sa.select(calendar_days.c.day, calendar_days.c.kind))})

    def is_workday(self, day: date) -> bool:
        kind = self.overrides.get(day)
        if kind is not None:
            return kind == "workday"
        import chinese_calendar

        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year in self.override_years:
                return day.weekday() < 5  # the admin entered the notice's holidays and make-up days for this year
            raise BadInput("calendar.missing", year=day.year) from None


def uses_working_days(plan: YearPlan) -> bool:
    return bool((plan.extra.get("calendar") or {}).get("working_days", False))


def plan_step_dues(conn: sa.Connection, plan: YearPlan, meeting: date) -> dict[str, date]:
    """Deadline columns for a meeting under this plan: calendar days by default, working days if the plan says so."""
    if uses_working_days(plan):
        return step_dues_in_working_days(meeting, plan.deadlines, WorkCalendar.load(conn).is_workday)
    return step_dues(meeting, plan.deadlines)


def _parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput("date.bad", value=text, option=what) from None


def set_day(db: Database, *, day_text: str, kind: str, now: datetime, by: str, note: str = "") -> dict[str, Any]:
    day = _parse_day(day_text, "DATE")
    if kind not in DAY_KINDS:
        raise BadInput("day_kind.bad", value=kind, choices=", ".join(DAY_KINDS), option="KIND")
    with db.begin() as conn:
        conn.execute(calendar_days.delete().where(calendar_days.c.day == day))
        conn.execute(calendar_days.insert().values(day=day, kind=kind, note=note, updated_at=to_db_time(now), updated_by=by))
    return {"day": day.isoformat(), "kind": kind, "note": note}


def month_days(db: Database, *, month_text: str) -> list[dict[str, Any]]:
    try:
        first = date.fromisoformat(month_text.strip() + "-01")
    except ValueError:
        raise BadInput("month.bad", value=month_text, option="MONTH") from None
    with db.connect() as conn:
        calendar = WorkCalendar.load(conn)
    rows = []
    day = first
    while day.month == first.month:
        rows.append({"day": day.isoformat(), "workday": calendar.is_workday(day), "override": day in calendar.overrides})
        day = date.fromordinal(day.toordinal() + 1)
    return rows
