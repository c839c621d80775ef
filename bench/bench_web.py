"""The console at national scale: the overview page and a town's drill-down, rendered in-process, against the raw
SQL those pages need. Target: each page under 200 ms (issue 6)."""

from __future__ import annotations

import warnings
from datetime import date
from typing import Any

import sqlalchemy as sa

from bench.common import BenchContext, BenchRow, best_of
from services.accounts import create_user
from services.app import App
from services.clock import FixedClock, parse_when
from services.settings import Settings
from storage.db import Database
from storage.tables.core import orgs

TARGET_S = 0.200


def _client(db: Database, today: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from web.app import create_app

    app = App(db=db, clock=FixedClock(parse_when(today)), settings=Settings.from_env({}, db_url=db.url))
    with db.connect() as conn:
        exists = conn.execute(sa.text("select 1 from web_users where name = 'bench'")).first()
    if not exists:
        create_user(db, "bench", "viewer", "bench-password")
    client = TestClient(create_app(Settings.from_env({"SHUZHI_ENV": "development"}, db_url=db.url), app=app))
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"name": "bench", "password": "bench-password", "csrf_token": token})
    return client


def _raw_overview(db: Database, year: int, kind: str, today: date) -> None:
    with db.connect() as conn:
        conn.execute(sa.text("select state, due, count(*) from cycles where year = :y and kind = :k group by state, due"),
                     {"y": year, "k": kind}).all()
        conn.execute(sa.text(
            "select o.kind, c.state, c.due, count(*) from cycles c join orgs o on o.id = c.org_id "
            "where c.org_id in (select id from orgs where kind in ('prefecture','city','town','subdistrict','farm','city_unit')) "
            "and c.year = :y and c.kind = :k group by o.kind, c.state, c.due"), {"y": year, "k": kind}).all()


def _raw_town(db: Database, year: int, town: str) -> None:
    with db.connect() as conn:
        conn.execute(sa.text(
            "select o.code, o.name, c.state, c.due from orgs o left join cycles c on c.org_id = o.id and c.year = :y "
            "and c.kind = 'upward' where o.parent_id = (select id from orgs where code = :t) order by o.path limit 50"),
            {"y": year, "t": town}).all()


def _middle_town(conn: sa.Connection) -> str:
    towns = conn.execute(sa.select(sa.func.count()).select_from(orgs).where(orgs.c.kind == "town")).scalar_one()
    query = sa.select(orgs.c.code).where(orgs.c.kind == "town").order_by(orgs.c.id).limit(1).offset(towns // 2)
    return str(conn.execute(query).scalar_one())


def _measure(ctx: BenchContext, backend: str, db: Database) -> list[BenchRow]:
    today = date.fromisoformat(ctx.today)
    with db.connect() as conn:
        town = _middle_town(conn)
        cycle_count = conn.execute(sa.text("select count(*) from cycles where year = :y"), {"y": ctx.year}).scalar_one()
    client = _client(db, ctx.today)
    try:
        overview_url = f"/overview?year={ctx.year}"
        first = best_of(1, lambda: client.get(overview_url))  # cold: the full count of every cycle
        warm = best_of(5, lambda: client.get(overview_url))  # the funnel kept current from the history
        page = client.get(overview_url)
        assert page.status_code == 200 and "svg" in page.text, page.text[:200]
        raw = best_of(3, lambda: _raw_overview(db, ctx.year, "upward", today))
        town_url = f"/tree?year={ctx.year}&code={town}"
        town_page = best_of(5, lambda: client.get(town_url))
        raw_town = best_of(5, lambda: _raw_town(db, ctx.year, town))
    finally:
        client.close()
    target = f"< {TARGET_S * 1000:.0f} ms"
    return [
        BenchRow(f"web overview page ({cycle_count:,} cycles), warm", backend, warm, raw, target, warm < TARGET_S,
                 extra=f"cold first render {first * 1000:.0f} ms; raw = the two full aggregates"),
        BenchRow(f"web town drill-down ({town})", backend, town_page, raw_town, target, town_page < TARGET_S,
                 extra="raw = the children query alone"),
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
