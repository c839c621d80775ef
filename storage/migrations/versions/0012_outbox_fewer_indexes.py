"""outbox: drop two indexes no statement reads any more — every dispatched message paid for them twice.

`ix_outbox_status_next_attempt_at` was the claim's index until `ix_outbox_status_id` (0010) replaced it; the
per-phone limits read the slot ledger (`sms_slots`), not `ix_outbox_channel_address_sent_at`. Each message is
updated twice (claimed, then recorded sent), and each update maintained both: 10-40 % of the server's time for
those updates on PostgreSQL (measured on issue 11's dispatch bench). The EXPLAIN guard tests check the hot
outbox statements' plans without them.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_outbox_status_next_attempt_at", table_name="outbox")
    op.drop_index("ix_outbox_channel_address_sent_at", table_name="outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_channel_address_sent_at", "outbox", ["channel", "address", "sent_at"])
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
