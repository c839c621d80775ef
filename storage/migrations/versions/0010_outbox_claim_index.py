"""outbox claim index — issue 11 item 4: the dispatcher's claim reads the next queued rows in id order.

`status = 'queued' AND id > cursor ORDER BY id LIMIT n` is a range of this index on both backends: a claim reads
the rows it takes, whatever the size of the outbox (before, each claim read and sorted every queued row).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_status_id", "outbox", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_status_id", table_name="outbox")
