"""Core benchmarks of issue 2: the cascade, fire_event and the lagging query, each against a raw baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from bench.common import BenchContext, BenchRow, best_of, timed
from bench.national import PLAN
from services.clock import parse_when
from services.cycles import fire_event, list_cycles
from storage.db import Database
from storage.tables.core import cycles

ROOT = Path(__file__).resolve().parents[1]
FIRES = 2_000


def _cascade_in_child(url: str) -> dict[str, float]:
    """Run the cascade in a fresh process so its peak memory is its own: VmHWM of the process, not ru_maxrss,
    which Linux carries over from the forking parent through exec."""
    code = (
        "import json, time, sys\n"
        "from services.years import start_year\nfrom services.clock import parse_when\nfrom storage.db import Database\n"
        "from bench.national import PLAN\n"
        "db = Database(sys.argv[1]); t = time.perf_counter()\n"
        "r = start_year(db, plan_text=PLAN, year=2014, now=parse_when('2014-11-20'))\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'created': r.created, 'rss_mb': int(hwm) / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, cwd=ROOT, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _raw_insert_same_rows(db: Database) -> float:
    """The raw driver writing the rows the cascade wrote, into a copy of the table with the same indexes and
    foreign keys (the fastest bulk path each driver has: executemany in one transaction, COPY)."""
    with db.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(*[c for c in cycles.c if c.name != "id"]))]
    names = [c.name for c in cycles.c if c.name != "id"]
    if db.is_sqlite:
        import sqlite3

        path = db.engine.url.database
        assert path
        raw = sqlite3.connect(path)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        raw.execute("PRAGMA foreign_keys=ON")  # the same table: its foreign keys are checked as ours are
        ddl = raw.execute("SELECT sql FROM sqlite_master WHERE tbl_name='cycles' AND sql IS NOT NULL").fetchall()
        raw.execute("DROP TABLE IF EXISTS cycles_raw")
        for (statement,) in ddl:
            raw.execute(statement.replace("cycles", "cycles_raw").replace("ix_cycles_raw", "ix_raw"))
        raw.commit()
        converted = [tuple(v.isoformat() if hasattr(v, "isoformat") else v for v in r) for r in rows]
        placeholders = ",".join("?" for _ in names)
        with timed() as elapsed:
            raw.executemany(f"INSERT INTO cycles_raw ({','.join(names)}) VALUES ({placeholders})", converted)
            raw.commit()
        seconds = elapsed()
        raw.execute("DROP TABLE cycles_raw")
        raw.commit()
        raw.close()
        return seconds
    import psycopg

    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as raw:
        raw.execute("DROP TABLE IF EXISTS cycles_raw")
        raw.execute("CREATE TABLE cycles_raw (LIKE cycles INCLUDING DEFAULTS INCLUDING INDEXES)")
        # LIKE copies no foreign keys: add the table's own, so the raw rows are checked as ours are
        for column, target in (("year", "years(year)"), ("org_id", "orgs(id)"), ("organizer_id", "orgs(id)"),
                               ("meeting_id", "meetings(id)")):
            raw.execute(f"ALTER TABLE cycles_raw ADD FOREIGN KEY ({column}) REFERENCES {target}")
        raw.commit()
        with timed() as elapsed:
            with raw.cursor() as cur, cur.copy(f"COPY cycles_raw ({','.join(names)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            raw.commit()
        seconds = elapsed()
        raw.execute("DROP TABLE cycles_raw")
        raw.commit()
    return seconds


def _raw_fire_loop(db: Database, ids: list[int]) -> float:
    """Raw single-row transactions: update the state with a version check, insert a history row, commit."""
    if db.is_sqlite:
        import sqlite3

        raw = sqlite3.connect(db.engine.url.database or "", isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        with timed() as elapsed:
            for cycle_id in ids:
                raw.execute("BEGIN")
                raw.execute("UPDATE cycles SET state='drafting', version=version+1 WHERE id=? AND version=1", (cycle_id,))
                raw.execute("INSERT INTO history (cycle_id, from_state, to_state, event, by, at) VALUES (?,?,?,?,?,?)",
                            (cycle_id, "researching", "drafting", "finish_research", "bench", "2014-11-25 01:00:00"))
                raw.execute("COMMIT")
        raw.close()
        return elapsed()
    import psycopg

    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as raw, timed() as elapsed:
        for cycle_id in ids:
            raw.execute("UPDATE cycles SET state='drafting', version=version+1 WHERE id=%s AND version=1", (cycle_id,))
            raw.execute("INSERT INTO history (cycle_id, from_state, to_state, event, by, at) VALUES (%s,%s,%s,%s,%s,%s)",
                        (cycle_id, "researching", "drafting", "finish_research", "bench", "2014-11-25 01:00:00"))
            raw.commit()
    return elapsed()


def _raw_lagging(db: Database, horizon: date) -> float:
    """The same indexed query through the bare DBAPI cursor: rows as tuples, nothing else."""
    sql = (
        "SELECT o.code, o.name, o.kind, c.kind, c.state, c.due, c.meeting_on, c.returns, g.code"
        " FROM cycles c JOIN orgs o ON o.id = c.org_id JOIN orgs g ON g.id = c.organizer_id"
        " WHERE c.year = {y} AND c.due <= {h} ORDER BY c.due, o.path, c.kind"
    )
    with db.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        if db.is_sqlite:
            text, params = sql.format(y="?", h="?"), (2014, horizon.isoformat())
        else:
            text, params = sql.format(y="%s", h="%s"), (2014, horizon)  # type: ignore[assignment]

        def query() -> None:
            cursor = raw.cursor()
            cursor.execute(text, params)
            cursor.fetchall()
            cursor.close()

        return best_of(3, query)


def run(ctx: BenchContext) -> list[BenchRow]:
    rows: list[BenchRow] = []
    for backend, url in ctx.urls:
        db = Database(url)
        ours = _cascade_in_child(url)
        raw = _raw_insert_same_rows(db)
        created = int(ours["created"])
        rows.append(BenchRow(f"cascade: {created:,} cycles", backend, ours["seconds"], raw, "≥ 0.5× raw rate",
                             raw / ours["seconds"] >= 0.5,
                             extra=f"{created / ours['seconds']:,.0f} cycles/s; peak RSS {ours['rss_mb']:,.0f} MB (target < 1 GB)"))
        with db.connect() as conn:
            ids = list(conn.execute(
                sa.select(cycles.c.id, sa.text("orgs.code")).select_from(cycles.join(sa.table("orgs", sa.column("id"), sa.column("code")),
                                                                                   sa.text("orgs.id = cycles.org_id")))
                .where(cycles.c.kind == "upward", cycles.c.state == "researching").order_by(cycles.c.id).limit(2 * FIRES)
            ))
        ours_ids, raw_ids = ids[:FIRES], ids[FIRES:]
        now = parse_when("2014-11-25")
        with timed() as elapsed:
            for _, code in ours_ids:
                fire_event(db, year=2014, org=code, event="finish_research", now=now, by="bench")
        ours_fire = elapsed()
        raw_fire = _raw_fire_loop(db, [i for i, _ in raw_ids])
        rows.append(BenchRow(f"fire_event × {FIRES:,} (one transaction each)", backend, ours_fire, raw_fire,
                             "≥ 0.5× raw rate", raw_fire / ours_fire >= 0.5,
                             extra=f"{FIRES / ours_fire:,.0f} fires/s vs raw {FIRES / raw_fire:,.0f}/s"))
        today = date.fromisoformat(ctx.today)
        horizon = date.fromordinal(today.toordinal() + 3)
        found: list[int] = []

        def our_lagging(db: Database = db, today: date = today, found: list[int] = found) -> None:
            found.append(len(list_cycles(db, year=2014, today=today, lagging=True)))

        ours_lag = best_of(3, our_lagging)
        raw_lag = _raw_lagging(db, horizon)
        rows.append(BenchRow(f"lagging query ({found[-1]:,} rows)", backend, ours_lag, raw_lag, "≤ 2× raw time",
                             ours_lag <= 2 * raw_lag, extra=f"{ours_lag / raw_lag:.2f}× raw time"))
        db.dispose()
    return rows


__all__ = ["PLAN", "run"]
