"""The reviewer's queue (issue 9): reports waiting for review in my scope, oldest due first, and the returned ones
not yet back; counts; the next report after one."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from services.actors import Actor
from services.errors import NotFound, PermissionDenied
from services.orgs import subtree_bounds
from states.machine import STATE_LABELS
from storage.tables.core import cycles, orgs, years
from storage.tables.review import report_versions

QUEUE_STATES = ("submitted", "revising")
REVIEWING_ROLES = ("admin", "org_department", "reviewer")


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def latest_year(conn: sa.Connection) -> int | None:
    return conn.execute(sa.select(sa.func.max(years.c.year))).scalar()


def review_queue(db: Any, *, actor: Actor, today: date, year: int | None = None, limit: int = 500) -> dict[str, Any]:
    """Cycles in `submitted` (waiting, by review deadline) and `revising` (returned, not yet back) whose organizer
    lies in the reviewer's scope; admin and the organization department see every organizer's."""
    if actor.role not in REVIEWING_ROLES:
        from services.accounts import ROLE_LABELS

        raise PermissionDenied("queue.not_reviewer", name=actor.name, role=actor.role,
                               role_label=ROLE_LABELS.get(actor.role, actor.role))
    with db.connect() as conn:
        chosen = year if year is not None else latest_year(conn)
        if chosen is None or conn.execute(sa.select(years.c.year).where(years.c.year == chosen)).first() is None:
            raise NotFound("year.not_launched", year=year or "")
        unit = orgs.alias("unit")
        organizer = orgs.alias("organizer")
        columns: list[Any] = [
            cycles.c.id, cycles.c.kind, cycles.c.state, cycles.c.review_due, cycles.c.returns,
            unit.c.code.label("org"), unit.c.name, organizer.c.code.label("organizer"),
        ]
        source = cycles.join(unit, unit.c.id == cycles.c.org_id).join(organizer, organizer.c.id == cycles.c.organizer_id)
        query = sa.select(*columns).select_from(source).where(cycles.c.year == chosen, cycles.c.state.in_(QUEUE_STATES))
        if actor.role == "reviewer":
            scope_path = conn.execute(sa.select(orgs.c.path).where(orgs.c.code == (actor.scope or ""))).scalar()
            if scope_path is None:
                raise PermissionDenied("queue.no_scope", name=actor.name)
            low, high = subtree_bounds(scope_path)
            organizer_ids = sa.select(orgs.c.id).where(orgs.c.path >= low, orgs.c.path < high)
            query = query.where(cycles.c.organizer_id.in_(organizer_ids))
        query = query.order_by(cycles.c.review_due, unit.c.path, cycles.c.kind).limit(limit)
        rows = list(conn.execute(query))
        info = _latest_versions(conn, [r.id for r in rows])
    waiting: list[dict[str, Any]] = []
    returned: list[dict[str, Any]] = []
    for r in rows:
        due = _as_date(r.review_due)
        version = info.get(r.id)
        entry = {
            "year": chosen, "org": r.org, "name": r.name, "kind": r.kind, "state": r.state,
            "state_label": STATE_LABELS.get(r.state, r.state), "organizer": r.organizer,
            "due": due.isoformat() if due else None, "days_left": (due - today).days if due else None,
            "overdue": bool(due and due < today), "returns": r.returns,
            "version": version["version"] if version else None,
            "suggestion": version["suggestion"] if version else None,
            "return_note": version["return_note"] if version else None,
        }
        (waiting if r.state == "submitted" else returned).append(entry)
    return {"year": chosen, "scope": actor.scope, "today": today.isoformat(), "waiting": waiting, "returned": returned,
            "counts": {"waiting": len(waiting), "overdue": sum(bool(w["overdue"]) for w in waiting),
                       "returned": len(returned)}}


def _latest_versions(conn: sa.Connection, cycle_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The latest submitted (or returned) version of each cycle: one read over the (cycle_id, version) index."""
    out: dict[int, dict[str, Any]] = {}
    for chunk in (cycle_ids[i:i + 500] for i in range(0, len(cycle_ids), 500)):
        rows = conn.execute(
            sa.select(report_versions.c.cycle_id, report_versions.c.version, report_versions.c.suggestion,
                      report_versions.c.return_note, report_versions.c.event)
            .where(report_versions.c.cycle_id.in_(chunk), report_versions.c.event != "attached")
            .order_by(report_versions.c.cycle_id, report_versions.c.version)
        )
        for r in rows:
            out[r.cycle_id] = {"version": r.version, "suggestion": r.suggestion, "return_note": r.return_note}
    return out


def next_in_queue(db: Any, *, actor: Actor, today: date, year: int, after: str, kind: str = "upward") -> dict[str, Any] | None:
    """The waiting report after (`after`, `kind`) in queue order, or the first one if that is no longer waiting."""
    queue = review_queue(db, actor=actor, today=today, year=year)["waiting"]
    keys = [(w["org"], w["kind"]) for w in queue]
    if (after, kind) in keys:
        index = keys.index((after, kind))
        rest = queue[index + 1:] + queue[:index]
    else:
        rest = queue
    return rest[0] if rest else None
