"""Sign-in by phone and a one-time SMS code: 6 digits, 5 minutes, single use, sent through the outbox.

Rules (issue 9): at most one code a minute and five an hour per phone; five wrong codes lock the phone for 15
minutes. Codes are stored as a keyed hash (HMAC-SHA256 with the server secret) of phone and code. Every answer is
the same whether or not the phone belongs to an account: a code is drawn and counted for any well-formed phone,
and only sent when an active account has that phone.

The outbox row carries the code in its `note` until the code is used or expires; then it is scrubbed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from services.accounts import (
    Account,
    SignInLocked,
    TooManyAttempts,
    _account,
    audit_name,
    clear_failures,
    locked_until,
    mask_phone,
    normalize_phone,
    record,
    record_failure,
    throttle_key,
)
from services.errors import BadInput, Conflict, Problem
from storage.db import Database, to_db_time
from storage.tables.core import orgs, years
from storage.tables.notify import OTP_TEMPLATE, outbox
from storage.tables.web import otp_codes, web_users

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=5)
PER_MINUTE = 1
PER_HOUR = 5
WRONG_BEFORE_LOCK = 5
LOCK_FOR = timedelta(minutes=15)
MOBILE = re.compile(r"1[3-9]\d{9}")
CODE_PATTERN = re.compile(r"\d{6}")
WRONG_CODE = "otp.wrong"
OTP_KEYS = ("otp:", "otp;")  # the outbox keys of sign-in codes: one index range


class AccountChoiceNeeded(Conflict):
    """The phone signs in to several accounts: say which (the code is kept for the second try)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__("otp.choose_account", problems=[Problem("otp.account", name=n) for n in names])
        self.names = names


def code_digest(secret: str, phone: str, code: str) -> str:
    return hmac.new(secret.encode("utf-8"), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _phone(phone: str) -> str:
    normalized = normalize_phone(phone)
    if not MOBILE.fullmatch(normalized):
        raise BadInput("otp.phone_bad", problems=["手机号：格式不正确"])
    return normalized


def _accounts_of(conn: sa.Connection, phone: str) -> list[Account]:
    rows = conn.execute(sa.select(web_users).where(web_users.c.phone == phone, web_users.c.active.is_(True))
                        .order_by((web_users.c.name != phone), web_users.c.name))
    return [_account(r) for r in rows]


def request_code(db: Database, phone: str, *, now: datetime, secret: str, client: str = "") -> None:
    """Draw a code for `phone` and queue it as an SMS when an active account has that phone; raises only for a
    malformed phone, a locked phone or the per-phone rate limits — the same for every phone."""
    phone = _phone(phone)
    key = throttle_key("otp", phone)
    until = locked_until(db, key, now=now)
    if until is not None:
        raise SignInLocked(until=until)
    stamp = to_db_time(now)
    scrub_expired(db, now=now)
    with db.begin() as conn:
        recent = conn.execute(
            sa.select(sa.func.count(), sa.func.sum(sa.case((otp_codes.c.created_at > to_db_time(now - timedelta(minutes=1)), 1), else_=0)))
            .where(otp_codes.c.phone == phone, otp_codes.c.created_at > to_db_time(now - timedelta(hours=1)))
        ).one()
        if int(recent[1] or 0) >= PER_MINUTE:
            raise TooManyAttempts("otp.too_soon")
        if int(recent[0] or 0) >= PER_HOUR:
            raise TooManyAttempts("otp.per_hour", limit=PER_HOUR)
        # this phone's codes older than the hourly window are of no more use (an index range, not a table scan)
        conn.execute(otp_codes.delete().where(otp_codes.c.phone == phone,
                                              otp_codes.c.created_at < to_db_time(now - timedelta(hours=1, minutes=5))))
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        code_id = conn.execute(otp_codes.insert().values(
            phone=phone, code_hash=code_digest(secret, phone, code), created_at=stamp,
            expires_at=to_db_time(now + CODE_LIFETIME))).inserted_primary_key[0]  # type: ignore[index]
        accounts = _accounts_of(conn, phone)
        sent = bool(accounts) and _queue_sms(conn, code_id=int(code_id), phone=phone, code=code, account=accounts[0], stamp=stamp)
    shown = accounts[0].name if accounts else audit_name(phone, known=False, secret=secret)
    record(db, now=now, username=shown, action="otp_request", outcome="ok",
           detail=f"{mask_phone(phone)}{'' if sent or not accounts else ' (no year launched: nothing to send through)'}",
           client=client)


def _queue_sms(conn: sa.Connection, *, code_id: int, phone: str, code: str, account: Account, stamp: datetime) -> bool:
    """The code as an outbox row (template 'otp'); the outbox needs a year and an organization to file it under."""
    year = conn.execute(sa.select(sa.func.max(years.c.year))).scalar()
    org_id = None
    if account.scope:
        org_id = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == account.scope)).scalar()
    if org_id is None:
        org_id = conn.execute(sa.select(orgs.c.id).order_by(orgs.c.depth, orgs.c.id).limit(1)).scalar()
    if year is None or org_id is None:
        return False
    row = {"key": f"otp:{code_id}:sms", "year": year, "org_id": org_id, "recipient_org_id": org_id, "cycle_kind": None,
           "step": None, "template": OTP_TEMPLATE, "channel": "sms", "address": phone, "due": None, "note": code,
           "status": "queued", "attempts": 0, "created_at": stamp}
    insert: Any = postgresql.insert(outbox) if conn.dialect.name == "postgresql" else sqlite.insert(outbox)
    conn.execute(insert.values(row).on_conflict_do_nothing())
    return True


def _otp_rows() -> Any:
    return sa.and_(outbox.c.key >= OTP_KEYS[0], outbox.c.key < OTP_KEYS[1])


def scrub_expired(db: Database, *, now: datetime) -> None:
    """Codes past their lifetime leave the outbox: a queued one is cancelled, a sent one loses its text."""
    cutoff = to_db_time(now - CODE_LIFETIME)
    with db.begin() as conn:
        conn.execute(outbox.update().where(_otp_rows(), outbox.c.status == "queued", outbox.c.created_at < cutoff)
                     .values(status="cancelled", note="", last_error="验证码已过期"))
        conn.execute(outbox.update().where(_otp_rows(), outbox.c.note != "", outbox.c.created_at < cutoff,
                                           outbox.c.status != "sending").values(note="", body=None))


def verify_code(db: Database, phone: str, code: str, *, now: datetime, secret: str, account: str | None = None,
                client: str = "") -> Account:
    """The account a right, fresh, unused code signs in to; a wrong, expired or reused code is one answer (400),
    and the fifth wrong one locks the phone for 15 minutes (429)."""
    phone = _phone(phone)
    key = throttle_key("otp", phone)
    until = locked_until(db, key, now=now)
    if until is not None:
        record(db, now=now, username=audit_name(phone, known=False, secret=secret), action="otp_verify",
               outcome="locked", detail=mask_phone(phone), client=client)
        raise SignInLocked(until=until)
    code = (code or "").strip()
    with db.connect() as conn:
        latest = conn.execute(
            sa.select(otp_codes.c.id, otp_codes.c.code_hash)
            .where(otp_codes.c.phone == phone, otp_codes.c.used_at.is_(None), otp_codes.c.expires_at > to_db_time(now))
            .order_by(otp_codes.c.id.desc()).limit(1)
        ).first()
        accounts = _accounts_of(conn, phone)
    right = (latest is not None and CODE_PATTERN.fullmatch(code) is not None
             and hmac.compare_digest(latest.code_hash, code_digest(secret, phone, code)))
    chosen = [a for a in accounts if account is None or a.name == account]
    if not right or not chosen:
        locked = record_failure(db, key, now=now, threshold=WRONG_BEFORE_LOCK, lock=LOCK_FOR) if not right else None
        record(db, now=now, username=audit_name(phone, known=False, secret=secret), action="otp_verify", outcome="failed",
               detail=mask_phone(phone) + (f"; locked until {locked.isoformat(timespec='seconds')}" if locked else ""),
               client=client)
        if locked is not None:
            raise SignInLocked(until=locked)
        raise BadInput(WRONG_CODE, problems=[Problem("otp.wrong_problem")])
    if len(chosen) > 1:
        raise AccountChoiceNeeded([a.name for a in chosen])
    assert latest is not None
    with db.begin() as conn:
        used = conn.execute(otp_codes.update().where(otp_codes.c.id == latest.id, otp_codes.c.used_at.is_(None))
                            .values(used_at=to_db_time(now))).rowcount
        conn.execute(outbox.update().where(outbox.c.key == f"otp:{latest.id}:sms", outbox.c.status != "sending")
                     .values(note="", body=None))
    if not used:  # another request spent it first
        raise BadInput(WRONG_CODE, problems=[Problem("otp.wrong_problem")])
    clear_failures(db, key)
    record(db, now=now, username=chosen[0].name, action="otp_verify", outcome="ok", detail=mask_phone(phone), client=client)
    return chosen[0]
