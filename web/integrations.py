"""Other features' services as the console uses them; each says "not available yet" until its module lands."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from services.errors import NotFound
from storage.db import Database

NOT_AVAILABLE = "not available yet"


class Unavailable(Exception):
    """The feature's service has not landed in this build."""


def _function(module: str, *names: str) -> Callable[..., Any]:
    try:
        loaded = importlib.import_module(module)
    except ImportError:
        raise Unavailable(f"{module}: {NOT_AVAILABLE}") from None
    for name in names:
        found = getattr(loaded, name, None)
        if callable(found):
            return found  # type: ignore[no-any-return]
    raise Unavailable(f"{module}.{names[0]}: {NOT_AVAILABLE}")


def remind_now(db: Database, *, year: int, org: str, now: datetime) -> dict[str, Any]:
    """Issue 3's deadline sweep for the year (idempotent: it queues only what is owed and not yet queued)."""
    sweep = _function("services.sweep", "sweep_deadlines")
    result = sweep(db, now=now, year=year)
    return {"org": org, **(result.as_dict() if hasattr(result, "as_dict") else dict(result))}


def outbox(db: Database, *, year: int | None, org: str | None, status: str | None, limit: int = 300) -> dict[str, Any]:
    listing = _function("services.outbox", "list_outbox")
    counts = _function("services.outbox", "outbox_counts")
    from states.orgs import mask_contact

    rows = listing(db, year=year, org=org or None, status=status or None, limit=limit)
    for row in rows:
        row["to"] = mask_contact(row.get("to"))
        row.pop("key", None)
    return {"counts": counts(db, year=year), "messages": rows}


def results(db: Database, *, year: int, category: str | None) -> list[dict[str, Any]]:
    show = _function("services.results", "show_results")
    try:
        return list(show(db, year=year, category=category or None))
    except NotFound:
        return []


def move_meeting(db: Database, *, year: int, organizer: str, when: str, now: datetime, by: str) -> dict[str, Any]:
    move = _function("services.meetings_move", "move_meeting")
    result = move(db, year=year, organizer=organizer, date_text=when, now=now, by=by)
    return result.as_dict() if hasattr(result, "as_dict") else dict(result)


def issue_ballots(db: Database, *, year: int, organizer: str, count: int, now: datetime, by: str) -> dict[str, Any]:
    issue = _function("services.ballots", "issue_codes")
    return dict(issue(db, year=year, count=count, now=now, organizer=organizer, by=by))


def cycle_extras(db: Database, *, year: int, org: str, kind: str) -> dict[str, Any]:
    """Report versions with checker findings, comment, ballot tally, rectification items: whatever has landed."""
    from storage.tables.core import cycles, orgs

    extras: dict[str, Any] = {}
    with db.connect() as conn:
        cycle_id = conn.execute(
            sa.select(cycles.c.id).select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id))
            .where(orgs.c.code == org, cycles.c.year == year, cycles.c.kind == kind)
        ).scalar()
        if cycle_id is None:
            return extras
        extras["tally"] = _try(lambda: _function("services.ballots", "cycle_tally")(conn, cycle_id, year))
        extras["agenda"] = _try(lambda: _agenda(conn, cycle_id))
    extras["reports"] = _try(
        lambda: list(_function("services.reports", "list_versions", "report_versions")(db, year=year, org=org, kind=kind))
    )
    extras["rectification"] = _try(
        lambda: list(_function("services.rectification", "list_items", "list_rectification")(db, year=year, org=org, kind=kind))
    )
    return extras


def _agenda(conn: sa.Connection, cycle_id: int) -> dict[str, Any] | None:
    row = _function("services.meetings", "agenda_of")(conn, cycle_id)
    if row is None:
        return None
    return {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in row._mapping.items()}


def _try(fetch: Callable[[], Any]) -> Any:
    """The value, or {'unavailable': reason} so a page can say what is missing instead of failing."""
    try:
        return fetch()
    except Unavailable as missing:
        return {"unavailable": str(missing)}
    except NotFound as absent:
        return {"unavailable": absent.message}


def flow_runs(api_url: str | None, ui_url: str | None, *, limit: int = 20) -> dict[str, Any]:
    """Recent Prefect flow runs from its REST API (lazily, with httpx); never imports prefect."""
    if not api_url:
        return {"configured": False, "runs": [], "error": None}
    import httpx

    try:
        response = httpx.post(api_url.rstrip("/") + "/flow_runs/filter", json={"limit": limit, "sort": "START_TIME_DESC"}, timeout=5)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as error:
        return {"configured": True, "runs": [], "error": f"{type(error).__name__}: {error}"[:300]}
    base = (ui_url or api_url.rstrip("/").removesuffix("/api")).rstrip("/")
    runs = [
        {
            "id": r.get("id"),
            "name": r.get("name"),
            "state": (r.get("state") or {}).get("type") or r.get("state_type"),
            "state_name": (r.get("state") or {}).get("name") or r.get("state_name"),
            "start": r.get("start_time") or r.get("expected_start_time"),
            "end": r.get("end_time"),
            "url": f"{base}/runs/flow-run/{r.get('id')}",
        }
        for r in data
        if isinstance(r, dict)
    ]
    return {"configured": True, "runs": runs, "error": None}
