"""access — issues 9, 10, 12: SMS sign-in codes, sign-in tokens, login throttling, provisioned accounts.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_users") as batch:
        batch.add_column(sa.Column("phone", sa.String(40), nullable=True))
        batch.add_column(sa.Column("provisioned", sa.String(20), nullable=True))
    op.create_index("ix_web_users_phone", "web_users", ["phone"])
    op.create_index("ix_web_users_scope", "web_users", ["scope"])
    op.create_table(
        "web_tokens",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_tokens"),
        sa.ForeignKeyConstraint(["user_id"], ["web_users.id"], name="fk_web_tokens_user_id_web_users"),
        sa.UniqueConstraint("token_hash", name="uq_web_tokens_token_hash"),
    )
    op.create_index("ix_web_tokens_user_id", "web_tokens", ["user_id"])
    op.create_table(
        "otp_codes",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=False), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_otp_codes"),
    )
    op.create_index("ix_otp_codes_phone_created_at", "otp_codes", ["phone", "created_at"])
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=False), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=False), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_login_throttle"),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_index("ix_otp_codes_phone_created_at", table_name="otp_codes")
    op.drop_table("otp_codes")
    op.drop_index("ix_web_tokens_user_id", table_name="web_tokens")
    op.drop_table("web_tokens")
    op.drop_index("ix_web_users_scope", table_name="web_users")
    op.drop_index("ix_web_users_phone", table_name="web_users")
    with op.batch_alter_table("web_users") as batch:
        batch.drop_column("provisioned")
        batch.drop_column("phone")
