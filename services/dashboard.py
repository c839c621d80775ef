"""Read views of the console (R34): the year's funnel by level, lagging and coming deadlines, the tree drill-down,
a cycle's page. Aggregate SQL only: nothing here loads every cycle of a year."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

from services.cycles import CycleRow, check_kind, cycle_view, find_cycle, reminder_window_days
from services.errors import BadInput, NotFound
from services.orgs import subtree_bounds
from states.deadlines import due_of_state, is_overdue, lagging_horizon
from states.machine import DUE_COLUMNS, OPEN_STATES, STATES, STEP_OF_STATE
from states.orgs import LEVEL_OF_KIND, UPPER_KINDS, Level, mask_email, mask_phone
from storage.db import Database
from storage.tables.core import cycles, history, meetings, orgs, years

LEVELS: tuple[Level, ...] = (Level.CITY, Level.TOWN, Level.GRASSROOTS)
COMING_DAYS = 14

Counts = dict[tuple[str, str, date | None], int]  # (org kind, state, due date) → cycles; grassroots as 'village'


def launched_years(db: Database) -> list[int]:
    with db.connect() as conn:
        return list(conn.execute(sa.select(years.c.year).order_by(years.c.year.desc())).scalars())


def _require_year(conn: sa.Connection, year: int) -> None:
    if conn.execute(sa.select(years.c.year).where(years.c.year == year)).first() is None:
        raise NotFound("year.not_launched", year=year)


def _level_kind(org_kind: str) -> str:
    return org_kind if org_kind in UPPER_KINDS else "village"


def count_cycles(conn: sa.Connection, year: int, kind: str) -> Counts:
    """Every cycle of the year counted by (level, state, due) in two aggregates: all cycles by state and due
    (an index-only scan of ix_cycles_year_kind_state_due) and the few upper-level organizations' cycles by kind;
    the grassroots level is the difference. Never a join over every cycle."""
    totals: dict[tuple[str, date | None], int] = {
        (state, due): n
        for state, due, n in conn.execute(
            sa.select(cycles.c.state, cycles.c.due, sa.func.count())
            .where(cycles.c.year == year, cycles.c.kind == kind)
            .group_by(cycles.c.state, cycles.c.due)
        )
    }
    counts: Counts = {}
    upper_ids = sa.select(orgs.c.id).where(orgs.c.kind.in_(UPPER_KINDS))
    for org_kind, state, due, n in conn.execute(
        sa.select(orgs.c.kind, cycles.c.state, cycles.c.due, sa.func.count())
        .select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id))
        .where(cycles.c.org_id.in_(upper_ids), cycles.c.year == year, cycles.c.kind == kind)
        .group_by(orgs.c.kind, cycles.c.state, cycles.c.due)
    ):
        counts[(org_kind, state, due)] = n
        totals[(state, due)] = totals.get((state, due), 0) - n
    for (state, due), n in totals.items():
        if n:
            counts[("village", state, due)] = n
    return counts


def _marks(conn: sa.Connection) -> tuple[int, int]:
    cycle_mark = conn.execute(sa.select(sa.func.max(cycles.c.id))).scalar() or 0
    history_mark = conn.execute(sa.select(sa.func.max(history.c.id))).scalar() or 0
    return int(cycle_mark), int(history_mark)


@dataclass
class _Snapshot:
    counts: Counts
    cycle_mark: int
    history_mark: int
    taken: float


@dataclass
class FunnelCache:
    """Counts by (level, state, due) kept current from the append-only history (R11) instead of recounting.

    A full count at most every `ttl` seconds; between counts only the history rows and cycles added since are read
    and applied (a transition moves one cycle from its `from` state and due date to its `to` state and due date,
    as fire_event sets them). A history row that moves due dates without a transition (a moved meeting,
    RECOUNT_EVENTS) makes the next read recount, in every process that reads the database — a console worker
    or the CLI moving it. `clear()` forces a recount at once (after a re-import or a launch in this process); the
    periodic full count heals what other processes change without history.
    """

    ttl: float = 120.0
    monotonic: Callable[[], float] = time.monotonic
    _snapshots: dict[tuple[str, int, str], _Snapshot] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _gates: dict[tuple[str, int, str], threading.Lock] = field(default_factory=dict)

    def clear(self) -> None:
        with self._lock:
            self._snapshots.clear()

    def _usable(self, key: tuple[str, int, str], cycle_mark: int, history_mark: int) -> _Snapshot | None:
        """The snapshot to build on: none when absent, older than `ttl`, or ahead of the marks just read (a
        database rebuilt under the cache)."""
        with self._lock:
            snap = self._snapshots.get(key)
        if snap is None or self.monotonic() - snap.taken > self.ttl or cycle_mark < snap.cycle_mark \
                or history_mark < snap.history_mark:
            return None
        return snap

    def _gate(self, key: tuple[str, int, str]) -> threading.Lock:
        with self._lock:
            return self._gates.setdefault(key, threading.Lock())

    def _needs_recount(self, conn: sa.Connection, snap: _Snapshot | None, history_mark: int) -> bool:
        """No usable snapshot, or a history row since it that counts cannot be moved from (RECOUNT_EVENTS)."""
        return snap is None or (snap.history_mark < history_mark
                                and _recount_needed(conn, snap.history_mark, history_mark))

    def _recount(self, conn: sa.Connection, key: tuple[str, int, str], year: int,
                 kind: str) -> tuple[_Snapshot, int, int]:
        """A full count, one per key at a time: under load every overview request missed the cache at once and ran
        the same national aggregate side by side (15 at a time in make load). A request that waited builds on the
        count made meanwhile when it can. Returns the snapshot and the marks read under the gate."""
        with self._gate(key):
            cycle_mark, history_mark = _marks(conn)  # again: a count may have finished while we waited
            snap = self._usable(key, cycle_mark, history_mark)
            if self._needs_recount(conn, snap, history_mark):
                snap = _Snapshot(count_cycles(conn, year, kind), cycle_mark, history_mark, self.monotonic())
                with self._lock:
                    self._snapshots[key] = snap
            assert snap is not None
            return snap, cycle_mark, history_mark

    def counts(self, db: Database, year: int, kind: str) -> Counts:
        key = (db.url, year, kind)
        with db.connect() as conn:
            cycle_mark, history_mark = _marks(conn)
            snap = self._usable(key, cycle_mark, history_mark)
            if self._needs_recount(conn, snap, history_mark):
                snap, cycle_mark, history_mark = self._recount(conn, key, year, kind)
            assert snap is not None
            if (cycle_mark, history_mark) != (snap.cycle_mark, snap.history_mark):
                counts = dict(snap.counts)
                _apply_changes(conn, counts, year=year, kind=kind, since=(snap.cycle_mark, snap.history_mark),
                               until=(cycle_mark, history_mark))
                snap = _Snapshot(counts, cycle_mark, history_mark, snap.taken)
                with self._lock:
                    self._snapshots[key] = snap
            return dict(snap.counts)


# History events that change due dates without a transition: counts cannot be moved from them (the old due date is
# gone), so the funnel recounts.
RECOUNT_EVENTS = ("move_meeting",)


def _recount_needed(conn: sa.Connection, after: int, until: int) -> bool:
    return conn.execute(
        sa.select(history.c.id).where(history.c.id > after, history.c.id <= until, history.c.event.in_(RECOUNT_EVENTS))
        .limit(1)
    ).first() is not None


def _bump(counts: Counts, key: tuple[str, str, date | None], n: int) -> None:
    counts[key] = counts.get(key, 0) + n
    if not counts[key]:
        del counts[key]


def _apply_changes(conn: sa.Connection, counts: Counts, *, year: int, kind: str, since: tuple[int, int],
                   until: tuple[int, int]) -> None:
    old_cycles, old_history = since
    new_cycles, new_history = until
    # cycles created since: counted as they stand now (their own history rows are skipped below)
    for org_kind, state, due, n in conn.execute(
        sa.select(orgs.c.kind, cycles.c.state, cycles.c.due, sa.func.count())
        .select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id))
        .where(cycles.c.id > old_cycles, cycles.c.id <= new_cycles, cycles.c.year == year, cycles.c.kind == kind)
        .group_by(orgs.c.kind, cycles.c.state, cycles.c.due)
    ):
        _bump(counts, (_level_kind(org_kind), state, due), n)
    due_cols = [cycles.c[c] for c in DUE_COLUMNS]
    moves = conn.execute(
        sa.select(orgs.c.kind, history.c.from_state, history.c.to_state, *due_cols, sa.func.count())
        .select_from(history.join(cycles, cycles.c.id == history.c.cycle_id).join(orgs, orgs.c.id == cycles.c.org_id))
        .where(history.c.id > old_history, history.c.id <= new_history, cycles.c.id <= old_cycles,
               cycles.c.year == year, cycles.c.kind == kind)
        .group_by(orgs.c.kind, history.c.from_state, history.c.to_state, *due_cols)
    )
    for row in moves:
        org_kind, from_state, to_state = row[0], row[1], row[2]
        dues = dict(zip(DUE_COLUMNS, row[3:-1], strict=True))
        n = row[-1]
        level_kind = _level_kind(org_kind)
        if from_state:
            _bump(counts, (level_kind, from_state, due_of_state(from_state, dues)), -n)
        if to_state:
            _bump(counts, (level_kind, to_state, due_of_state(to_state, dues)), n)


def funnel_by_level(counts: Counts) -> list[dict[str, Any]]:
    """Rows per level: {'level', 'states': {state: n}, 'total'} in cascade order."""
    rows = []
    for level in LEVELS:
        states = dict.fromkeys(STATES, 0)
        for (org_kind, state, _), n in counts.items():
            if LEVEL_OF_KIND.get(org_kind) == level and state in states:
                states[state] += n
        total = sum(states.values())
        if total:
            rows.append({"level": int(level), "states": states, "total": total})
    return rows


def overview(db: Database, *, year: int, today: date, kind: str = "upward", cache: FunnelCache | None = None) -> dict[str, Any]:
    """The year at a glance: funnel by level, lagging and overdue counts by step, the coming deadlines."""
    check_kind(kind)
    with db.connect() as conn:
        _require_year(conn, year)
        window = reminder_window_days(conn, year)
    horizon = lagging_horizon(today, window_days=window)
    last_coming = today + timedelta(days=COMING_DAYS)
    counts = (cache or FunnelCache(ttl=-1)).counts(db, year, kind)
    by_step: dict[str, dict[str, int]] = {}
    coming: dict[tuple[str, str], int] = {}
    states_total = dict.fromkeys(STATES, 0)
    for (_, state, due), n in counts.items():
        if state in states_total:
            states_total[state] += n
        step = STEP_OF_STATE.get(state)
        if step is None or due is None:
            continue
        if due <= horizon:
            entry = by_step.setdefault(step, {"lagging": 0, "overdue": 0})
            entry["lagging"] += n
            if due < today:
                entry["overdue"] += n
        if today <= due <= last_coming:
            coming[(due.isoformat(), step)] = coming.get((due.isoformat(), step), 0) + n
    return {
        "year": year,
        "kind": kind,
        "today": today.isoformat(),
        "reminder_window_days": window,
        "funnel": funnel_by_level(counts),
        "states": states_total,
        "total": sum(states_total.values()),
        "open": sum(n for s, n in states_total.items() if s in OPEN_STATES),
        "lagging": sum(e["lagging"] for e in by_step.values()),
        "overdue": sum(e["overdue"] for e in by_step.values()),
        "lagging_by_step": by_step,
        "coming": [{"due": d, "step": s, "count": n} for (d, s), n in sorted(coming.items())],
    }


def _org(conn: sa.Connection, code: str) -> sa.Row[Any]:
    row = conn.execute(sa.select(orgs).where(orgs.c.code == code)).first()
    if row is None:
        raise NotFound("org.not_found", code=code)
    return row


def _crumbs(conn: sa.Connection, path: str) -> list[dict[str, str]]:
    codes = [c for c in path.strip("/").split("/") if c]
    names = dict(conn.execute(sa.select(orgs.c.code, orgs.c.name).where(orgs.c.code.in_(codes))).all())
    return [{"code": c, "name": names.get(c, c)} for c in codes]


class _strpos(GenericFunction[int]):
    """The 1-based position of a substring (0 when absent): `strpos` on PostgreSQL, `instr` on SQLite."""

    type = sa.Integer()
    name = "strpos"
    inherit_cache = True


@compiles(_strpos, "sqlite")
def _instr(element: _strpos, compiler: Any, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


@functools.cache
def _subtree_summary() -> sa.Select[str, int, Any, Any, Any, Any]:
    """Per child on a page of the drill-down, the cycles below it: one statement whatever the page.

    A page of children is contiguous in path order, so their subtrees together are one indexed path range
    (`below`, materialized: left to itself the planner reads every cycle of the year through the (year, kind, …)
    index). Each organization below belongs to the child whose path is its own path cut after the next '/'
    past the parent's path (`:cut` characters): a linear GROUP BY. A CASE over each child's range had 150
    parameters, built on every page, and was evaluated up to 50 times per row."""
    below = (sa.select(orgs.c.id, orgs.c.path)
             .where(orgs.c.path > sa.bindparam("low"), orgs.c.path < sa.bindparam("high"))
             .cte("below").prefix_with("MATERIALIZED"))
    cut = sa.bindparam("cut", type_=sa.Integer)
    child_length = cut + _strpos(sa.func.substr(below.c.path, cut + 1), "/")
    child_path = sa.func.substr(below.c.path, 1, child_length, type_=sa.String).label("child")
    due_by, before = sa.bindparam("horizon", type_=sa.Date), sa.bindparam("today", type_=sa.Date)
    return (
        sa.select(
            child_path,
            sa.func.count(cycles.c.id),
            sa.func.sum(sa.case((cycles.c.state == "closed", 1), else_=0)),
            sa.func.sum(sa.case((cycles.c.due <= due_by, 1), else_=0)),
            sa.func.sum(sa.case((cycles.c.due < before, 1), else_=0)),
            sa.func.sum(sa.case((cycles.c.state.in_(("researching", "drafting", "revising")), 1), else_=0)),
        )
        .select_from(below.join(cycles, sa.and_(cycles.c.org_id == below.c.id, cycles.c.year == sa.bindparam("year"),
                                                cycles.c.kind == sa.bindparam("kind"))))
        .where(sa.func.length(below.c.path) > child_length)  # below a child, not the child itself
        .group_by(child_path)
    )


_own = cycles.alias("own")  # built once: an alias sets up its columns anew each time it is made


def drill(db: Database, *, year: int, today: date, code: str | None = None, kind: str = "upward",
          offset: int = 0, limit: int = 50) -> dict[str, Any]:
    """One node of the tree and a page of its children: each child's own cycle (state, step, due) and a summary of
    the cycles in its subtree. Without a code: the top of the tree."""
    check_kind(kind)
    if offset < 0 or not 1 <= limit <= 500:
        raise BadInput("page.bad")
    with db.connect() as conn:
        _require_year(conn, year)
        window = reminder_window_days(conn, year)
        horizon = lagging_horizon(today, window_days=window)
        if not code:
            code = _top_assessed(conn, year, kind)
        node = _org(conn, code) if code else None
        parent_filter = orgs.c.parent_id == node.id if node is not None else orgs.c.parent_id.is_(None)
        total_children = conn.execute(sa.select(sa.func.count()).select_from(orgs).where(parent_filter)).scalar_one()
        own = _own
        children = conn.execute(
            sa.select(orgs.c.id, orgs.c.code, orgs.c.name, orgs.c.kind, orgs.c.path, orgs.c.secretary,
                      own.c.state, own.c.due, own.c.meeting_on, own.c.returns)
            .select_from(orgs.outerjoin(own, sa.and_(own.c.org_id == orgs.c.id, own.c.year == year, own.c.kind == kind)))
            .where(parent_filter)
            .order_by(orgs.c.path)
            .offset(offset)
            .limit(limit)
        ).all()
        summaries: dict[int, dict[str, int]] = {}
        if children:
            params = {"low": children[0].path, "high": subtree_bounds(children[-1].path)[1],
                      "cut": len(node.path) if node is not None else 1, "year": year, "kind": kind,
                      "horizon": horizon, "today": today}
            id_of = {c.path: c.id for c in children}
            for row in conn.execute(_subtree_summary(), params):
                if row[0] not in id_of:  # below the last child's range start but not on this page: impossible
                    continue
                summaries[id_of[row[0]]] = {"cycles": row[1], "closed": int(row[2] or 0), "lagging": int(row[3] or 0),
                                            "overdue": int(row[4] or 0), "not_submitted": int(row[5] or 0)}
        node_cycle = None
        if node is not None:
            mine = conn.execute(
                sa.select(cycles.c.state, cycles.c.due, cycles.c.meeting_on)
                .where(cycles.c.org_id == node.id, cycles.c.year == year, cycles.c.kind == kind)
            ).first()
            if mine is not None:
                node_cycle = _cycle_summary(mine.state, mine.due, mine.meeting_on, today)
        return {
            "year": year,
            "kind": kind,
            "today": today.isoformat(),
            "node": None if node is None else {"code": node.code, "name": node.name, "kind": node.kind,
                                               "cycle": node_cycle},
            "crumbs": _crumbs(conn, node.path) if node is not None else [],
            "children_total": total_children,
            "offset": offset,
            "limit": limit,
            "children": [
                {
                    "code": c.code,
                    "name": c.name,
                    "kind": c.kind,
                    "secretary": c.secretary,
                    "cycle": _cycle_summary(c.state, c.due, c.meeting_on, today) if c.state else None,
                    "subtree": summaries.get(c.id, {"cycles": 0, "closed": 0, "lagging": 0, "overdue": 0, "not_submitted": 0}),
                }
                for c in children
            ],
        }


def _top_assessed(conn: sa.Connection, year: int, kind: str) -> str | None:
    """Where the tree starts: down a chain of lone organizations without a cycle (a prefecture above the one
    assessed city) to the first that has one; None when the top has several organizations."""
    parent: int | None = None
    for _ in range(8):
        level = conn.execute(
            sa.select(orgs.c.id, orgs.c.code).where(orgs.c.parent_id == parent if parent is not None else orgs.c.parent_id.is_(None))
            .limit(2)
        ).all()
        if len(level) != 1:
            return None
        only = level[0]
        has_cycle = conn.execute(
            sa.select(cycles.c.id).where(cycles.c.org_id == only.id, cycles.c.year == year, cycles.c.kind == kind)
        ).first()
        if has_cycle is not None:
            return str(only.code)
        parent = only.id
    return None


def _cycle_summary(state: str, due: date | None, meeting_on: date | None, today: date) -> dict[str, Any]:
    return {"state": state, "step": STEP_OF_STATE.get(state), "due": due.isoformat() if due else None,
            "overdue": is_overdue(due, today), "meeting": meeting_on.isoformat() if meeting_on else None}


_organizer = orgs.alias("organizer")
_UNIT_OF_CYCLE = (  # the unit, the committee that organizes its meeting and the meeting's date: one read
    sa.select(orgs.c.name, orgs.c.kind, orgs.c.secretary, orgs.c.phone, orgs.c.email, orgs.c.path,
              _organizer.c.code.label("organizer"), _organizer.c.name.label("organizer_name"), meetings.c.held_on)
    .select_from(orgs.join(_organizer, _organizer.c.id == sa.bindparam("organizer_id"))
                 .outerjoin(meetings, meetings.c.id == sa.bindparam("meeting_id")))
    .where(orgs.c.id == sa.bindparam("org_id"))
)


def cycle_page(db: Database, *, year: int, org: str, kind: str = "upward", today: date) -> dict[str, Any]:
    """Everything a cycle's page shows: state, deadlines, history, the unit and who organizes its meeting."""
    check_kind(kind)
    with db.connect() as conn:
        return cycle_page_of(conn, find_cycle(conn, year=year, org=org, kind=kind), year=year, org=org, kind=kind,
                             today=today)


def cycle_page_of(conn: sa.Connection, row: CycleRow, *, year: int, org: str, kind: str, today: date) -> dict[str, Any]:
    """`cycle_page` of a cycle already loaded (find_cycle) on `conn`: the pages that also show the cycle's extras
    and buttons resolve it once."""
    data = cycle_view(conn, row, year=year, org=org, kind=kind, today=today)
    unit = conn.execute(_UNIT_OF_CYCLE, {"organizer_id": row.organizer_id, "meeting_id": row.meeting_id,
                                         "org_id": row.org_id}).one()
    data.update(
        {
            "name": unit.name,
            "org_kind": unit.kind,
            "secretary": unit.secretary,
            "phone": mask_phone(unit.phone),
            "email": mask_email(unit.email),
            "organizer": unit.organizer,
            "organizer_name": unit.organizer_name,
            "meeting_held_on": unit.held_on.isoformat() if unit.held_on else None,
            "crumbs": _crumbs(conn, unit.path),
        }
    )
    return data
