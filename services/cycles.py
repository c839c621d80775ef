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
from services.orgs import under_code
from states.deadlines import is_overdue, lagging_horizon
from states.machine import (
    DUE_COLUMN_OF_STEP,
    DUE_COLUMNS,
    EVENTS,
    RETURN_EVENTS,
    STATES,
    STEP_OF_STATE,
    TransitionNotAllowed,
    due_column_of,
    next_state,
    sources_of,
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
TransitionHook = Callable[[sa.Connection, FiredEvent, Any], None]  # the row: a CycleRow


def check_kind(kind: str) -> None:
    if kind not in CYCLE_KINDS:
        raise BadInput("kind.bad", option="--kind", value=kind, choices=", ".join(CYCLE_KINDS))


_CYCLE_COLUMNS = (
    "id", "year", "org_id", "kind", "organizer_id", "meeting_id", "meeting_on", "state", "due", "submit_due",
    "review_due", "present_due", "evaluate_due", "feedback_due", "commitment_due", "returns", "version",
)
_DATE_COLUMNS = frozenset({"meeting_on", "due", *DUE_COLUMNS})

# A transition is the hot path of the season (every click of every reviewer): its three statements are
# written once as driver SQL, so each fire costs no statement construction or compilation (bench/bench_core.py).
_LOAD_SQL = (
    "SELECT " + ", ".join(f"c.{name}" for name in _CYCLE_COLUMNS)
    + ", o.code AS org_code, o.path AS org_path, o.kind AS org_kind"
    " FROM orgs o JOIN cycles c ON c.org_id = o.id WHERE o.code = :org AND c.year = :year AND c.kind = :kind"
)
_UPDATE_SQL = (
    "UPDATE cycles SET state = :to_state, due = :due, version = version + 1, updated_at = :at,"
    " returns = returns + :returned WHERE id = :id AND version = :version"
)
_HISTORY_SQL = (
    'INSERT INTO history (cycle_id, from_state, to_state, event, "by", at, note)'
    " VALUES (:id, :from_state, :to_state, :event, :by, :at, :note)"
)


def _driver_sql(conn: sa.Connection, sql: str) -> str:
    """`:name` placeholders in the DBAPI's own style (sqlite3 takes `:name`, psycopg `%(name)s`)."""
    if conn.dialect.name == "sqlite":  # sqlite3 accepts named parameters whatever SQLAlchemy's default style
        return sql
    import re

    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


_SQL_BY_STYLE: dict[tuple[str, str], str] = {}


def _sql(conn: sa.Connection, sql: str) -> str:
    key = (conn.dialect.name, sql)
    cached = _SQL_BY_STYLE.get(key)
    if cached is None:
        cached = _SQL_BY_STYLE[key] = _driver_sql(conn, sql)
    return cached


class CycleRow(dict[str, Any]):
    """A loaded cycle: `row.state` or `row["state"]`; dates are `date` objects on every backend."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> dict[str, Any]:
        return self


def _as_date(value: Any) -> Any:
    return date.fromisoformat(value) if isinstance(value, str) else value


def find_cycle(conn: sa.Connection, *, year: int, org: str, kind: str = "upward") -> CycleRow:
    """One cycle by year, organization code and kind, with its organization's code, path and kind;
    NotFound saying whether the organization or the cycle is missing."""
    cursor = _cursor(conn)
    cursor.execute(_sql(conn, _LOAD_SQL), {"org": org, "year": year, "kind": kind})
    found = cursor.fetchone()
    names = [d[0] for d in cursor.description]
    cursor.close()
    if found is None:
        exists = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == org)).scalar()
        if exists is None:
            raise NotFound("org.not_found", code=org)
        raise NotFound("cycle.not_found", org=org, kind=kind, year=year)
    return CycleRow({k: (_as_date(v) if k in _DATE_COLUMNS else v) for k, v in zip(names, found, strict=True)})


def _cursor(conn: sa.Connection) -> Any:
    """A DBAPI cursor inside the connection's current transaction: the hot path skips result-metadata set-up."""
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _db_stamp(conn: sa.Connection, moment: datetime) -> Any:
    """A naive-UTC timestamp as the dialect's DateTime type stores it (SQLite keeps text)."""
    stamp = to_db_time(moment)
    if conn.dialect.name == "sqlite":
        return stamp.strftime("%Y-%m-%d %H:%M:%S.%f")
    return stamp


def _db_date(conn: sa.Connection, value: date | None) -> Any:
    if value is None or conn.dialect.name != "sqlite":
        return value
    return value.isoformat()


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
    check_kind(kind)
    if event not in EVENTS:
        raise BadInput("event.bad", value=event, choices=", ".join(EVENTS))
    with db.begin() as conn:
        if actor is SYSTEM:
            fast = _fire_in_one_statement(conn, year=year, org=org, kind=kind, event=event, now=now,
                                          by=by or actor.name, note=note, options=options or {})
            if fast is not None:
                fired, row = fast
                for hook in hooks:
                    hook(conn, fired, row)
                return fired
        row = find_cycle(conn, year=year, org=org, kind=kind)
        if actor is not SYSTEM:
            from services.permissions import check_fire

            check_fire(conn, actor, row, event)  # type: ignore[arg-type]  # CycleRow reads like a Row
        try:
            to_state = next_state(row.state, event, note=note)
        except TransitionNotAllowed as refusal:
            raise Refused(refusal.code or str(refusal), org=org, kind=kind, year=year, **refusal.params) from None
        due_column = due_column_of(to_state)
        stamp = _db_stamp(conn, now)
        actor_name = by or actor.name
        params = {
            "id": row.id, "version": row.version, "to_state": to_state, "from_state": row.state, "event": event,
            "due": _db_date(conn, row[due_column] if due_column else None), "at": stamp,
            "returned": 1 if event in RETURN_EVENTS else 0, "by": actor_name, "note": note,
        }
        cursor = _cursor(conn)
        cursor.execute(_sql(conn, _UPDATE_SQL), params)
        if cursor.rowcount != 1:
            cursor.close()
            raise Conflict("cycle.conflict", org=org, kind=kind, year=year)
        cursor.execute(_sql(conn, _HISTORY_SQL), params)
        cursor.close()
        fired = FiredEvent(
            cycle_id=row.id, year=year, org_id=row.org_id, org_code=org, kind=kind, event=event,
            from_state=row.state, to_state=to_state, by=actor_name, at=now, note=note, options=options or {},
        )
        for hook in hooks:
            hook(conn, fired, row)  # type: ignore[arg-type]
    return fired


_RETURNING = ("id", "org_id", "organizer_id", "meeting_id", "meeting_on", "submit_due", "review_due", "present_due",
              "evaluate_due", "feedback_due", "commitment_due", "returns", "version")


def _fast_update_sql(due_column: str | None) -> str:
    return (
        f"UPDATE cycles SET state = :to_state, due = {due_column or 'NULL'}, version = version + 1, updated_at = :at,"
        " returns = returns + :returned"
        " WHERE year = :year AND kind = :kind AND state = :from_state"
        " AND org_id = (SELECT id FROM orgs WHERE code = :org)"
        " RETURNING " + ", ".join(_RETURNING)
    )


def _fire_in_one_statement(conn: sa.Connection, *, year: int, org: str, kind: str, event: str, now: datetime,
                           by: str, note: str | None, options: dict[str, Any]) -> tuple[FiredEvent, CycleRow] | None:
    """The common case in one round trip: every event has one source state, so the machine's rule is checked
    on that source and the row is moved only if it still stands there (the state in the WHERE clause is the
    optimistic lock). None when the row did not move: the caller then reads it and says precisely why."""
    (from_state,) = sources_of(event)
    try:
        to_state = next_state(from_state, event, note=note)
    except TransitionNotAllowed:
        return None
    due_column = due_column_of(to_state)
    params = {"to_state": to_state, "from_state": from_state, "at": _db_stamp(conn, now), "year": year,
              "kind": kind, "org": org, "returned": 1 if event in RETURN_EVENTS else 0, "event": event, "by": by,
              "note": note}
    cursor = _cursor(conn)
    cursor.execute(_sql(conn, _fast_update_sql(due_column)), params)
    moved = cursor.fetchone()
    if moved is None:
        cursor.close()
        return None
    values = {k: (_as_date(v) if k in _DATE_COLUMNS else v) for k, v in zip(_RETURNING, moved, strict=True)}
    from_due = due_column_of(from_state)
    # the row as it stood before the move, as the read-first path hands it to the hooks
    row = CycleRow({**values, "year": year, "kind": kind, "state": from_state, "version": values["version"] - 1,
                    "returns": values["returns"] - params["returned"],
                    "due": values[from_due] if from_due else None, "org_code": org})
    cursor.execute(_sql(conn, _HISTORY_SQL), {**params, "id": row.id})
    cursor.close()
    fired = FiredEvent(cycle_id=row.id, year=year, org_id=row.org_id, org_code=org, kind=kind, event=event,
                       from_state=from_state, to_state=to_state, by=by, at=now, note=note, options=options)
    return fired, row


def reminder_window_days(conn: sa.Connection, year: int) -> int:
    plan = conn.execute(sa.select(years.c.plan).where(years.c.year == year)).scalar()
    if plan is None:
        raise NotFound("year.not_launched", year=year)
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
        raise BadInput("state.bad", option="--state", value=state, choices=", ".join(STATES))
    if kind:
        check_kind(kind)
    organizer_org = orgs.alias("organizer_org")
    # dates come back as the stored ISO text (no per-row parsing on SQLite); ISO text compares like dates
    due_text = sa.type_coerce(cycles.c.due, sa.String).label("due")
    meeting_text = sa.type_coerce(cycles.c.meeting_on, sa.String).label("meeting_on")
    query = (
        sa.select(
            orgs.c.code, orgs.c.name, orgs.c.kind.label("org_kind"), cycles.c.kind, cycles.c.state, due_text,
            meeting_text, cycles.c.returns, organizer_org.c.code.label("organizer"),
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
        if lagging:
            window = reminder_window_days(conn, year)  # also refuses a year not launched
        elif not conn.execute(sa.select(years.c.year).where(years.c.year == year)).first():
            raise NotFound("year.not_launched", year=year)
        if state:
            query = query.where(cycles.c.state == state)
        if kind:
            query = query.where(cycles.c.kind == kind)
        if org:
            query = query.where(orgs.c.code == org)
        if organizer:
            query = query.where(organizer_org.c.code == organizer)
        if under:
            query = query.where(under_code(conn, under))
        if lagging:
            query = query.where(cycles.c.due <= lagging_horizon(today, window_days=window))
        if limit:
            query = query.limit(limit)
        today_text = today.isoformat()
        step_of = STEP_OF_STATE.get
        out = []
        for code, name, org_kind, kind_, state_, due, meeting_on, returns, organizer_code in conn.execute(query):
            due_iso = _iso(due)
            out.append({
                "org": code, "name": name, "org_kind": org_kind, "kind": kind_, "state": state_, "step": step_of(state_),
                "due": due_iso, "overdue": due_iso is not None and due_iso < today_text, "meeting": _iso(meeting_on),
                "organizer": organizer_code, "returns": returns,
            })
        return out


def _iso(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    iso: str = value.isoformat()
    return iso


def show_cycle(db: Database, *, year: int, org: str, kind: str = "upward", today: date | None = None) -> dict[str, Any]:
    check_kind(kind)
    with db.connect() as conn:
        return cycle_view(conn, find_cycle(conn, year=year, org=org, kind=kind), year=year, org=org, kind=kind,
                          today=today)


_HISTORY_OF = sa.select(history).where(history.c.cycle_id == sa.bindparam("cycle_id")).order_by(history.c.at, history.c.id)


def cycle_view(conn: sa.Connection, row: CycleRow, *, year: int, org: str, kind: str, today: date | None) -> dict[str, Any]:
    """A loaded cycle as `show_cycle` reports it: state, deadlines, history."""
    events = conn.execute(_HISTORY_OF, {"cycle_id": row.id})
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
