"""`users provision`: one account per organization of the tree, kept in step with it, in a few set-based statements.

A secretary account per assessed unit with a phone (not the prefecture: it has no cycle): its login name is the
unit's phone (normalized), its scope the unit.
A reviewer account per organizer committee (an organization with children): named `review-<code>`, scope the
organizer, its phone the organizer's. Provisioned accounts have no password: they sign in by SMS code. Re-running
changes nothing that is already right; an account whose unit left the tree (or whose phone changed) is disabled.
No statement runs per row: the candidates go into a temporary table, then one UPDATE, one INSERT … SELECT and one
UPDATE for the departed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from services.accounts import NO_PASSWORD, PROVISION_ROLES, REVIEWER_PREFIX
from services.errors import BadInput, NotFound
from services.orgs import subtree_bounds
from storage.db import Database
from storage.tables.core import orgs
from storage.tables.web import web_tokens, web_users

_scratch = sa.MetaData()
candidates = sa.Table(
    "provision_candidates",
    _scratch,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("scope", sa.String(64), nullable=False),
    sa.Column("phone", sa.String(40), nullable=True),
    prefixes=["TEMPORARY"],
)


@dataclass
class ProvisionResult:
    role: str
    candidates: int = 0  # accounts the tree asks for
    created: int = 0
    updated: int = 0  # scope or phone changed, or re-enabled
    unchanged: int = 0
    deactivated: int = 0  # the unit left the tree, or its phone changed
    conflicts: int = 0  # the name is taken by an account made by hand (left alone)
    shared_phone: int = 0  # units whose phone is another unit's too (one account: the first in tree order)
    no_phone: int = 0  # units without a phone (no secretary account)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sql_phone(column: Any) -> Any:
    """normalize_phone in SQL: drop spaces, '-', '+', parentheses; a 13-digit '86…' loses its country code."""
    digits = column
    for ch in (" ", "-", "+", "(", ")"):
        digits = sa.func.replace(digits, ch, "")
    return sa.case(
        (sa.and_(sa.func.length(digits) == 13, sa.func.substr(digits, 1, 2) == "86"), sa.func.substr(digits, 3)),
        else_=digits,
    )


def provision_accounts(db: Database, *, under: str | None = None, roles: tuple[str, ...] = PROVISION_ROLES,
                       now: datetime | None = None) -> list[ProvisionResult]:
    """Create, update and disable provisioned accounts for the subtree `under` (the whole tree by default)."""
    del now  # accounts carry no timestamps; kept for the services' common signature
    for role in roles:
        if role not in PROVISION_ROLES:
            raise BadInput("role.bad", value=role, choices=", ".join(PROVISION_ROLES))
    results = []
    with db.begin() as conn:
        bounds: tuple[str, str] | None = None
        if under:
            path = conn.execute(sa.select(orgs.c.path).where(orgs.c.code == under)).scalar()
            if path is None:
                raise NotFound("org.not_found", code=under)
            bounds = subtree_bounds(path)
        for role in roles:
            results.append(_provision_role(conn, role, bounds))
    return results


def _in_subtree(bounds: tuple[str, str] | None, path_column: Any) -> list[Any]:
    return [path_column >= bounds[0], path_column < bounds[1]] if bounds else []


def _fill_candidates(conn: sa.Connection, role: str, bounds: tuple[str, str] | None, result: ProvisionResult) -> None:
    if role == "secretary":
        phone = _sql_phone(orgs.c.phone)
        # the assessed units only: a prefecture has no cycle, so its secretary has nothing to do in the console
        assessed = sa.and_(orgs.c.kind != "prefecture", *_in_subtree(bounds, orgs.c.path))
        has_phone = sa.and_(orgs.c.phone != "", assessed)
        # one account per phone: the first unit in tree order (one scan and a sort, no join back)
        ranked = (
            sa.select(phone.label("name"), orgs.c.code,
                      sa.func.row_number().over(partition_by=phone, order_by=orgs.c.path).label("rank"))
            .where(has_phone).subquery("ranked")
        )
        chosen = sa.select(ranked.c.name, ranked.c.code, ranked.c.name).where(ranked.c.rank == 1)
        conn.execute(candidates.insert().from_select(["name", "scope", "phone"], chosen))
        counts = conn.execute(sa.select(
            sa.func.count(), sa.func.sum(sa.case((orgs.c.phone == "", 1), else_=0))
        ).where(assessed)).one()
        result.no_phone = int(counts[1] or 0)
        result.candidates = int(conn.execute(sa.select(sa.func.count()).select_from(candidates)).scalar_one())
        result.shared_phone = int(counts[0] or 0) - result.no_phone - result.candidates
    else:
        child = orgs.alias("child")
        organizer = sa.exists().where(child.c.parent_id == orgs.c.id)
        phone = sa.case((orgs.c.phone == "", sa.null()), else_=_sql_phone(orgs.c.phone))
        chosen = sa.select(sa.literal(REVIEWER_PREFIX) + orgs.c.code, orgs.c.code, phone).where(
            organizer, *_in_subtree(bounds, orgs.c.path))
        conn.execute(candidates.insert().from_select(["name", "scope", "phone"], chosen))
        result.candidates = int(conn.execute(sa.select(sa.func.count()).select_from(candidates)).scalar_one())


def _provision_role(conn: sa.Connection, role: str, bounds: tuple[str, str] | None) -> ProvisionResult:
    result = ProvisionResult(role=role)
    conn.execute(sa.text("DROP TABLE IF EXISTS provision_candidates"))
    candidates.create(conn)
    try:
        _fill_candidates(conn, role, bounds, result)
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE provision_candidates"))  # temporary tables get no autovacuum statistics
        mine = web_users.c.provisioned == role

        listed = web_users.c.name.in_(sa.select(candidates.c.name))
        result.conflicts = int(conn.execute(sa.select(sa.func.count()).select_from(web_users).where(
            listed, sa.or_(web_users.c.provisioned.is_(None), ~mine))).scalar_one())
        # UPDATE … FROM the candidates (PostgreSQL, SQLite ≥ 3.33): one join, no subquery per row
        result.updated = conn.execute(
            web_users.update()
            .where(web_users.c.name == candidates.c.name, mine, sa.or_(
                web_users.c.active.is_(False),
                web_users.c.role != role,
                web_users.c.scope != candidates.c.scope,
                sa.func.coalesce(web_users.c.phone, "") != sa.func.coalesce(candidates.c.phone, ""),
            ))
            .values(role=role, scope=candidates.c.scope, phone=candidates.c.phone, active=True)
        ).rowcount or 0
        taken = sa.exists().where(web_users.c.name == candidates.c.name)
        # counted before: psycopg reports no rowcount for INSERT … SELECT through SQLAlchemy
        result.created = int(conn.execute(sa.select(sa.func.count()).select_from(candidates).where(~taken)).scalar_one())
        conn.execute(web_users.insert().from_select(
            ["name", "role", "scope", "phone", "password_hash", "provisioned", "active", "session_epoch"],
            sa.select(candidates.c.name, sa.literal(role), candidates.c.scope, candidates.c.phone,
                      sa.literal(NO_PASSWORD), sa.literal(role), sa.true(), sa.literal(0)).where(~taken),
        ))
        result.unchanged = result.candidates - result.created - result.updated - result.conflicts
        # gone: the unit left the tree, or (inside the subtree) the account is no longer asked for
        scope_org = sa.select(orgs.c.path).where(orgs.c.code == web_users.c.scope).scalar_subquery()
        departed = sa.or_(~sa.exists().where(orgs.c.code == web_users.c.scope),
                          sa.and_(*_in_subtree(bounds, scope_org)) if bounds else sa.true())
        # NOT EXISTS, not NOT IN: an anti-join on PostgreSQL whatever the size (NOT IN over a subquery larger than
        # work_mem degrades to a rescan per row)
        unlisted = ~sa.exists().where(candidates.c.name == web_users.c.name)
        gone = sa.and_(mine, web_users.c.active.is_(True), unlisted, departed)
        conn.execute(web_tokens.delete().where(web_tokens.c.user_id.in_(sa.select(web_users.c.id).where(gone))))
        result.deactivated = conn.execute(web_users.update().where(gone).values(
            active=False, token_hash=None, session_epoch=web_users.c.session_epoch + 1)).rowcount or 0
    finally:
        conn.execute(sa.text("DROP TABLE IF EXISTS provision_candidates"))
    return result
