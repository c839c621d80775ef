"""Rescheduling a meeting: its deadlines and every dependent cycle's follow in one set-based update, with history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput, NotFound
from services.workdays import plan_step_dues
from states.machine import DUE_COLUMN_OF_STEP, DUE_COLUMNS, STEP_OF_STATE
from states.plan import plan_from_stored
from storage.db import Database, to_db_time
from storage.tables.core import cycles, history, meetings, orgs, years


def move_meeting(db: Database, *, year: int, organizer: str, date_text: str, now: datetime, by: str = "admin") -> dict[str, Any]:
    try:
        new_date = date.fromisoformat(date_text.strip())
    except ValueError:
        raise BadInput("meeting.date_bad", option="--date", value=date_text[:40]) from None
    stamp = to_db_time(now)
    with db.begin() as conn:
        stored = conn.execute(sa.select(years.c.plan).where(years.c.year == year)).scalar()
        if stored is None:
            raise NotFound("year.not_launched", year=year)
        plan = plan_from_stored(stored)
        org = conn.execute(sa.select(orgs.c.id, orgs.c.code).where(orgs.c.code == organizer)).first()
        if org is None:
            raise NotFound("org.not_found", code=organizer)
        meeting = conn.execute(
            sa.select(meetings).where(meetings.c.year == year, meetings.c.organizer_id == org.id)
        ).first()
        if meeting is None:
            raise NotFound("meeting.none", organizer=organizer, year=year)
        start, end = plan.season
        if not start <= new_date <= end:
            raise BadInput("meeting.outside_season", option="--date", date=new_date, year=year, start=start, end=end)
        own_meeting = conn.execute(
            sa.select(cycles.c.meeting_on).where(cycles.c.year == year, cycles.c.org_id == org.id, cycles.c.kind == "upward")
        ).scalar()
        if own_meeting is not None and new_date < own_meeting:
            raise BadInput("meeting.before_own", option="--date", date=new_date, organizer=organizer, own=own_meeting)
        child = orgs.alias("child")
        earliest_below = conn.execute(
            sa.select(sa.func.min(meetings.c.held_on))
            .select_from(meetings.join(child, child.c.id == meetings.c.organizer_id))
            .where(meetings.c.year == year, child.c.parent_id == org.id)
        ).scalar()
        if earliest_below is not None and new_date > earliest_below:
            raise BadInput("meeting.after_below", option="--date", date=new_date, organizer=organizer, below=earliest_below)
        dues = plan_step_dues(conn, plan, new_date)
        old_date: date = meeting.held_on
        note = f"述职评议会由 {old_date.isoformat()} 改为 {new_date.isoformat()}"
        dependent = sa.and_(cycles.c.meeting_id == meeting.id)
        conn.execute(
            history.insert().from_select(
                ["cycle_id", "from_state", "to_state", "event", "by", "at", "note"],
                sa.select(
                    cycles.c.id, cycles.c.state, cycles.c.state, sa.literal("move_meeting"), sa.literal(by),
                    sa.literal(stamp, sa.DateTime()), sa.literal(note),
                ).where(dependent),
            )
        )
        due_now = sa.case(
            *[(cycles.c.state == state, sa.literal(dues[column], sa.Date()))
              for state, step in STEP_OF_STATE.items() if (column := DUE_COLUMN_OF_STEP[step])],
            else_=sa.null(),
        )
        moved = conn.execute(
            cycles.update().where(dependent).values(
                meeting_on=new_date, due=due_now, version=cycles.c.version + 1, updated_at=stamp,
                **{column: dues[column] for column in DUE_COLUMNS},
            )
        ).rowcount or 0
        conn.execute(meetings.update().where(meetings.c.id == meeting.id).values(held_on=new_date, **dues))
    return {"year": year, "organizer": organizer, "from": old_date.isoformat(), "to": new_date.isoformat(), "cycles": moved,
            "deadlines": {k: v.isoformat() for k, v in dues.items()}}
