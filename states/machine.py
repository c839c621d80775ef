"""The secretary's annual cycle (R10–R13): one shared `transitions` machine, no model of its own.

A cycle is a database row. Firing an event checks the rule on a throw-away view of that row
(`CycleView`), never on a Machine per cycle and never through `add_model` into a long-lived machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transitions import Machine, MachineError

STATES: tuple[str, ...] = (
    "researching",
    "drafting",
    "submitted",
    "revising",
    "approved",
    "presented",
    "evaluated",
    "feedback_given",
    "rectifying",
    "committed",
    "closed",
)

STATE_LABELS: dict[str, str] = {
    "researching": "调研",
    "drafting": "撰写",
    "submitted": "已报送",
    "revising": "退回修改",
    "approved": "审核通过",
    "presented": "已述职",
    "evaluated": "已测评",
    "feedback_given": "已反馈",
    "rectifying": "整改中",
    "committed": "承诺已备案",
    "closed": "已办结",
}

# (event, source, destination) — the contract table of cli.md.
TRANSITIONS: tuple[tuple[str, str, str], ...] = (
    ("finish_research", "researching", "drafting"),
    ("submit", "drafting", "submitted"),
    ("approve", "submitted", "approved"),
    ("revise", "submitted", "revising"),
    ("rewrite", "submitted", "revising"),
    ("resubmit", "revising", "submitted"),
    ("present", "approved", "presented"),
    ("close_evaluation", "presented", "evaluated"),
    ("give_feedback", "evaluated", "feedback_given"),
    ("start_rectification", "feedback_given", "rectifying"),
    ("file_commitment", "rectifying", "committed"),
    ("close", "committed", "closed"),
)

EVENTS: tuple[str, ...] = tuple(dict.fromkeys(t[0] for t in TRANSITIONS))

EVENT_LABELS: dict[str, str] = {
    "finish_research": "完成调研",
    "submit": "报送述职报告",
    "approve": "审核通过",
    "revise": "督促修改",
    "rewrite": "责令重写",
    "resubmit": "重新报送",
    "present": "述职",
    "close_evaluation": "测评结束",
    "give_feedback": "通报反馈",
    "start_rectification": "开始整改",
    "file_commitment": "整改方案及公开承诺备案",
    "close": "办结",
}

# Events that return a report to its secretary: they need a reason and are counted (R13).
RETURN_EVENTS: frozenset[str] = frozenset({"revise", "rewrite"})

# The step owed in each state and who owes it (cli.md).
STEP_OF_STATE: dict[str, str] = {
    "researching": "submit",
    "drafting": "submit",
    "submitted": "review",
    "revising": "resubmit",
    "approved": "present",
    "presented": "evaluate",
    "evaluated": "feedback",
    "feedback_given": "commitment",
    "rectifying": "commitment",
    "committed": "close",
}

STEPS: tuple[str, ...] = tuple(dict.fromkeys(STEP_OF_STATE.values()))

STEP_LABELS: dict[str, str] = {
    "submit": "报送述职报告",
    "review": "审核述职报告",
    "resubmit": "重新报送",
    "present": "述职",
    "evaluate": "完成测评",
    "feedback": "通报反馈",
    "commitment": "整改方案及公开承诺",
    "close": "办结",
}

OWNER_OF_STEP: dict[str, str] = {
    "submit": "secretary",
    "review": "reviewer",
    "resubmit": "secretary",
    "present": "secretary",
    "evaluate": "organizer",
    "feedback": "organizer",
    "commitment": "secretary",
    "close": "org_department",
}

# Which stored due date a step is measured against. `resubmit` shares the review deadline:
# a returned report must be back in time for the reviewer to pass it before the meeting.
DUE_COLUMN_OF_STEP: dict[str, str | None] = {
    "submit": "submit_due",
    "review": "review_due",
    "resubmit": "review_due",
    "present": "present_due",
    "evaluate": "evaluate_due",
    "feedback": "feedback_due",
    "commitment": "commitment_due",
    "close": None,
}

DUE_COLUMNS: tuple[str, ...] = (
    "submit_due",
    "review_due",
    "present_due",
    "evaluate_due",
    "feedback_due",
    "commitment_due",
)

OPEN_STATES: tuple[str, ...] = tuple(s for s in STATES if s != "closed")


class TransitionNotAllowed(Exception):
    """The event may not be fired from the cycle's current state, or its condition fails.

    `code` and `params` name the reason for the message catalogue (services.errors)."""

    def __init__(self, message: str, code: str = "", **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params: dict[str, Any] = params


@dataclass
class CycleView:
    """What the machine needs of a cycle: its state and the facts its conditions read."""

    state: str
    note: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def _has_reason(event_data: Any) -> bool:
    model: CycleView = event_data.model
    return bool(model.note and model.note.strip())


def _build_machine() -> Machine:
    transitions: list[dict[str, Any]] = []
    for event, source, dest in TRANSITIONS:
        spec: dict[str, Any] = {"trigger": event, "source": source, "dest": dest}
        if event in RETURN_EVENTS:
            spec["conditions"] = [_has_reason]
        transitions.append(spec)
    return Machine(
        model=None,
        states=list(STATES),
        transitions=transitions,
        initial="researching",
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
    )


MACHINE: Machine = _build_machine()


def next_state(state: str, event: str, *, note: str | None = None) -> str:
    """The state `event` leads to from `state`, or `TransitionNotAllowed` saying why not."""
    if event not in MACHINE.events:
        raise TransitionNotAllowed(f"unknown event '{event}'; events: {', '.join(EVENTS)}", "transition.unknown_event",
                                   event=event, events=", ".join(EVENTS))
    view = CycleView(state=state, note=note)
    try:
        fired = MACHINE.events[event].trigger(view)
    except MachineError:
        allowed = allowed_events(state)
        raise TransitionNotAllowed(
            f"'{event}' is not allowed from state '{state}' ({STATE_LABELS.get(state, state)}); "
            f"allowed: {', '.join(allowed) or 'none'}", "transition.not_allowed",
            event=event, event_label=EVENT_LABELS.get(event, event), state=state,
            state_label=STATE_LABELS.get(state, state), allowed=", ".join(allowed) or "none",
            allowed_labels="、".join(EVENT_LABELS.get(a, a) for a in allowed) or "无",
        ) from None
    if not fired:
        raise TransitionNotAllowed(f"'{event}' needs a reason (--note)", "transition.needs_note", event=event,
                                   event_label=EVENT_LABELS.get(event, event))
    return view.state


def allowed_events(state: str) -> list[str]:
    return [event for event, source, _ in TRANSITIONS if source == state]


def sources_of(event: str) -> list[str]:
    """States an event may fire from: lets bulk work apply the table set-based in SQL."""
    return [source for ev, source, _ in TRANSITIONS if ev == event]


def step_of(state: str) -> str | None:
    return STEP_OF_STATE.get(state)


def due_column_of(state: str) -> str | None:
    step = STEP_OF_STATE.get(state)
    return DUE_COLUMN_OF_STEP[step] if step else None


def mermaid_diagram() -> str:
    """The machine as Mermaid `stateDiagram-v2`, generated from the transition table."""
    lines = ["stateDiagram-v2", "    [*] --> researching"]
    for event, source, dest in TRANSITIONS:
        lines.append(f"    {source} --> {dest}: {event}")
    lines.append("    closed --> [*]")
    return "\n".join(lines) + "\n"
