"""Launching a year: the top-down cascade of R5–R7, set-based and idempotent."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput, NotFound
from services.orgs import in_subtree
from states.orgs import meeting_level_key
from states.plan import PlanError, YearPlan, parse_plan, plan_from_stored, plan_to_dict
from storage.db import Database, to_db_time
from storage.tables.core import cycles, meetings, orgs, years


@dataclass
class LaunchResult:
    year: int
    created: int = 0
    existing: int = 0
    meetings_created: int = 0
    meetings_existing: int = 0
    organizations: int = 0
    relaunch: bool = False
    by_kind: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "created": self.created,
            "existing": self.existing,
            "meetings_created": self.meetings_created,
            "meetings_existing": self.meetings_existing,
            "organizations": self.organizations,
            "relaunch": self.relaunch,
            "created_by_kind": self.by_kind,
        }


MAX_PLAN_CHARS = 1_000_000  # a plan is a few KB; the web upload limit is the same


def load_plan_text(text: str, *, year: int | None = None) -> YearPlan:
    """Parse and validate a plan file's text (no database); `BadInput` names every problem."""
    if len(text) > MAX_PLAN_CHARS:
        raise BadInput("plan.too_large", limit=MAX_PLAN_CHARS // 1000)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BadInput("plan.not_toml", detail=str(error)) from None
    except RecursionError:  # thousands of nested brackets: tomllib recurses per level
        raise BadInput("plan.too_deep") from None
    try:
        plan = parse_plan(data)
    except PlanError as error:
        raise BadInput("plan.invalid", problems=list(error.problems), count=len(error.problems),
                       first=error.problems[0]) from None
    if year is not None and plan.year != year:
        raise BadInput("plan.year_mismatch", file_year=plan.year, year=year)
    return plan


def get_plan(db: Database, year: int) -> YearPlan:
    with db.connect() as conn:
        stored = conn.execute(sa.select(years.c.plan).where(years.c.year == year)).scalar()
    if stored is None:
        raise NotFound("year.not_launched_hint", year=year)
    return plan_from_stored(stored)


def _organizers(conn: sa.Connection) -> list[sa.Row[Any]]:
    """Every organization that hears at least one assessed child: the meetings of the year."""
    child = orgs.alias("child")
    return list(
        conn.execute(
            sa.select(orgs.c.id, orgs.c.code, orgs.c.kind, orgs.c.parent_id, orgs.c.path)
            .where(sa.exists().where(child.c.parent_id == orgs.c.id, child.c.kind != "prefecture"))
        )
    )


def _meeting_dates(plan: YearPlan, organizers: Sequence[sa.Row[Any]], all_codes: set[str]) -> dict[int, date]:
    problems = [
        f"meetings.by_organizer.{code}：没有编码为 '{code}' 的组织"
        for code in plan.by_organizer
        if code not in all_codes
    ]
    dates = {
        o.id: plan.meeting_for(organizer_code=o.code, level_key=meeting_level_key(o.kind)) for o in organizers
    }
    by_id = {o.id: o for o in organizers}
    for organizer in organizers:
        parent = by_id.get(organizer.parent_id) if organizer.parent_id else None
        if parent is not None and dates[organizer.id] < dates[parent.id]:
            problems.append(
                f"meetings：{organizer.code} 的会议（{dates[organizer.id]}）早于其本身述职的会议"
                f"（{parent.code}，{dates[parent.id]}）：述职自上而下逐级进行"
            )
    if problems:
        raise BadInput("plan.invalid", problems=problems, count=len(problems), first=problems[0])
    return dates


def start_year(
    db: Database,
    *,
    plan_text: str,
    year: int,
    now: datetime,
    by: str = "admin",
    progress: Callable[[int, int], None] | None = None,
    subtrees: Sequence[str] | None = None,
) -> LaunchResult:
    """Create, top-down, an `upward` and an `own_level` cycle for every assessed organization.

    One transaction. Relaunching creates only what is missing (new organizations, new organizers);
    existing meetings and cycles are never touched (move a meeting with `meetings move`).
    """
    plan = load_plan_text(plan_text, year=year)
    stamp = to_db_time(now)
    with db.begin() as conn:
        organizers = _organizers(conn)
        all_codes = set(conn.execute(sa.select(orgs.c.code)).scalars())
        if not all_codes:
            raise BadInput("year.no_orgs")
        dates = _meeting_dates(plan, organizers, all_codes)
        launched = conn.execute(sa.select(years.c.year).where(years.c.year == year)).scalar() is not None
        if launched:
            conn.execute(
                years.update().where(years.c.year == year).values(
                    plan=plan_to_dict(plan), plan_text=plan_text, relaunched_at=stamp
                )
            )
        else:
            conn.execute(
                years.insert().values(
                    year=year, plan=plan_to_dict(plan), plan_text=plan_text, launched_at=stamp, launched_by=by
                )
            )
        existing_meetings = set(
            conn.execute(sa.select(meetings.c.organizer_id).where(meetings.c.year == year)).scalars()
        )
        from services.workdays import plan_step_dues

        new_meetings = [
            {"year": year, "organizer_id": oid, "held_on": held_on, **plan_step_dues(conn, plan, held_on)}
            for oid, held_on in dates.items()
            if oid not in existing_meetings
        ]
        if new_meetings:
            conn.execute(meetings.insert(), new_meetings)
        before = _count_cycles(conn, year)
        roots = list(subtrees) if subtrees else ["/"]
        for done, root in enumerate(roots, start=1):
            cascade_subtree(conn, year=year, plan=plan, root_path=root, stamp=stamp, fresh=before == 0)
            if progress:
                progress(done, len(roots))
        after = _count_cycles(conn, year)
        by_kind = {
            kind: count
            for kind, count in conn.execute(
                sa.select(cycles.c.kind, sa.func.count()).where(cycles.c.year == year).group_by(cycles.c.kind)
            )
        }
        if after - before > 10_000:
            # a large cascade leaves the planners' statistics stale (PostgreSQL then looked one cycle up by a
            # year-wide index scan, SQLite read every cycle for a town's drill-down): refresh them now
            conn.execute(sa.text("ANALYZE cycles"))
            conn.execute(sa.text("ANALYZE meetings"))
        assessed = conn.execute(sa.select(sa.func.count()).select_from(orgs).where(orgs.c.kind != "prefecture")).scalar_one()
    return LaunchResult(
        year=year,
        created=after - before,
        existing=before,
        meetings_created=len(new_meetings),
        meetings_existing=len(existing_meetings),
        organizations=assessed,
        relaunch=launched,
        by_kind=by_kind,
    )


def _count_cycles(conn: sa.Connection, year: int) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(cycles).where(cycles.c.year == year)).scalar_one()


def cascade_subtree(conn: sa.Connection, *, year: int, plan: YearPlan, root_path: str, stamp: datetime,
                    fresh: bool = False) -> int:
    """Two set-based statements: the missing `upward` cycles (dates from their organizer's meeting)
    and the missing `own_level` cycles, for the organizations under `root_path`.

    `fresh`: the year has no cycles yet, so nothing can be missing twice and the anti-join is skipped
    (on PostgreSQL it cost as much as the insert itself at national scale)."""
    assessed = sa.and_(orgs.c.kind != "prefecture", in_subtree(orgs.c.path, root_path) if root_path != "/" else sa.true())
    if root_path == "/":
        source: Any = orgs
        source_where: sa.ColumnElement[bool] = orgs.c.kind != "prefecture"
    else:
        # the subtree's organizations first (an indexed path range), then their organizers' meetings: without
        # the materialized step planners start from the year's meetings and read every organization per subtree
        source = (
            sa.select(orgs.c.id, orgs.c.parent_id).where(assessed).cte("subtree").prefix_with("MATERIALIZED")
        )
        source_where = sa.true()

    def missing(kind: str, org_id: Any = orgs.c.id) -> sa.ColumnElement[bool]:
        if fresh:
            return sa.true()
        return ~sa.exists().where(cycles.c.year == year, cycles.c.org_id == org_id, cycles.c.kind == kind)

    due_columns = ["submit_due", "review_due", "present_due", "evaluate_due", "feedback_due", "commitment_due"]
    upward = sa.select(
        sa.literal(year).label("year"),
        source.c.id,
        sa.literal("upward").label("kind"),
        meetings.c.organizer_id,
        meetings.c.id.label("meeting_id"),
        meetings.c.held_on,
        sa.literal("researching").label("state"),
        meetings.c.submit_due.label("due"),
        *[meetings.c[c] for c in due_columns],
        sa.literal(stamp, sa.DateTime()).label("updated_at"),
    ).select_from(
        source.join(meetings, sa.and_(meetings.c.organizer_id == source.c.parent_id, meetings.c.year == year))
    ).where(source_where, missing("upward", source.c.id))
    columns = ["year", "org_id", "kind", "organizer_id", "meeting_id", "meeting_on", "state", "due",
               *due_columns, "updated_at"]
    created = conn.execute(cycles.insert().from_select(columns, upward)).rowcount or 0

    assert plan.own_level_deadline is not None
    from services.workdays import plan_step_dues

    own_dues = plan_step_dues(conn, plan, plan.own_level_deadline)
    own = sa.select(
        sa.literal(year).label("year"),
        orgs.c.id,
        sa.literal("own_level").label("kind"),
        orgs.c.id.label("organizer_id"),
        sa.literal(None, sa.Integer()).label("meeting_id"),
        sa.literal(plan.own_level_deadline, sa.Date()).label("meeting_on"),
        sa.literal("researching").label("state"),
        sa.literal(own_dues["submit_due"], sa.Date()).label("due"),
        *[sa.literal(own_dues[c], sa.Date()).label(c) for c in due_columns],
        sa.literal(stamp, sa.DateTime()).label("updated_at"),
    ).where(assessed, missing("own_level"))
    created += conn.execute(cycles.insert().from_select(columns, own)).rowcount or 0
    return created


def cascade_roots(db: Database) -> list[str]:
    """Paths of the subtrees a cascade can be cut into: the cities under each top organization, in order
    (plus any top organization that is itself assessed). Lets a long launch show progress or fan out."""
    top = orgs.alias("top")
    with db.connect() as conn:
        paths = list(conn.execute(
            sa.select(orgs.c.path).select_from(orgs.join(top, top.c.id == orgs.c.parent_id))
            .where(top.c.parent_id.is_(None)).order_by(orgs.c.path)
        ).scalars())
        paths += list(conn.execute(
            sa.select(orgs.c.path).where(orgs.c.parent_id.is_(None), orgs.c.kind != "prefecture")
        ).scalars())
    return paths


def list_years(db: Database) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(sa.select(years.c.year, years.c.launched_at, years.c.launched_by).order_by(years.c.year))
        return [{"year": r.year, "launched_at": r.launched_at.isoformat(), "launched_by": r.launched_by} for r in rows]
