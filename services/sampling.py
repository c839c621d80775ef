"""Reproducible, recorded samples: organizations for on-site checks (R26), survey respondents (R27)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput, NotFound, Problem, row_problem
from services.orgs import in_subtree
from services.tabular import map_header, read_rows
from states.orgs import LEVEL_OF_KIND, Level, is_valid_phone, mask_phone
from states.scoring import draw_sample, population_hash
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import orgs, years
from storage.tables.results import samples

SURVEY_HEADER = {
    "id": "id", "编号": "id", "name": "name", "姓名": "name",
    "category": "category", "类别": "category", "phone": "phone", "手机": "phone", "电话": "phone",
}


def _check_year_and_size(conn: sa.Connection, year: int, size: int) -> None:
    if conn.execute(sa.select(years.c.year).where(years.c.year == year)).scalar() is None:
        raise NotFound("year.not_launched", year=year)
    if size < 1:
        raise BadInput("size.min", value=size, option="--size")


def _scope(conn: sa.Connection, org: str) -> Any:
    row = conn.execute(sa.select(orgs.c.id, orgs.c.code, orgs.c.name, orgs.c.path).where(orgs.c.code == org)).first()
    if row is None:
        raise NotFound("org.not_found", code=org)
    return row


def _record(conn: sa.Connection, **values: Any) -> int:
    key = conn.execute(samples.insert().values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def sample_orgs(db: Database, *, year: int, org: str, size: int, seed: str, now: datetime, by: str = "admin") -> dict[str, Any]:
    """R26: villages, communities, enterprises and other grassroots organizations under ORG, drawn by seed."""
    with db.begin() as conn:
        _check_year_and_size(conn, year, size)
        scope = _scope(conn, org)
        grassroots = [k for k, level in LEVEL_OF_KIND.items() if level == Level.GRASSROOTS]
        population = list(
            conn.execute(
                sa.select(orgs.c.code).where(in_subtree(orgs.c.path, scope.path), orgs.c.kind.in_(grassroots))
            ).scalars()
        )
        if not population:
            raise BadInput("sample.no_population", org=org, option="--org")
        if size > len(population):
            raise BadInput("sample.too_many_orgs", value=size, count=len(population), org=org, option="--size")
        drawn = draw_sample(population, size=size, seed=seed)
        record_id = _record(
            conn, year=year, purpose="onsite", scope_org_id=scope.id, size=size, seed=seed,
            population_hash=population_hash(population), population_size=len(population),
            population=sorted(population), sample=drawn, respondents=None, source=f"orgs under {org}",
            created_at=to_db_time(now), created_by=by,
        )
        names = {r.code: r.name for r in conn.execute(sa.select(orgs.c.code, orgs.c.name).where(orgs.c.code.in_(drawn)))}
    return {
        "id": record_id, "year": year, "purpose": "onsite", "org": org, "size": size, "seed": seed,
        "population_size": len(population), "population_hash": population_hash(population),
        "sample": drawn, "names": names,
    }


def _read_population(path: Path) -> list[dict[str, str]]:
    iterator = read_rows(Path(path))
    header = next(iterator, None)
    if header is None:
        raise BadInput("file.empty", name=path.name, header="id,name,category,phone")
    columns = map_header(header[1], SURVEY_HEADER, ("id", "name", "category", "phone"))
    people: list[dict[str, str]] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for number, cells in iterator:
        def cell(name: str, cells: list[str] = cells) -> str:
            position = columns[name]
            return cells[position].strip() if position < len(cells) else ""

        person = {name: cell(name) for name in ("id", "name", "category", "phone")}
        reasons: list[Problem] = []
        if not person["id"]:
            reasons.append(Problem("row.missing", label="编号", field="id"))
        elif person["id"] in seen:
            reasons.append(Problem("person_row.duplicate", id=person["id"][:40], first=seen[person["id"]]))
        else:
            seen[person["id"]] = number
        if not person["name"]:
            reasons.append(Problem("row.empty", label="姓名", field="name"))
        if not person["category"]:
            reasons.append(Problem("row.empty", label="类别", field="category"))
        if person["phone"] and not is_valid_phone(person["phone"]):
            reasons.append(Problem("person_row.phone_bad", phone=mask_phone(person["phone"])))
        problems.extend(row_problem(number, reason) for reason in reasons)
        people.append(person)
    if not people and not problems:
        problems.append(Problem("file.no_rows"))
    if problems:
        raise BadInput("sample.rows", name=path.name, count=len(problems), problems=problems)
    return people


def sample_survey(
    db: Database, *, year: int, org: str, size: int, seed: str, population: Path, now: datetime, by: str = "admin"
) -> dict[str, Any]:
    """R27: respondents drawn from a population file (id,name,category,phone); the record keeps only the ids
    of the population, and the drawn respondents' contact details."""
    people = _read_population(population)
    with db.begin() as conn:
        _check_year_and_size(conn, year, size)
        scope = _scope(conn, org)
        if size > len(people):
            raise BadInput("sample.too_many_people", value=size, count=len(people), population=population.name, option="--size")
        ids = [p["id"] for p in people]
        drawn = draw_sample(ids, size=size, seed=seed)
        by_id = {p["id"]: p for p in people}
        respondents = [by_id[i] for i in drawn]
        record_id = _record(
            conn, year=year, purpose="survey", scope_org_id=scope.id, size=size, seed=seed,
            population_hash=population_hash(ids), population_size=len(ids), population=sorted(ids),
            sample=drawn, respondents=respondents, source=Path(population).name,
            created_at=to_db_time(now), created_by=by,
        )
    categories: dict[str, int] = {}
    for person in respondents:
        categories[person["category"]] = categories.get(person["category"], 0) + 1
    return {
        "id": record_id, "year": year, "purpose": "survey", "org": org, "size": size, "seed": seed,
        "population_size": len(ids), "population_hash": population_hash(ids), "sample": drawn,
        "respondents": respondents, "by_category": categories,
    }


def get_sample(db: Database, record_id: int) -> dict[str, Any]:
    with db.connect() as conn:
        row = conn.execute(
            sa.select(samples, orgs.c.code.label("org")).select_from(samples.join(orgs, orgs.c.id == samples.c.scope_org_id))
            .where(samples.c.id == record_id)
        ).first()
    if row is None:
        raise NotFound("sample.not_found", id=record_id)
    created = from_db_time(row.created_at)
    return {
        "id": row.id, "year": row.year, "purpose": row.purpose, "org": row.org, "size": row.size, "seed": row.seed,
        "population_size": row.population_size, "population_hash": row.population_hash,
        "population": list(row.population), "sample": list(row.sample), "respondents": row.respondents,
        "source": row.source, "created_at": created.isoformat() if created else None, "created_by": row.created_by,
    }


def list_samples(db: Database, *, year: int) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(samples.c.id, samples.c.purpose, samples.c.size, samples.c.seed, samples.c.population_size,
                      samples.c.population_hash, samples.c.created_at, orgs.c.code.label("org"))
            .select_from(samples.join(orgs, orgs.c.id == samples.c.scope_org_id))
            .where(samples.c.year == year).order_by(samples.c.id)
        ).all()
    return [
        {"id": r.id, "purpose": r.purpose, "org": r.org, "size": r.size, "seed": r.seed,
         "population_size": r.population_size, "population_hash": r.population_hash,
         "created_at": (from_db_time(r.created_at) or r.created_at).isoformat()}
        for r in rows
    ]


def verify_sample(db: Database, record_id: int, *, population: Path | None = None) -> dict[str, Any]:
    """Re-draw a recorded sample from its seed and recorded population and compare; optionally check that
    a population file is the one the record was drawn from (same hash)."""
    record = get_sample(db, record_id)
    recorded_population = record["population"]
    hash_ok = population_hash(recorded_population) == record["population_hash"]
    redrawn = draw_sample(recorded_population, size=record["size"], seed=record["seed"])
    result: dict[str, Any] = {
        "id": record_id,
        "seed": record["seed"],
        "population_hash": record["population_hash"],
        "population_intact": hash_ok,
        "redrawn": redrawn,
        "matches": hash_ok and redrawn == record["sample"],
    }
    if population is not None:
        ids = [p["id"] for p in _read_population(population)]
        result["file_hash"] = population_hash(ids)
        result["file_matches"] = result["file_hash"] == record["population_hash"]
        result["matches"] = result["matches"] and result["file_matches"]
    return result
