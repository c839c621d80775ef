"""`users provision` for the national tree: one secretary account per unit and one reviewer account per committee,
against the raw driver inserting the same accounts into a copy of the table (same indexes), in the same run.

Target (issue 9): < 60 s and < 500 MB at scale 1.0. The generated tree gives every unit the same phone; this bench
gives each a distinct mobile number first (and puts the shared one back afterwards).

Standalone: `python -m bench.bench_accounts` builds its own databases (bench/out/accounts.db and, with
SHUZHI_BENCH_PG or SHUZHI_TEST_PG, a database `bench_access`), at SHUZHI_BENCH_SCALE (default 0.05).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from bench.common import BenchContext, BenchRow, timed
from storage.db import Database
from storage.tables.core import orgs
from storage.tables.web import web_tokens, web_users

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("name", "role", "scope", "phone", "password_hash", "provisioned", "active", "session_epoch")


def _provision_in_child(url: str) -> dict[str, float]:
    """Provision in a fresh process so its peak memory (VmHWM) is its own."""
    code = (
        "import json, time, sys\n"
        "from services.provisioning import provision_accounts\nfrom storage.db import Database\n"
        "db = Database(sys.argv[1]); t = time.perf_counter()\n"
        "rs = provision_accounts(db)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'created': sum(r.created for r in rs),"
        " 'unchanged': sum(r.unchanged for r in rs), 'rss_mb': int(hwm) / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, cwd=ROOT, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _distinct_phones(db: Database) -> None:
    with db.begin() as conn:
        number = sa.cast(sa.literal(13_000_000_000, sa.BigInteger) + orgs.c.id, sa.String)
        conn.execute(orgs.update().values(phone=number))
    with db.begin() as conn:
        conn.execute(sa.text("ANALYZE orgs"))  # as `orgs import` does after a large tree


def _restore(db: Database) -> None:
    with db.begin() as conn:
        conn.execute(web_tokens.delete().where(web_tokens.c.user_id.in_(
            sa.select(web_users.c.id).where(web_users.c.provisioned.is_not(None)))))
        conn.execute(web_users.delete().where(web_users.c.provisioned.is_not(None)))
        conn.execute(orgs.update().values(phone="13800000000"))


def _raw_insert_same_accounts(db: Database) -> float:
    """The raw driver writing the accounts provisioning wrote, into a copy of web_users (same indexes)."""
    with db.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(*[web_users.c[c] for c in COLUMNS])
                                               .where(web_users.c.provisioned.is_not(None)))]
    if db.is_sqlite:
        import sqlite3

        path = db.engine.url.database
        assert path
        raw = sqlite3.connect(path)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        ddl = raw.execute("SELECT sql FROM sqlite_master WHERE tbl_name='web_users' AND sql IS NOT NULL").fetchall()
        raw.execute("DROP TABLE IF EXISTS web_users_raw")
        for (statement,) in ddl:
            raw.execute(statement.replace("web_users", "web_users_raw").replace("ix_web_users_raw", "ix_raw_users")
                        .replace("uq_web_users_raw", "uq_raw_users").replace("pk_web_users_raw", "pk_raw_users"))
        raw.commit()
        with timed() as elapsed:
            raw.executemany(f"INSERT INTO web_users_raw ({','.join(COLUMNS)}) VALUES ({','.join('?' for _ in COLUMNS)})", rows)
            raw.commit()
        seconds = elapsed()
        raw.execute("DROP TABLE web_users_raw")
        raw.commit()
        raw.close()
        return seconds
    import psycopg

    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as raw:
        raw.execute("DROP TABLE IF EXISTS web_users_raw")
        raw.execute("CREATE TABLE web_users_raw (LIKE web_users INCLUDING DEFAULTS INCLUDING INDEXES)")
        raw.commit()
        with timed() as elapsed:
            with raw.cursor() as cur, cur.copy(f"COPY web_users_raw ({','.join(COLUMNS)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            raw.commit()
        seconds = elapsed()
        raw.execute("DROP TABLE web_users_raw")
        raw.commit()
    return seconds


def run(ctx: BenchContext) -> list[BenchRow]:
    rows: list[BenchRow] = []
    for backend, url in ctx.urls:
        db = Database(url)
        _restore(db)
        _distinct_phones(db)
        try:
            ours = _provision_in_child(url)
            again = _provision_in_child(url)  # idempotent: nothing to create
            raw = _raw_insert_same_accounts(db)
        finally:
            _restore(db)
        created = int(ours["created"])
        ok = ours["seconds"] < 60 and ours["rss_mb"] < 500 and again["created"] == 0
        rows.append(BenchRow(
            f"users provision: {created:,} accounts", backend, ours["seconds"], raw, "< 60 s and < 500 MB (scale 1.0)", ok,
            extra=(f"{created / ours['seconds']:,.0f} accounts/s; peak RSS {ours['rss_mb']:,.0f} MB; "
                   f"re-run {again['seconds']:.1f}s with {int(again['unchanged']):,} unchanged, {int(again['created'])} created"),
        ))
        db.dispose()
    return rows


def main() -> int:
    from bench.national import load_tree
    from services.clock import parse_when
    from storage.db import make_engine, normalize_url

    scale = float(os.environ.get("SHUZHI_BENCH_SCALE", "0.05"))
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "accounts.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    pg_server = os.environ.get("SHUZHI_BENCH_PG") or os.environ.get("SHUZHI_TEST_PG")
    pg_url = None
    if pg_server:
        engine = make_engine(pg_server, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("DROP DATABASE IF EXISTS bench_access WITH (FORCE)"))
            conn.execute(sa.text("CREATE DATABASE bench_access"))
        engine.dispose()
        pg_url = sa.engine.make_url(normalize_url(pg_server)).set(database="bench_access").render_as_string(hide_password=False)
    ctx = BenchContext(work_dir=out, sqlite_url=f"sqlite:///{path}", pg_url=pg_url, scale=scale)
    for backend, url in ctx.urls:
        db = Database(url)
        db.upgrade()
        start = time.perf_counter()
        count = load_tree(db, scale, now=parse_when("2014-11-20"))
        print(f"[{backend}] generated {count:,} organizations in {time.perf_counter() - start:.1f}s", flush=True)
        db.dispose()
    for row in run(ctx):
        print(f"{row.name:40} {row.backend:10} ours {row.ours:8.3f}s raw {row.raw:8.3f}s ratio {row.ratio:5.2f} "
              f"{'ok' if row.ok else 'MISS'} {row.extra}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
