"""The composition root: one object wiring the database, the clock, settings and transition hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from services.clock import Clock, FixedClock, SystemClock, local_today, parse_when
from services.cycles import TransitionHook
from services.settings import Settings
from storage.db import Database


def default_hooks() -> list[TransitionHook]:
    """Side effects every transition carries, inside its transaction (reports, messages, ballots…)."""
    hooks: list[TransitionHook] = []
    from services.review_hooks import review_hook

    hooks.append(review_hook)  # first: a refusal (meeting not open, no commitment) undoes before messages queue
    from services.notify_hooks import queue_transition_notice

    hooks.append(queue_transition_notice)
    return hooks


@dataclass
class App:
    db: Database
    clock: Clock
    settings: Settings = field(default_factory=Settings)
    hooks: list[TransitionHook] = field(default_factory=default_hooks)

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return local_today(self.clock)


def build_app(settings: Settings, *, clock: Clock | None = None, db: Database | None = None) -> App:
    if clock is None:
        clock = FixedClock(parse_when(settings.now)) if settings.now else SystemClock()
    return App(db=db or Database(settings.db_url), clock=clock, settings=settings)
