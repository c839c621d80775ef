"""A realistic database per backend for the plan guards: a generated tree (~13,400 organizations) imported
through the importer, a year launched (~26,800 cycles) and swept, statistics as the commands leave them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.national import PLAN, write_csv
from services.clock import parse_when
from storage.db import Database
from tests.conftest import pg_database

GUARD_SCALE = 0.02  # 7 prefectures, 56 cities, 560 city units, 800 towns, 12,000 villages
NOW = parse_when("2014-12-10")


def build(db: Database, work: Path, scale: float = GUARD_SCALE) -> None:
    from services.orgs import import_orgs
    from services.sweep import sweep_deadlines
    from services.years import start_year

    csv_path = work / f"tree-{scale}.csv"
    if not csv_path.exists():
        write_csv(csv_path, scale)
    import_orgs(db, csv_path, now=parse_when("2014-11-20"))
    start_year(db, plan_text=PLAN, year=2014, now=parse_when("2014-11-20"))
    sweep_deadlines(db, now=NOW)


@pytest.fixture(scope="session")
def realistic_sqlite(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Database]:
    work = tmp_path_factory.mktemp("realistic")
    shutil.copy(sqlite_template, work / "realistic.db")
    db = Database(f"sqlite:///{work / 'realistic.db'}")
    build(db, work)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def realistic_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    work = tmp_path_factory.mktemp("realistic-pg")
    for db in pg_database():
        build(db, work)
        yield db


@pytest.fixture(params=["sqlite", "postgresql"])
def realistic(request: pytest.FixtureRequest) -> Database:
    name = "realistic_sqlite" if request.param == "sqlite" else "realistic_pg"
    db: Database = request.getfixturevalue(name)
    return db
