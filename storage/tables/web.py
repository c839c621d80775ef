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
    # where one-time sign-in codes go (a provisioned account's unit phone); NULL: no SMS sign-in
    sa.Column("phone", sa.String(40), nullable=True),
    # 'secretary' | 'reviewer' for accounts `users provision` made and keeps in step with the tree; NULL: by hand
    sa.Column("provisioned", sa.String(20), nullable=True),
    sa.Index("ix_web_users_phone", "phone"),
    sa.Index("ix_web_users_scope", "scope"),
)

# Bearer tokens of an SMS sign-in (POST /api/auth/otp/verify): several per account, each with an expiry, stored hashed.
web_tokens = sa.Table(
    "web_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("web_users.id"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Index("ix_web_tokens_user_id", "user_id"),
)

# One-time sign-in codes: a keyed hash (HMAC with the server secret) of phone and code, never the code itself.
otp_codes = sa.Table(
    "otp_codes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("phone", sa.String(40), nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime, nullable=True),
    sa.Index("ix_otp_codes_phone_created_at", "phone", "created_at"),
)

# Failed sign-ins per key ('pw:<hash of the name>', 'otp:<phone>'): the count and the lock it earned (back-off).
login_throttle = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True, autoincrement=False),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locks", sa.Integer, nullable=False, server_default="0"),  # locks so far: each doubles the next
    sa.Column("locked_until", UtcDateTime, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
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
