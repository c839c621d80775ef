"""Shared fixtures: real SQLite and PostgreSQL databases at the newest migration, a movable clock, the CLI."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from services.app import App
from services.clock import FixedClock, parse_when
from services.settings import Settings
from storage.db import Database

PG_URL = os.environ.get("SHUZHI_TEST_PG")

# Prefect, for the few orchestrated tests: an isolated home, no telemetry, a patient start-up (2 cores).
os.environ.setdefault("PREFECT_HOME", __import__("tempfile").mkdtemp(prefix="prefect-home-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
FIXTURES = Path(__file__).parent / "fixtures"

SAMPLE_ORGS = """code,name,kind,parent,secretary,phone,email
XG,孝感市委,prefecture,,孝感书记,13900000000,xg@example.cn
HC,汉川市委,city,XG,汉川书记,13900000001,hc@example.cn
T01,马口镇党委,town,HC,马口书记,13900000002,t01@example.cn
T02,城隍镇党委,town,HC,城隍书记,13900000003,
U01,市教育局党组,city_unit,HC,教育书记,,u01@example.cn
V001,东村党支部,village,T01,东村书记,13900000011,
V002,西村党支部,village,T01,西村书记,13900000012,v002@example.cn
C001,新华社区党委,community,T02,新华书记,13900000021,
E001,汉川纺织厂党支部,enterprise,T02,纺织书记,,
"""

SAMPLE_PLAN = """year = 2014
timezone = "Asia/Shanghai"
submission_lead_days = 10

[meetings]
city = "2014-12-15"
towns = "2014-12-20"
villages = "2014-12-26"

[meetings.by_organizer]
T02 = "2014-12-27"

[own_level]
deadline = "2015-01-31"

[reminders]
before_days = [3, 1]
escalate_after_days = 2
"""


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (~20 s to start), shared by every `prefect` test."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def _prefect_for_marked_tests(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("prefect") is not None:
        request.getfixturevalue("prefect_harness")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy (migrations run once)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    target = tmp_path / "shuzhi.db"
    shutil.copy(sqlite_template, target)
    db = Database(f"sqlite:///{target}")
    yield db
    db.dispose()


def pg_database() -> Iterator[Database]:
    """A fresh schema in the test PostgreSQL database, migrated to head, dropped afterwards."""
    if not PG_URL:
        pytest.skip("PostgreSQL tests need SHUZHI_TEST_PG (set by .ci/run), e.g. postgresql://postgres@127.0.0.1:5432/test")
    import sqlalchemy as sa

    from storage.db import make_engine, normalize_url

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    db = Database(normalize_url(PG_URL), engine=engine)
    db.upgrade()
    try:
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_db() -> Iterator[Database]:
    yield from pg_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "shuzhi.db"
        shutil.copy(sqlite_template, target)
        db = Database(f"sqlite:///{target}")
        yield db
        db.dispose()
    else:
        yield from pg_database()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(parse_when("2014-11-25"))


def make_app(db: Database, clock: FixedClock, **settings: str) -> App:
    from services.app import default_hooks

    return App(db=db, clock=clock, settings=Settings.from_env({}, db_url=db.url, **settings), hooks=default_hooks())


@pytest.fixture
def app(sqlite_db: Database, clock: FixedClock) -> App:
    return make_app(sqlite_db, clock)


@pytest.fixture
def orgs_csv(tmp_path: Path) -> Path:
    path = tmp_path / "orgs.csv"
    path.write_text(SAMPLE_ORGS, encoding="utf-8")
    return path


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(SAMPLE_PLAN, encoding="utf-8")
    return path


def launch_sample(db: Database, *, now: datetime, tmp_path: Path) -> None:
    """Import the sample city and launch 2014: the starting point of most service tests."""
    from services.orgs import import_orgs
    from services.years import start_year

    path = tmp_path / "sample-orgs.csv"
    path.write_text(SAMPLE_ORGS, encoding="utf-8")
    import_orgs(db, path, now=now)
    start_year(db, plan_text=SAMPLE_PLAN, year=2014, now=now)


@pytest.fixture
def launched(app: App, tmp_path: Path) -> App:
    launch_sample(app.db, now=app.now(), tmp_path=tmp_path)
    return app


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run `shuzhi ARGS` in-process against a database in tmp_path; returns (code, stdout, stderr)."""
    from shuzhi_cli.main import run

    monkeypatch.delenv("SHUZHI_NOW", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("SHUZHI_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SHUZHI_SINK_DIR", str(tmp_path / "sink"))

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke
