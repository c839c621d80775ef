"""The cycle machine of cli.md: every legal move, every refusal, and no per-cycle machines."""

from __future__ import annotations

import pytest

from states.machine import (
    EVENTS,
    MACHINE,
    STATES,
    STEP_OF_STATE,
    TRANSITIONS,
    TransitionNotAllowed,
    allowed_events,
    next_state,
    sources_of,
)

CONTRACT = {
    ("finish_research", "researching"): "drafting",
    ("submit", "drafting"): "submitted",
    ("approve", "submitted"): "approved",
    ("revise", "submitted"): "revising",
    ("rewrite", "submitted"): "revising",
    ("resubmit", "revising"): "submitted",
    ("present", "approved"): "presented",
    ("close_evaluation", "presented"): "evaluated",
    ("give_feedback", "evaluated"): "feedback_given",
    ("start_rectification", "feedback_given"): "rectifying",
    ("file_commitment", "rectifying"): "committed",
    ("close", "committed"): "closed",
}


@pytest.mark.parametrize(("event", "source"), sorted(CONTRACT))
def test_every_contract_transition_leads_where_cli_md_says(event: str, source: str) -> None:
    assert next_state(source, event, note="理由：问题查找不深") == CONTRACT[(event, source)]


def test_every_other_pair_is_refused() -> None:
    for state in STATES:
        for event in EVENTS:
            if (event, state) in CONTRACT:
                continue
            with pytest.raises(TransitionNotAllowed):
                next_state(state, event, note="n")


@pytest.mark.parametrize("event", ["revise", "rewrite"])
def test_a_return_needs_a_reason(event: str) -> None:
    with pytest.raises(TransitionNotAllowed, match="reason"):
        next_state("submitted", event)
    with pytest.raises(TransitionNotAllowed):
        next_state("submitted", event, note="   ")


def test_unknown_event_is_refused_with_the_list_of_events() -> None:
    with pytest.raises(TransitionNotAllowed, match="finish_research"):
        next_state("researching", "jump_to_the_end")


def test_the_shared_machine_holds_no_models_and_has_no_shortcuts() -> None:
    for _ in range(100):
        next_state("researching", "finish_research")
    assert MACHINE.models == []
    assert not any(name.startswith("to_") for name in MACHINE.events)


def test_table_helpers_agree_with_the_table() -> None:
    assert set(TRANSITIONS) == {(e, s, d) for (e, s), d in CONTRACT.items()}
    assert allowed_events("submitted") == ["approve", "revise", "rewrite"]
    assert sources_of("submit") == ["drafting"]
    assert STEP_OF_STATE["revising"] == "resubmit"
    assert "closed" not in STEP_OF_STATE
