"""A secretary's "我的待办" (issue 9): each of my unit's cycles with the step owed, who owes it, due date, days left."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from services.errors import NotFound
from states.machine import OWNER_OF_STEP, STATE_LABELS, STEP_LABELS, STEP_OF_STATE
from storage.tables.core import cycles, orgs
from storage.tables.review import feedback_notices, report_versions

KIND_LABELS = {"upward": "向上级述职", "own_level": "向本级述职"}


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def my_tasks(db: Any, *, org: str, today: date, year: int | None = None) -> dict[str, Any]:
    """The unit's cycles (both kinds) of `year` (default: every year with an open cycle, and the latest year),
    newest year first, upward before own-level. Two indexed reads: the unit by code, its cycles by org_id."""
    with db.connect() as conn:
        unit = conn.execute(sa.select(orgs.c.id, orgs.c.code, orgs.c.name).where(orgs.c.code == org)).first()
        if unit is None:
            raise NotFound("org.not_found", code=org)
        latest_version = (
            sa.select(sa.func.max(report_versions.c.version)).where(report_versions.c.cycle_id == cycles.c.id)
            .scalar_subquery()
        )
        has_notice = sa.exists().where(feedback_notices.c.cycle_id == cycles.c.id)
        organizer = orgs.alias("organizer")
        query = (
            sa.select(cycles.c.id, cycles.c.year, cycles.c.kind, cycles.c.state, cycles.c.due, cycles.c.meeting_on,
                      cycles.c.returns, organizer.c.code.label("organizer"), organizer.c.name.label("organizer_name"),
                      latest_version.label("versions"), has_notice.label("has_notice"))
            .select_from(cycles.join(organizer, organizer.c.id == cycles.c.organizer_id))
            .where(cycles.c.org_id == unit.id)
            .order_by(cycles.c.year.desc(), cycles.c.kind.desc())  # upward before own_level
        )
        if year is not None:
            query = query.where(cycles.c.year == year)
        rows = list(conn.execute(query))
    if year is None and rows:
        newest = rows[0].year
        rows = [r for r in rows if r.year == newest or r.state != "closed"]
    tasks = []
    for r in rows:
        step = STEP_OF_STATE.get(r.state)
        due = _as_date(r.due)
        owner = OWNER_OF_STEP.get(step or "", "")
        tasks.append({
            "year": r.year, "org": unit.code, "kind": r.kind, "kind_label": KIND_LABELS.get(r.kind, r.kind),
            "state": r.state, "state_label": STATE_LABELS.get(r.state, r.state),
            "step": step, "step_label": STEP_LABELS.get(step or "", "已办结"), "owner": owner, "mine": owner == "secretary",
            "due": due.isoformat() if due else None, "days_left": (due - today).days if due else None,
            "overdue": bool(due and due < today), "meeting": str(_as_date(r.meeting_on) or ""),
            "organizer": r.organizer, "organizer_name": r.organizer_name, "returns": r.returns,
            "versions": r.versions or 0, "feedback": bool(r.has_notice),
        })
    return {"org": unit.code, "name": unit.name, "today": today.isoformat(), "tasks": tasks,
            "owed": sum(1 for t in tasks if t["mine"])}
