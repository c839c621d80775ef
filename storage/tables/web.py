"""Tables of the web console: accounts (argon2 hashes, API token hashes) and the audit of logins and refusals."""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables.base import UtcDateTime, metadata
from storage.tables.core import cycles

web_users = sa.Table(
    "web_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),  # services.actors.ROLES
    sa.Column("scope", sa.String(64), nullable=True),  # an organization code (reviewer: its organizer; secretary: own unit)
    sa.Column("password_hash", sa.String(200), nullable=False),
    # sha256 of the bearer token of `shuzhi users token NAME`; the token itself is shown once, never stored
    sa.Column("token_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    # bumped by logout / password change: a signed cookie from before no longer opens a session
    sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"),
)

web_audit = sa.Table(
    "web_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("username", sa.String(100), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),  # login, logout, denied, fire, import_orgs, …
    sa.Column("outcome", sa.String(20), nullable=False),  # ok | failed | denied
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sa.Column("client", sa.String(64), nullable=False, server_default=""),
    sa.Index("ix_web_audit_at", "at"),
)

# The console's year overview counts cycles by (year, kind, state, due): an index-only scan instead of a table scan
# at national scale (measured in bench/bench_web.py). Declared here and created by migration 0005.
ix_cycles_year_kind_state_due = sa.Index(
    "ix_cycles_year_kind_state_due", cycles.c.year, cycles.c.kind, cycles.c.state, cycles.c.due
)
