"""The outbox dispatcher: claim, close the session, send, record — with backoff, reclaim, quiet hours, rate limits, digests.

A message leaves `queued` only through a claim (status `sending` with a fresh claim token, in one short
transaction; on PostgreSQL the candidates are locked `FOR UPDATE SKIP LOCKED`). The provider is called with
no database session open. The outcome is recorded only on rows that still carry this claim's token.
Claims a crash left behind are put back to `queued` after a grace period.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from notifications.channels import Channel, DeliveryError, OutgoingMessage, PermanentFailure
from notifications.render import Renderer
from services.errors import BadInput, NotFound
from states.machine import STEP_LABELS, STEP_OF_STATE
from states.plan import ReminderRules, plan_from_stored
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import cycles, orgs, years
from storage.tables.notify import outbox

MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(minutes=1)  # 1, 4, 16, 64 minutes, ~4 h: a provider outage of an afternoon is ridden out
RECLAIM_GRACE = timedelta(minutes=10)
STATUSES = ("queued", "sending", "sent", "failed", "cancelled")
DEADLINE_TEMPLATES = ("reminder", "due_today", "overdue", "escalation")
KIND_LABELS = {"upward": "向上级述职", "own_level": "向本级述职"}
PLAN_TZ = ZoneInfo("Asia/Shanghai")


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed tries."""
    return BACKOFF_BASE * (4 ** max(attempts - 1, 0))


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0  # messages recorded as sent
    deliveries: int = 0  # provider calls that succeeded (a digest is one delivery of several messages)
    retried: int = 0
    failed: int = 0
    held: int = 0  # SMS waiting for quiet hours to end or for a rate limit
    reclaimed: int = 0
    cancelled: int = 0  # deadline notices whose step was done before they went out
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"claimed": self.claimed, "sent": self.sent, "deliveries": self.deliveries, "retried": self.retried,
                "failed": self.failed, "held": self.held, "reclaimed": self.reclaimed, "cancelled": self.cancelled}


def in_quiet_hours(moment: datetime, quiet_hours: str, tz: ZoneInfo = PLAN_TZ) -> bool:
    """`22:00-08:00` in the plan's zone: a window that may wrap midnight."""
    start_text, end_text = (part.strip() for part in quiet_hours.split("-", 1))
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    local = moment.astimezone(tz).time()
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


@dataclass
class _Limits:
    quiet_years: set[int]
    per_minute: int
    per_phone_per_day: int


def _limits(conn: sa.Connection, now: datetime) -> _Limits:
    rules: dict[int, tuple[ReminderRules, str]] = {}
    for year, stored in conn.execute(sa.select(years.c.year, years.c.plan)):
        plan = plan_from_stored(stored)
        rules[year] = (plan.reminders, plan.timezone)
    default = ReminderRules()
    quiet = {y for y, (r, tz) in rules.items() if in_quiet_hours(now, r.quiet_hours, ZoneInfo(tz))}
    return _Limits(
        quiet_years=quiet,
        per_minute=min((r.sms_per_minute for r, _ in rules.values()), default=default.sms_per_minute),
        per_phone_per_day=min((r.sms_per_phone_per_day for r, _ in rules.values()), default=default.sms_per_phone_per_day),
    )


def reclaim_stale(db: Database, *, now: datetime, grace: timedelta = RECLAIM_GRACE) -> int:
    """Put back claims a crashed dispatcher never finished."""
    with db.begin() as conn:
        return conn.execute(
            outbox.update()
            .where(outbox.c.status == "sending", outbox.c.claimed_at < to_db_time(now - grace))
            .values(status="queued", claim_token=None, claimed_at=None, last_error="reclaimed after an unfinished claim")
        ).rowcount or 0


def cancel_obsolete(db: Database) -> int:
    """A deadline notice still queued for a step the cycle has since done is cancelled, not sent (set-based)."""
    step_now = sa.case({state: step for state, step in STEP_OF_STATE.items()}, value=cycles.c.state, else_=sa.null())
    still_owed = sa.exists().where(
        cycles.c.year == outbox.c.year, cycles.c.org_id == outbox.c.org_id, cycles.c.kind == outbox.c.cycle_kind,
        step_now == outbox.c.step,
    )
    from storage.tables.review import work_plans

    plan_filed = sa.exists().where(work_plans.c.year == outbox.c.year, work_plans.c.organizer_id == outbox.c.org_id)
    obsolete = sa.or_(
        sa.and_(outbox.c.template.in_(DEADLINE_TEMPLATES), ~still_owed),
        sa.and_(outbox.c.template == "work_plan", plan_filed),
    )
    with db.begin() as conn:
        return conn.execute(
            outbox.update()
            .where(outbox.c.status == "queued", obsolete)
            .values(status="cancelled", last_error="the step was done before the message went out")
        ).rowcount or 0


def _claim(conn: sa.Connection, *, now: datetime, channels: Sequence[str], batch: int, digest: bool,
           result: DispatchResult, after_id: int) -> tuple[str, list[sa.Row[Any]], int | None]:
    """Claim the next candidates after `after_id`; returns the token, the claimed rows and the last id looked at."""
    stamp = to_db_time(now)
    limits = _limits(conn, now)
    ready = sa.and_(
        outbox.c.status == "queued",
        sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= stamp),
        outbox.c.channel.in_(channels),
    )
    query = sa.select(outbox.c.id, outbox.c.channel, outbox.c.address, outbox.c.year).where(ready)
    if limits.quiet_years:
        quiet = sa.and_(outbox.c.channel == "sms", outbox.c.year.in_(limits.quiet_years))
        if after_id == 0:
            result.held += conn.execute(sa.select(sa.func.count()).where(ready, quiet)).scalar_one()
        query = query.where(sa.not_(quiet))
    query = query.where(outbox.c.id > after_id).order_by(outbox.c.id).limit(batch)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    candidates = list(conn.execute(query))
    if not candidates:
        return "", [], None
    last_id = candidates[-1].id

    phones = {c.address for c in candidates if c.channel == "sms"}
    minute_left = limits.per_minute
    sent_today: dict[str, int] = {}
    if phones:
        minute_left -= conn.execute(
            sa.select(sa.func.count(sa.distinct(outbox.c.provider_ref))).where(
                outbox.c.channel == "sms", outbox.c.status == "sent", outbox.c.sent_at > to_db_time(now - timedelta(minutes=1))
            )
        ).scalar_one()
        midnight = datetime.combine(now.astimezone(PLAN_TZ).date(), time(0), tzinfo=PLAN_TZ)
        sent_today = {
            address: count
            for address, count in conn.execute(
                sa.select(outbox.c.address, sa.func.count(sa.distinct(outbox.c.provider_ref)))
                .where(outbox.c.channel == "sms", outbox.c.status == "sent", outbox.c.sent_at >= to_db_time(midnight),
                       outbox.c.address.in_(phones))
                .group_by(outbox.c.address)
            )
        }
    chosen: list[int] = []
    groups: set[tuple[str, str] | int] = set()
    for c in candidates:
        if c.channel != "sms":
            chosen.append(c.id)
            continue
        group: tuple[str, str] | int = (c.channel, c.address) if digest else c.id
        if group not in groups:
            if minute_left <= 0 or sent_today.get(c.address, 0) >= limits.per_phone_per_day:
                result.held += 1
                continue
            groups.add(group)
            minute_left -= 1
            sent_today[c.address] = sent_today.get(c.address, 0) + 1
        chosen.append(c.id)
    if not chosen:
        return "", [], last_id
    token = uuid.uuid4().hex
    conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(chosen), outbox.c.status == "queued")
        .values(status="sending", claim_token=token, claimed_at=stamp, attempts=outbox.c.attempts + 1)
    )
    return token, _claimed_rows(conn, token), last_id


def _claimed_rows(conn: sa.Connection, token: str) -> list[sa.Row[Any]]:
    org = orgs.alias("org")
    recipient = orgs.alias("recipient")
    return list(
        conn.execute(
            sa.select(
                outbox,
                org.c.code.label("org_code"), org.c.name.label("org_name"), org.c.secretary.label("secretary"),
                recipient.c.name.label("recipient_name"), recipient.c.secretary.label("recipient_person"),
                cycles.c.meeting_on,
            )
            .select_from(
                outbox.join(org, org.c.id == outbox.c.org_id)
                .join(recipient, recipient.c.id == outbox.c.recipient_org_id)
                .outerjoin(cycles, sa.and_(cycles.c.year == outbox.c.year, cycles.c.org_id == outbox.c.org_id,
                                           cycles.c.kind == outbox.c.cycle_kind))
            )
            .where(outbox.c.claim_token == token)
            .order_by(outbox.c.id)
        )
    )


def _date_label(day: date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def message_context(row: Any) -> dict[str, Any]:
    """What a template may use, from one claimed outbox row (joined with its organizations and cycle)."""
    created = from_db_time(row.created_at)
    sweep_day = created.astimezone(PLAN_TZ).date() if created else None
    overdue_days = (sweep_day - row.due).days if (sweep_day and row.due) else 0
    return {
        "year": row.year,
        "org_code": row.org_code,
        "org_name": row.org_name,
        "secretary": row.secretary or "",
        "recipient_name": row.recipient_name,
        "recipient_person": row.recipient_person or "",
        "kind_label": KIND_LABELS.get(row.cycle_kind or "", ""),
        "step_label": STEP_LABELS.get(row.step or "", row.step or ""),
        "due": _date_label(row.due),
        "days": row.days if row.days is not None else 0,
        "overdue_days": max(overdue_days, 0),
        "meeting": _date_label(row.meeting_on),
        "note": row.note or "",
        "template": row.template,
    }


def _status_line(ctx: dict[str, Any]) -> str:
    template = ctx["template"]
    if template == "reminder":
        return f"{ctx['due']}截止，还有{ctx['days']}天"
    if template == "due_today":
        return "今天截止"
    if template == "overdue":
        return f"已逾期{ctx['overdue_days']}天"
    if template == "escalation":
        return f"已逾期{ctx['overdue_days']}天，请督促"
    if template == "returned":
        return f"已退回修改（{ctx['note']}）"
    if template == "feedback":
        return f"结果已反馈，{ctx['due']}前报送整改方案"
    return "请办理"


def render_group(renderer: Renderer, rows: Sequence[Any]) -> OutgoingMessage:
    """One message, or a digest of several to the same recipient on the same channel."""
    first = rows[0]
    contexts = [message_context(r) for r in rows]
    if len(rows) == 1:
        ctx, template = contexts[0], first.template
        key = first.key
    else:
        items = [{**c, "status": _status_line(c)} for c in contexts]
        ctx = {**contexts[0], "items": items}
        template = "digest"
        key = "digest:" + hashlib.sha1("|".join(sorted(r.key for r in rows)).encode()).hexdigest()[:24]
    params = {k: str(ctx[k]) for k in ("recipient_name", "org_name", "step_label", "due", "days", "overdue_days")}
    if first.channel == "sms":
        return OutgoingMessage(key=key, channel="sms", to=first.address, text=renderer.sms(template, ctx),
                               template=template, params=params)
    email = renderer.email(template, ctx)
    return OutgoingMessage(key=key, channel="email", to=first.address, text=email.text, subject=email.subject,
                           html=email.html, template=template, params=params)


_MINE = sa.and_(
    outbox.c.id.in_(sa.bindparam("ids", expanding=True)),
    outbox.c.claim_token == sa.bindparam("token"),
    outbox.c.status == "sending",
)
# Built once: recording is once per delivery, so statement construction would cost more than SQLite itself.
_RECORD_SENT = outbox.update().where(_MINE).values(
    status="sent", sent_at=sa.bindparam("stamp"), provider_ref=sa.bindparam("ref"), subject=sa.bindparam("subject"),
    body=sa.bindparam("body"), last_error=None, claim_token=None,
)
_RECORD_PERMANENT = outbox.update().where(_MINE).values(status="failed", last_error=sa.bindparam("reason"), claim_token=None)
_RECORD_EXHAUSTED = outbox.update().where(_MINE, outbox.c.attempts >= MAX_ATTEMPTS).values(
    status="failed", last_error=sa.bindparam("reason"), claim_token=None)


def _record(db: Database, *, token: str, ids: list[int], now: datetime, message: OutgoingMessage | None,
            ref: str | None, error: DeliveryError | None) -> tuple[int, int, int]:
    """Returns (sent, retried, failed) for the group."""
    stamp = to_db_time(now)
    mine = {"ids": ids, "token": token}
    with db.begin() as conn:
        if error is None:
            assert message is not None
            n = conn.execute(_RECORD_SENT, {**mine, "stamp": stamp, "ref": (ref or "")[:200],
                                            "subject": message.subject[:300] or None, "body": message.text}).rowcount or 0
            return n, 0, 0
        reason = str(error)[:1000]
        if isinstance(error, PermanentFailure):
            n = conn.execute(_RECORD_PERMANENT, {**mine, "reason": reason}).rowcount
            return 0, 0, n or 0
        next_at = sa.case(
            *[(outbox.c.attempts == a, sa.literal(stamp + backoff(a), sa.DateTime())) for a in range(1, MAX_ATTEMPTS)],
            else_=sa.literal(stamp + backoff(MAX_ATTEMPTS), sa.DateTime()),
        )
        failed = conn.execute(_RECORD_EXHAUSTED, {**mine, "reason": reason}).rowcount or 0
        retried = conn.execute(outbox.update().where(_MINE).values(
            status="queued", last_error=reason, claim_token=None, next_attempt_at=next_at), {**mine}).rowcount or 0
        return 0, retried, failed


def dispatch(
    db: Database,
    *,
    now: datetime,
    channels: Mapping[str, Channel],
    renderer: Renderer | None = None,
    batch: int = 500,
    digest: bool = True,
    grace: timedelta = RECLAIM_GRACE,
    after_claim: Callable[[list[Any]], None] | None = None,
    max_rounds: int | None = None,
) -> DispatchResult:
    """Deliver what is due to go, in rounds of `batch` claims, until nothing more can go now."""
    renderer = renderer or Renderer()
    result = DispatchResult()
    result.reclaimed = reclaim_stale(db, now=now, grace=grace)
    result.cancelled = cancel_obsolete(db)
    rounds = 0
    cursor = 0
    while max_rounds is None or rounds < max_rounds:
        rounds += 1
        with db.begin() as conn:
            token, rows, last_id = _claim(conn, now=now, channels=list(channels), batch=batch, digest=digest,
                                          result=result, after_id=cursor)
        if last_id is None:
            break
        cursor = last_id
        if not rows:
            continue
        result.claimed += len(rows)
        if after_claim is not None:
            after_claim(rows)
        groups: dict[tuple[str, str] | int, list[Any]] = {}
        for row in rows:
            groups.setdefault((row.channel, row.address) if digest else row.id, []).append(row)
        for members in groups.values():
            ids = [m.id for m in members]
            message: OutgoingMessage | None = None
            try:
                message = render_group(renderer, members)
                ref = channels[members[0].channel].send(message)
                error: DeliveryError | None = None
            except DeliveryError as failure:
                ref, error = None, failure
            sent, retried, failed = _record(db, token=token, ids=ids, now=now, message=message, ref=ref, error=error)
            result.sent += sent
            result.retried += retried
            result.failed += failed
            if sent:
                result.deliveries += 1
            if error is not None:
                result.errors.append(str(error))
    for channel in channels.values():
        channel.close()
    return result


def list_outbox(db: Database, *, year: int | None = None, org: str | None = None, status: str | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
    if status and status not in STATUSES:
        raise BadInput("status.bad", option="--status", value=status, choices=", ".join(STATUSES))
    subject_org = orgs.alias("subject_org")
    query = (
        sa.select(outbox, subject_org.c.code.label("org_code"))
        .select_from(outbox.join(subject_org, subject_org.c.id == outbox.c.org_id))
        .order_by(outbox.c.id)
    )
    with db.connect() as conn:
        if year is not None:
            query = query.where(outbox.c.year == year)
        if org:
            if conn.execute(sa.select(orgs.c.id).where(orgs.c.code == org)).first() is None:
                raise NotFound(f"no organization with code '{org}'")
            query = query.where(subject_org.c.code == org)
        if status:
            query = query.where(outbox.c.status == status)
        if limit:
            query = query.limit(limit)
        return [
            {
                "id": r.id,
                "org": r.org_code,
                "channel": r.channel,
                "to": r.address,
                "template": r.template,
                "step": r.step,
                "status": r.status,
                "created_at": _iso(r.created_at),
                "attempts": r.attempts,
                "last_error": r.last_error,
                "provider_ref": r.provider_ref,
                "sent_at": _iso(r.sent_at),
                "key": r.key,
                "subject": r.subject,
            }
            for r in conn.execute(query)
        ]


def _iso(moment: datetime | None) -> str | None:
    aware = from_db_time(moment)
    return aware.astimezone(PLAN_TZ).isoformat(timespec="seconds") if aware else None


def outbox_counts(db: Database, *, year: int | None = None) -> dict[str, int]:
    query = sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
    if year is not None:
        query = query.where(outbox.c.year == year)
    with db.connect() as conn:
        counts = {status: n for status, n in conn.execute(query)}
    return {s: counts.get(s, 0) for s in STATUSES}
