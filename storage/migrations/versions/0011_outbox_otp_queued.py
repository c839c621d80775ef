"""queued sign-in codes — a partial index so the dispatcher claims them ahead of any backlog.

On the national morning the sweep queues ~780,000 reminders; a sign-in code queued behind them in id order would
wait hours under the SMS rate limit and expire after 5 minutes. The claim first reads the queued codes through this
index (a handful of rows whatever the size of the outbox), then continues the backlog.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OTP_QUEUED = "status = 'queued' AND template = 'otp'"


def upgrade() -> None:
    op.create_index("ix_outbox_otp_queued", "outbox", ["id"], sqlite_where=sa.text(OTP_QUEUED),
                    postgresql_where=sa.text(OTP_QUEUED))


def downgrade() -> None:
    op.drop_index("ix_outbox_otp_queued", table_name="outbox")
