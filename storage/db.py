"""The database handle: engine construction (SQLite pragmas, PostgreSQL), schema upgrade, time conversion."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Accept `postgresql://` as users write it and use the psycopg 3 driver we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine whose errors never carry SQL parameters (phones, e-mails of other rows) into logs (issue 10 M3)."""
    url = normalize_url(url)
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = sa.create_engine(url, **kwargs)
    sa.event.listen(engine, "connect", _idle_since)  # a connection just opened is alive: no ping at its checkout
    sa.event.listen(engine, "checkin", _idle_since)
    sa.event.listen(engine, "checkout", _ping_if_idle)
    return engine


PING_AFTER_IDLE = 5.0  # seconds a pooled connection may sit unused before a checkout tests it


def _idle_since(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """`pool_pre_ping`, but only for a connection idle more than PING_AFTER_IDLE seconds: one that served a request
    a moment ago is alive, and a console page checks out several (each ping was a round trip). A dead one raises
    DisconnectionError, on which the pool drops it and checks out another (SQLAlchemy's documented recipe)."""
    if time.monotonic() - record.info.get("idle_since", 0.0) <= PING_AFTER_IDLE:
        return
    try:
        _ping(dbapi_connection)
    except Exception as error:
        raise sa.exc.DisconnectionError() from error


def _ping(dbapi_connection: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT 1")
    finally:
        cursor.close()
    dbapi_connection.rollback()  # the ping's transaction ends here, as the pool hands out connections


class Database:
    """One engine and the ways to use it; built by entry points, never at import."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = normalize_url(url)
        self.engine = engine or make_engine(self.url)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on any exception."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    def upgrade(self) -> str:
        """Bring the schema to the newest migration (`shuzhi init`); safe to repeat. Returns the head."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision() or ""

    def dispose(self) -> None:
        self.engine.dispose()


def to_db_time(moment: datetime) -> datetime:
    """Aware → naive UTC for storage."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def from_db_time(moment: datetime | None) -> datetime | None:
    """Naive UTC from storage → aware UTC."""
    if moment is None:
        return None
    if isinstance(moment, str):  # raw sqlite3 reads
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
