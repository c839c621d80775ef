"""org search — issue 12: pinyin initials of every organization's name and a name prefix index, for the search box.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CHUNK = 5000


def upgrade() -> None:
    op.add_column(
        "orgs",
        sa.Column("initials", sa.String(200).with_variant(postgresql.VARCHAR(200, collation="C"), "postgresql"),
                  nullable=False, server_default=""),
    )
    op.create_index("ix_orgs_initials", "orgs", ["initials"])
    # names by prefix (the search box): pattern ops so that LIKE 'text%' uses it under any PostgreSQL locale
    op.create_index("ix_orgs_name", "orgs", ["name"], postgresql_ops={"name": "varchar_pattern_ops"})
    # organizations imported before this revision: their initials, in chunks
    from services.search import name_initials

    conn = op.get_bind()
    orgs = sa.table("orgs", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("initials", sa.String))
    last = 0
    while True:
        rows = conn.execute(sa.select(orgs.c.id, orgs.c.name).where(orgs.c.id > last).order_by(orgs.c.id).limit(CHUNK)).all()
        if not rows:
            break
        conn.execute(orgs.update().where(orgs.c.id == sa.bindparam("_id")),
                     [{"_id": r.id, "initials": name_initials(r.name)} for r in rows])
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_orgs_name", table_name="orgs")
    op.drop_index("ix_orgs_initials", table_name="orgs")
    op.drop_column("orgs", "initials")
