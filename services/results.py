"""Results of a year (R28, R30, R31, R33): composite scores, ranks, key management, the veto, comparisons."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import Any

import sqlalchemy as sa

from services.clock import PLAN_TZ
from services.errors import BadInput, NotFound
from services.key_management import refresh_key_management
from services.scores import rules_for_year
from states.orgs import CATEGORY_OF_KIND
from states.scoring import (
    CATEGORIES,
    CATEGORY_LABELS,
    COMPONENT_LABELS,
    COMPOSITE_COMPONENTS,
    ScoringRules,
    VetoEntry,
    ceil_share,
    competition_ranks,
    composite,
    differential_veto,
    key_management_list,
    performance_total,
    weak_units,
)
from storage.db import Database, to_db_time
from storage.tables.core import cycles, orgs
from storage.tables.results import key_management, results, scores, veto_decisions

# When a city both tallies ballots in the system and imports a paper `evaluation` score for the same unit,
# the ballots win: they are the anonymous primary record; the import only fills units without ballots.
EVALUATION_PRECEDENCE = "ballots"


def ballot_evaluation_scores(db: Database, *, year: int) -> dict[str, float]:
    """The evaluation component from issue 4's ballots (org code → 0–100); empty while there are none."""
    try:
        from services.ballots import evaluation_scores  # type: ignore[attr-defined]
    except ImportError:
        return {}
    return {code: float(score) for code, score in evaluation_scores(db, year=year).items() if score is not None}


def _fmt(value: float) -> str:
    return f"{value:g}"


def _category_quota(category: str, rules: ScoringRules) -> tuple[str, Fraction]:
    if category == "villages":
        return "key_management", rules.village_share
    if category == "communities_and_others":
        return "key_management", rules.community_share
    return "admonition", rules.weak_share


def compute_results(db: Database, *, year: int, now: datetime) -> dict[str, Any]:
    """Compute and store the year's results (replacing an earlier computation of the same year)."""
    ballots = ballot_evaluation_scores(db, year=year)
    today = now.astimezone(PLAN_TZ).date()
    with db.begin() as conn:
        rules = rules_for_year(conn, year)
        units = conn.execute(
            sa.select(orgs.c.id, orgs.c.code, orgs.c.name, orgs.c.kind)
            .select_from(orgs.join(cycles, sa.and_(cycles.c.org_id == orgs.c.id, cycles.c.year == year,
                                                    cycles.c.kind == "upward")))
            .where(orgs.c.kind.in_(list(CATEGORY_OF_KIND)))
            .order_by(orgs.c.path)
        ).all()
        stored: dict[int, dict[str, sa.Row[Any]]] = {}
        for row in conn.execute(sa.select(scores).where(scores.c.year == year)):
            stored.setdefault(row.org_id, {})[row.component] = row

        per_unit: dict[str, dict[str, Any]] = {}
        for unit in units:
            own = stored.get(unit.id, {})
            components: dict[str, float | None] = {}
            sources: dict[str, str] = {}
            for component in COMPOSITE_COMPONENTS:
                if component == "evaluation" and unit.code in ballots:
                    components[component] = ballots[unit.code]
                    sources[component] = "ballots (述职评议测评票)"
                    if "evaluation" in own:
                        sources[component] += f"; the imported {own['evaluation'].score:g} was overridden by the ballots"
                elif component in own:
                    components[component] = own[component].score
                    sources[component] = own[component].source
                else:
                    components[component] = None
            value, missing = composite(components, rules.weights)
            performance = own["performance"].score if "performance" in own else None
            per_unit[unit.code] = {
                "unit": unit, "category": CATEGORY_OF_KIND[unit.kind], "components": components, "sources": sources,
                "composite": value, "missing": missing, "performance": performance,
            }

        ranks: dict[str, int] = {}
        listed: dict[str, tuple[str, str]] = {}
        category_notes: dict[str, dict[str, str]] = {}
        for category in CATEGORIES:
            scored = {
                code: u["composite"] for code, u in per_unit.items() if u["category"] == category and u["composite"] is not None
            }
            category_ranks = competition_ranks(scored)
            ranks.update(category_ranks)
            measure, share = _category_quota(category, rules)
            quota = ceil_share(share, len(scored))
            if measure == "key_management":
                chosen = key_management_list(scored, share)
                why = (f"lowest ⌈{float(share):.0%} × {len(scored)}⌉ = {quota} of {CATEGORY_LABELS[category]} (R31), "
                       "ties at the boundary included")
            else:
                chosen = weak_units(scored, share, rules.weak_threshold)
                why = f"lowest ⌈{float(share):.0%} × {len(scored)}⌉ = {quota} of {CATEGORY_LABELS[category]}"
                if rules.weak_threshold is not None:
                    why += f", or a composite below {rules.weak_threshold:g}"
                why += ": reported upward for an admonition talk (约谈) and rectification within a time limit (R31)"
            for code in chosen:
                listed[code] = (measure, why)
            category_notes[category] = {
                "ranked": str(len(scored)), "rank_rule": "competition ranking: equal composites share a rank (1, 2, 2, 4)",
            }

        stamp = to_db_time(now)
        conn.execute(results.delete().where(results.c.year == year))
        rows = []
        for code, u in per_unit.items():
            explanation = _explain(u, rules, ranks.get(code), listed.get(code), category_notes[u["category"]])
            rows.append({
                "year": year, "org_id": u["unit"].id, "category": u["category"], "composite": u["composite"],
                "rank": ranks.get(code), "components": u["components"], "missing": u["missing"],
                "explanation": explanation, "performance": u["performance"],
                "key_management": code in listed and listed[code][0] == "key_management",
                "weak": code in listed and listed[code][0] == "admonition", "computed_at": stamp,
            })
        if rows:
            conn.execute(results.insert(), rows)
        refresh_key_management(
            conn, year=year,
            listed={per_unit[code]["unit"].id: value for code, value in listed.items()},
            today=today, rectification_days=rules.rectification_days, now=now,
        )
    by_category = {c: sum(1 for u in per_unit.values() if u["category"] == c and u["composite"] is not None) for c in CATEGORIES}
    return {
        "year": year,
        "units": len(per_unit),
        "ranked": sum(by_category.values()),
        "by_category": by_category,
        "missing": [{"org": code, "missing": u["missing"]} for code, u in per_unit.items() if u["missing"]],
        "key_management": sorted(code for code, (m, _) in listed.items() if m == "key_management"),
        "weak": sorted(code for code, (m, _) in listed.items() if m == "admonition"),
        "evaluation_from_ballots": len([c for c in per_unit if c in ballots]),
        "weights": rules.weights,
    }


def _explain(u: dict[str, Any], rules: ScoringRules, rank: int | None, listed: tuple[str, str] | None,
             notes: dict[str, str]) -> dict[str, Any]:
    parts = []
    detail = {}
    for component in COMPOSITE_COMPONENTS:
        weight = rules.weights.get(component, 0.0)
        value = u["components"][component]
        detail[component] = {
            "label": COMPONENT_LABELS[component], "score": value, "weight": weight,
            "weighted": None if value is None else round(weight * value, 4), "source": u["sources"].get(component),
        }
        parts.append(f"{_fmt(weight)}×{component} {'missing' if value is None else _fmt(value)}")
    if u["composite"] is None:
        formula = " + ".join(parts) + f": no composite, missing {', '.join(u['missing'])} (never counted as zero)"
    else:
        formula = " + ".join(parts) + f" = {_fmt(u['composite'])} (rounded to 2 decimals)"
    explanation: dict[str, Any] = {"composite": formula, "components": detail}
    if rank is not None:
        explanation["rank"] = f"{rank} of {notes['ranked']} in {CATEGORY_LABELS[u['category']]}; {notes['rank_rule']}"
    else:
        explanation["rank"] = "not ranked: no composite"
    if listed is not None:
        explanation[listed[0]] = listed[1]
    points, total = performance_total(u["performance"], u["composite"], rules.performance_weight)
    if points is not None:
        explanation["performance_total"] = (
            f"party-building {_fmt(u['composite'])} × {_fmt(rules.performance_weight)} = {_fmt(points)} points"
            + ("" if total is None else f"; total = {_fmt(1 - rules.performance_weight)} × performance "
               f"{_fmt(u['performance'])} + {_fmt(points)} = {_fmt(total)}")
        )
    return explanation


def _check_category(category: str | None) -> None:
    if category is not None and category not in CATEGORIES:
        raise BadInput("category.bad", value=category, choices=", ".join(CATEGORIES), option="--category")


def _load(conn: sa.Connection, year: int, category: str | None) -> list[sa.Row[Any]]:
    query = (
        sa.select(results, orgs.c.code, orgs.c.name, orgs.c.kind, orgs.c.parent_id,
                  key_management.c.consecutive_years, key_management.c.status.label("km_status"))
        .select_from(
            results.join(orgs, orgs.c.id == results.c.org_id).outerjoin(
                key_management, sa.and_(key_management.c.year == results.c.year, key_management.c.org_id == results.c.org_id)
            )
        )
        .where(results.c.year == year)
    )
    if category:
        query = query.where(results.c.category == category)
    return list(conn.execute(query))


def _order(row: dict[str, Any]) -> tuple[int, int, float, str]:
    return (CATEGORIES.index(row["category"]), row["rank"] if row["rank"] is not None else 10**9, 0.0, row["org"])


def show_results(db: Database, *, year: int, category: str | None = None, compare: int | None = None) -> list[dict[str, Any]]:
    """The stored results, ordered by category then rank (unranked last); with `compare`, the previous
    year's rank and key management beside each."""
    _check_category(category)
    with db.connect() as conn:
        rules = rules_for_year(conn, year)
        rows = _load(conn, year, category)
        if not rows:
            raise NotFound("results.none", year=year)
        previous: dict[int, sa.Row[Any]] = {}
        if compare is not None:
            previous = {r.org_id: r for r in _load(conn, compare, None)}
            if not previous:
                raise NotFound("results.none_compare", year=compare)
    out = []
    for r in rows:
        points, total = performance_total(r.performance, r.composite, rules.performance_weight)
        item: dict[str, Any] = {
            "org": r.code, "category": r.category, "composite": r.composite, "rank": r.rank,
            "components": dict(r.components), "key_management": bool(r.key_management),
            "name": r.name, "kind": r.kind, "missing": list(r.missing), "weak": bool(r.weak),
            "explanation": r.explanation, "performance": r.performance, "party_building_points": points,
            "performance_total": total,
        }
        if r.consecutive_years:
            item["consecutive_years"] = r.consecutive_years
        if compare is not None:
            before = previous.get(r.org_id)
            item["previous_rank"] = before.rank if before is not None else None
            item["previous_composite"] = before.composite if before is not None else None
            item["rank_change"] = (before.rank - r.rank) if before is not None and before.rank is not None and r.rank is not None else None
            was_listed = before is not None and bool(before.key_management or before.weak)
            item["previously_key_management"] = was_listed
            item["key_management_repeat"] = was_listed and bool(r.key_management or r.weak)
            item["improved"] = was_listed and not (r.key_management or r.weak) and r.composite is not None
        out.append(item)
    out.sort(key=_order)
    return out


def run_veto(db: Database, *, year: int, category: str, honour: str, places: int, now: datetime) -> dict[str, Any]:
    """R30: the 1:1.5 differential veto for one honour, recorded (a rerun for the same honour replaces it)."""
    _check_category(category)
    if places < 1:
        raise BadInput("places.bad", value=places, option="--places")
    if not honour.strip():
        raise BadInput("honour.empty", option="--honour")
    with db.begin() as conn:
        rules = rules_for_year(conn, year)
        rows = _load(conn, year, category)
        if not rows:
            raise NotFound("results.none_category", year=year, category=category)
        entries = [VetoEntry(r.code, r.performance, r.composite) for r in rows if r.performance is not None]
        no_performance = sorted(r.code for r in rows if r.performance is None)
        if not entries:
            raise BadInput("results.no_performance", year=year, category=category)
        outcome = differential_veto(entries, places, rules.veto_ratio)
        decision = {
            "honour": honour.strip(), "places": places, "category": category, "year": year,
            "ratio": f"1:{float(rules.veto_ratio):g}", **outcome.as_dict(), "no_performance": no_performance,
            "performance": {e.org: e.performance for e in entries if e.org in outcome.candidates},
            "composite": {e.org: e.composite for e in entries if e.org in outcome.candidates},
        }
        conn.execute(veto_decisions.delete().where(veto_decisions.c.year == year, veto_decisions.c.category == category,
                                                   veto_decisions.c.honour == honour.strip()))
        conn.execute(veto_decisions.insert().values(year=year, category=category, honour=honour.strip(), places=places,
                                                    decision=decision, decided_at=to_db_time(now)))
    return decision


def list_vetoes(db: Database, *, year: int) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r.decision) for r in conn.execute(
            sa.select(veto_decisions.c.decision).where(veto_decisions.c.year == year).order_by(veto_decisions.c.id))]
