"""The outbox dispatcher: claim, close the session, send, record — with leases, fencing, backoff, paused channels,
quiet hours, an exact shared SMS rate limit and digests.

A message leaves `queued` only through a claim (status `sending`, a fresh claim token — the fencing token — and
`claimed_at`, the start of its lease; on PostgreSQL the candidates are locked `FOR UPDATE SKIP LOCKED`, so
several dispatchers claim disjoint batches). The provider is called with no database session open. While it
works through a batch the dispatcher extends the lease of the rows it still holds, and right before each
provider call it checks, in the database, that the rows still carry its token: a row another dispatcher
reclaimed (lease expired) is neither sent nor recorded by the old holder. Outcomes are recorded only on rows
that still carry the token. The batch is worked in chunks sized so that a chunk's provider calls take ~50 ms: a
slow provider gets one message per check, a fast one hundreds (only the provider's time counts: with the
database's time counted too, a slow commit kept the chunks small and so made more commits). A SIGKILLed
dispatcher can therefore have sent at most the chunk in flight without recording it (one message on a slow
server); those are sent again after the lease.

A failure that is the sender's (auth refused, bad configuration, gateway down: `ChannelFailure`) pauses the
channel: the message and the rest of the batch go back to `queued` with no attempt counted, and the dispatcher
tries the channel again after a back-off; `channel_alerts` is what the console and `outbox list` show.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import re
import time as monotonic_time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from notifications.channels import (
    Channel,
    ChannelFailure,
    DeliveryError,
    OutgoingMessage,
    PermanentFailure,
    send_many,
)
from notifications.render import Renderer
from services.errors import BadInput, NotFound, failure_text
from states.machine import STEP_LABELS, STEP_OF_STATE
from states.plan import ReminderRules, plan_from_stored
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import cycles, orgs, years
from storage.tables.notify import OTP_QUEUED, OTP_TEMPLATE, channel_pauses, outbox, sms_slots

MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(minutes=1)  # 1, 4, 16, 64 minutes, ~4 h: a provider outage of an afternoon is ridden out
RECLAIM_GRACE = timedelta(minutes=10)  # the lease: a claim not extended for this long is reclaimed
PAUSE_BASE = timedelta(minutes=1)  # a paused channel is tried again after 1, 2, 4 … minutes, at most
PAUSE_MAX = timedelta(minutes=30)
CHUNK_TARGET_SECONDS = 0.05  # a fencing check (and a record) at least every ~50 ms of provider calls
CHUNK_MAX = 512  # groups per chunk
STATUSES = ("queued", "sending", "sent", "failed", "cancelled")
DEADLINE_TEMPLATES = ("reminder", "due_today", "overdue", "escalation")
KIND_LABELS = {"upward": "向上级述职", "own_level": "向本级述职"}
# The outbox's one label table (status, channel, template → Chinese, English): the CLI, the console and the demo
# all read it, so a status is called the same everywhere.
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "queued": ("待发送", "queued"), "sending": ("发送中", "sending"), "sent": ("已发送", "sent"),
    "failed": ("发送失败", "failed"), "cancelled": ("已取消", "cancelled"),
}
CHANNEL_LABELS: dict[str, tuple[str, str]] = {"sms": ("短信", "SMS"), "email": ("邮件", "e-mail"),
                                              "webhook": ("政务平台", "government platform")}
TEMPLATE_LABELS: dict[str, tuple[str, str]] = {
    "reminder": ("到期提醒", "reminder"), "due_today": ("今日截止提醒", "due today"), "overdue": ("逾期通知", "overdue"),
    "escalation": ("逾期督办", "escalation"), "returned": ("退回通知", "returned"), "feedback": ("反馈通知", "feedback"),
    "work_plan": ("工作方案提醒", "work plan reminder"), "digest": ("汇总", "digest"),
    OTP_TEMPLATE: ("登录验证码", "sign-in code"),
}


def outbox_label(table: dict[str, tuple[str, str]], key: str | None, lang: str = "zh") -> str:
    """`key`'s label in `lang` from one of the tables above; the key itself when it has none."""
    pair = table.get(key or "")
    return (pair[1] if lang == "en" else pair[0]) if pair else (key or "")


def outbox_counts_text(counts: dict[str, int], lang: str = "zh") -> str:
    """`待发送 0，发送中 0，已发送 12，…`: the counts by status, in the statuses' order."""
    sep = ", " if lang == "en" else "，"
    return sep.join(f"{outbox_label(STATUS_LABELS, s, lang)} {counts.get(s, 0)}" for s in STATUSES)
PLAN_TZ = ZoneInfo("Asia/Shanghai")
SMS_LIMIT_LOCK = 7_305_001  # pg_advisory_xact_lock key serialising the SMS slot count across dispatchers
CLOCK_SKEW = timedelta(seconds=5)  # the rate window's upper edge past `now`: dispatchers' clocks differ a little


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed tries."""
    return BACKOFF_BASE * (4 ** max(attempts - 1, 0))


_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\d)(?:\+?86)?1\d{10}(?!\d)")


def mask_personal(text: str | None) -> str | None:
    """E-mail addresses and mobile numbers in free text (a provider's error) masked like the `to` column (M2)."""
    if not text:
        return text
    from states.orgs import mask_email, mask_phone

    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


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
    released: int = 0  # claimed, not sent, back to queued untouched (their channel paused)
    fenced: int = 0  # claimed by this dispatcher but reclaimed by another before sending: not sent, not recorded
    paused: dict[str, str] = field(default_factory=dict)  # channel → why (sender's fault), messages left queued
    failed_years: dict[int, str] = field(default_factory=dict)  # a year whose stored plan cannot be read
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "claimed": self.claimed, "sent": self.sent, "deliveries": self.deliveries, "retried": self.retried,
            "failed": self.failed, "held": self.held, "reclaimed": self.reclaimed, "cancelled": self.cancelled,
            "released": self.released, "fenced": self.fenced,
        }
        out["paused"] = dict(self.paused)
        out["failed_years"] = [{"year": y, "error": e} for y, e in sorted(self.failed_years.items())]
        return out


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
    held_years: set[int]  # SMS of these years wait: quiet hours, or a plan that cannot be read
    per_minute: int
    per_phone_per_day: int


@dataclass(frozen=True)
class RateOverride:
    """The deployment's own SMS limits (SHUZHI_SMS_PER_MINUTE, SHUZHI_SMS_PER_PHONE_PER_DAY): the gateway contract."""

    per_minute: int | None = None
    per_phone_per_day: int | None = None

    @classmethod
    def from_settings(cls, extra: Mapping[str, str]) -> RateOverride:
        def number(name: str) -> int | None:
            text = (extra.get(name) or "").strip()
            if not text:
                return None
            if not text.isdigit() or not 0 < int(text) <= 1_000_000:
                raise BadInput("number.range", value=text, option=name)
            return int(text)

        return cls(number("SHUZHI_SMS_PER_MINUTE"), number("SHUZHI_SMS_PER_PHONE_PER_DAY"))


def _limits(conn: sa.Connection, now: datetime, *, override: RateOverride, failed_years: dict[int, str],
            plans: dict[int, tuple[Any, Any]] | None = None) -> _Limits:
    """Quiet hours per year; the rate limits from the newest readable plan unless the deployment sets them.

    The SMS rate is the gateway's, one per deployment: it is the newest year's plan (the season being run), not
    the minimum over every year ever launched. A year whose stored plan cannot be read holds its own SMS and is
    reported; the other years go on (H1). `plans` keeps the plans read during one dispatch (a claim reads the
    stored plan again, and parses it only if it changed)."""
    held: set[int] = set()
    newest: ReminderRules | None = None
    cache = plans if plans is not None else {}
    for year, stored in conn.execute(sa.select(years.c.year, years.c.plan).order_by(years.c.year)):
        try:
            cached = cache.get(year)
            if cached is not None and cached[0] == stored:
                plan = cached[1]
            else:
                plan = plan_from_stored(stored)
                cache[year] = (stored, plan)
            if in_quiet_hours(now, plan.reminders.quiet_hours, ZoneInfo(plan.timezone)):
                held.add(year)
        except Exception as error:  # a bad stored plan (PlanError, unknown zone…) must never stop the other years
            failed_years[year] = failure_text(error)[:300]
            held.add(year)
            continue
        newest = plan.reminders
    rules = newest or ReminderRules()
    return _Limits(
        held_years=held,
        per_minute=override.per_minute or rules.sms_per_minute,
        per_phone_per_day=override.per_phone_per_day or rules.sms_per_phone_per_day,
    )


def _no_jit(conn: sa.Connection) -> None:
    """PostgreSQL: no JIT for this transaction. The start of a dispatch reads the whole queue once (cancel the
    obsolete, reclaim the stale); on a table full of rows sent since the last vacuum its cost estimate passes
    `jit_above_cost`, and compiling took 175 ms of a 195 ms statement that reads 10,000 rows (measured)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")


def reclaim_stale(db: Database, *, now: datetime, grace: timedelta = RECLAIM_GRACE) -> int:
    """Put back claims whose lease ran out (a crashed or stalled dispatcher stopped extending it)."""
    with db.begin() as conn:
        _no_jit(conn)
        return conn.execute(
            outbox.update()
            .where(outbox.c.status == "sending", outbox.c.claimed_at < to_db_time(now - grace))
            .values(status="queued", claim_token=None, claimed_at=None, last_error="reclaimed after an unfinished claim")
        ).rowcount or 0


# How long a taken SMS slot is kept: the per-minute limit reads the last minute and the per-phone cap the current
# day, so older slots only grew the table (one row per SMS sent, ~780,000 on a national morning).
SLOTS_KEPT = timedelta(days=2)


def prune_slots(db: Database, *, now: datetime) -> int:
    """Forget SMS slots older than SLOTS_KEPT before `now` (at the start of each dispatch run). A run with a
    simulated `now` years behind a live one prunes only what is older than its own clock."""
    with db.begin() as conn:
        return conn.execute(sms_slots.delete().where(sms_slots.c.taken_at < to_db_time(now - SLOTS_KEPT))).rowcount or 0


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
        _no_jit(conn)
        return conn.execute(
            outbox.update()
            .where(outbox.c.status == "queued", obsolete)
            .values(status="cancelled", last_error="the step was done before the message went out")
        ).rowcount or 0


# --- paused channels (H2) ------------------------------------------------------------------------------

def channel_alerts(db: Database) -> list[dict[str, Any]]:
    """Channels paused by a sender-side failure, for the console's banner and `outbox list`."""
    with db.connect() as conn:
        rows = conn.execute(sa.select(channel_pauses).order_by(channel_pauses.c.channel)).all()
        waiting: dict[str, int] = dict(conn.execute(
            sa.select(outbox.c.channel, sa.func.count()).where(outbox.c.status == "queued").group_by(outbox.c.channel)
        ).all()) if rows else {}
    return [{"channel": r.channel, "reason": mask_personal(r.reason), "paused_at": _iso(r.paused_at),
             "retry_at": _iso(r.retry_at), "failures": r.failures, "queued": int(waiting.get(r.channel, 0))} for r in rows]


def _pause(db: Database, channel: str, reason: str, now: datetime) -> None:
    with db.begin() as conn:
        current = conn.execute(sa.select(channel_pauses.c.failures).where(channel_pauses.c.channel == channel)).scalar()
        failures = (current or 0) + 1
        retry_at = to_db_time(now + min(PAUSE_BASE * (2 ** (failures - 1)), PAUSE_MAX))
        values = {"reason": (mask_personal(reason) or "")[:1000], "retry_at": retry_at, "failures": failures}
        if current is None:
            conn.execute(channel_pauses.insert().values(channel=channel, paused_at=to_db_time(now), **values))
        else:
            conn.execute(channel_pauses.update().where(channel_pauses.c.channel == channel).values(**values))


def _resume(db: Database, channel: str) -> None:
    with db.begin() as conn:
        conn.execute(channel_pauses.delete().where(channel_pauses.c.channel == channel))


def _pauses(db: Database, now: datetime) -> tuple[dict[str, str], set[str]]:
    """Channels still inside their pause, and those whose retry time has come (tried again: a probe)."""
    with db.connect() as conn:
        rows = conn.execute(sa.select(channel_pauses.c.channel, channel_pauses.c.reason, channel_pauses.c.retry_at)).all()
    stamp = to_db_time(now)
    return {r.channel: r.reason for r in rows if r.retry_at > stamp}, {r.channel for r in rows if r.retry_at <= stamp}


def retry_messages(db: Database, *, now: datetime, status: str = "failed", since: datetime | None = None,
                   channel: str | None = None, year: int | None = None) -> dict[str, Any]:
    """`outbox retry`: put failed (or cancelled) messages back in the queue as new — attempts 0, no back-off —
    and lift the pause of the channels concerned. The keys stay, so nothing is queued twice."""
    if status not in ("failed", "cancelled"):
        raise BadInput("retry.status", value=status, option="--status")
    if channel is not None and channel not in ("sms", "email"):
        raise BadInput("channel.bad", value=channel, option="--channel")
    conditions = [outbox.c.status == status]
    if since is not None:
        conditions.append(outbox.c.created_at >= to_db_time(since))
    if channel is not None:
        conditions.append(outbox.c.channel == channel)
    if year is not None:
        conditions.append(outbox.c.year == year)
    with db.begin() as conn:
        counts: dict[str, int] = dict(conn.execute(
            sa.select(outbox.c.channel, sa.func.count()).where(*conditions).group_by(outbox.c.channel)).all())
        conn.execute(outbox.update().where(*conditions).values(
            status="queued", attempts=0, next_attempt_at=None, claim_token=None, claimed_at=None,
            last_error=f"requeued by outbox retry at {to_db_time(now).isoformat(timespec='seconds')}Z"))
        lifted = conn.execute(channel_pauses.delete().where(
            channel_pauses.c.channel == channel if channel else sa.true())).rowcount or 0
    by_channel = {c: int(counts.get(c, 0)) for c in ("sms", "email")}
    return {"requeued": sum(by_channel.values()), "by_channel": by_channel, "resumed_channels": lifted}


# --- claiming ------------------------------------------------------------------------------------------

@dataclass
class RunState:
    """What one dispatch run carries from claim to claim: the stored plans it parsed (year → (stored, parsed), parsed
    again only if the stored plan changed) and, on PostgreSQL, its last exact count of the minute's SMS slots (when,
    how many, its own included) that `_minute_guess` may stand on."""

    plans: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    minute_seen: tuple[datetime, int] | None = None


def _lock_claims(conn: sa.Connection, *, sms: bool) -> None:
    """Serialise what must be: on PostgreSQL the SMS slot count between dispatchers, taken after the rows are marked
    (the candidates themselves are locked FOR UPDATE SKIP LOCKED, so the marking and e-mail claims run in
    parallel); on SQLite the whole claim (a no-op write takes the database's write lock now, so the candidates read
    are still queued when they are marked)."""
    if conn.dialect.name == "postgresql":
        if sms:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SMS_LIMIT_LOCK)))
    else:
        conn.execute(sms_slots.delete().where(sms_slots.c.id == -1))


def _group_of(row: Any, digest: bool) -> tuple[str, str] | int:
    """What goes as one delivery: with digests, everything to one address on one channel — except a sign-in code,
    which is always its own message (folded into a digest it would be read too late to be of use)."""
    return (row.channel, row.address) if digest and row.template != OTP_TEMPLATE else row.id


def _claim(conn: sa.Connection, *, clock: Callable[[], datetime], channels: Sequence[str], batch: int, digest: bool,
           result: DispatchResult, after_id: int, override: RateOverride,
           run: RunState, first: bool = True) -> tuple[str, list[int], int | None]:
    """Claim the next candidates after `after_id`; returns the token, the claimed ids and the last id looked at
    (the rows are read by `_claimed_rows` after the commit: the SMS lock is held no longer than the claim needs).

    Every statement is a seek: the candidates a range of (status, id), the marking and the read-back by primary key,
    the rate counts ranges of the slot ledger bounded on both sides (so their cost does not grow with the outbox)."""
    sms_on = "sms" in channels
    postgresql = conn.dialect.name == "postgresql"
    if not postgresql:
        _lock_claims(conn, sms=sms_on)  # SQLite: the whole claim under the write lock
    now = clock()
    stamp = to_db_time(now)
    limits = _limits(conn, now, override=override, failed_years=result.failed_years, plans=run.plans)
    ready = sa.and_(
        outbox.c.status == "queued",
        sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= stamp),
        outbox.c.channel.in_(channels),
    )
    query = sa.select(outbox.c.id, outbox.c.channel, outbox.c.address, outbox.c.year, outbox.c.template).where(ready)
    if limits.held_years and sms_on:
        # quiet hours hold reminders, never a sign-in code (it is useless once the night is over)
        quiet = sa.and_(outbox.c.channel == "sms", outbox.c.year.in_(limits.held_years),
                        outbox.c.template != OTP_TEMPLATE)
        if first:  # counted on the run's first claim only
            result.held += conn.execute(sa.select(sa.func.count()).where(ready, quiet)).scalar_one()
        query = query.where(sa.not_(quiet))
    # sign-in codes first, through their partial index (literal predicate, so both planners match it): a code queued
    # behind the morning's backlog would otherwise wait hours under the rate limit and expire after 5 minutes
    # (SQLite is told the index — left to itself it walks every queued row of (status, id) looking for a code —
    # and SQLAlchemy renders no SQLite table hint: hence the text)
    postgresql = conn.dialect.name == "postgresql"
    codes = sa.text(
        f"SELECT id, channel, address, year, template FROM outbox{'' if postgresql else ' INDEXED BY ix_outbox_otp_queued'} "
        f"WHERE {OTP_QUEUED} AND channel = 'sms' AND (next_attempt_at IS NULL OR next_attempt_at <= :stamp) "
        f"ORDER BY id LIMIT :batch{' FOR UPDATE SKIP LOCKED' if postgresql else ''}"
    ).bindparams(sa.bindparam("stamp", stamp, type_=outbox.c.next_attempt_at.type), batch=batch)
    query = query.where(outbox.c.template != OTP_TEMPLATE, outbox.c.id > after_id).order_by(outbox.c.id).limit(batch)
    if postgresql:
        query = query.with_for_update(skip_locked=True)
    urgent = [Candidate._make(row) for row in conn.execute(codes)] if sms_on else []
    backlog = [Candidate._make(row) for row in conn.execute(query)]
    if not backlog and not urgent:
        return "", [], None
    candidates = urgent + backlog
    # the cursor walks the backlog only; codes alone keep it where it is (the next claim finds no code left)
    last_id = backlog[-1].id if backlog else after_id

    token = uuid.uuid4().hex
    phones = {c.address for c in candidates if c.channel == "sms"}
    if postgresql:
        # The candidates are ours by their row locks; only the slot count needs the SMS lock, and everything done
        # under it is serialised between dispatchers until commit. So the choice is made first with the minute's
        # count read without the lock (a guess: nothing is marked when the minute is spent), the rows are marked,
        # and only then is the lock taken to count exactly and take the slots; a group the exact count refuses
        # (a rival took the last slots in between, or the phone's daily cap) goes back to the queue at once.
        # The counts themselves are read before the lock too (a seek per phone, ~25 µs each, a quarter of a
        # message's database time, and the minute's slots, up to the per-minute limit of them); under it only the
        # slots taken since are added (`_since`): serialised, they capped two dispatchers at ~1.5× one.
        minute_used = _minute_guess(conn, now, run.minute_seen, needed=len(phones), per_minute=limits.per_minute) if phones else 0
        chosen, slotted = _choose(candidates, digest=digest, minute_left=limits.per_minute - minute_used,
                                  sent_today=None, per_phone=limits.per_phone_per_day, result=result, first=first)
    else:
        sent_today: dict[str, int] = {}
        minute_used = 0
        if phones:
            minute_used, sent_today = _rate_counts(conn, now, phones)
        chosen, slotted = _choose(candidates, digest=digest, minute_left=limits.per_minute - minute_used,
                                  sent_today=sent_today, per_phone=limits.per_phone_per_day, result=result, first=first)
    if not chosen:
        return "", [], last_id if backlog else None
    conn.execute(
        outbox.update()
        .where(_id_in(conn, chosen))
        .values(status="sending", claim_token=token, claimed_at=stamp, attempts=outbox.c.attempts + 1)
    )
    if postgresql and slotted:
        slot_phones = {c.address for c in slotted}
        counted_at = now
        early = _counts_pg(conn, counted_at, slot_phones)  # the slow part, outside the lock
        _lock_claims(conn, sms=True)
        now = clock()  # read once the lock is held: a slot is never stamped before one a rival took just before us
        stamp = to_db_time(now)
        if _day_of(now) == _day_of(counted_at):
            minute_used, sent_today = _since(conn, early, now, slot_phones)
        else:  # midnight passed between the two: counted again for the new day
            minute_used, sent_today = _rate_counts(conn, now, slot_phones)
        kept, _ = _choose(slotted, digest=False, minute_left=limits.per_minute - minute_used,
                          sent_today=sent_today, per_phone=limits.per_phone_per_day, result=result, first=first)
        run.minute_seen = (now, minute_used + len(kept))
        if len(kept) < len(slotted):
            kept_ids = set(kept)
            dropped = {_group_of(c, digest) for c in slotted if c.id not in kept_ids}
            back = [c.id for c in candidates if c.channel == "sms" and _group_of(c, digest) in dropped]
            conn.execute(outbox.update().where(_id_in(conn, back)).values(
                status="queued", claim_token=None, claimed_at=None, attempts=outbox.c.attempts - 1))
            gone = set(back)
            chosen = [i for i in chosen if i not in gone]
            slotted = [c for c in slotted if c.id in kept_ids]
    if slotted:
        _take_slots(conn, [{"taken_at": stamp, "address": c.address, "outbox_id": c.id, "token": token}
                           for c in slotted], stamp=stamp, token=token)
    if not chosen:
        return "", [], last_id if backlog else None
    return token, chosen, last_id


MINUTE_GUESS_FRESH = timedelta(seconds=5)


def _minute_guess(conn: sa.Connection, now: datetime, previous: tuple[datetime, int] | None, *, needed: int,
                  per_minute: int) -> int:
    """PostgreSQL: the minute's slots as a guess before the rows are marked (the exact count follows under the SMS
    lock). The exact count this dispatcher made at its previous claim stands in for it while it is fresh and leaves
    room for this claim twice over: then the guess says "all fit" whatever a rival took since (a rival's slots only
    make the exact count refuse some, which go back to the queue) and slots aging out only add room, so it never
    holds a message the minute has room for. Otherwise (near the limit) the window is counted. Counting it costs
    ~1 µs a slot (index and heap: fresh rows are not all-visible), a window of the whole minute per claim."""
    if previous is not None:
        when, used = previous
        if timedelta(0) <= now - when <= MINUTE_GUESS_FRESH and used + 2 * needed <= per_minute:
            return int(used)
    return _minute_used(conn, now)


def _minute_used(conn: sa.Connection, now: datetime) -> int:
    """SMS slots taken in the window [now - 1 min, now] (plus a few seconds for the clocks of several dispatchers):
    slots taken by a live dispatcher today do not starve a run whose clock is simulated, and the reverse."""
    return int(conn.execute(sa.select(sa.func.count()).where(
        sms_slots.c.taken_at > to_db_time(now - timedelta(minutes=1)),
        sms_slots.c.taken_at <= to_db_time(now + CLOCK_SKEW),
    )).scalar_one())


def _day_of(now: datetime) -> date:
    return now.astimezone(PLAN_TZ).date()


def _day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The plan-local day of `now` as stored times [start, end)."""
    midnight = datetime.combine(_day_of(now), time(0), tzinfo=PLAN_TZ)
    return to_db_time(midnight), to_db_time(midnight + timedelta(days=1))


def _rate_counts(conn: sa.Connection, now: datetime, phones: set[str]) -> tuple[int, dict[str, int]]:
    """The minute's slots, and today's (plan-local day) per phone of `phones`."""
    if conn.dialect.name == "postgresql":
        counts = _counts_pg(conn, now, phones)
        return counts.minute, counts.today
    start, end = _day_bounds(now)
    sent_today: dict[str, int] = dict(conn.execute(
        sa.select(sms_slots.c.address, sa.func.count())
        .where(sms_slots.c.address.in_(phones), sms_slots.c.taken_at >= start, sms_slots.c.taken_at < end)
        .group_by(sms_slots.c.address)
    ).all())
    return _minute_used(conn, now), sent_today


@dataclass(frozen=True)
class _Counts:
    """PostgreSQL: the rate counts a claim reads before the SMS lock, in one statement (so one snapshot): today's
    slots per phone (those with any), the minute's slots, and the ledger's last slot id. Every slot they missed has
    a greater id: slots are only taken under the SMS lock, and each holder commits before the next takes it."""

    today: dict[str, int]
    minute: int
    last_slot: int


def _counts_pg(conn: sa.Connection, now: datetime, phones: set[str]) -> _Counts:
    start, end = _day_bounds(now)
    today: dict[str, int] = {}
    minute = last = 0
    for address, count, in_minute, last_id in conn.execute(_COUNTS_PG, {
            "phones": sorted(phones), "start": start, "end": end, "minute_start": to_db_time(now - timedelta(minutes=1)),
            "minute_end": to_db_time(now + CLOCK_SKEW)}):
        minute, last = int(in_minute), int(last_id or 0)
        if count:
            today[address] = int(count)
    return _Counts(today, minute, last)


INT_MAX = 2**31 - 1  # the largest id of an `integer` primary key


def _since(conn: sa.Connection, early: _Counts, now: datetime, phones: set[str]) -> tuple[int, dict[str, int]]:
    """PostgreSQL, under the SMS lock: the counts read before it, plus the slots taken since, which are those after
    `early.last_slot` — a range of the primary key, a rival's claim or two, whatever the day's or the minute's
    total. Both stay exact or err high, never low: a slot given back since, or one that left the minute's window
    in the few milliseconds between, is still counted (a message may wait for the next claim, never go over a
    limit). The bound is written as a literal (an int read from the ledger): a prepared statement's generic plan
    guesses a third of the table for `id > $1` and may scan it all. And as a closed range up to the largest `integer`:
    with statistics taken while the ledger was empty (every morning's start), `id > N` alone is also guessed at a
    third of the table, and PostgreSQL read the whole ledger at every claim — 10 ms at 90,000 slots, growing all
    morning (measured through `notify send`); a closed range is guessed narrow and seeks the primary key."""
    start, end = _day_bounds(now)
    minute_start, minute_end = to_db_time(now - timedelta(minutes=1)), to_db_time(now + CLOCK_SKEW)
    today = dict(early.today)
    minute = early.minute
    for address, taken_at in conn.exec_driver_sql(
            f"SELECT address, taken_at FROM sms_slots WHERE id BETWEEN {int(early.last_slot) + 1} AND {INT_MAX}"):
        if minute_start < taken_at <= minute_end:
            minute += 1
        if address in phones and start <= taken_at < end:
            today[address] = today.get(address, 0) + 1
    return minute, today


# PostgreSQL: today's slots per phone, one seek of (address, taken_at) per phone whatever the statistics. Written as
# `address = ANY(:phones) AND taken_at …`, psycopg prepares it after five runs and the generic plan, made from
# statistics taken while the ledger was empty (every morning's start), walks the day's slots by `taken_at` and
# compares each with every phone of the claim: 500 × 18,000 comparisons, 90 ms a claim and growing all morning
# (measured through `notify send` on the national outbox, 1,700 messages/s). So the phones drive the plan and the
# day's bounds are written so no index on `taken_at` alone can serve them (`+ interval '0'`): a phone has a handful
# of slots a day, filtered after the seek.
_COUNTS_PG = sa.text(
    "SELECT p.address, (SELECT count(*) FROM sms_slots s WHERE s.address = p.address "
    "AND s.taken_at + interval '0 seconds' >= :start AND s.taken_at + interval '0 seconds' < :end), "
    "(SELECT count(*) FROM sms_slots m WHERE m.taken_at > :minute_start AND m.taken_at <= :minute_end), "
    "(SELECT max(id) FROM sms_slots) FROM unnest(CAST(:phones AS varchar[])) AS p(address)"
).bindparams(sa.bindparam("start", type_=sms_slots.c.taken_at.type), sa.bindparam("end", type_=sms_slots.c.taken_at.type),
             sa.bindparam("phones", type_=sa.ARRAY(sa.String)))


def _choose(candidates: Sequence[Any], *, digest: bool, minute_left: int, sent_today: dict[str, int] | None,
            per_phone: int, result: DispatchResult, first: bool) -> tuple[list[int], list[Any]]:
    """Which candidates go: every e-mail; an SMS group (a digest is one) while the minute has slots left and the
    phone is under its daily cap (not checked when `sent_today` is None). Returns the chosen ids and, per SMS
    group given a slot, its first member."""
    chosen: list[int] = []
    slotted: list[Any] = []
    groups: set[tuple[str, str] | int] = set()
    today = dict(sent_today or {})
    for c in candidates:
        if c.channel != "sms":
            chosen.append(c.id)
            continue
        group = _group_of(c, digest)
        if group not in groups:
            if minute_left <= 0 or (sent_today is not None and today.get(c.address, 0) >= per_phone):
                if c.template != OTP_TEMPLATE or first:  # a held code comes back each claim: counted once
                    result.held += 1
                continue
            groups.add(group)
            minute_left -= 1
            today[c.address] = today.get(c.address, 0) + 1
            slotted.append(c)
        chosen.append(c.id)
    return chosen, slotted


def _id_in(conn: sa.Connection, ids: Sequence[int]) -> sa.ColumnElement[bool]:
    """`outbox.id IN (ids)`; on PostgreSQL `= ANY(array)`: one parameter, so the statement's text is the same for
    every batch and psycopg parses it once (an IN of 1,000 expanded parameters is a new 10 KB query to scan each
    time: ~100 µs a message, measured)."""
    if conn.dialect.name == "postgresql":
        return outbox.c.id == sa.any_(sa.bindparam("ids", list(ids), type_=sa.ARRAY(sa.Integer)))
    return outbox.c.id.in_(ids)


def _take_slots(conn: sa.Connection, slots: list[dict[str, Any]], *, stamp: datetime, token: str) -> None:
    """The claim's SMS slots: on PostgreSQL one INSERT … SELECT FROM unnest(arrays) (an executemany costs a
    round of the pipeline and of parameter handling per row), elsewhere an executemany. The arrays go in binary
    (`%b`, see `_record_sent`)."""
    if conn.dialect.name != "postgresql":  # the driver's executemany of plain tuples: no per-row parameter handling
        stamp_of = sms_slots.c.taken_at.type.bind_processor(conn.dialect) or (lambda value: value)
        conn.exec_driver_sql("INSERT INTO sms_slots (taken_at, address, outbox_id, token) VALUES (?, ?, ?, ?)",
                             [(stamp_of(s["taken_at"]), s["address"], s["outbox_id"], s["token"]) for s in slots])
        return
    conn.exec_driver_sql(
        "INSERT INTO sms_slots (taken_at, address, outbox_id, token) "
        "SELECT %s, s.address, s.outbox_id, %s FROM unnest(%b::varchar[], %b::int[]) AS s(address, outbox_id)",
        (stamp, token, [s["address"] for s in slots], [s["outbox_id"] for s in slots]),
    )


# What the dispatcher reads of a claimed row: what the templates, the grouping and the outcome need (not the
# previous send's subject, body or error). Rows become named tuples: a SQLAlchemy Row answers `row.name` through
# `__getattr__` (~0.7 µs; a message reads ~25 fields between the claim and the record), a named tuple in ~0.05 µs.
_CLAIMED_COLUMNS = ("id", "key", "year", "org_id", "recipient_org_id", "cycle_kind", "step", "template", "channel",
                    "address", "due", "days", "note", "status", "attempts", "claim_token", "created_at")
ClaimedRow = collections.namedtuple(  # type: ignore[misc]
    "ClaimedRow", (*_CLAIMED_COLUMNS, "org_code", "org_name", "secretary", "recipient_name", "recipient_person",
                   "meeting_on"))
Candidate = collections.namedtuple("Candidate", ("id", "channel", "address", "year", "template"))  # type: ignore[misc]


def _claimed_rows(conn: sa.Connection, ids: list[int]) -> list[Any]:
    org = orgs.alias("org")
    recipient = orgs.alias("recipient")
    result = conn.execute(
        sa.select(
            *(outbox.c[name] for name in _CLAIMED_COLUMNS),
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
        .where(_id_in(conn, ids))
        .order_by(outbox.c.id)
    )
    return [ClaimedRow._make(row) for row in result]


@functools.lru_cache(maxsize=4096)
def _date_label(day: date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


@functools.lru_cache(maxsize=4096)
def _sweep_day(created_at: datetime | None) -> date | None:
    """The plan-local day a message was queued (one sweep: one value, computed once)."""
    created = from_db_time(created_at)
    return created.astimezone(PLAN_TZ).date() if created else None


def message_context(row: Any) -> dict[str, Any]:
    """What a template may use, from one claimed outbox row (joined with its organizations and cycle)."""
    sweep_day = _sweep_day(row.created_at)
    due = row.due
    overdue_days = (sweep_day - due).days if (sweep_day and due) else 0
    step = row.step
    cycle_kind = row.cycle_kind
    days = row.days
    return {
        "year": row.year,
        "org_code": row.org_code,
        "org_name": row.org_name,
        "secretary": row.secretary or "",
        "recipient_name": row.recipient_name,
        "recipient_person": row.recipient_person or "",
        "kind_label": KIND_LABELS.get(cycle_kind or "", ""),
        "cycle_kind": cycle_kind or "",  # for the console link (notifications.render.cycle_link)
        "step_label": STEP_LABELS.get(step or "", step or ""),
        "due": _date_label(due),
        "days": days if days is not None else 0,
        "overdue_days": overdue_days if overdue_days > 0 else 0,
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


class _Item:
    """A digest line: `item.org_name` in a template is a plain attribute hit (with a dict, Jinja tries the attribute
    first and pays for a failed lookup on every field of every line — most of a 500-line digest's cost);
    `item['org_name']` works too, for templates a deployment overrides. Its attributes are the line's context
    dict itself (no copy: a 500-line digest makes 500 of them)."""

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]


def _digest_item(row: Any) -> _Item:
    values = message_context(row)
    values["status"] = _status_line(values)
    item = _Item()
    item.__dict__ = values
    return item


def render_group(renderer: Renderer, rows: Sequence[Any]) -> OutgoingMessage:
    """One message, or a digest of several to the same recipient on the same channel."""
    first = rows[0]
    if len(rows) == 1:
        ctx, template = message_context(first), first.template
        key = first.key
    else:
        items = [_digest_item(r) for r in rows]
        ctx = dict(items[0].__dict__)
        del ctx["status"]  # a line's field, not the digest's
        ctx["items"] = items
        template = "digest"
        key = "digest:" + hashlib.sha1("|".join(sorted([r.key for r in rows])).encode()).hexdigest()[:24]
    params = {k: str(ctx[k]) for k in ("recipient_name", "org_name", "step_label", "due", "days", "overdue_days")}
    if first.channel == "sms":
        return OutgoingMessage(key=key, channel="sms", to=first.address, text=renderer.sms(template, ctx),
                               template=template, params=params)
    email = renderer.email(template, ctx)
    return OutgoingMessage(key=key, channel="email", to=first.address, text=email.text, subject=email.subject,
                           html=email.html, template=template, params=params)


# "Still sending" is tested in a form no index serves, so every statement that finds the rows of a claim goes by
# primary key: `status = 'sending'` can be served by (status, id), and with statistics taken while the outbox was all
# queued PostgreSQL estimates one such row and reads every row being sent — every dispatcher's, and every
# dead index entry of a row sent since the last vacuum — for each chunk (22 ms instead of 0.5 ms for 400 rows,
# measured; the record's UPDATE hash-joined all of them).
STILL_SENDING = "(outbox.status = 'sending') IS TRUE"
_HELD = sa.and_(outbox.c.claim_token == sa.bindparam("token"), sa.text(STILL_SENDING))
_MINE_ONE = sa.and_(outbox.c.id == sa.bindparam("row_id"), _HELD)
# Built once: statement construction would otherwise cost more than the database itself.
_RECORD_SENT = outbox.update().where(_MINE_ONE).values(
    status="sent", sent_at=sa.bindparam("stamp"), provider_ref=sa.bindparam("ref"), subject=sa.bindparam("subject"),
    body=sa.bindparam("body"), last_error=None, claim_token=None,
)
_RECORD_PERMANENT = outbox.update().where(_MINE_ONE).values(
    status="failed", last_error=sa.bindparam("reason"), claim_token=None)
_RECORD_RETRY = outbox.update().where(_MINE_ONE).values(
    status=sa.case((outbox.c.attempts >= MAX_ATTEMPTS, "failed"), else_="queued"),
    last_error=sa.bindparam("reason"), claim_token=None, next_attempt_at=sa.bindparam("next_at"),
)
_RELEASE = outbox.update().where(_MINE_ONE).values(
    status="queued", claim_token=None, claimed_at=None, attempts=outbox.c.attempts - 1)
# the rows of a list of ids, as `_id_in` writes it per backend, as fixed statements: "ids" an expanding IN
# elsewhere, one array parameter on PostgreSQL
_IDS = {False: outbox.c.id.in_(sa.bindparam("ids", expanding=True)),
        True: outbox.c.id == sa.any_(sa.bindparam("ids", type_=sa.ARRAY(sa.Integer)))}
_EXTEND = {pg: outbox.update().where(ids, _HELD).values(claimed_at=sa.bindparam("stamp")) for pg, ids in _IDS.items()}
_STILL_MINE = {pg: sa.select(outbox.c.id).where(ids, _HELD) for pg, ids in _IDS.items()}
_GIVE_BACK_SLOT = sms_slots.delete().where(sms_slots.c.outbox_id == sa.bindparam("row_id"),
                                           sms_slots.c.token == sa.bindparam("token"))


@dataclass
class _Pending:
    """A chunk's outcomes, recorded in one transaction right after its provider calls."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    permanent: list[dict[str, Any]] = field(default_factory=list)
    retry: list[dict[str, Any]] = field(default_factory=list)
    release: list[dict[str, Any]] = field(default_factory=list)
    slots_back: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sent or self.permanent or self.retry or self.release or self.slots_back)


def _flush(conn: sa.Connection, pending: _Pending, result: DispatchResult) -> None:
    """Record a chunk's outcomes, each only on a row that still carries this claim's token."""
    def run(statement: Any, params: list[dict[str, Any]]) -> int:
        return _many(conn, statement, params) if params else 0

    result.sent += _record_sent(conn, pending.sent)
    result.failed += run(_RECORD_PERMANENT, pending.permanent)
    if pending.retry:
        retried = run(_RECORD_RETRY, pending.retry)
        ids = [p["row_id"] for p in pending.retry]
        exhausted = conn.execute(sa.select(sa.func.count()).where(
            _id_in(conn, ids), outbox.c.status == "failed")).scalar_one()
        result.failed += exhausted
        result.retried += retried - exhausted
    result.released += run(_RELEASE, pending.release)
    if pending.slots_back:
        conn.execute(_GIVE_BACK_SLOT, pending.slots_back)
    pending.__init__()  # type: ignore[misc]


SENT_PER_STATEMENT = 400  # rows of one UPDATE … FROM (VALUES …): 5 parameters each, far below either limit


def _record_sent(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    """Messages sent, recorded a few hundred per statement: UPDATE … FROM (VALUES (id, sent_at, ref, subject,
    body), …) joined on the primary key, only on rows still holding this claim's token. One statement instead of
    one per message (an executemany pays the driver and SQLAlchemy's parameter handling per row). The VALUES
    columns are column1…column5 on SQLite (it takes no column list after the alias). On PostgreSQL the rows go as
    five arrays through unnest: one statement of fixed text whatever the chunk (psycopg scans a query's text for
    placeholders unless it has it cached, and a VALUES list of 2,000 parameters is never cached). The arrays go in
    binary (`%b`): as text psycopg quotes every element in Python, a regular-expression test per string — a third of
    this statement's time at national volume (3.2 s → 2.0 s for 90,909 messages through `notify send`, measured)."""
    if not rows:
        return 0
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    stamp_of = outbox.c.sent_at.type.bind_processor(conn.dialect) or (lambda value: value)
    token = rows[0]["token"]
    assert all(r["token"] == token for r in rows)
    if conn.dialect.name == "postgresql":
        return conn.exec_driver_sql(
            "UPDATE outbox SET status = 'sent', sent_at = v.sent_at, provider_ref = v.ref, subject = v.subject, "
            "body = v.body, last_error = NULL, claim_token = NULL "
            "FROM unnest(%b::int[], %b::timestamp[], %b::varchar[], %b::varchar[], %b::text[]) "
            "AS v(id, sent_at, ref, subject, body) "
            f"WHERE outbox.id = v.id AND outbox.claim_token = %s AND {STILL_SENDING}",
            ([r["row_id"] for r in rows], [stamp_of(r["stamp"]) for r in rows], [r["ref"] for r in rows],
             [r["subject"] for r in rows], [r["body"] for r in rows], token),
        ).rowcount or 0
    total = 0
    for start in range(0, len(rows), SENT_PER_STATEMENT):
        part = rows[start : start + SENT_PER_STATEMENT]
        values = ", ".join([f"({mark}, {mark}, {mark}, {mark}, {mark})"] * len(part))
        params: list[Any] = [value for r in part
                             for value in (r["row_id"], stamp_of(r["stamp"]), r["ref"], r["subject"], r["body"])]
        params.append(token)
        total += conn.exec_driver_sql(
            "UPDATE outbox SET status = 'sent', sent_at = v.column2, provider_ref = v.column3, subject = v.column4, "
            f"body = v.column5, last_error = NULL, claim_token = NULL FROM (VALUES {values}) AS v "
            f"WHERE outbox.id = v.column1 AND outbox.claim_token = {mark} AND {STILL_SENDING}",
            tuple(params),
        ).rowcount or 0
    return total


def _many(conn: sa.Connection, statement: Any, params: list[dict[str, Any]]) -> int:
    """executemany; the drivers' summed rowcount (sqlite3 and psycopg both report the total)."""
    return conn.execute(statement, params).rowcount or 0


@dataclass
class _Batch:
    """One claim being worked: its token, its groups (a digest is one group) and the lease bookkeeping."""

    token: str
    groups: list[list[Any]]
    extended_at: datetime
    ids: list[int] = field(default_factory=list)  # every row of the claim: the lease is extended by primary key


@contextlib.contextmanager
def _one_read(db: Database) -> Iterator[sa.Connection]:
    """A connection for a single read in autocommit: one round trip instead of BEGIN, the read and the ending."""
    with db.engine.connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


def _for_check(db: Database, batch: _Batch, now: datetime,
               grace: timedelta) -> contextlib.AbstractContextManager[sa.Connection]:
    """The fencing check's connection: a transaction when the lease is extended with it, else a single read."""
    return db.begin() if now - batch.extended_at >= grace / 4 else _one_read(db)


def _check_and_extend(conn: sa.Connection, batch: _Batch, ids: list[int], *, now: datetime,
                      grace: timedelta) -> set[int]:
    """Extend the lease of every row still held (when a quarter of it has passed) and return which of `ids`
    still carry the token: the fencing check, made right before the provider calls."""
    postgresql = conn.dialect.name == "postgresql"
    if now - batch.extended_at >= grace / 4:
        conn.execute(_EXTEND[postgresql], {"ids": batch.ids, "token": batch.token, "stamp": to_db_time(now)})
        batch.extended_at = now
    return set(conn.execute(_STILL_MINE[postgresql], {"ids": ids, "token": batch.token}).scalars())


def _outcome_rows(members: Sequence[Any], token: str, outcome: str | DeliveryError, message: OutgoingMessage,
                  stamp: datetime, pending: _Pending) -> None:
    if isinstance(outcome, str):
        for m in members:
            pending.sent.append({"row_id": m.id, "token": token, "stamp": stamp, "ref": outcome[:200],
                                 "subject": message.subject[:300] or None, "body": message.text})
        return
    reason = mask_personal(str(outcome)[:1000])
    if isinstance(outcome, PermanentFailure):
        pending.permanent.extend({"row_id": m.id, "token": token, "reason": reason} for m in members)
    else:
        pending.retry.extend({"row_id": m.id, "token": token, "reason": reason,
                              "next_at": stamp + backoff(m.attempts)} for m in members)
    if members[0].channel == "sms":
        pending.slots_back.append({"row_id": members[0].id, "token": token})


def _release(members: Sequence[Any], token: str, pending: _Pending) -> None:
    pending.release.extend({"row_id": m.id, "token": token} for m in members)
    if members[0].channel == "sms":
        pending.slots_back.append({"row_id": members[0].id, "token": token})


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
    before_check: Callable[[list[Any]], None] | None = None,
    max_rounds: int | None = None,
    clock: Callable[[], datetime] | None = None,
    rates: RateOverride | None = None,
    chunk: int | None = None,
) -> DispatchResult:
    """Deliver what is due to go, in claims of `batch`, until nothing more can go now.

    `clock` is read for leases and records (default: `now` plus the time elapsed since the call); `chunk` fixes
    the groups per fencing check (default: adaptive, ~50 ms of sending); `after_claim` and `before_check` are test
    hooks (a crash or a stall at those points)."""
    renderer = renderer or Renderer()
    started = monotonic_time.monotonic()
    read_clock = clock or (lambda: now + timedelta(seconds=monotonic_time.monotonic() - started))
    override = rates or RateOverride()
    result = DispatchResult()
    run = RunState()
    sizer = _Chunker(fixed=chunk)
    try:
        result.reclaimed = reclaim_stale(db, now=now, grace=grace)
        result.cancelled = cancel_obsolete(db)
        prune_slots(db, now=now)
        still_paused, probing = _pauses(db, now)
        result.paused.update(still_paused)
        active = [c for c in channels if c not in result.paused]
        rounds = 0
        cursor = 0
        while active and (max_rounds is None or rounds < max_rounds):
            rounds += 1
            with db.begin() as conn:
                token, chosen, last_id = _claim(conn, clock=read_clock, channels=active, batch=batch, digest=digest,
                                                result=result, after_id=cursor, override=override, run=run,
                                                first=rounds == 1)
            if last_id is None:
                break
            cursor = last_id
            if not chosen:
                continue
            with _one_read(db) as conn:
                rows = _claimed_rows(conn, chosen)
            result.claimed += len(rows)
            if after_claim is not None:
                after_claim(rows)
            grouped: dict[tuple[str, str] | int, list[Any]] = {}
            for row in rows:
                grouped.setdefault(_group_of(row, digest), []).append(row)
            work = _Batch(token=token, groups=list(grouped.values()), extended_at=read_clock(),
                          ids=[row.id for row in rows])
            _work_batch(db, work, channels=channels, active=active, renderer=renderer, result=result,
                        read_clock=read_clock, grace=grace, before_check=before_check, probing=probing, sizer=sizer)
    finally:
        for channel in channels.values():
            channel.close()
    return result


class _Chunker:
    """Groups per fencing check: doubled while a chunk's provider calls take under half the target, halved when
    they take over twice it. Kept for the whole dispatch, so each new claim starts at the size the previous one
    reached. The provider's time alone bounds what a crash can leave sent but unrecorded; the check and the record
    are ours, and counting them made a slow database shrink the chunks (PostgreSQL: ~24 messages a commit)."""

    def __init__(self, fixed: int | None) -> None:
        self.fixed = fixed
        self.size = fixed or 1

    def adapt(self, took: float, done: int) -> None:
        if self.fixed or done < self.size:  # a fixed size, or the claim's short last chunk: says nothing
            return
        if took < CHUNK_TARGET_SECONDS / 2:
            self.size = min(self.size * 2, CHUNK_MAX)
        elif took > CHUNK_TARGET_SECONDS * 2:
            self.size = max(self.size // 2, 1)


def _work_batch(db: Database, work: _Batch, *, channels: Mapping[str, Channel], active: list[str], renderer: Renderer,
                result: DispatchResult, read_clock: Callable[[], datetime], grace: timedelta,
                before_check: Callable[[list[Any]], None] | None, probing: set[str], sizer: _Chunker) -> None:
    pending = _Pending()
    index = 0
    while True:
        size = sizer.size
        groups = work.groups[index : index + size]
        index += size
        provider_time = 0.0
        if groups and before_check is not None:
            before_check(groups)
        if not groups:
            return
        now = read_clock()
        with _for_check(db, work, now, grace) as conn:  # the fencing check, right before the provider calls
            held = _check_and_extend(conn, work, [m.id for g in groups for m in g], now=now, grace=grace)
        by_channel: dict[str, list[tuple[list[Any], OutgoingMessage]]] = {}
        for members in groups:
            mine = [m for m in members if m.id in held]
            if len(mine) < len(members):
                result.fenced += len(members) - len(mine)
                if mine:
                    _release(mine, work.token, pending)
                continue
            channel = members[0].channel
            if channel not in active:  # paused earlier in this batch
                _release(members, work.token, pending)
                continue
            by_channel.setdefault(channel, []).append((members, render_group(renderer, members)))
        for channel, items in by_channel.items():
            sending = monotonic_time.monotonic()
            outcomes = send_many(channels[channel], [m for _, m in items])
            provider_time += monotonic_time.monotonic() - sending
            stamp = to_db_time(read_clock())
            for (members, message), outcome in zip(items, outcomes, strict=True):
                if outcome is None:
                    _release(members, work.token, pending)
                elif isinstance(outcome, ChannelFailure):
                    _release(members, work.token, pending)
                    if channel in active:
                        active.remove(channel)
                        result.paused[channel] = mask_personal(str(outcome)) or ""
                        result.errors.append(str(outcome))
                        _pause(db, channel, str(outcome), read_clock())
                else:
                    _outcome_rows(members, work.token, outcome, message, stamp, pending)
                    if isinstance(outcome, str):
                        result.deliveries += 1
                        if channel in probing:  # the paused channel works again: lift the alert
                            probing.discard(channel)
                            _resume(db, channel)
                    else:
                        result.errors.append(mask_personal(str(outcome)) or "")
        if pending:  # recorded at once: a crash or stall after this point re-sends nothing of this chunk
            with db.begin() as conn:
                _flush(conn, pending, result)
        sizer.adapt(provider_time, len(groups))


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
                raise NotFound("org.not_found", code=org)
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
                "last_error": mask_personal(r.last_error),
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
