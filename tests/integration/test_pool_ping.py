"""A pooled PostgreSQL connection the server dropped while it sat idle is replaced at checkout, unseen by the caller;
one that served a moment ago is handed out without a round trip (storage.db._ping_if_idle)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import storage.db
from storage.db import Database, make_engine
from tests.conftest import PG_URL


@pytest.fixture
def pg_engine() -> Any:
    if not PG_URL:
        pytest.skip("PostgreSQL tests need SHUZHI_TEST_PG (set by .ci/run), e.g. postgresql://postgres@127.0.0.1:5432/test")
    engine = make_engine(PG_URL, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _backend_pid(db: Database) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_an_idle_connection_the_server_dropped_is_replaced(pg_engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(PG_URL or "", engine=pg_engine)
    first = _backend_pid(db)
    assert _backend_pid(db) == first  # reused while fresh
    with make_engine(PG_URL or "").connect() as admin:
        assert admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar() is True
    monkeypatch.setattr(storage.db, "PING_AFTER_IDLE", -1.0)  # as if it had sat idle: the checkout tests it
    second = _backend_pid(db)  # no error reaches the caller
    assert second != first


def test_a_connection_used_a_moment_ago_is_handed_out_untested(pg_engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """No round trip for a connection that just served: shown by a dropped one that is handed out as it is."""
    db = Database(PG_URL or "", engine=pg_engine)
    first = _backend_pid(db)
    with make_engine(PG_URL or "").connect() as admin:
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    monkeypatch.setattr(storage.db, "PING_AFTER_IDLE", 3600.0)
    with pytest.raises(sa.exc.OperationalError):
        _backend_pid(db)  # not tested at checkout: the first statement meets the dead connection
    assert _backend_pid(db) != first  # the pool dropped it; the next checkout connects afresh


def test_a_connection_just_opened_is_not_pinged_and_an_idle_one_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new connection is alive (it just answered the handshake): its first checkout costs no round trip."""
    if not PG_URL:
        pytest.skip("PostgreSQL tests need SHUZHI_TEST_PG (set by .ci/run), e.g. postgresql://postgres@127.0.0.1:5432/test")
    pings: list[object] = []
    real = storage.db._ping
    monkeypatch.setattr(storage.db, "_ping", lambda conn: (pings.append(conn), real(conn)))
    engine = make_engine(PG_URL or "")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        assert pings == []
        monkeypatch.setattr(storage.db, "PING_AFTER_IDLE", -1.0)  # as if it had sat idle since
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        assert len(pings) == 1
    finally:
        engine.dispose()
