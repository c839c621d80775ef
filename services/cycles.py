"""One secretary's cycle: firing events (one transaction each) and the queries operators run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from services.actors import SYSTEM, Actor
from services.errors import BadInput, Conflict, NotFound, Refused
from services.orgs import subtree_bounds
from states.deadlines import is_overdue, lagging_horizon
from states.machine import (
    DUE_COLUMN_OF_STEP,
    EVENTS,
    RETURN_EVENTS,
    STATES,
    STEP_OF_STATE,
    TransitionNotAllowed,
    due_column_of,
    next_state,
)
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import cycles, history, orgs, years

CYCLE_KINDS = ("upward", "own_level")
PLAN_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class FiredEvent:
    """What a transition did; hooks read it inside the same transaction."""

    cycle_id: int
    year: int
    org_id: int
    org_code: str
    kind: str
    event: str
    from_state: str
    to_state: str
    by: str
    at: datetime
    note: str | None
    options: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"org": self.org_code, "kind": self.kind, "from": self.from_state, "to": self.to_state,
                "event": self.event}


# A hook runs inside the transition's transaction, after the guarded update. It may write rows
# (a report version, an outbox message) or raise `Refused`/`BadInput` to undo the whole transition.
TransitionHook = Callable[[sa.Connection, FiredEvent, sa.Row[Any]], None]


def _check_kind(kind: str) -> None:
    if kind not in CYCLE_KINDS:
        raise BadInput(f"--kind: '{kind}' is not one of {', '.join(CYCLE_KINDS)}")


def _load_cycle(conn: sa.Connection, *, year: int, org: str, kind: str) -> sa.Row[Any]:
    row = conn.execute(
        sa.select(cycles, orgs.c.code.label("org_code"), orgs.c.path.label("org_path"), orgs.c.kind.label("org_kind"))
        .select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id))
        .where(orgs.c.code == org, cycles.c.year == year, cycles.c.kind == kind)
    ).first()
    if row is None:
        exists = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == org)).scalar()
        if exists is None:
            raise NotFound(f"no organization with code '{org}'")
        raise NotFound(f"{org} has no {kind} cycle in {year} (was the year launched?)")
    return row


def fire_event(
    db: Database,
    *,
    year: int,
    org: str,
    event: str,
    now: datetime,
    kind: str = "upward",
    by: str | None = None,
    note: str | None = None,
    actor: Actor = SYSTEM,
    hooks: Sequence[TransitionHook] = (),
    options: dict[str, Any] | None = None,
) -> FiredEvent:
    """Check with the machine, update guarded by the version, append history — one transaction.

    An illegal event, a lost race or a refusing hook raises and changes nothing.
    """
    _check_kind(kind)
    if event not in EVENTS:
        raise BadInput(f"unknown event '{event}'; events: {', '.join(EVENTS)}")
    with db.begin() as conn:
        row = _load_cycle(conn, year=year, org=org, kind=kind)
        from services.permissions import check_fire

        check_fire(conn, actor, row, event)
        try:
            to_state = next_state(row.state, event, note=note)
        except TransitionNotAllowed as refusal:
            raise Refused(f"{org} ({kind}, {year}): {refusal}") from None
        due_column = due_column_of(to_state)
        stamp = to_db_time(now)
        values: dict[str, Any] = {
            "state": to_state,
            "due": row._mapping[due_column] if due_column else None,
            "version": cycles.c.version + 1,
            "updated_at": stamp,
        }
        if event in RETURN_EVENTS:
            values["returns"] = cycles.c.returns + 1
        updated = conn.execute(
            cycles.update().where(cycles.c.id == row.id, cycles.c.version == row.version).values(**values)
        ).rowcount
        if updated != 1:
            raise Conflict(f"{org} ({kind}, {year}) was changed by someone else at the same time; nothing was done")
        actor_name = by or actor.name
        conn.execute(
            history.insert().values(
                cycle_id=row.id, from_state=row.state, to_state=to_state, event=event, by=actor_name, at=stamp,
                note=note,
            )
        )
        fired = FiredEvent(
            cycle_id=row.id, year=year, org_id=row.org_id, org_code=org, kind=kind, event=event,
            from_state=row.state, to_state=to_state, by=actor_name, at=now, note=note, options=options or {},
        )
        for hook in hooks:
            hook(conn, fired, row)
    return fired


def reminder_window_days(conn: sa.Connection, year: int) -> int:
    plan = conn.execute(sa.select(years.c.plan).where(years.c.year == year)).scalar()
    if plan is None:
        raise NotFound(f"year {year} has not been launched")
    before = (plan.get("reminders") or {}).get("before_days") or [3, 1]
    return int(max(before))


def list_cycles(
    db: Database,
    *,
    year: int,
    today: date,
    state: str | None = None,
    org: str | None = None,
    under: str | None = None,
    kind: str | None = None,
    lagging: bool = False,
    organizer: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Cycles of a year with the step they owe, its due date and whether it is overdue today."""
    if state and state not in STATES:
        raise BadInput(f"--state: unknown state '{state}'; states: {', '.join(STATES)}")
    if kind:
        _check_kind(kind)
    organizer_org = orgs.alias("organizer_org")
    query = (
        sa.select(
            orgs.c.code, orgs.c.name, orgs.c.kind.label("org_kind"), cycles.c.kind, cycles.c.state, cycles.c.due,
            cycles.c.meeting_on, cycles.c.returns, organizer_org.c.code.label("organizer"),
        )
        .select_from(
            cycles.join(orgs, orgs.c.id == cycles.c.org_id).join(
                organizer_org, organizer_org.c.id == cycles.c.organizer_id
            )
        )
        .where(cycles.c.year == year)
        .order_by(cycles.c.due, orgs.c.path, cycles.c.kind)
    )
    with db.connect() as conn:
        if not conn.execute(sa.select(years.c.year).where(years.c.year == year)).first():
            raise NotFound(f"year {year} has not been launched")
        if state:
            query = query.where(cycles.c.state == state)
        if kind:
            query = query.where(cycles.c.kind == kind)
        if org:
            query = query.where(orgs.c.code == org)
        if organizer:
            query = query.where(organizer_org.c.code == organizer)
        if under:
            path = conn.execute(sa.select(orgs.c.path).where(orgs.c.code == under)).scalar()
            if path is None:
                raise NotFound(f"no organization with code '{under}'")
            low, high = subtree_bounds(path)
            query = query.where(orgs.c.path >= low, orgs.c.path < high)
        if lagging:
            horizon = lagging_horizon(today, window_days=reminder_window_days(conn, year))
            query = query.where(cycles.c.due <= horizon)
        if limit:
            query = query.limit(limit)
        return [
            {
                "org": r.code,
                "name": r.name,
                "org_kind": r.org_kind,
                "kind": r.kind,
                "state": r.state,
                "step": STEP_OF_STATE.get(r.state),
                "due": r.due.isoformat() if r.due else None,
                "overdue": is_overdue(r.due, today),
                "meeting": r.meeting_on.isoformat(),
                "organizer": r.organizer,
                "returns": r.returns,
            }
            for r in conn.execute(query)
        ]


def show_cycle(db: Database, *, year: int, org: str, kind: str = "upward", today: date | None = None) -> dict[str, Any]:
    _check_kind(kind)
    with db.connect() as conn:
        row = _load_cycle(conn, year=year, org=org, kind=kind)
        events = conn.execute(
            sa.select(history).where(history.c.cycle_id == row.id).order_by(history.c.at, history.c.id)
        )
        step = STEP_OF_STATE.get(row.state)
        deadlines = {
            step_name: row._mapping[column].isoformat()
            for step_name, column in DUE_COLUMN_OF_STEP.items()
            if column
        }
        return {
            "org": org,
            "kind": kind,
            "year": year,
            "state": row.state,
            "step": step,
            "due": row.due.isoformat() if row.due else None,
            "overdue": is_overdue(row.due, today) if today else None,
            "meeting": row.meeting_on.isoformat(),
            "returns": row.returns,
            "version": row.version,
            "deadlines": deadlines,
            "history": [
                {
                    "from": h.from_state,
                    "to": h.to_state,
                    "event": h.event,
                    "by": h.by,
                    "at": _local_iso(h.at),
                    "note": h.note,
                }
                for h in events
            ],
        }


def _local_iso(moment: datetime) -> str:
    aware = from_db_time(moment)
    assert aware is not None
    return aware.astimezone(PLAN_TZ).isoformat(timespec="seconds")


def stage_counts(db: Database, *, year: int, kind: str = "upward") -> list[dict[str, Any]]:
    """How many cycles stand in each state, by the reporting organization's kind (the funnel)."""
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(orgs.c.kind.label("org_kind"), cycles.c.state, sa.func.count().label("n"))
            .select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id))
            .where(cycles.c.year == year, cycles.c.kind == kind)
            .group_by(orgs.c.kind, cycles.c.state)
        )
        return [{"org_kind": r.org_kind, "state": r.state, "count": r.n} for r in rows]
