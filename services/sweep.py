"""The deadline sweep (R20–R22): one indexed selection of due and overdue cycles, one keyed insert into the outbox.

Nothing here loops over cycles in Python. Each message variant (reminder before the due date, due today,
overdue, escalation) is a SELECT over the lagging cycles; their union is inserted with
`INSERT … SELECT … ON CONFLICT (key) DO NOTHING`, so a second sweep — or two at once — queues nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from services.errors import NotFound, Refused, failure_text
from states.machine import OPEN_STATES, OWNER_OF_STEP, STATE_LABELS, STEP_LABELS, STEP_OF_STATE
from states.plan import YearPlan, plan_from_stored
from storage.db import Database, to_db_time
from storage.statistics import refresh_stale_statistics
from storage.tables.core import cycles, orgs, years
from storage.tables.notify import outbox

# States whose step is owed by the organizer (its reviewer for `review`), not by the reporting secretary.
ORGANIZER_STATES: tuple[str, ...] = tuple(
    state for state, step in STEP_OF_STATE.items() if OWNER_OF_STEP[step] in ("reviewer", "organizer")
)
REMINDED_STATES: tuple[str, ...] = tuple(
    state for state in OPEN_STATES if state in STEP_OF_STATE and OWNER_OF_STEP[STEP_OF_STATE[state]] != "org_department"
)
CHANNELS = ("sms", "email")


@dataclass
class SweepResult:
    checked: int = 0
    lagging: int = 0
    queued: int = 0
    escalated: int = 0
    years: list[int] = field(default_factory=list)
    by_organizer: list[dict[str, Any]] = field(default_factory=list)  # only when asked (flows' artifact)
    failed_years: dict[int, str] = field(default_factory=dict)  # a year that could not be swept (H1), the others were

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"checked": self.checked, "lagging": self.lagging, "queued": self.queued,
                               "escalated": self.escalated}
        if self.failed_years:
            out["failed_years"] = [{"year": y, "error": e} for y, e in sorted(self.failed_years.items())]
        return out


def insert_ignoring_duplicates(conn: sa.Connection, table: sa.Table, columns: list[str], select: sa.Select[Any]) -> int:
    """`INSERT … SELECT … ON CONFLICT DO NOTHING` on the dialect at hand; returns the rows inserted."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # psycopg reports no rowcount for INSERT … SELECT through SQLAlchemy 2.1: count the RETURNING rows server-side.
        inserted = (
            postgresql.insert(table).from_select(columns, select).on_conflict_do_nothing()
            .returning(sa.literal_column("1")).cte("inserted")
        )
        return conn.execute(sa.select(sa.func.count()).select_from(inserted)).scalar_one()
    if dialect == "sqlite":
        statement: Any = sqlite.insert(table).from_select(columns, select).on_conflict_do_nothing()
    else:  # pragma: no cover - we ship SQLite and PostgreSQL only
        raise NotImplementedError(dialect)
    return conn.execute(statement).rowcount or 0


def _step_expr() -> sa.ColumnElement[str]:
    return sa.case({state: step for state, step in STEP_OF_STATE.items()}, value=cycles.c.state, else_=sa.null())


# The organization whose contact owes the cycle's current step (joined as `OWNER` by the message selects).
OWNER = orgs.alias("owner")


def owner_of_step() -> sa.ColumnElement[Any]:
    """Who owes the step now: the organizer (its reviewer for `review`) or the reporting unit itself."""
    return sa.case((cycles.c.state.in_(ORGANIZER_STATES), cycles.c.organizer_id), else_=cycles.c.org_id)


def _deadline_messages(template: str, where: sa.ColumnElement[bool], marker: sa.ColumnElement[str],
                       days: sa.ColumnElement[Any], recipient: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """One message variant about the cycles `where` selects, addressed to `recipient` (an `OWNER` column):
    the shape `_insert_messages` fans out to SMS and e-mail. The sweep and `remind_now` both build theirs here."""
    return (
        sa.select(
            cycles.c.org_id.label("org_id"),
            recipient.label("recipient_org_id"),
            cycles.c.kind.label("cycle_kind"),
            _step_expr().label("step"),
            sa.literal(template).label("template"),
            cycles.c.due.label("due"),
            days.label("days"),
            marker.label("marker"),
        )
        .select_from(cycles.join(OWNER, OWNER.c.id == owner_of_step()))
        .where(where)
    )


def _as_text(value: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    return sa.cast(value, sa.String)


def _message_columns() -> list[str]:
    return ["key", "year", "org_id", "recipient_org_id", "cycle_kind", "step", "template", "channel", "address",
            "due", "days", "status", "attempts", "created_at"]


def _sweep_year(conn: sa.Connection, *, year: int, plan: YearPlan, now: datetime) -> SweepResult:
    today = now.astimezone(ZoneInfo(plan.timezone)).date()
    rules = plan.reminders
    thresholds = sorted(b for b in rules.before_days if b > 0)
    horizon = today + timedelta(days=max(thresholds, default=0))
    stamp = to_db_time(now)

    lagging = sa.and_(
        cycles.c.year == year,
        cycles.c.due.is_not(None),
        cycles.c.due <= horizon,
        cycles.c.state.in_(REMINDED_STATES),
    )
    owner = OWNER

    def variant(template: str, condition: sa.ColumnElement[bool], marker: sa.ColumnElement[str],
                days: sa.ColumnElement[Any], recipient: sa.ColumnElement[Any]) -> sa.Select[Any]:
        return _deadline_messages(template, sa.and_(lagging, condition), marker, days, recipient)

    due_text = _as_text(cycles.c.due)
    variants: list[sa.Select[Any]] = []
    if thresholds:
        days_case = sa.case(
            *[(cycles.c.due <= today + timedelta(days=b), sa.literal(b, sa.Integer)) for b in thresholds], else_=sa.null()
        )
        variants.append(variant(
            "reminder", cycles.c.due > today, due_text + sa.literal(":b") + _as_text(days_case), days_case, owner.c.id,
        ))
    variants.append(variant("due_today", cycles.c.due == today, due_text, sa.literal(0, sa.Integer), owner.c.id))
    variants.append(variant(
        "overdue", cycles.c.due < today, sa.literal(today.isoformat()), sa.cast(sa.null(), sa.Integer), owner.c.id,
    ))
    reminders_union = sa.union_all(*variants).subquery("m")
    escalation = variant(
        "escalation",
        sa.and_(cycles.c.due <= today - timedelta(days=rules.escalate_after_days), owner.c.parent_id.is_not(None)),
        due_text, sa.cast(sa.null(), sa.Integer), owner.c.parent_id,
    ).subquery("m")

    queued = _insert_messages(conn, reminders_union, year=year, stamp=stamp)
    queued += _insert_messages(conn, _work_plan_reminders(year=year, today=today), year=year, stamp=stamp)
    escalated = _insert_messages(conn, escalation, year=year, stamp=stamp)
    counts = conn.execute(
        sa.select(
            sa.func.count().label("checked"),
            sa.func.count().filter(sa.and_(cycles.c.due.is_not(None), cycles.c.due <= horizon)).label("lagging"),
        ).where(cycles.c.year == year, cycles.c.state.in_(REMINDED_STATES))
    ).one()
    return SweepResult(checked=counts.checked, lagging=counts.lagging, queued=queued + escalated, escalated=escalated,
                       years=[year])


WORK_PLAN_ORGANIZER_KINDS = ("town", "subdistrict", "farm", "city_unit")
WORK_PLAN_LEAD_DAYS = 7


def _work_plan_reminders(*, year: int, today: Any) -> sa.Subquery:
    """R9: organizers (towns, city units) with no work plan filed: once after launch, once more a week before their meeting."""
    from storage.tables.core import meetings
    from storage.tables.review import work_plans

    organizer = orgs.alias("wp_organizer")
    missing = ~sa.exists().where(work_plans.c.year == year, work_plans.c.organizer_id == meetings.c.organizer_id)
    week_before = meetings.c.held_on <= today + timedelta(days=WORK_PLAN_LEAD_DAYS)
    marker = sa.case((week_before, sa.literal("week_before")), else_=sa.literal("launched"))
    return (
        sa.select(
            meetings.c.organizer_id.label("org_id"),
            meetings.c.organizer_id.label("recipient_org_id"),
            sa.literal("-").label("cycle_kind"),
            sa.literal("work_plan").label("step"),
            sa.literal("work_plan").label("template"),
            meetings.c.held_on.label("due"),
            sa.cast(sa.null(), sa.Integer).label("days"),
            marker.label("marker"),
        )
        .select_from(meetings.join(organizer, organizer.c.id == meetings.c.organizer_id))
        .where(meetings.c.year == year, organizer.c.kind.in_(WORK_PLAN_ORGANIZER_KINDS), meetings.c.held_on >= today, missing)
        .subquery("m")
    )


def _insert_messages(conn: sa.Connection, messages: sa.Subquery, *, year: int, stamp: datetime,
                     note: str | None = None) -> int:
    """Fan each message out to the recipient's phone (sms) and address (email), keyed for exactly once."""
    recipient = orgs.alias("recipient")
    channel = sa.union_all(
        sa.select(sa.literal("sms").label("channel")), sa.select(sa.literal("email").label("channel"))
    ).subquery("ch")
    address = sa.case((channel.c.channel == "sms", recipient.c.phone), else_=recipient.c.email)
    key = (
        sa.literal(f"{year}:") + _as_text(messages.c.org_id) + ":" + messages.c.cycle_kind + ":" + messages.c.step
        + ":" + messages.c.template + ":" + messages.c.marker + ":" + channel.c.channel
    )
    select = (
        sa.select(
            key.label("key"),
            sa.literal(year).label("year"),
            messages.c.org_id,
            messages.c.recipient_org_id,
            messages.c.cycle_kind,
            messages.c.step,
            messages.c.template,
            channel.c.channel,
            address.label("address"),
            messages.c.due,
            messages.c.days,
            sa.literal("queued").label("status"),
            sa.literal(0).label("attempts"),
            sa.literal(stamp, sa.DateTime()).label("created_at"),
        )
        .select_from(messages.join(recipient, recipient.c.id == messages.c.recipient_org_id).join(channel, sa.true()))
        .where(address != "")
    )
    columns = _message_columns()
    if note is not None:
        select = select.add_columns(sa.literal(note, sa.Text()).label("note"))
        columns.append("note")
    return insert_ignoring_duplicates(conn, outbox, columns, select)


def open_years(conn: sa.Connection) -> list[int]:
    """Launched years that still have an open cycle."""
    return list(
        conn.execute(
            sa.select(years.c.year)
            .where(sa.exists().where(cycles.c.year == years.c.year, cycles.c.state.in_(REMINDED_STATES)))
            .order_by(years.c.year)
        ).scalars()
    )


def sweep_deadlines(db: Database, *, now: datetime, year: int | None = None, summary: bool = False) -> SweepResult:
    """Queue reminders, due-today and overdue notices and escalations for every lagging cycle (one transaction per year)."""
    total = SweepResult()
    with db.begin() as conn:  # plans that do not depend on luck: statistics refreshed where the tables changed
        refresh_stale_statistics(conn, ("orgs", "cycles"))
    with db.connect() as conn:
        if year is not None:
            if conn.execute(sa.select(years.c.year).where(years.c.year == year)).first() is None:
                raise NotFound("year.not_launched", year=year)
            targets = [year]
        else:
            targets = open_years(conn)
    for target in targets:
        try:  # one year at a time, each isolated: a bad stored plan (an unknown time zone…) stops only its year (H1)
            with db.begin() as conn:
                stored = conn.execute(sa.select(years.c.plan).where(years.c.year == target)).scalar_one()
                plan = plan_from_stored(stored)
                result = _sweep_year(conn, year=target, plan=plan, now=now)
                if summary:
                    total.by_organizer.extend(_lagging_by_organizer(conn, year=target, plan=plan, now=now))
        except sa.exc.DBAPIError:
            raise  # the database itself: not one year's problem
        except Exception as error:  # PlanError, ZoneInfoNotFoundError, ValueError of a path-like zone…
            total.failed_years[target] = failure_text(error)[:300]
            continue
        total.checked += result.checked
        total.lagging += result.lagging
        total.queued += result.queued
        total.escalated += result.escalated
        total.years.append(target)
    return total


def _lagging_by_organizer(conn: sa.Connection, *, year: int, plan: YearPlan, now: datetime) -> list[dict[str, Any]]:
    today = now.astimezone(ZoneInfo(plan.timezone)).date()
    horizon = today + timedelta(days=plan.reminders.window_days)
    organizer = orgs.alias("organizer")
    rows = conn.execute(
        sa.select(
            organizer.c.code, organizer.c.name, sa.func.count().label("lagging"),
            sa.func.count().filter(cycles.c.due < today).label("overdue"),
        )
        .select_from(cycles.join(organizer, organizer.c.id == cycles.c.organizer_id))
        .where(cycles.c.year == year, cycles.c.due.is_not(None), cycles.c.due <= horizon,
               cycles.c.state.in_(REMINDED_STATES))
        .group_by(organizer.c.code, organizer.c.name)
        .order_by(sa.func.count().desc(), organizer.c.code)
    )
    return [{"year": year, "organizer": r.code, "name": r.name, "lagging": r.lagging, "overdue": r.overdue} for r in rows]


MANUAL_MARKER = "manual"


def remind_now(db: Database, *, year: int, org: str, now: datetime, by: str, kind: str = "upward") -> dict[str, Any]:
    """"Remind now" for one cycle: its current step's notice to whoever owes it, by SMS and e-mail, at once.

    The sweep's message for the day (reminder before the due date, due today, overdue), built by the sweep's own
    select, with a marker of the minute (`…:manual:2014-12-18T09:05`) instead of the threshold or day: a second
    click within the minute queues nothing, a click a minute later queues again, and the day's sweep notices are
    untouched. Who asked is kept in the message's `note` (the deadline templates do not show it)."""
    from services.cycles import check_kind, find_cycle

    check_kind(kind)
    with db.begin() as conn:
        stored = conn.execute(sa.select(years.c.plan).where(years.c.year == year)).scalar()
        if stored is None:
            raise NotFound("year.not_launched", year=year)
        cycle = find_cycle(conn, year=year, org=org, kind=kind)
        if conn.dialect.name == "postgresql":  # hold the cycle still while its step's notice is queued
            conn.execute(sa.select(cycles.c.id).where(cycles.c.id == cycle.id).with_for_update())
            cycle = find_cycle(conn, year=year, org=org, kind=kind)
        step = STEP_OF_STATE.get(cycle.state)
        if cycle.state not in REMINDED_STATES or step is None:
            raise Refused("remind.no_step", org=org, year=year, state=cycle.state,
                          state_label=STATE_LABELS.get(cycle.state, cycle.state))
        if cycle.due is None:
            raise Refused("remind.no_due", org=org, year=year, step=step, step_label=STEP_LABELS.get(step, step))
        plan = plan_from_stored(stored)
        local = now.astimezone(ZoneInfo(plan.timezone))
        today = local.date()
        days: sa.ColumnElement[Any]
        if cycle.due > today:
            template, days = "reminder", sa.literal((cycle.due - today).days, sa.Integer)
        elif cycle.due == today:
            template, days = "due_today", sa.literal(0, sa.Integer)
        else:
            template, days = "overdue", sa.cast(sa.null(), sa.Integer)
        marker = sa.literal(f"{MANUAL_MARKER}:{local:%Y-%m-%dT%H:%M}")
        this_cycle = sa.and_(cycles.c.id == cycle.id, cycles.c.version == cycle.version)
        messages = _deadline_messages(template, this_cycle, marker, days, OWNER.c.id).subquery("m")
        queued = _insert_messages(conn, messages, year=year, stamp=to_db_time(now), note=f"立即提醒：{by}")
        recipient = conn.execute(
            sa.select(OWNER.c.code, OWNER.c.name, OWNER.c.phone, OWNER.c.email)
            .select_from(cycles.join(OWNER, OWNER.c.id == owner_of_step()))
            .where(cycles.c.id == cycle.id)
        ).one()
    return {
        "year": year, "org": org, "kind": kind, "step": step, "template": template, "due": cycle.due.isoformat(),
        "recipient": recipient.code, "recipient_name": recipient.name,
        "channels": [c for c, address in (("sms", recipient.phone), ("email", recipient.email)) if address],
        "queued": queued, "by": by,
    }
