"""The database handle: engine construction (SQLite pragmas, PostgreSQL), schema upgrade, time conversion."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


class _Scope:
    """The connection a unit of work (one web request) reads through: opened at its first read, closed at its end."""

    __slots__ = ("connection", "depth", "open")

    def __init__(self) -> None:
        self.connection: Connection | None = None
        self.depth = 0
        self.open = True


class Database:
    """One engine and the ways to use it; built by entry points, never at import."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = normalize_url(url)
        self.engine = engine or make_engine(self.url)
        self._scope: ContextVar[_Scope | None] = ContextVar(f"shuzhi_db_scope_{id(self)}", default=None)

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Every `connect()` inside shares one pooled connection, checked out at the first read.

        A console page reads through 5-10 `connect()` blocks (the account, the years, the page, each permission
        the template asks); each was a pool checkout with its pre-ping round trip and a rollback at checkin.
        Writes (`begin()`) keep their own connection and transaction. Each outermost `connect()` block ends with a
        rollback, so a read after a write in the same scope sees the write (SQLite snapshots) and no transaction
        stays open while the page renders."""
        scope = _Scope()
        token = self._scope.set(scope)
        try:
            yield
        finally:
            self._scope.reset(token)
            scope.open = False
            if scope.connection is not None:
                scope.connection.close()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on any exception."""
        scope = self._scope.get()
        if scope is not None and scope.depth == 0 and scope.connection is not None:
            # the scope's connection is idle: give it back first, so a request never holds two (a pool of N
            # connections must not run dry with N requests each holding one and waiting for a second)
            scope.connection.close()
            scope.connection = None
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        scope = self._scope.get()
        if scope is None or not scope.open:
            with self.engine.connect() as connection:
                yield connection
            return
        if scope.connection is None or scope.connection.closed or scope.connection.invalidated:
            scope.connection = self.engine.connect()
        connection = scope.connection
        scope.depth += 1
        try:
            yield connection
        finally:
            scope.depth -= 1
            if scope.depth == 0 and connection.in_transaction():
                try:
                    connection.rollback()
                except sa.exc.DBAPIError:  # a connection the server dropped: the next read checks out another
                    scope.connection = None
                    connection.invalidate()

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
