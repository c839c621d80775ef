"""Other features' services as the console shows them: the sweep, the outbox, results, meetings, ballots, reports,
feedback and rectification. Imports are lazy so `import web` stays light."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from services.errors import BadInput, NotFound, PermissionDenied
from storage.db import Database

if TYPE_CHECKING:
    from services.permissions import Actor


def remind_now(db: Database, *, year: int, org: str, now: datetime, by: str, kind: str = "upward") -> dict[str, Any]:
    """Issue 3's per-unit reminder: the current step's notice to whoever owes it, once per minute however often clicked."""
    from services.sweep import remind_now as remind

    return remind(db, year=year, org=org, kind=kind, now=now, by=by)


def outbox(db: Database, *, year: int | None, org: str | None, status: str | None, offset: int = 0,
           limit: int = 50) -> dict[str, Any]:
    """One page of messages, newest first, contacts masked, with the counts per status (issue 3's outbox)."""
    from services.outbox import channel_alerts, mask_personal, outbox_counts
    from states.orgs import mask_contact
    from storage.tables.core import orgs
    from storage.tables.notify import outbox as messages

    conditions = outbox_filter(year=year, org=org, status=status)
    query = (
        sa.select(messages.c.id, orgs.c.code.label("org"), messages.c.channel, messages.c.address, messages.c.template,
                  messages.c.step, messages.c.status, messages.c.created_at, messages.c.sent_at, messages.c.attempts,
                  messages.c.last_error, messages.c.provider_ref, messages.c.subject)
        .select_from(messages.join(orgs, orgs.c.id == messages.c.org_id))
    )
    total = sa.select(sa.func.count()).select_from(messages.join(orgs, orgs.c.id == messages.c.org_id))
    with db.connect() as conn:
        rows = conn.execute(query.where(*conditions).order_by(messages.c.id.desc()).offset(offset).limit(limit)).all()
        matching = int(conn.execute(total.where(*conditions)).scalar_one())
    page = [
        {**{k: v for k, v in r._mapping.items() if k not in ("address", "created_at", "sent_at", "last_error")},
         "to": mask_contact(r.address), "created_at": _iso(r.created_at), "sent_at": _iso(r.sent_at),
         "last_error": mask_personal(r.last_error)}
        for r in rows
    ]
    return {"counts": outbox_counts(db, year=year), "messages": page, "total": matching, "offset": offset, "limit": limit,
            "alerts": channel_alerts(db)}


def _iso(moment: datetime | None) -> str | None:
    from storage.db import from_db_time

    aware = from_db_time(moment)
    return aware.isoformat(timespec="seconds") if aware else None


def results(db: Database, *, year: int, category: str | None) -> list[dict[str, Any]]:
    """The stored results (results.md), or [] before `results compute` has run for the year."""
    from services.results import show_results

    try:
        return show_results(db, year=year, category=category or None)
    except NotFound:
        return []


def move_meeting(db: Database, *, year: int, organizer: str, when: str, now: datetime, by: str) -> dict[str, Any]:
    from services.meetings_move import move_meeting as move

    return dict(move(db, year=year, organizer=organizer, date_text=when, now=now, by=by))


def issue_ballots(db: Database, *, year: int, organizer: str, count: int, now: datetime, by: str,
                  key: bytes | None = None) -> dict[str, Any]:
    from services.ballots import issue_codes

    return dict(issue_codes(db, year=year, count=count, now=now, organizer=organizer, by=by, key=key))


def extras_of(conn: sa.Connection, cycle_id: int, year: int) -> dict[str, Any]:
    """What the review feature holds for one cycle: report versions with the checker's findings, the meeting's
    comment and questions, the ballot tally, the feedback notice, the commitment and rectification items.

    A part that does not exist yet (no report submitted, nobody voted…) is None or an empty list."""
    from services.ballots import cycle_tally
    from services.meetings import agenda_of
    from services.rectification import commitment_of, items_of
    from services.reports import versions_of
    from storage.tables.review import feedback_notices

    tally = cycle_tally(conn, cycle_id, year)
    agenda = agenda_of(conn, cycle_id)
    notice = conn.execute(
        sa.select(feedback_notices.c.markdown, feedback_notices.c.created_at, feedback_notices.c.created_by)
        .where(feedback_notices.c.cycle_id == cycle_id)
    ).first()
    return {
        "reports": versions_of(conn, cycle_id),
        "agenda": _plain(dict(agenda._mapping)) if agenda is not None else None,
        "tally": tally if tally["ballots"] or tally.get("frozen") else None,
        "feedback": _plain(dict(notice._mapping)) if notice is not None else None,
        "commitment": commitment_of(conn, cycle_id),
        "rectification": items_of(conn, cycle_id),
    }


def cycle_with_extras(db: Database, *, year: int, org: str, kind: str, today: date,
                      actor: Actor | None = None) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """A cycle's page (`dashboard.cycle_page`), its extras and the events of its state `actor` may fire on it (the
    page's buttons), from one connection that resolves the cycle once (the console's most read page)."""
    from services import dashboard
    from services.cycles import check_kind, find_cycle
    from services.permissions import check_fire, event_allowed_for_role
    from states.machine import allowed_events

    check_kind(kind)
    with db.connect() as conn:
        row = find_cycle(conn, year=year, org=org, kind=kind)
        data = dashboard.cycle_page_of(conn, row, year=year, org=org, kind=kind, today=today)
        extras = extras_of(conn, row.id, year)
        allowed = []
        if actor is not None:
            target = SimpleNamespace(organizer_id=row.organizer_id, org_code=org)
            for event in allowed_events(row.state):
                if not event_allowed_for_role(actor.role, event):
                    continue
                try:
                    check_fire(conn, actor, target, event)  # type: ignore[arg-type]
                except PermissionDenied:
                    continue
                allowed.append(event)
    return data, extras, allowed


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    from storage.db import from_db_time

    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = from_db_time(value)
        out[key] = value.isoformat(timespec="seconds") if isinstance(value, datetime) else (
            value.isoformat() if isinstance(value, date) else value)
    return out


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


def outbox_filter(*, year: int | None, org: str | None, status: str | None) -> list[Any]:
    """The outbox page's and export's conditions (year, organization code, status); a bad status is named."""
    from services.outbox import STATUSES
    from storage.tables.core import orgs
    from storage.tables.notify import outbox as messages

    if status and status not in STATUSES:
        raise BadInput("status.bad", value=status, choices=", ".join(STATUSES))
    conditions: list[Any] = []
    if year is not None:
        conditions.append(messages.c.year == year)
    if org:
        conditions.append(orgs.c.code == org)
    if status:
        conditions.append(messages.c.status == status)
    return conditions
