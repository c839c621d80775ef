"""org search by level — issue 12: the search box under 50 ms at national scale (671,130 organizations).

Its prefix queries are ordered by level, then by name or initials: with indexes on the name or the initials alone a
common prefix ('第1', 'd') sorted every match (300,000) to keep 20. Led by `depth`, a level's first 20 are an index
range read in order. Names containing a text (upper levels only) get a partial index in the search's order (level,
then length): a common character stops at the first 20; a rare one reads ~71,000 index entries, never the table
on SQLite (covering). The indexes replace ix_orgs_initials and ix_orgs_name, which no other statement reads.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UPPER_KINDS_SQL = "kind IN ('prefecture', 'city', 'town', 'subdistrict', 'farm', 'city_unit')"


def upgrade() -> None:
    op.drop_index("ix_orgs_initials", table_name="orgs")
    op.drop_index("ix_orgs_name", table_name="orgs")
    op.create_index("ix_orgs_depth_initials", "orgs", ["depth", "initials"])
    # pattern ops on PostgreSQL: byte order whatever the database's locale (LIKE 'text%' and ORDER BY name USING ~<~)
    op.create_index("ix_orgs_depth_name", "orgs", ["depth", "name"], postgresql_ops={"name": "varchar_pattern_ops"})
    op.execute(f"CREATE INDEX ix_orgs_upper_names ON orgs (depth, length(name), name) WHERE {UPPER_KINDS_SQL}")


def downgrade() -> None:
    op.drop_index("ix_orgs_upper_names", table_name="orgs")
    op.drop_index("ix_orgs_depth_name", table_name="orgs")
    op.drop_index("ix_orgs_depth_initials", table_name="orgs")
    op.create_index("ix_orgs_name", "orgs", ["name"], postgresql_ops={"name": "varchar_pattern_ops"})
    op.create_index("ix_orgs_initials", "orgs", ["initials"])
