"""outbox hardening — issue 10 H2 and issue 11: paused channels (the sender's fault), the SMS rate ledger.

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_pauses",
        sa.Column("channel", sa.String(length=10), autoincrement=False, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("paused_at", sa.DateTime(), nullable=False),
        sa.Column("retry_at", sa.DateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_channel_pauses")),
    )
    op.create_table(
        "sms_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_slots")),
    )
    with op.batch_alter_table("sms_slots", schema=None) as batch_op:
        batch_op.create_index("ix_sms_slots_taken_at", ["taken_at"], unique=False)
        batch_op.create_index("ix_sms_slots_address_taken_at", ["address", "taken_at"], unique=False)
        batch_op.create_index("ix_sms_slots_outbox_id", ["outbox_id"], unique=False)


def downgrade() -> None:
    op.drop_table("sms_slots")
    op.drop_table("channel_pauses")
