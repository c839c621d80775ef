"""Component scores: importing them (all-or-nothing), rolling up R25 on-site items, and demo data."""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput, NotFound, Problem, RowProblems
from services.tabular import map_header, read_rows
from states.orgs import CATEGORY_OF_KIND, KIND_LABELS, LEVEL_OF_KIND, Level
from states.scoring import (
    IMPORTABLE_COMPONENTS,
    ONSITE_ITEM_LABELS,
    ONSITE_ITEMS,
    ONSITE_PART_LABELS,
    ONSITE_PARTS,
    ScoringRules,
    ScoringRulesError,
    onsite_score,
    scoring_rules,
)
from storage.db import Database, to_db_time
from storage.tables.core import orgs, years
from storage.tables.results import scores

SCORE_HEADER = {"org": "org", "编码": "org", "组织": "org", "component": "component", "项目": "component",
                "score": "score", "得分": "score", "分数": "score"}
COMPONENT_ALIASES = {
    **{c: c for c in IMPORTABLE_COMPONENTS},
    "实地考核": "onsite", "民意调查": "survey", "平时": "daily", "平时掌握": "daily", "绩效": "performance",
    "年度绩效": "performance", "测评": "evaluation", "述职评议": "evaluation",
}
ONSITE_HEADER = {
    "org": "org", "编码": "org", "part": "part", "评价主体": "part",
    **{item: item for item in ONSITE_ITEMS},
    **{label: item for item, label in ONSITE_ITEM_LABELS.items()},
}
PART_ALIASES = {**{p: p for p in ONSITE_PARTS}, **{label: part for part, label in ONSITE_PART_LABELS.items()},
                "乡镇": "town", "党员群众": "members"}


def rules_for_year(conn: sa.Connection, year: int) -> ScoringRules:
    stored = conn.execute(sa.select(years.c.plan).where(years.c.year == year)).scalar()
    if stored is None:
        raise NotFound("year.not_launched", year=year)
    try:
        return scoring_rules(stored)
    except ScoringRulesError as error:
        problems = [Problem(p.code, **p.params) for p in error.problems]
        raise BadInput("plan.invalid", count=len(problems), first=problems[0], problems=problems) from None


def parse_score(text: str) -> tuple[float | None, Problem | None]:
    """A 0–100 score from a cell, or the reason it is not one."""
    try:
        value = float(text.replace("，", ".").strip())
    except ValueError:
        return None, Problem("score_row.not_number", value=text[:40])
    if math.isnan(value) or not 0 <= value <= 100:
        return None, Problem("score_row.range", value=text[:40])
    return value, None


def _write(conn: sa.Connection, year: int, rows: Sequence[dict[str, Any]]) -> None:
    """Replace the (org, component) pairs given: one delete per component, one bulk insert."""
    by_component: dict[str, list[int]] = {}
    for row in rows:
        by_component.setdefault(row["component"], []).append(row["org_id"])
    for component, org_ids in by_component.items():
        conn.execute(scores.delete().where(scores.c.year == year, scores.c.component == component, scores.c.org_id.in_(org_ids)))
    if rows:
        conn.execute(scores.insert(), [{"year": year, **row} for row in rows])


def import_scores(db: Database, path: Path, *, year: int, now: datetime) -> dict[str, Any]:
    """CSV/XLSX `org,component,score`; every bad row named; nothing stored if any row is bad.

    A re-import replaces the stored score of each (org, component) in the file and leaves the others.
    """
    path = Path(path)
    iterator = read_rows(path)
    header = next(iterator, None)
    if header is None:
        raise BadInput("file.empty", name=path.name, header="org,component,score")
    columns = map_header(header[1], SCORE_HEADER, ("org", "component", "score"))
    problems = RowProblems()
    parsed: list[tuple[int, str, str, float]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, cells in iterator:
        def cell(name: str, cells: list[str] = cells) -> str:
            position = columns[name]
            return cells[position].strip() if position < len(cells) else ""

        org, component_text, score_text = cell("org"), cell("component"), cell("score")
        component = COMPONENT_ALIASES.get(component_text.lower()) or COMPONENT_ALIASES.get(component_text)
        reasons: list[Problem] = []
        if not org:
            reasons.append(Problem("row.missing", label="组织编码", field="org"))
        if component is None:
            reasons.append(Problem("score_row.component_bad", value=component_text[:40],
                                   choices=", ".join(IMPORTABLE_COMPONENTS)))
        value, why = parse_score(score_text)
        if why:
            reasons.append(why)
        if org and component:
            if (org, component) in seen:
                reasons.append(Problem("score_row.duplicate", org=org, what=component, first=seen[(org, component)]))
            else:
                seen[(org, component)] = number
        if reasons:
            for r in reasons:
                problems.add(number, r)
        elif component is not None and value is not None:
            parsed.append((number, org, component, value))
    with db.begin() as conn:
        rules_for_year(conn, year)
        known = _assessed_orgs(conn, {org for _, org, _, _ in parsed})
        for number, org, _component, _value in parsed:
            if org not in known:
                problems.add(number, "score_row.unknown_org", org=org)
            elif known[org][1] not in CATEGORY_OF_KIND:
                kind = known[org][1]
                problems.add(number, "score_row.not_scored", org=org, kind=kind,
                             kind_label=KIND_LABELS.get(kind, kind))
        if not parsed and not problems:
            problems.add(0, Problem("file.no_rows"))
        if problems:
            problems.refuse(Path(path).name)
        stamp = to_db_time(now)
        rows = [
            {"org_id": known[org][0], "component": component, "score": value, "source": f"import {path.name} row {number}",
             "detail": None, "imported_at": stamp}
            for number, org, component, value in parsed
        ]
        _write(conn, year, rows)
    counts: dict[str, int] = {}
    for _, _, component, _ in parsed:
        counts[component] = counts.get(component, 0) + 1
    return {"year": year, "imported": len(parsed), "by_component": counts}


def _assessed_orgs(conn: sa.Connection, codes: set[str]) -> dict[str, tuple[int, str]]:
    if not codes:
        return {}
    return {
        r.code: (r.id, r.kind)
        for r in conn.execute(sa.select(orgs.c.id, orgs.c.code, orgs.c.kind).where(orgs.c.code.in_(sorted(codes))))
    }


def import_onsite(db: Database, path: Path, *, year: int, now: datetime) -> dict[str, Any]:
    """R25: `org,part,leadership_team,serving_masses,basic_systems,member_management,venues,collective_economy`
    with part `town` (乡镇党委评) or `members` (党员群众评); both parts per organization. Each part is the
    weighted mean of its items (plan [assessment] onsite_items), the on-site score the weighted mean of the
    parts (onsite_parts, default 0.5 / 0.5). Stored as the `onsite` component with its breakdown."""
    path = Path(path)
    iterator = read_rows(path)
    header = next(iterator, None)
    if header is None:
        raise BadInput("file.empty", name=path.name, header=f"org,part,{','.join(ONSITE_ITEMS)}")
    columns = map_header(header[1], ONSITE_HEADER, ("org", "part", *ONSITE_ITEMS))
    problems = RowProblems()
    parts: dict[str, dict[str, dict[str, float]]] = {}
    first_row: dict[str, int] = {}
    seen: dict[tuple[str, str], int] = {}
    for number, cells in iterator:
        def cell(name: str, cells: list[str] = cells) -> str:
            position = columns[name]
            return cells[position].strip() if position < len(cells) else ""

        org, part_text = cell("org"), cell("part")
        part = PART_ALIASES.get(part_text.lower()) or PART_ALIASES.get(part_text)
        reasons: list[Problem] = []
        if not org:
            reasons.append(Problem("row.missing", label="组织编码", field="org"))
        if part is None:
            reasons.append(Problem("score_row.part_bad", value=part_text[:40], choices="、".join(
                f"{label}（{name}）" for name, label in ONSITE_PART_LABELS.items()), choices_en="town or members"))
        items: dict[str, float] = {}
        for item in ONSITE_ITEMS:
            value, why = parse_score(cell(item))
            if why:
                reasons.append(Problem("row.item", label=ONSITE_ITEM_LABELS[item], item=item, reason=why))
            elif value is not None:
                items[item] = value
        if org and part:
            if (org, part) in seen:
                reasons.append(Problem("score_row.duplicate", org=org, what=part, first=seen[(org, part)]))
            else:
                seen[(org, part)] = number
        if reasons:
            for r in reasons:
                problems.add(number, r)
        elif org and part:
            parts.setdefault(org, {})[part] = items
            first_row.setdefault(org, number)
    with db.begin() as conn:
        rules = rules_for_year(conn, year)
        known = _assessed_orgs(conn, set(parts))
        for org, number in first_row.items():
            if org not in known:
                problems.add(number, "score_row.unknown_org", org=org)
            elif LEVEL_OF_KIND.get(known[org][1]) != Level.GRASSROOTS:
                kind = known[org][1]
                problems.add(number, "score_row.not_onsite", org=org, kind=kind,
                             kind_label=KIND_LABELS.get(kind, kind))
            lacking = [p for p in ONSITE_PARTS if rules.onsite_part_weights.get(p, 0) > 0 and p not in parts[org]]
            if lacking:
                problems.add(number, "score_row.lacks_parts", org=org, parts=", ".join(lacking))
        if not parts and not problems:
            problems.add(0, Problem("file.no_rows"))
        if problems:
            problems.refuse(Path(path).name)
        stamp = to_db_time(now)
        rows = []
        rolled: dict[str, float] = {}
        for org, org_parts in parts.items():
            value, part_scores = onsite_score(org_parts, rules)
            rolled[org] = value
            rows.append({
                "org_id": known[org][0], "component": "onsite", "score": value,
                "source": f"on-site items {path.name} row {first_row[org]}",
                "detail": {"parts": part_scores, "items": org_parts, "part_weights": rules.onsite_part_weights,
                           "item_weights": rules.onsite_item_weights},
                "imported_at": stamp,
            })
        _write(conn, year, rows)
    return {"year": year, "imported": len(rows), "onsite": rolled}


def list_scores(db: Database, *, year: int, org: str | None = None) -> list[dict[str, Any]]:
    query = (
        sa.select(orgs.c.code, scores.c.component, scores.c.score, scores.c.source, scores.c.detail)
        .select_from(scores.join(orgs, orgs.c.id == scores.c.org_id))
        .where(scores.c.year == year).order_by(orgs.c.path, scores.c.component)
    )
    if org:
        query = query.where(orgs.c.code == org)
    with db.connect() as conn:
        return [{"org": r.code, "component": r.component, "score": r.score, "source": r.source, "detail": r.detail}
                for r in conn.execute(query)]


def generate_component_scores(
    db: Database, *, year: int, seed: int = 2014, components: Sequence[str] = ("onsite", "survey", "daily", "performance", "evaluation")
) -> list[dict[str, Any]]:
    """Plausible scores for every scored organization of the tree (the demo imports them): each unit has a
    seeded 'quality' around which its components scatter, so ranks are stable but not trivial."""
    rng = random.Random(seed)
    with db.connect() as conn:
        rows = conn.execute(sa.select(orgs.c.code, orgs.c.kind).order_by(orgs.c.code)).all()
    generated = []
    for row in rows:
        if row.kind not in CATEGORY_OF_KIND:
            continue
        quality = rng.uniform(68, 94)
        for component in components:
            score = min(100.0, max(40.0, rng.gauss(quality, 4.0)))
            generated.append({"org": row.code, "component": component, "score": round(score, 1)})
    return generated


def write_scores_csv(rows: Sequence[dict[str, Any]], out: Path) -> Path:
    out = Path(out)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["org", "component", "score"])
        for row in rows:
            writer.writerow([row["org"], row["component"], row["score"]])
    return out
