"""A national-scale organization tree, generated and bulk-loaded (not a benchmark itself)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.search import name_initials
from storage.db import Database
from storage.tables.core import orgs

PLAN = """year = 2014
[meetings]
city = "2014-12-15"
towns = "2014-12-20"
villages = "2014-12-26"
[own_level]
deadline = "2015-01-31"
[reminders]
before_days = [3, 1]
escalate_after_days = 2
"""


def tree_shape(scale: float) -> dict[str, int]:
    """~330 prefectures, ~2,800 county-level cities, ~40,000 towns, ~600,000 villages and communities at 1.0."""
    prefectures = max(1, round(330 * scale))
    cities = max(prefectures, round(2_800 * scale))
    towns = max(cities, round(40_000 * scale))
    villages = max(towns, round(600_000 * scale))
    city_units = cities * 10
    return {"prefectures": prefectures, "cities": cities, "towns": towns, "villages": villages, "city_units": city_units}


def generate(scale: float, *, now: datetime) -> Iterator[dict[str, Any]]:
    shape = tree_shape(scale)
    stamp = now.replace(tzinfo=None)
    base = {"secretary": "书记", "phone": "13800000000", "email": "", "updated_at": stamp}
    for p in range(shape["prefectures"]):
        code = f"P{p:03d}"
        yield {**base, "code": code, "name": f"第{p}地市委", "kind": "prefecture", "path": f"/{code}/", "depth": 0, "_parent": None}
    for c in range(shape["cities"]):
        parent = f"P{c % shape['prefectures']:03d}"
        code = f"C{c:04d}"
        yield {**base, "code": code, "name": f"第{c}市委", "kind": "city", "path": f"/{parent}/{code}/", "depth": 1, "_parent": parent}
        for u in range(10):
            ucode = f"{code}U{u:02d}"
            yield {**base, "code": ucode, "name": f"{code}市直单位{u}", "kind": "city_unit",
                   "path": f"/{parent}/{code}/{ucode}/", "depth": 2, "_parent": code}
    for t in range(shape["towns"]):
        city = t % shape["cities"]
        ccode, pcode = f"C{city:04d}", f"P{city % shape['prefectures']:03d}"
        code = f"T{t:05d}"
        kind = ("town", "subdistrict", "farm")[t % 7 % 3] if t % 7 < 3 else "town"
        yield {**base, "code": code, "name": f"第{t}镇", "kind": kind, "path": f"/{pcode}/{ccode}/{code}/", "depth": 2,
               "_parent": ccode}
    for v in range(shape["villages"]):
        town = v % shape["towns"]
        city = town % shape["cities"]
        tcode, ccode, pcode = f"T{town:05d}", f"C{city:04d}", f"P{city % shape['prefectures']:03d}"
        code = f"V{v:06d}"
        kind = "community" if v % 5 == 0 else "village"
        yield {**base, "code": code, "name": f"第{v}村", "kind": kind, "path": f"/{pcode}/{ccode}/{tcode}/{code}/",
               "depth": 3, "_parent": tcode}


def load_tree(db: Database, scale: float, *, now: datetime, batch: int = 50_000) -> int:
    """Bulk-insert the tree, then set parent ids with one set-based UPDATE."""
    total = 0
    rows: list[dict[str, Any]] = []
    with db.begin() as conn:
        for row in generate(scale, now=now):
            row.pop("_parent")
            row["initials"] = name_initials(row["name"])
            rows.append(row)
            if len(rows) >= batch:
                conn.execute(orgs.insert(), rows)
                total += len(rows)
                rows = []
        if rows:
            conn.execute(orgs.insert(), rows)
            total += len(rows)
        parent = orgs.alias("p")
        conn.execute(
            orgs.update().values(
                parent_id=sa.select(parent.c.id)
                .where(parent.c.path == sa.func.substr(orgs.c.path, 1, sa.func.length(orgs.c.path) - sa.func.length(orgs.c.code) - 1))
                .scalar_subquery()
            ).where(orgs.c.depth > 0)
        )
    with db.begin() as conn:
        conn.execute(sa.text("ANALYZE orgs"))
    return total


def write_csv(path: Path, scale: float) -> int:
    """The same tree as an import file, as an office would send it: code,name,kind,parent,secretary,phone,email
    (distinct phones; an e-mail address on every tenth row). Parents come before their children."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "name", "kind", "parent", "secretary", "phone", "email"])
        for row in generate(scale, now=datetime(2014, 11, 20)):
            email = f"s{count}@example.cn" if count % 10 == 0 else ""
            writer.writerow([row["code"], row["name"], row["kind"], row["_parent"] or "", f"书记{count}",
                             f"1{3 + count % 7}{count:09d}", email])
            count += 1
    return count


def ensure_launched(db: Database, year: int) -> None:
    """The year launched on the bulk-loaded tree, unless an earlier bench did it (each bench runs alone too)."""
    from services.clock import parse_when
    from services.years import start_year
    from storage.tables.core import years

    with db.connect() as conn:
        launched = conn.execute(sa.select(years.c.year).where(years.c.year == year)).first() is not None
    if not launched:
        start_year(db, plan_text=PLAN, year=year, now=parse_when("2014-11-20"))
