"""The shared `MetaData`, naming conventions and portable column types."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Byte-order collation so that path range scans (`path >= '/A/' AND path < '/A0'`) hold on PostgreSQL
# whatever the database's locale; SQLite compares bytes already.
PathString = sa.String(700).with_variant(postgresql.VARCHAR(700, collation="C"), "postgresql")
# Pinyin initials: prefix range scans as for paths
InitialsString = sa.String(200).with_variant(postgresql.VARCHAR(200, collation="C"), "postgresql")

# Timestamps are stored as naive UTC everywhere; the clock hands out aware datetimes and the
# boundary converts (`storage.db.to_db_time`).
UtcDateTime = sa.DateTime(timezone=False)
