"""Scoring rules, pure: composite, ranks with ties, key-management quotas, the differential veto, sampling."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

# The four parts of the composite (R28) and the extra inputs a city may import.
COMPOSITE_COMPONENTS: tuple[str, ...] = ("onsite", "evaluation", "survey", "daily")
IMPORTABLE_COMPONENTS: tuple[str, ...] = ("onsite", "survey", "daily", "performance", "evaluation")
COMPONENT_LABELS: dict[str, str] = {
    "onsite": "实地考核",
    "evaluation": "述职评议测评",
    "survey": "民意调查",
    "daily": "平时掌握情况",
    "performance": "年度责任目标绩效",
}
DEFAULT_WEIGHTS: dict[str, float] = {"onsite": 0.4, "evaluation": 0.3, "survey": 0.2, "daily": 0.1}

CATEGORIES: tuple[str, ...] = ("towns", "city_units", "villages", "communities_and_others")
CATEGORY_LABELS: dict[str, str] = {
    "towns": "乡镇（街道、场）",
    "city_units": "市直单位",
    "villages": "村",
    "communities_and_others": "社区和其他基层党组织",
}

# R25: what a town rates its villages (and communities) on, in two parts.
ONSITE_ITEMS: tuple[str, ...] = (
    "leadership_team",
    "serving_masses",
    "basic_systems",
    "member_management",
    "venues",
    "collective_economy",
)
ONSITE_ITEM_LABELS: dict[str, str] = {
    "leadership_team": "班子建设",
    "serving_masses": "联系服务群众",
    "basic_systems": "落实基本制度",
    "member_management": "党员教育管理",
    "venues": "办公活动场所建设使用",
    "collective_economy": "发展壮大村级集体经济",
}
ONSITE_PARTS: tuple[str, ...] = ("town", "members")
ONSITE_PART_LABELS: dict[str, str] = {"town": "乡镇党委评", "members": "党员群众评"}

# Composites are compared at this many decimals: 0.4·80 + 0.3·90 must tie with 59.0 + 0.0…01 noise.
SCORE_DECIMALS = 2


class ScoringRulesError(ValueError):
    """A [scoring] or [assessment] section that cannot be used; `problems` names each field."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        super().__init__("; ".join(f"{p.code} {p.params}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class RuleProblem:
    """One problem of a [scoring] or [assessment] section: a code of the message catalogue (services.errors,
    `rules.*`) and its parameters, so the CLI and the console say it in their reader's language."""

    code: str
    params: dict[str, Any]


def _problem(problems: list[RuleProblem], code: str, **params: Any) -> None:
    problems.append(RuleProblem(code, params))


@dataclass(frozen=True)
class ScoringRules:
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    performance_weight: float = 0.1  # the party-building score's share of the annual performance total (R30)
    veto_ratio: Fraction = Fraction(3, 2)  # 1:1.5
    village_share: Fraction = Fraction(1, 10)  # R31: at least 10 % of villages
    community_share: Fraction = Fraction(1, 20)  # R31: at least 5 % of communities and others
    weak_share: Fraction = Fraction(1, 10)  # weak towns and city units: lowest 10 %…
    weak_threshold: float | None = None  # …or a composite below this
    rectification_days: int = 30  # admonished units rectify within this many days
    onsite_part_weights: dict[str, float] = field(default_factory=lambda: {"town": 0.5, "members": 0.5})
    onsite_item_weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ONSITE_ITEMS, 1.0))
    suggestion_below: float = 80.0  # a component under this gets a rectification suggestion


def _number(value: Any, where: str, problems: list[RuleProblem], *, low: float = 0.0,
            high: float | None = None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _problem(problems, "rules.not_number", where=where, value=value)
        return None
    if value < low or (high is not None and value > high):
        _problem(problems, "rules.range", where=where, value=value, low=low, high=high if high is not None else "∞")
        return None
    return float(value)


def _share(value: Any, where: str, problems: list[RuleProblem]) -> Fraction | None:
    number = _number(value, where, problems, high=1.0)
    # str() keeps 0.1 as 1/10 exactly, so ⌈0.1·30⌉ is 3, not 4
    return None if number is None else Fraction(str(value))


def scoring_rules(extra: Mapping[str, Any]) -> ScoringRules:
    """The rules from a plan's [scoring] and [assessment] sections (missing keys keep their defaults)."""
    problems: list[RuleProblem] = []
    scoring = dict(extra.get("scoring") or {})
    assessment = dict(extra.get("assessment") or {})
    kwargs: dict[str, Any] = {}

    weights_raw = scoring.pop("weights", None)
    if weights_raw is not None:
        if not isinstance(weights_raw, dict):
            _problem(problems, "rules.weights_table")
        else:
            weights: dict[str, float] = {}
            for key, value in weights_raw.items():
                if key not in COMPOSITE_COMPONENTS:
                    _problem(problems, "rules.unknown_name", where=f"scoring.weights.{key}",
                             choices=", ".join(COMPOSITE_COMPONENTS))
                    continue
                number = _number(value, f"scoring.weights.{key}", problems, high=1.0)
                if number is not None:
                    weights[key] = number
            merged = {**DEFAULT_WEIGHTS, **weights}
            if not problems and not math.isclose(sum(merged.values()), 1.0, abs_tol=1e-9):
                _problem(problems, "rules.weights_sum", total=f"{sum(merged.values()):g}")
            kwargs["weights"] = merged
    for key, value in scoring.items():
        if key == "performance_weight":
            number = _number(value, "scoring.performance_weight", problems, high=1.0)
            if number is not None:
                kwargs["performance_weight"] = number
        elif key == "veto_ratio":
            number = _number(value, "scoring.veto_ratio", problems, low=1.0)
            if number is not None:
                kwargs["veto_ratio"] = Fraction(str(value))
        elif key == "suggestion_below":
            number = _number(value, "scoring.suggestion_below", problems, high=100.0)
            if number is not None:
                kwargs["suggestion_below"] = number
        else:
            _problem(problems, "rules.unknown_key", key=f"scoring.{key}")

    for key, value in assessment.items():
        if key in ("village_share", "community_share", "weak_share"):
            share = _share(value, f"assessment.{key}", problems)
            if share is not None:
                kwargs[key] = share
        elif key == "weak_threshold":
            kwargs[key] = _number(value, "assessment.weak_threshold", problems, high=100.0)
        elif key == "rectification_days":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                _problem(problems, "rules.whole_number", where="assessment.rectification_days", value=value)
            else:
                kwargs[key] = value
        elif key == "onsite_parts":
            kwargs["onsite_part_weights"] = _weights_table(value, ONSITE_PARTS, "assessment.onsite_parts", problems)
        elif key == "onsite_items":
            kwargs["onsite_item_weights"] = _weights_table(value, ONSITE_ITEMS, "assessment.onsite_items", problems)
        else:
            _problem(problems, "rules.unknown_key", key=f"assessment.{key}")
    if problems:
        raise ScoringRulesError(problems)
    return ScoringRules(**kwargs)


def _weights_table(value: Any, names: Sequence[str], where: str, problems: list[RuleProblem]) -> dict[str, float]:
    defaults = dict.fromkeys(names, 1.0)
    if not isinstance(value, dict):
        _problem(problems, "rules.table_of", where=where, names=", ".join(names))
        return defaults
    for key, weight in value.items():
        if key not in names:
            _problem(problems, "rules.unknown_name", where=f"{where}.{key}", choices=", ".join(names))
            continue
        number = _number(weight, f"{where}.{key}", problems)
        if number is not None:
            defaults[key] = number
    if sum(defaults.values()) <= 0:
        _problem(problems, "rules.all_zero", where=where)
    return defaults


def round_score(value: float) -> float:
    return round(value + 0.0, SCORE_DECIMALS)


def composite(components: Mapping[str, float | None], weights: Mapping[str, float]) -> tuple[float | None, list[str]]:
    """Weighted sum of the composite's components; any missing component → (None, the missing ones).

    A component whose weight is 0 is not needed. Never treats a missing component as zero.
    """
    missing = [c for c in COMPOSITE_COMPONENTS if weights.get(c, 0.0) > 0 and components.get(c) is None]
    if missing:
        return None, missing
    total = sum(weights.get(c, 0.0) * float(components[c] or 0.0) for c in COMPOSITE_COMPONENTS if weights.get(c, 0.0) > 0)
    return round_score(total), []


def weighted_mean(values: Mapping[str, float], weights: Mapping[str, float]) -> float:
    total_weight = sum(weights[k] for k in values)
    return round_score(sum(values[k] * weights[k] for k in values) / total_weight)


def onsite_score(parts: Mapping[str, Mapping[str, float]], rules: ScoringRules) -> tuple[float, dict[str, float]]:
    """R25: each part is the weighted mean of its six items; the on-site score weighs the two parts."""
    part_scores = {part: weighted_mean(items, rules.onsite_item_weights) for part, items in parts.items()}
    return weighted_mean(part_scores, rules.onsite_part_weights), part_scores


def competition_ranks(scores: Mapping[str, float]) -> dict[str, int]:
    """Higher is better; equal scores share a rank and the next rank skips (1, 2, 2, 4)."""
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    ranks: dict[str, int] = {}
    previous: float | None = None
    rank = 0
    for position, (key, score) in enumerate(ordered, start=1):
        if previous is None or score != previous:
            rank = position
            previous = score
        ranks[key] = rank
    return ranks


def ceil_share(share: Fraction, count: int) -> int:
    """⌈share · count⌉ in exact arithmetic."""
    return math.ceil(Fraction(share) * count)


def lowest_with_ties(scores: Mapping[str, float], quota: int) -> set[str]:
    """The `quota` lowest scores, plus everyone tied with the last of them."""
    if quota <= 0 or not scores:
        return set()
    ordered = sorted(scores.values())
    boundary = ordered[min(quota, len(ordered)) - 1]
    return {key for key, score in scores.items() if score <= boundary}


def key_management_list(scores: Mapping[str, float], share: Fraction) -> set[str]:
    """R31: the lowest ⌈share⌉ of a category (ties at the boundary all included)."""
    return lowest_with_ties(scores, ceil_share(share, len(scores)))


def weak_units(scores: Mapping[str, float], share: Fraction, threshold: float | None) -> set[str]:
    """Towns and city units to report upward: the lowest ⌈share⌉ (with ties) and any below the threshold."""
    weak = lowest_with_ties(scores, ceil_share(share, len(scores)))
    if threshold is not None:
        weak |= {key for key, score in scores.items() if score < threshold}
    return weak


@dataclass(frozen=True)
class VetoEntry:
    org: str
    performance: float
    composite: float | None


@dataclass
class VetoOutcome:
    places: int
    candidate_quota: int
    candidates: list[str]
    awarded: list[str]
    vetoed: list[str]
    reasons: dict[str, str]
    ties: list[str]  # notes where a tie had to be broken, for the humans who sign the list

    def as_dict(self) -> dict[str, Any]:
        return {
            "candidate_quota": self.candidate_quota,
            "candidates": self.candidates,
            "awarded": self.awarded,
            "vetoed": self.vetoed,
            "reasons": self.reasons,
            "ties": self.ties,
        }


def differential_veto(entries: Iterable[VetoEntry], places: int, ratio: Fraction = Fraction(3, 2)) -> VetoOutcome:
    """R30, 平行考核、差额否决.

    Candidates are the top ⌈ratio·N⌉ by performance; everyone tied with the last of them is a candidate
    too (a tie must not decide who may compete). Among the candidates, those lowest by composite are
    vetoed until N remain: first candidates with no composite (no party-building score, no honour), then
    by composite ascending; a tie on composite is broken by lower performance first, then by code (and
    noted in `ties`). So exactly min(N, candidates) are awarded.
    """
    if places < 1:
        raise ValueError("places must be at least 1")
    pool = sorted(entries, key=lambda e: (-e.performance, e.org))
    quota = math.ceil(ratio * places)
    candidates = list(pool[:quota])
    if len(pool) > quota and candidates:
        boundary = candidates[-1].performance
        candidates += [e for e in pool[quota:] if e.performance == boundary]
    ties: list[str] = []
    if len(candidates) > quota:
        ties.append(
            f"performance tie at the candidate boundary ({candidates[-1].performance:g}): "
            f"{len(candidates)} candidates instead of {quota}"
        )
    order = sorted(
        candidates,
        key=lambda e: (e.composite is not None, e.composite if e.composite is not None else 0.0, e.performance, e.org),
    )
    excess = max(0, len(candidates) - places)
    vetoed_entries = order[:excess]
    reasons = {
        e.org: "no party-building composite" if e.composite is None else f"composite {e.composite:g} among the lowest of the candidates"
        for e in vetoed_entries
    }
    if 0 < excess < len(order):
        last, first_kept = order[excess - 1], order[excess]
        if last.composite is not None and last.composite == first_kept.composite:
            broken_by = "performance" if last.performance != first_kept.performance else "code"
            ties.append(
                f"composite tie at the veto boundary ({last.composite:g}) between {last.org} and {first_kept.org}: "
                f"broken by {broken_by}"
            )
    vetoed = {e.org for e in vetoed_entries}
    return VetoOutcome(
        places=places,
        candidate_quota=quota,
        candidates=[e.org for e in candidates],
        awarded=[e.org for e in candidates if e.org not in vetoed],
        vetoed=[e.org for e in vetoed_entries],
        reasons=reasons,
        ties=ties,
    )


def performance_total(performance: float | None, party_building: float | None, weight: float) -> tuple[float | None, float | None]:
    """R30: the party-building score enters the annual performance total at `weight`.

    Returns (party-building points, total) = (weight·composite, (1 − weight)·performance + weight·composite).
    """
    if party_building is None:
        return None, None
    points = round_score(weight * party_building)
    if performance is None:
        return points, None
    return points, round_score((1 - weight) * performance + points)


# ---- sampling (R26, R27) -------------------------------------------------------------------------

def population_hash(ids: Iterable[str]) -> str:
    """sha256 of the sorted, newline-joined population ids: two people with the same list get the same hash."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def draw_key(seed: str, member: str) -> str:
    return hashlib.sha256(f"{seed}:{member}".encode()).hexdigest()


def draw_sample(population: Iterable[str], *, size: int, seed: str) -> list[str]:
    """A reproducible sample without repeats: the `size` members with the smallest sha256(seed:id).

    Depends only on the set of ids and the seed (not on the file's order or on any library's RNG), so
    anyone can re-draw it with a spreadsheet or three lines of any language.
    """
    members = sorted(set(population))
    if size < 0:
        raise ValueError("size must not be negative")
    return sorted(members, key=lambda m: (draw_key(seed, m), m))[:size]


def rectification_deadline(today: date, days: int) -> date:
    return today + timedelta(days=days)
