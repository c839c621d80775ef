"""Console accounts: argon2-hashed passwords, API bearer tokens, session epochs and the audit of logins and refusals."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from services.actors import ROLES, Actor
from services.errors import BadInput, Conflict, NotFound, PermissionDenied
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import orgs
from storage.tables.web import web_audit, web_users

ROLE_LABELS = {
    "admin": "系统管理员",
    "org_department": "组织部",
    "reviewer": "审核（党委）",
    "secretary": "书记",
    "viewer": "只读",
}
# roles whose rights are limited to an organization's subtree (reviewer) or to one unit (secretary)
SCOPED_ROLES = ("reviewer", "secretary")
MIN_PASSWORD = 8


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    return str(_hasher().hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    scope: str | None
    active: bool
    session_epoch: int

    @property
    def actor(self) -> Actor:
        return Actor(name=self.name, role=self.role, scope=self.scope)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "scope": self.scope, "active": self.active}


def _account(row: Any) -> Account:
    return Account(id=row.id, name=row.name, role=row.role, scope=row.scope, active=bool(row.active),
                   session_epoch=row.session_epoch)


def _validate(conn: sa.Connection, name: str, role: str, password: str, scope: str | None) -> list[str]:
    problems = []
    if not name or len(name) > 100 or any(ch.isspace() for ch in name):
        problems.append(f"name: '{name}' must be 1–100 characters without spaces")
    if role not in ROLES:
        problems.append(f"--role: '{role}' is not one of {', '.join(ROLES)}")
    if role in SCOPED_ROLES and not scope:
        problems.append(f"--scope: a {role} needs the code of an organization (their {'organizer' if role == 'reviewer' else 'own unit'})")
    if scope and conn.execute(sa.select(orgs.c.id).where(orgs.c.code == scope)).first() is None:
        problems.append(f"--scope: no organization with code '{scope}'")
    if len(password) < MIN_PASSWORD:
        problems.append(f"password: at least {MIN_PASSWORD} characters")
    return problems


def create_user(db: Database, name: str, role: str, password: str, scope: str | None = None) -> Account:
    """A new console account; a bad field is named and nothing is created."""
    with db.begin() as conn:
        problems = _validate(conn, name, role, password, scope)
        if problems:
            raise BadInput("; ".join(problems), problems=problems)
        if conn.execute(sa.select(web_users.c.id).where(web_users.c.name == name)).first():
            raise Conflict("account.exists", name=name)
        new_id = conn.execute(
            web_users.insert().values(name=name, role=role, scope=scope,
                                      password_hash=hash_password(password))
        ).inserted_primary_key
        assert new_id is not None
        return Account(id=int(new_id[0]), name=name, role=role, scope=scope, active=True, session_epoch=0)


def list_users(db: Database) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(sa.select(web_users).order_by(web_users.c.name))
        return [{**_account(r).as_dict(), "has_token": r.token_hash is not None} for r in rows]


def get_account(db: Database, user_id: int) -> Account | None:
    with db.connect() as conn:
        row = conn.execute(sa.select(web_users).where(web_users.c.id == user_id)).first()
    return _account(row) if row else None


def set_password(db: Database, name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadInput("password.short", limit=MIN_PASSWORD)
    with db.begin() as conn:
        done = conn.execute(
            web_users.update().where(web_users.c.name == name).values(
                password_hash=hash_password(password), session_epoch=web_users.c.session_epoch + 1)
        ).rowcount
    if not done:
        raise NotFound("account.not_found", name=name)


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


def account_for_token(db: Database, token: str) -> Account | None:
    if not token:
        return None
    with db.connect() as conn:
        row = conn.execute(
            sa.select(web_users).where(web_users.c.token_hash == _token_digest(token), web_users.c.active.is_(True))
        ).first()
    return _account(row) if row else None


# A real hash to verify against when the name is unknown, so a wrong name costs as long as a wrong password.
@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hash_password(secrets.token_hex(16))


def authenticate(db: Database, name: str, password: str, *, now: datetime, client: str = "") -> Account:
    """Check a login; every attempt, good or bad, is audited. A failure says nothing about which part was wrong."""
    with db.connect() as conn:
        row = conn.execute(sa.select(web_users).where(web_users.c.name == name)).first()
    ok = verify_password(row.password_hash if row else _decoy_hash(), password) and row is not None and bool(row.active)
    record(db, now=now, username=name[:100], action="login", outcome="ok" if ok else "failed", client=client)
    if not ok or row is None:
        raise PermissionDenied("login.wrong")
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
