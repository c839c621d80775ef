"""Console accounts: argon2-hashed passwords, API bearer tokens, session epochs and the audit of logins and refusals."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.actors import ROLES, Actor
from services.errors import BadInput, Conflict, NotFound, PermissionDenied, Problem, Refused
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import orgs
from storage.tables.web import login_throttle, web_audit, web_tokens, web_users

ROLE_LABELS = {
    "admin": "系统管理员",
    "org_department": "组织部",
    "reviewer": "审核（党委）",
    "secretary": "书记",
    "viewer": "只读",
}
# roles whose rights are limited to an organization's subtree (reviewer) or to one unit (secretary)
SCOPED_ROLES = ("reviewer", "secretary")
MIN_PASSWORD = 10
NO_PASSWORD = "!"  # the password hash of an account that signs in by SMS code only (never a valid argon2 hash)
PROVISION_ROLES = ("secretary", "reviewer")
REVIEWER_PREFIX = "review-"  # a provisioned committee account is named review-<organizer code>
# password sign-in: after FAILURES_BEFORE_LOCK wrong passwords for a name, a lock of LOCK_BASE, doubling with each
# further lock up to LOCK_MAX; a right password ends the count.
FAILURES_BEFORE_LOCK = 5
LOCK_BASE = timedelta(minutes=1)
LOCK_MAX = timedelta(hours=1)
SIGN_IN_TOKEN_HOURS = 8


class TooManyAttempts(Refused):
    """Too many requests or failures for this name, phone or address: wait (HTTP 429)."""


class SignInLocked(TooManyAttempts):
    """Too many failed sign-ins for this name or phone: locked for a while."""

    def __init__(self, *, until: datetime) -> None:
        from services.clock import PLAN_TZ

        super().__init__("login.locked", time=f"{until.astimezone(PLAN_TZ):%H:%M}")
        self.until = until


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = (Path(__file__).parent / "common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problems(password: str, *, name: str = "") -> list[Problem]:
    """The password policy (issue 10 L9, issue 12): at least MIN_PASSWORD characters, not a common password."""
    problems: list[Problem] = []
    if len(password) < MIN_PASSWORD:
        problems.append(Problem("password.too_short", limit=MIN_PASSWORD))
    lowered = password.lower()
    if lowered in common_passwords() or len(set(password)) <= 2 or (name and lowered == name.lower()):
        problems.append(Problem("password.common"))
    return problems


def _check_password(password: str, *, name: str = "") -> None:
    problems = password_problems(password, name=name)
    if problems:
        raise BadInput.listing(problems)


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    return str(_hasher().hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    if password_hash == NO_PASSWORD:
        return False
    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_PHONE_SEPARATORS = re.compile(r"[\s\-+()]")


def normalize_phone(phone: str) -> str:
    """'+86 138-0013-8000' → '13800138000': the form a phone takes as a login name (same rule as `_sql_phone`)."""
    digits = _PHONE_SEPARATORS.sub("", phone or "")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    scope: str | None
    active: bool
    session_epoch: int
    phone: str | None = None
    provisioned: str | None = None
    sms_only: bool = False

    @property
    def actor(self) -> Actor:
        return Actor(name=self.name, role=self.role, scope=self.scope)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "scope": self.scope, "active": self.active}


def _account(row: Any) -> Account:
    return Account(id=row.id, name=row.name, role=row.role, scope=row.scope, active=bool(row.active),
                   session_epoch=row.session_epoch, phone=row.phone, provisioned=row.provisioned,
                   sms_only=row.password_hash == NO_PASSWORD)


def _scope_problems(conn: sa.Connection, role: str, scope: str | None) -> list[Problem]:
    problems: list[Problem] = []
    if role not in ROLES:
        problems.append(Problem("account.role_bad", role=role, choices=", ".join(ROLES)))
    if role in SCOPED_ROLES and not scope:
        problems.append(Problem("account.scope_needed", role=role, role_label=ROLE_LABELS.get(role, role),
                                what="所审核的党委" if role == "reviewer" else "本单位",
                                what_en="the committee it reviews" if role == "reviewer" else "its own unit"))
    if scope and conn.execute(sa.select(orgs.c.id).where(orgs.c.code == scope)).first() is None:
        problems.append(Problem("account.scope_unknown", scope=scope))
    return problems


def _validate(conn: sa.Connection, name: str, role: str, password: str | None, scope: str | None,
              phone: str | None) -> list[Problem]:
    problems: list[Problem] = []
    if not name or len(name) > 100 or any(ch.isspace() or not ch.isprintable() for ch in name):
        problems.append(Problem("account.name_bad"))
    problems += _scope_problems(conn, role, scope)
    if phone and not re.fullmatch(r"1[3-9]\d{9}", normalize_phone(phone)):
        problems.append(Problem("account.phone_bad"))
    if password is not None:
        problems += password_problems(password, name=name)
    return problems


def create_user(db: Database, name: str, role: str, password: str | None, scope: str | None = None, *,
                phone: str | None = None) -> Account:
    """A new console account; a bad field is named and nothing is created. No password: SMS sign-in only."""
    if password is None and not phone:
        raise BadInput("account.needs_phone")
    phone = normalize_phone(phone) if phone else None
    with db.begin() as conn:
        problems = _validate(conn, name, role, password, scope, phone)
        if problems:
            raise BadInput.listing(problems)
        if conn.execute(sa.select(web_users.c.id).where(web_users.c.name == name)).first():
            raise Conflict("account.exists", name=name, problems=[Problem("account.name_taken", name=name)])
        password_hash = hash_password(password) if password is not None else NO_PASSWORD
        new_id = conn.execute(
            web_users.insert().values(name=name, role=role, scope=scope or None, phone=phone, password_hash=password_hash)
        ).inserted_primary_key
        assert new_id is not None
        return Account(id=int(new_id[0]), name=name, role=role, scope=scope or None, active=True, session_epoch=0,
                       phone=phone, sms_only=password is None)


def _user_filters(q: str | None, role: str | None, active: bool | None, scope: str | None) -> list[Any]:
    where: list[Any] = []
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(sa.or_(web_users.c.name.like(like, escape="\\"), web_users.c.scope.like(like, escape="\\")))
    if role:
        where.append(web_users.c.role == role)
    if active is not None:
        where.append(web_users.c.active.is_(active))
    if scope:
        where.append(web_users.c.scope == scope)
    return where


def list_users(db: Database, *, q: str | None = None, role: str | None = None, active: bool | None = None,
               scope: str | None = None, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
    """Accounts by name, filtered (name or scope containing `q`, role, active, scope), a page at a time."""
    query = sa.select(web_users).where(*_user_filters(q, role, active, scope)).order_by(web_users.c.name)
    with db.connect() as conn:
        rows = list(conn.execute(query.limit(limit).offset(offset)))
        tokens = {uid for (uid,) in conn.execute(
            sa.select(web_tokens.c.user_id).where(web_tokens.c.user_id.in_([r.id for r in rows])).distinct())} if rows else set()
    return [
        {**_account(r).as_dict(), "phone": mask_phone(r.phone) if r.phone else None, "provisioned": r.provisioned,
         "sms_only": r.password_hash == NO_PASSWORD, "has_token": r.token_hash is not None or r.id in tokens}
        for r in rows
    ]


def count_users(db: Database, *, q: str | None = None, role: str | None = None, active: bool | None = None,
                scope: str | None = None) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(web_users)
                                .where(*_user_filters(q, role, active, scope))).scalar_one())


def get_account(db: Database, user_id: int) -> Account | None:
    with db.connect() as conn:
        row = conn.execute(sa.select(web_users).where(web_users.c.id == user_id)).first()
    return _account(row) if row else None


def account_named(db: Database, name: str) -> Account:
    with db.connect() as conn:
        row = conn.execute(sa.select(web_users).where(web_users.c.name == name)).first()
    if row is None:
        raise NotFound("account.not_found", name=name)
    return _account(row)


def set_password(db: Database, name: str, password: str) -> None:
    _check_password(password, name=name)
    with db.begin() as conn:
        done = conn.execute(
            web_users.update().where(web_users.c.name == name).values(
                password_hash=hash_password(password), session_epoch=web_users.c.session_epoch + 1)
        ).rowcount
    if not done:
        raise NotFound("account.not_found", name=name)


def _other_active_admins(conn: sa.Connection, name: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(web_users).where(
        web_users.c.role == "admin", web_users.c.active.is_(True), web_users.c.name != name)).scalar_one())


def update_user(db: Database, name: str, *, role: str | None = None, scope: str | None = None,
                active: bool | None = None, clear_scope: bool = False) -> Account:
    """Change an account's role, scope or active flag; the last active admin is never demoted or disabled.

    Disabling ends the account's sessions and tokens at once."""
    with db.begin() as conn:
        row = conn.execute(sa.select(web_users).where(web_users.c.name == name)).first()
        if row is None:
            raise NotFound("account.not_found", name=name)
        new_role = role or row.role
        new_scope = None if clear_scope else (scope if scope is not None else row.scope) or None
        if new_role not in SCOPED_ROLES and role is not None and scope is None:
            new_scope = None  # an unscoped role keeps no stale scope
        new_active = row.active if active is None else active
        problems = _scope_problems(conn, new_role, new_scope)
        if problems:
            raise BadInput.listing(problems)
        if row.role == "admin" and row.active and (new_role != "admin" or not new_active) and _other_active_admins(conn, name) == 0:
            raise Refused("account.last_admin", problems=[Problem("account.keep_one_admin")])
        values: dict[str, Any] = {"role": new_role, "scope": new_scope, "active": new_active}
        if (new_role, new_scope) != (row.role, row.scope) or (not new_active and row.active):
            values["session_epoch"] = web_users.c.session_epoch + 1
        if not new_active and row.active:
            values["token_hash"] = None
            conn.execute(web_tokens.delete().where(web_tokens.c.user_id == row.id))
        conn.execute(web_users.update().where(web_users.c.id == row.id).values(**values))
        row = conn.execute(sa.select(web_users).where(web_users.c.id == row.id)).one()
    return _account(row)


def reset_password(db: Database, name: str) -> str:
    """A new random password for the account (shown once); its sessions end."""
    password = secrets.token_urlsafe(12)
    with db.begin() as conn:
        done = conn.execute(web_users.update().where(web_users.c.name == name).values(
            password_hash=hash_password(password), session_epoch=web_users.c.session_epoch + 1)).rowcount
    if not done:
        raise NotFound("account.not_found", name=name)
    return password


def force_sms_sign_in(db: Database, name: str) -> Account:
    """No password any more: the account signs in by SMS code to its phone; its sessions end."""
    account = account_named(db, name)
    if not account.phone:
        raise BadInput("account.no_phone", name=name, problems=[Problem("account.phone_unset")])
    with db.begin() as conn:
        conn.execute(web_users.update().where(web_users.c.id == account.id).values(
            password_hash=NO_PASSWORD, session_epoch=web_users.c.session_epoch + 1))
    return account_named(db, name)


def revoke_tokens(db: Database, name: str) -> int:
    """Every API token of the account stops working; returns how many there were."""
    account = account_named(db, name)
    with db.begin() as conn:
        had = 1 if conn.execute(sa.select(web_users.c.token_hash).where(web_users.c.id == account.id)).scalar() else 0
        conn.execute(web_users.update().where(web_users.c.id == account.id).values(token_hash=None))
        had += conn.execute(web_tokens.delete().where(web_tokens.c.user_id == account.id)).rowcount or 0
    return had


def issue_token(db: Database, name: str) -> str:
    """A new API bearer token for the account (replacing the previous one); shown once, stored hashed."""
    token = "shz_" + secrets.token_urlsafe(32)
    with db.begin() as conn:
        done = conn.execute(
            web_users.update().where(web_users.c.name == name).values(token_hash=_token_digest(token))
        ).rowcount
    if not done:
        raise NotFound("account.not_found", name=name)
    return token


def issue_sign_in_token(db: Database, account: Account, *, now: datetime, hours: int = SIGN_IN_TOKEN_HOURS) -> str:
    """A bearer token for an SMS sign-in through the API: one of several per account, valid `hours`."""
    token = "shz_" + secrets.token_urlsafe(32)
    with db.begin() as conn:
        conn.execute(web_tokens.delete().where(web_tokens.c.expires_at < to_db_time(now)))
        conn.execute(web_tokens.insert().values(user_id=account.id, token_hash=_token_digest(token),
                                                created_at=to_db_time(now), expires_at=to_db_time(now + timedelta(hours=hours))))
    return token


def account_for_token(db: Database, token: str, *, now: datetime | None = None) -> Account | None:
    if not token:
        return None
    digest = _token_digest(token)
    with db.connect() as conn:
        row = conn.execute(
            sa.select(web_users).where(web_users.c.token_hash == digest, web_users.c.active.is_(True))
        ).first()
        if row is None:
            signed = sa.select(web_users).join(web_tokens, web_tokens.c.user_id == web_users.c.id).where(
                web_tokens.c.token_hash == digest, web_users.c.active.is_(True))
            if now is not None:
                signed = signed.where(web_tokens.c.expires_at > to_db_time(now))
            row = conn.execute(signed).first()
    return _account(row) if row else None


# --- sign-in throttling (issue 10 M7) ---------------------------------------------------------------------------

def throttle_key(kind: str, value: str) -> str:
    """'pw:' + a digest of the name (any name, known or not, so a lock says nothing about existence); 'otp:' + phone."""
    if kind == "pw":
        return "pw:" + hashlib.sha256(value.strip().lower().encode("utf-8")).hexdigest()[:40]
    return f"{kind}:{value}"[:100]


def locked_until(db: Database, key: str, *, now: datetime) -> datetime | None:
    with db.connect() as conn:
        until = from_db_time(conn.execute(sa.select(login_throttle.c.locked_until).where(login_throttle.c.key == key)).scalar())
    return until if until is not None and until > now else None


def record_failure(db: Database, key: str, *, now: datetime, threshold: int = FAILURES_BEFORE_LOCK,
                   lock: timedelta | None = None) -> datetime | None:
    """Count one failure; the `threshold`-th earns a lock (`lock`, or a back-off doubling per lock). Returns its end."""
    stamp = to_db_time(now)
    with db.begin() as conn:
        row = conn.execute(sa.select(login_throttle).where(login_throttle.c.key == key)).first()
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(login_throttle.insert().values(key=key, failures=0, locks=0, updated_at=stamp))
            except sa.exc.IntegrityError:
                pass
            row = conn.execute(sa.select(login_throttle).where(login_throttle.c.key == key)).one()
        failures = row.failures + 1
        until: datetime | None = None
        locks = row.locks
        if failures >= threshold:
            span = lock if lock is not None else min(LOCK_BASE * (2 ** locks), LOCK_MAX)
            until = now + span
            failures, locks = 0, locks + 1
        conn.execute(login_throttle.update().where(login_throttle.c.key == key).values(
            failures=failures, locks=locks, updated_at=stamp,
            **({"locked_until": to_db_time(until)} if until else {})))
    return until


def clear_failures(db: Database, key: str) -> None:
    with db.begin() as conn:
        conn.execute(login_throttle.delete().where(login_throttle.c.key == key))


def audit_name(name: str, *, known: bool, secret: str = "") -> str:
    """The name as the audit shows it: an account's name, or a keyed digest of what was typed (issue 10 L10)."""
    if known:
        return name[:100]
    digest = hmac.new(secret.encode("utf-8"), name.encode("utf-8"), hashlib.sha256).hexdigest()[:12]
    return f"?{digest}"


# A real hash to verify against when the name is unknown, so a wrong name costs as long as a wrong password.
@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hash_password(secrets.token_hex(16))


def authenticate(db: Database, name: str, password: str, *, now: datetime, client: str = "", secret: str = "") -> Account:
    """Check a login; every attempt, good or bad, is audited. A failure says nothing about which part was wrong.

    A name with FAILURES_BEFORE_LOCK wrong passwords in a row is locked (1, 2, 4 … 60 minutes): SignInLocked."""
    key = throttle_key("pw", name)
    with db.connect() as conn:
        row = conn.execute(sa.select(web_users).where(web_users.c.name == name)).first()
    shown = audit_name(name, known=row is not None, secret=secret)
    until = locked_until(db, key, now=now)
    if until is not None:
        record(db, now=now, username=shown, action="login", outcome="locked", client=client)
        raise SignInLocked(until=until)
    ok = verify_password(row.password_hash if row else _decoy_hash(), password) and row is not None and bool(row.active)
    if not ok or row is None:
        until = record_failure(db, key, now=now)
        record(db, now=now, username=shown, action="login", outcome="failed",
               detail=f"locked until {until.isoformat(timespec='seconds')}" if until else "", client=client)
        raise PermissionDenied("login.wrong")
    clear_failures(db, key)
    record(db, now=now, username=shown, action="login", outcome="ok", client=client)
    return _account(row)


def end_sessions(db: Database, user_id: int) -> None:
    """Logout: every cookie issued before this moment stops opening a session."""
    with db.begin() as conn:
        conn.execute(web_users.update().where(web_users.c.id == user_id).values(session_epoch=web_users.c.session_epoch + 1))


def record(db: Database, *, now: datetime, username: str, action: str, outcome: str, detail: str = "",
           client: str = "") -> None:
    """One audit line (its own transaction: a refused action is rolled back, its audit line is not)."""
    with db.begin() as conn:
        conn.execute(web_audit.insert().values(at=to_db_time(now), username=username[:100], action=action[:60],
                                               outcome=outcome[:20], detail=detail[:2000], client=client[:64]))


def list_audit(db: Database, *, limit: int = 200, outcome: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(web_audit).order_by(web_audit.c.at.desc(), web_audit.c.id.desc()).limit(limit)
    if outcome:
        query = query.where(web_audit.c.outcome == outcome)
    with db.connect() as conn:
        return [
            {"at": from_db_time(r.at).isoformat() if r.at else None, "user": r.username, "action": r.action,  # type: ignore[union-attr]
             "outcome": r.outcome, "detail": r.detail, "client": r.client}
            for r in conn.execute(query)
        ]
