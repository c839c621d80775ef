"""One connection per web request (storage.db.Database.scope): shared reads, fresh after a write, never two at once."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from storage.db import Database


def _db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'scope.db'}")
    with db.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    return db


def test_reads_in_a_scope_share_one_connection_and_see_each_write(tmp_path: Path) -> None:
    db = _db(tmp_path)
    pool = db.engine.pool
    with db.scope():
        with db.connect() as first:
            assert first.execute(sa.text("SELECT count(*) FROM t")).scalar() == 0
        with db.connect() as second:
            assert second is first
            assert pool.checkedout() == 1  # type: ignore[attr-defined]
        with db.begin() as writer:  # a write between two reads: the idle read connection went back first
            assert pool.checkedout() == 1  # type: ignore[attr-defined]
            writer.execute(sa.text("INSERT INTO t VALUES (1)"))
        with db.connect() as third:
            assert third.execute(sa.text("SELECT count(*) FROM t")).scalar() == 1  # not a snapshot from before
            with db.connect() as nested:
                assert nested is third
            assert third.in_transaction()  # a nested block's end does not end the outer block's reads
        assert pool.checkedout() == 1  # type: ignore[attr-defined]
    assert pool.checkedout() == 0  # type: ignore[attr-defined]  # the scope's end gave it back
    with db.connect() as outside, db.connect() as other:
        assert outside is not other  # outside a scope each block has its own connection, as before


def test_a_failing_read_leaves_the_scope_usable(tmp_path: Path) -> None:
    db = _db(tmp_path)
    with db.scope():
        try:
            with db.connect() as conn:
                conn.execute(sa.text("SELECT * FROM missing_table"))
        except sa.exc.OperationalError:
            pass
        with db.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 0
