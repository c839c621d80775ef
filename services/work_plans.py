"""Organizers' work plans (R9, R12): filed with the organization department before their round; missing ones lag."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.errors import NotFound
from services.reports import read_report
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import meetings, orgs, years
from storage.tables.review import work_plans


def _lead_days(conn: sa.Connection, year: int) -> int:
    plan = conn.execute(sa.select(years.c.plan).where(years.c.year == year)).scalar()
    if plan is None:
        raise NotFound("year.not_launched", year=year)
    return int(plan.get("submission_lead_days", 10))


def file_work_plan(db: Database, *, year: int, organizer: str, file: Path, now: datetime, by: str = "cli") -> dict[str, Any]:
    """File (or refile) an organizer's plan: .docx, .md or .txt; the newest filing replaces the earlier one."""
    document = read_report(file)
    with db.begin() as conn:
        _lead_days(conn, year)
        org = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == organizer)).scalar()
        if org is None:
            raise NotFound("org.not_found", code=organizer)
        if conn.execute(sa.select(meetings.c.id).where(meetings.c.year == year, meetings.c.organizer_id == org)).first() is None:
            raise NotFound("work_plan.no_meeting", organizer=organizer, year=year)
        conn.execute(work_plans.delete().where(work_plans.c.year == year, work_plans.c.organizer_id == org))
        conn.execute(work_plans.insert().values(
            year=year, organizer_id=org, file_name=document.name, file_format=document.file_format,
            content=document.content, text=document.text, sha256=document.sha256, filed_at=to_db_time(now), filed_by=by,
        ))
    return {"organizer": organizer, "year": year, "file": document.name, "sha256": document.sha256}


def list_work_plans(db: Database, *, year: int, today: date | None = None) -> list[dict[str, Any]]:
    """Every organizer of the year with its meeting, the plan's due date and whether (and when) it was filed."""
    with db.connect() as conn:
        lead = _lead_days(conn, year)
        rows = conn.execute(
            sa.select(orgs.c.code, orgs.c.name, meetings.c.held_on, work_plans.c.filed_at, work_plans.c.file_name)
            .select_from(meetings.join(orgs, orgs.c.id == meetings.c.organizer_id).outerjoin(
                work_plans, sa.and_(work_plans.c.year == meetings.c.year, work_plans.c.organizer_id == meetings.c.organizer_id)))
            .where(meetings.c.year == year)
            .order_by(meetings.c.held_on, orgs.c.path)
        )
        result = []
        for r in rows:
            due = r.held_on - timedelta(days=lead)
            filed = from_db_time(r.filed_at)
            result.append({
                "organizer": r.code, "name": r.name, "meeting": r.held_on.isoformat(), "due": due.isoformat(),
                "filed": filed is not None, "filed_at": filed.isoformat(timespec="seconds") if filed else None,
                "file": r.file_name, "overdue": bool(today and filed is None and today > due),
            })
        return result


def missing_work_plans(db: Database, *, year: int, today: date | None = None) -> list[dict[str, Any]]:
    """Organizers that have not filed: [{"organizer", "name", "meeting", "due", "overdue"}] (due = meeting − lead days)."""
    return [
        {k: r[k] for k in ("organizer", "name", "meeting", "due", "overdue")}
        for r in list_work_plans(db, year=year, today=today)
        if not r["filed"]
    ]
