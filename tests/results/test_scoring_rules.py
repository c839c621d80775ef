"""The pure scoring rules: ranks with ties, exact ⌈⌉ quotas, the veto, sampling, the plan sections."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from states.scoring import (
    ScoringRulesError,
    VetoEntry,
    ceil_share,
    competition_ranks,
    composite,
    differential_veto,
    draw_sample,
    key_management_list,
    population_hash,
    scoring_rules,
    weak_units,
)


def test_competition_ranks_share_and_skip() -> None:
    assert competition_ranks({"a": 90, "b": 80, "c": 80, "d": 70}) == {"a": 1, "b": 2, "c": 2, "d": 4}
    assert competition_ranks({"a": 50, "b": 50, "c": 50}) == {"a": 1, "b": 1, "c": 1}
    assert competition_ranks({}) == {}


def test_ceil_share_is_exact() -> None:
    ten, five = scoring_rules({}).village_share, scoring_rules({}).community_share
    assert (ten, five) == (Fraction(1, 10), Fraction(1, 20))
    # in floating point 0.1·30 = 3.0000000000000004 and ⌈⌉ would give 4
    assert [ceil_share(ten, n) for n in (1, 9, 10, 11, 20, 30, 31)] == [1, 1, 1, 2, 2, 3, 4]
    assert [ceil_share(five, n) for n in (1, 20, 21, 40, 41)] == [1, 1, 2, 2, 3]
    assert ceil_share(scoring_rules({"assessment": {"village_share": 0.1}}).village_share, 30) == 3


def test_key_management_includes_ties_at_the_boundary() -> None:
    scores = {f"v{i}": float(s) for i, s in enumerate([60, 65, 65, 65, 70, 80, 81, 82, 83, 84, 85])}  # 11 → ⌈1.1⌉ = 2
    assert key_management_list(scores, Fraction(1, 10)) == {"v0", "v1", "v2", "v3"}
    assert key_management_list({}, Fraction(1, 10)) == set()
    assert weak_units({"a": 90, "b": 95, "c": 99}, Fraction(1, 10), 92.0) == {"a"}
    assert weak_units({"a": 90, "b": 91, "c": 99}, Fraction(1, 10), 92.0) == {"a", "b"}  # b is under the threshold


def test_composite_never_counts_a_missing_component_as_zero() -> None:
    weights = {"onsite": 0.4, "evaluation": 0.3, "survey": 0.2, "daily": 0.1}
    assert composite({"onsite": 80, "evaluation": 90, "survey": 70, "daily": 60}, weights) == (79.0, [])
    assert composite({"onsite": 80, "evaluation": None, "survey": 70}, weights) == (None, ["evaluation", "daily"])
    # a component weighted 0 is not needed
    assert composite({"onsite": 50, "evaluation": 100}, {"onsite": 0.5, "evaluation": 0.5, "survey": 0, "daily": 0}) == (75.0, [])
    # float noise does not split a tie: 0.1·3 + 0.2·… both round to the same 2 decimals
    a, _ = composite({"onsite": 70.1, "evaluation": 70.2, "survey": 70.3, "daily": 70.4}, weights)
    b, _ = composite({"onsite": 70.1, "evaluation": 70.2, "survey": 70.3, "daily": 70.4}, dict(reversed(weights.items())))
    assert a == b == 70.2


def test_veto_ties() -> None:
    entries = [VetoEntry("a", 99, 70), VetoEntry("b", 95, 90), VetoEntry("c", 95, 85), VetoEntry("d", 95, 88), VetoEntry("e", 80, 99)]
    # N = 2 → ⌈3⌉ = 3, but b, c, d tie on performance at the boundary: all 4 are candidates; e is not
    outcome = differential_veto(entries, 2)
    assert (outcome.candidate_quota, outcome.candidates) == (3, ["a", "b", "c", "d"])
    assert (outcome.awarded, outcome.vetoed) == (["b", "d"], ["a", "c"])
    assert "performance tie" in outcome.ties[0]
    # a composite tie at the veto boundary: the lower performance goes first, and the tie is noted
    outcome = differential_veto([VetoEntry("a", 99, 80), VetoEntry("b", 98, 80), VetoEntry("c", 97, 90)], 2)
    assert (outcome.awarded, outcome.vetoed) == (["a", "c"], ["b"])
    assert outcome.ties == ["composite tie at the veto boundary (80) between b and a: broken by performance"]
    # fewer units than places: all awarded
    assert differential_veto([VetoEntry("a", 1, 1)], 3).awarded == ["a"]
    with pytest.raises(ValueError):
        differential_veto([], 0)


entry_lists = st.lists(
    st.builds(VetoEntry, org=st.text("abcdefgh", min_size=1, max_size=3), performance=st.integers(0, 5).map(float),
              composite=st.one_of(st.none(), st.integers(0, 5).map(float))),
    max_size=12, unique_by=lambda e: e.org,
)


@given(entry_lists, st.integers(1, 8))
def test_veto_awards_exactly_min_of_places_and_candidates(entries: list[VetoEntry], places: int) -> None:
    outcome = differential_veto(entries, places)
    assert len(outcome.awarded) == min(places, len(outcome.candidates))
    assert set(outcome.awarded) | set(outcome.vetoed) == set(outcome.candidates)
    assert not set(outcome.awarded) & set(outcome.vetoed)
    assert len(outcome.candidates) >= min(len(entries), outcome.candidate_quota)
    composite_of = {e.org: e.composite for e in entries}
    for loser in outcome.vetoed:
        for winner in outcome.awarded:
            lost, won = composite_of[loser], composite_of[winner]
            assert lost is None or (won is not None and lost <= won)


@given(st.sets(st.text("0123456789ab", min_size=1, max_size=4), max_size=40), st.integers(0, 40), st.text(max_size=8))
def test_samples_are_reproducible_and_without_repeats(population: set[str], size: int, seed: str) -> None:
    drawn = draw_sample(sorted(population), size=size, seed=seed)
    assert drawn == draw_sample(sorted(population, reverse=True), size=size, seed=seed)  # the order of the file is irrelevant
    assert len(drawn) == len(set(drawn)) == min(size, len(population))
    assert set(drawn) <= population


def test_sample_depends_on_the_seed_and_hash_on_the_set() -> None:
    population = [f"P{i:03d}" for i in range(200)]
    assert draw_sample(population, size=10, seed="2014") != draw_sample(population, size=10, seed="2015")
    assert population_hash(population) == population_hash(reversed(population))
    assert population_hash(population) != population_hash(population[1:])


def test_plan_sections_are_validated() -> None:
    rules = scoring_rules({"scoring": {"weights": {"onsite": 0.5, "evaluation": 0.2}, "performance_weight": 0.15},
                           "assessment": {"weak_threshold": 75, "rectification_days": 20, "onsite_parts": {"town": 0.6, "members": 0.4}}})
    assert rules.weights == {"onsite": 0.5, "evaluation": 0.2, "survey": 0.2, "daily": 0.1}
    assert (rules.performance_weight, rules.weak_threshold, rules.rectification_days) == (0.15, 75.0, 20)
    with pytest.raises(ScoringRulesError) as error:
        scoring_rules({"scoring": {"weights": {"onsite": 0.9, "luck": 0.1}, "colour": 1},
                       "assessment": {"village_share": 2}})
    from services.errors import render

    problems = error.value.problems
    assert [render(p.code, p.params, "en") for p in problems] == [
        "scoring.weights.luck: unknown (one of onsite, evaluation, survey, daily)",
        "unknown key 'scoring.colour'",
        "assessment.village_share: 2 must be between 0.0 and 1.0",
    ]
    assert [render(p.code, p.params) for p in problems] == [
        "scoring.weights.luck：未知项目（可选 onsite, evaluation, survey, daily）",
        "未知字段 'scoring.colour'",
        "assessment.village_share：2 应在 0.0 到 1.0 之间",
    ]
    with pytest.raises(ScoringRulesError) as error:
        scoring_rules({"scoring": {"weights": {"onsite": 0.9}}})
    assert render(error.value.problems[0].code, error.value.problems[0].params) == \
        "scoring.weights：各项权重之和应为 1（现为 1.5）"
