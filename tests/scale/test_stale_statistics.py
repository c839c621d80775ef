"""Statistics taken before the tree was complete (issue 11): the sweep and the launch must still plan well.

The tree is loaded as the old importer did it — rows first, ANALYZE, then every parent_id set — with
autovacuum off for the table, so nothing refreshes the statistics behind the test's back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.national import PLAN, generate
from services.clock import parse_when
from storage.db import Database
from storage.statistics import is_stale, refresh_stale_statistics
from storage.tables.core import orgs
from tests.scale.plan_check import explainable, recording, scans

SCALE = 0.02


def _load_with_stale_statistics(db: Database) -> None:
    rows = []
    for row in generate(SCALE, now=parse_when("2014-11-20")):
        row.pop("_parent")
        rows.append(row)
    with db.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE orgs SET (autovacuum_enabled = false)")
        conn.execute(orgs.insert(), rows)
    with db.begin() as conn:
        conn.exec_driver_sql("ANALYZE orgs")  # every parent_id is NULL now
    parent = orgs.alias("p")
    with db.begin() as conn:
        conn.execute(
            orgs.update().values(
                parent_id=sa.select(parent.c.id)
                .where(parent.c.path == sa.func.substr(orgs.c.path, 1, sa.func.length(orgs.c.path)
                                                       - sa.func.length(orgs.c.code) - 1))
                .scalar_subquery()
            ).where(orgs.c.depth > 0)
        )


@pytest.fixture
def stale_pg() -> Iterator[Database]:
    from tests.conftest import pg_database

    for db in pg_database():
        _load_with_stale_statistics(db)
        db.engine.dispose()  # PostgreSQL publishes a session's table counters when it ends (or within seconds)
        for _ in range(40):  # a bounded wait for the counters, not a timing assertion
            with db.connect() as conn:
                if is_stale(conn, "orgs"):
                    break
            time.sleep(0.5)
        yield db


def test_postgresql_sees_the_stale_statistics_and_the_sweep_refreshes_them(stale_pg: Database) -> None:
    from services.sweep import sweep_deadlines
    from services.years import start_year

    db = stale_pg
    with db.connect() as conn:
        assert is_stale(conn, "orgs")
    start_year(db, plan_text=PLAN, year=2014, now=parse_when("2014-11-20"))
    with recording(db.engine) as recorded:
        result = sweep_deadlines(db, now=parse_when("2014-12-12"))
    assert result.escalated > 0
    with db.connect() as conn:
        assert not is_stale(conn, "orgs")
        bad = [(r.statement[:200], s) for r in recorded if explainable(r)
               for s in scans(conn, r.statement, r.parameters) if s.repeated]
    assert [b for b in bad if not b[0].startswith("SELECT years.year")] == []


def test_sqlite_statistics_of_a_grown_table_are_stale(sqlite_db: Database, tmp_path: Path) -> None:
    from services.orgs import import_orgs

    path = tmp_path / "small.csv"
    path.write_text("code,name,kind,parent\nP1,甲,prefecture,\n", encoding="utf-8")
    import_orgs(sqlite_db, path, now=parse_when("2014-11-20"))
    rows = [{**row, "parent_id": None} for row in generate(SCALE, now=parse_when("2014-11-20"))]
    for row in rows:
        row.pop("_parent")
    with sqlite_db.begin() as conn:
        conn.execute(orgs.insert(), rows)
        assert is_stale(conn, "orgs")
        assert refresh_stale_statistics(conn, ["orgs", "cycles"]) == ["orgs"]
        assert not is_stale(conn, "orgs")
