"""The planners' statistics: refreshed when they no longer describe a table, so plans do not depend on luck.

Measured (issue 11): `orgs import` ran ANALYZE before it set `parent_id`; SQLite then believed every organization
had the same parent and the launch read the table once per organization (150 s for a city of 51,000), and
PostgreSQL's sweep spent 206 s in one insert. The importer now analyzes once the tree is complete; the sweep
calls `refresh_stale_statistics` first, which costs one count (SQLite) or one catalog read (PostgreSQL)
when nothing is stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from storage.db import Database

STALE_FRACTION = 0.2  # rows changed since the last ANALYZE, as a fraction of the table: then analyze again
SMALL_TABLE = 1_000  # below this, any plan is fast: never analyze for it


def _quoted(conn: sa.Connection, table: str) -> str:
    return conn.dialect.identifier_preparer.quote(table)


def is_stale(conn: sa.Connection, table: str) -> bool:
    """Whether `table`'s statistics are missing or describe a table that has since changed by > 20 %."""
    if conn.dialect.name == "postgresql":
        row = conn.execute(
            sa.text("SELECT n_live_tup, n_mod_since_analyze, last_analyze, last_autoanalyze "
                    "FROM pg_stat_user_tables WHERE relid = to_regclass(:t)"),
            {"t": table},
        ).first()
        if row is None:
            return False
        live, changed = int(row.n_live_tup or 0), int(row.n_mod_since_analyze or 0)
        if max(live, changed) < SMALL_TABLE:
            return False
        never = row.last_analyze is None and row.last_autoanalyze is None
        return never or changed > STALE_FRACTION * max(live, 1)
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"SELECT count(*) FROM {_quoted(conn, table)}").scalar_one()
        if rows < SMALL_TABLE:
            return False
        has_stat = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
        ).first()
        if has_stat is None:
            return True
        # each index's row starts with the rows it held: a partial index (ix_orgs_upper_names) holds fewer than the
        # table, so the largest is the table's count when analyzed
        analyzed = conn.exec_driver_sql("SELECT max(CAST(stat AS INTEGER)) FROM sqlite_stat1 WHERE tbl = ?", (table,)).scalar()
        if not analyzed:
            return True
        return abs(rows - analyzed) > STALE_FRACTION * max(rows, 1)
    return False  # pragma: no cover - we ship SQLite and PostgreSQL only


def refresh_stale_statistics(conn: sa.Connection, tables: Sequence[str]) -> list[str]:
    """ANALYZE each of `tables` whose statistics are stale (see `is_stale`); returns the tables analyzed."""
    analyzed = []
    for table in tables:
        if is_stale(conn, table):
            conn.exec_driver_sql(f"ANALYZE {_quoted(conn, table)}")
            analyzed.append(table)
    return analyzed


def analyzes_after_commit(conn: sa.Connection) -> bool:
    """Whether a large write on this connection should ANALYZE after its commit (`analyze_committed`), not inside.

    PostgreSQL adds a transaction's rows to `n_mod_since_analyze` at commit, after any ANALYZE the transaction
    ran: an import or a launch that analyzed inside its own transaction left its tables looking stale, and the
    next sweep analyzed them again (0.75 s at scale 0.1, both tables). Inside the writing transaction this
    asks PostgreSQL (≥ 15) to publish the counts as soon as it commits, so the ANALYZE that follows resets them.
    SQLite's statistics are a table written in the transaction: analyzing inside it is exact."""
    if conn.dialect.name != "postgresql":
        return False
    if (conn.dialect.server_version_info or (0,)) >= (15,):
        conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
    return True


def analyze_committed(db: Database, tables: Sequence[str]) -> None:
    """ANALYZE `tables` in a transaction of its own (see `analyzes_after_commit`)."""
    with db.begin() as conn:
        for table in tables:
            conn.exec_driver_sql(f"ANALYZE {_quoted(conn, table)}")
