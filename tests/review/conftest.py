"""Fixtures of the review feature's tests: the sample city launched, helpers that walk a cycle forward."""

from __future__ import annotations

from pathlib import Path

from services.app import App
from services.cycles import fire_event

REPORTS = Path(__file__).parent.parent / "fixtures" / "reports"


def fire(app: App, org: str, event: str, *, kind: str = "upward", note: str | None = None, **options: object) -> None:
    fire_event(app.db, year=2014, org=org, event=event, kind=kind, now=app.now(), note=note, hooks=app.hooks,
               options=dict(options))


def walk_to_approved(app: App, org: str, *, kind: str = "upward") -> None:
    fire(app, org, "finish_research", kind=kind)
    fire(app, org, "submit", kind=kind, report=REPORTS / "good.md")
    fire(app, org, "approve", kind=kind)
