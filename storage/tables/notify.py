"""Tables of the notify feature: the outbox (exactly-once messages), calendar overrides, the scheduler lock."""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables.base import UtcDateTime, metadata

# One row per message and channel. `key` is the exactly-once key of notifications.md:
# year:org:cycle kind:step:message type:threshold-or-day:channel — UNIQUE, so re-sweeps and concurrent
# sweeps insert nothing twice (INSERT … SELECT … ON CONFLICT DO NOTHING).
# the predicate of the partial index below, written as literals so both planners can match a query to it
OTP_TEMPLATE = "otp"  # the sign-in code (services/otp.py): never held by quiet hours, never folded into a digest
OTP_QUEUED = f"status = 'queued' AND template = '{OTP_TEMPLATE}'"

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("year", sa.Integer, sa.ForeignKey("years.year"), nullable=False),
    sa.Column("org_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),  # whose cycle it is about
    sa.Column("recipient_org_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),  # whose contact receives it
    sa.Column("cycle_kind", sa.String(10), nullable=True),
    sa.Column("step", sa.String(20), nullable=True),
    sa.Column("template", sa.String(20), nullable=False),  # reminder | due_today | overdue | escalation | returned | feedback | work_plan
    sa.Column("channel", sa.String(10), nullable=False),  # sms | email
    sa.Column("address", sa.String(200), nullable=False),  # the phone or the e-mail address
    sa.Column("due", sa.Date, nullable=True),
    sa.Column("days", sa.Integer, nullable=True),  # days before (reminder) or past (overdue, escalation) the due date
    sa.Column("note", sa.Text, nullable=True),  # the reason of a returned report
    sa.Column("subject", sa.String(300), nullable=True),
    sa.Column("body", sa.Text, nullable=True),
    sa.Column("status", sa.String(10), nullable=False, server_default="queued"),  # queued | sending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime, nullable=True),
    sa.Column("claim_token", sa.String(40), nullable=True),
    sa.Column("claimed_at", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("provider_ref", sa.String(200), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("key"),
    sa.Index("ix_outbox_status_id", "status", "id"),  # the claim: the next queued rows in id order (a range)
    sa.Index("ix_outbox_year_org_id", "year", "org_id"),
    # sign-in codes waiting to go: claimed ahead of any backlog (a partial index: a handful of rows, whatever the queue)
    sa.Index("ix_outbox_otp_queued", "id", sqlite_where=sa.text(OTP_QUEUED), postgresql_where=sa.text(OTP_QUEUED)),
)

# The State Council's notice for a year the calendar package does not know yet, or a local change.
calendar_days = sa.Table(
    "calendar_days",
    metadata,
    sa.Column("day", sa.Date, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(10), nullable=False),  # workday | holiday
    sa.Column("note", sa.String(200), nullable=False, server_default=""),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.String(100), nullable=False),
)

# One scheduler per database: the holder renews its lease; another waits until the lease lapses.
scheduler_lock = sa.Table(
    "scheduler_lock",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True, autoincrement=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("acquired_at", UtcDateTime, nullable=False),
    sa.Column("lease_until", UtcDateTime, nullable=False),
)

# A channel paused because the failure is the sender's (auth refused, bad configuration, gateway down):
# its messages stay queued; the dispatcher tries again at `retry_at`; the console and `outbox list` show it.
channel_pauses = sa.Table(
    "channel_pauses",
    metadata,
    sa.Column("channel", sa.String(10), primary_key=True, autoincrement=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("paused_at", UtcDateTime, nullable=False),
    sa.Column("retry_at", UtcDateTime, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False, server_default="1"),
)

# The SMS rate ledger: one row per delivery slot taken by a claim (a digest is one slot). Counting it under a
# lock keeps `sms_per_minute` and the per-phone daily cap exact when several dispatchers race; a slot whose
# delivery did not happen is given back.
sms_slots = sa.Table(
    "sms_slots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("taken_at", UtcDateTime, nullable=False),
    sa.Column("address", sa.String(200), nullable=False),
    sa.Column("outbox_id", sa.Integer, nullable=False),
    sa.Column("token", sa.String(40), nullable=False),
    sa.Index("ix_sms_slots_taken_at", "taken_at"),
    sa.Index("ix_sms_slots_address_taken_at", "address", "taken_at"),
    sa.Index("ix_sms_slots_outbox_id", "outbox_id"),
)
