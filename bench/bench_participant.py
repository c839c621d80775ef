"""Issue 9 at scale: a secretary's 我的待办, a town reviewer's queue and the vote page by code, rendered in-process
(server time inside the ASGI app), against the raw SQL each needs. Target: each under 100 ms; the plans use indexes.

Run alone: `SHUZHI_BENCH_SCALE=0.05 python -m bench.bench_participant` (SQLite; PostgreSQL too with SHUZHI_BENCH_PG)."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import sqlalchemy as sa

from bench.common import BenchContext, BenchRow, best_of
from services.accounts import create_user
from services.app import App, default_hooks
from services.clock import FixedClock, parse_when
from services.settings import Settings
from storage.db import Database
from storage.tables.core import orgs, years

TARGET_S = 0.100
SETTINGS = {"SHUZHI_ENV": "development", "SHUZHI_SECRET_KEY": "bench-participant-key-0123456789abcdefghij"}
QUEUED = 12  # villages of the town that submit a report before the bench


class ServerTimed:
    """ASGI wrapper recording each request's time inside the server (the test client's thread hand-offs excluded)."""

    def __init__(self, asgi: Any) -> None:
        self.asgi = asgi
        self.times: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import time

        start = time.perf_counter()
        await self.asgi(scope, receive, send)
        self.times.append(time.perf_counter() - start)


def _client(app: App, name: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from web.app import create_app

    client = TestClient(ServerTimed(create_app(app.settings, app=app)))
    if name:
        page = client.get("/login").text
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"name": name, "password": "bench-password", "csrf_token": token})
    return client


def _setup(app: App, year: int) -> tuple[str, str, str]:
    """A town in the middle of the tree, one of its villages, a dozen reports submitted, the meeting's codes."""
    from bench.national import PLAN
    from services.ballots import ballot_key, issue_codes
    from services.cycles import fire_event
    from services.years import start_year

    db = app.db
    with db.connect() as conn:
        launched = conn.execute(sa.select(years.c.year).where(years.c.year == year)).first()
    if launched is None:
        start_year(db, plan_text=PLAN, year=year, now=parse_when("2014-11-20"))
    with db.connect() as conn:
        towns = conn.execute(sa.select(sa.func.count()).select_from(orgs).where(orgs.c.kind == "town")).scalar_one()
        town_id, town = conn.execute(sa.select(orgs.c.id, orgs.c.code).where(orgs.c.kind == "town").order_by(orgs.c.id)
                                     .limit(1).offset(towns // 2)).one()
        villages = list(conn.execute(sa.select(orgs.c.code).where(orgs.c.parent_id == town_id).order_by(orgs.c.path)).scalars())
        users = set(conn.execute(sa.text("select name from web_users")).scalars())
    for code in villages[:QUEUED]:
        state = fire_event  # walk each to `submitted` with a report, as the CLI or the pages do
        for event in ("finish_research", "submit"):
            try:
                state(db, year=year, org=code, event=event, now=app.now(), hooks=app.hooks,
                      options={"report_text": "# 述职报告\n## 存在的问题\n一是……\n## 原因\n主观上……\n## 措施\n1月底前完成"}
                      if event == "submit" else None)
            except Exception:  # already walked in an earlier run over the same database
                break
    for name, role, scope in (("bench_sec", "secretary", villages[0]), ("bench_rev", "reviewer", town)):
        if name not in users:
            create_user(db, name, role, "bench-password", scope=scope)
    code = issue_codes(db, year=year, organizer=town, count=1, now=app.now(), key=ballot_key(app.settings))["codes"][0]
    return town, villages[0], code


def _plan(db: Database, sql: str, params: dict[str, Any]) -> str:
    prefix = "EXPLAIN QUERY PLAN " if db.url.startswith("sqlite") else "EXPLAIN "
    with db.connect() as conn:
        return " | ".join(" ".join(str(c) for c in row) for row in conn.execute(sa.text(prefix + sql), params))


RAW_MY = ("select c.year, c.kind, c.state, c.due, o2.code from cycles c join orgs o2 on o2.id = c.organizer_id "
          "where c.org_id = (select id from orgs where code = :org) order by c.year desc, c.kind desc")
RAW_QUEUE = ("select c.id, c.kind, c.state, c.review_due, u.code, u.name from cycles c join orgs u on u.id = c.org_id "
             "where c.year = :y and c.state in ('submitted', 'revising') and c.organizer_id in "
             "(select id from orgs where path >= :low and path < :high) order by c.review_due, u.path")
RAW_VOTE = ("select c.id, o.code, o.name from ballot_codes b join cycles c on c.meeting_id = b.meeting_id "
            "join orgs o on o.id = c.org_id where b.code_hash = :h and c.kind = 'upward' order by o.path")


def _raw(db: Database, sql: str, params: dict[str, Any]) -> None:
    with db.connect() as conn:
        conn.execute(sa.text(sql), params).all()


def _server_time(client: Any, url: str, runs: int = 7) -> float:
    """The best server time of `runs` GETs of `url` (each must answer 200)."""
    timer: ServerTimed = client.app
    timer.times.clear()
    for _ in range(runs):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    return min(timer.times)


def _measure(ctx: BenchContext, backend: str, db: Database) -> list[BenchRow]:
    from services.ballots import ballot_key, hash_code
    from services.orgs import subtree_bounds

    app = App(db=db, clock=FixedClock(parse_when(ctx.today)), settings=Settings.from_env(SETTINGS, db_url=db.url),
              hooks=default_hooks())
    town, village, code = _setup(app, ctx.year)
    with db.connect() as conn:
        cycle_count = conn.execute(sa.text("select count(*) from cycles")).scalar_one()
        town_path = conn.execute(sa.select(orgs.c.path).where(orgs.c.code == town)).scalar_one()
    low, high = subtree_bounds(town_path)
    secretary, reviewer, anonymous = _client(app, "bench_sec"), _client(app, "bench_rev"), _client(app, "")
    try:
        assert "待我" in secretary.get("/my").text
        queue = reviewer.get("/api/review-queue").json()
        assert queue["counts"]["waiting"] >= 1, queue
        assert anonymous.get(f"/vote/{code}").status_code == 200
        my_page = _server_time(secretary, "/my")
        my_api = _server_time(secretary, "/api/my/tasks")
        queue_page = _server_time(reviewer, "/review")
        vote_page = _server_time(anonymous, f"/vote/{code}")
    finally:
        for client in (secretary, reviewer, anonymous):
            client.close()
    digest = hash_code(code, ballot_key(app.settings))
    raw_my = best_of(5, lambda: _raw(db, RAW_MY, {"org": village}))
    raw_queue = best_of(5, lambda: _raw(db, RAW_QUEUE, {"y": ctx.year, "low": low, "high": high}))
    raw_vote = best_of(5, lambda: _raw(db, RAW_VOTE, {"h": digest}))
    plans = {name: _plan(db, sql, params) for name, sql, params in (
        ("my", RAW_MY, {"org": village}), ("queue", RAW_QUEUE, {"y": ctx.year, "low": low, "high": high}),
        ("vote", RAW_VOTE, {"h": digest}))}
    scans = [name for name, plan in plans.items() if "SCAN cycles" in plan.replace("SCAN cycles USING", "") or
             "Seq Scan on cycles" in plan]
    ctx.notes.append(f"participant query plans ({backend}): " + "; ".join(f"{k}: {v[:160]}" for k, v in plans.items()))
    target = f"< {TARGET_S * 1000:.0f} ms"
    index_note = "indexed" if not scans else f"FULL SCAN in {', '.join(scans)}"
    return [
        BenchRow(f"我的待办 page /my ({cycle_count:,} cycles)", backend, my_page, raw_my, target, my_page < TARGET_S,
                 extra=f"API /api/my/tasks {my_api * 1000:.1f} ms; raw = the cycles of one unit; {index_note}"),
        BenchRow(f"town review queue /review ({town}, {QUEUED} waiting)", backend, queue_page, raw_queue, target,
                 queue_page < TARGET_S, extra="raw = the queue query alone"),
        BenchRow("vote page /vote/<code>", backend, vote_page, raw_vote, target, vote_page < TARGET_S,
                 extra="raw = code lookup + the meeting's presenters"),
    ]


def run(ctx: BenchContext) -> list[BenchRow]:
    rows: list[BenchRow] = []
    for backend, url in ctx.urls:
        db = Database(url)
        try:
            rows.extend(_measure(ctx, backend, db))
        finally:
            db.dispose()
    return rows


if __name__ == "__main__":  # a quick look without rewriting bench/results.md
    import bench.run as runner
    from storage.db import make_engine, normalize_url

    def own_database(url: str) -> str:
        """A database of this bench's own (bench_participant), so parallel runs of other benches are left alone."""
        engine = make_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("DROP DATABASE IF EXISTS bench_participant WITH (FORCE)"))
            conn.execute(sa.text("CREATE DATABASE bench_participant"))
        engine.dispose()
        return sa.engine.make_url(normalize_url(url)).set(database="bench_participant").render_as_string(hide_password=False)

    runner._fresh_pg = own_database
    os.environ.setdefault("SHUZHI_BENCH_SCALE", "0.05")
    os.environ.pop("SHUZHI_TEST_PG", None)  # PostgreSQL only when SHUZHI_BENCH_PG names a server
    context = runner.prepare(float(os.environ["SHUZHI_BENCH_SCALE"]))
    for row in run(context):
        print(f"{row.name:55} {row.backend:10} ours {row.ours * 1000:8.2f} ms raw {row.raw * 1000:8.2f} ms "
              f"ratio {row.ratio:6.3f} {'ok' if row.ok else 'MISS'} {row.extra}")
    print("\n".join(context.notes))
    sys.exit(0)
