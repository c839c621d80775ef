"""The evaluation meeting's record (R16, R7): opening and closing, attendees, the agenda and the comment on each secretary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput, NotFound, Problem, Refused
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import cycles, meetings, orgs, years
from storage.tables.review import agenda_items, committee_meetings, meeting_attendees


@dataclass(frozen=True)
class MeetingRef:
    """One meeting: an organizer's evaluation meeting (`upward`) or an own committee's meeting (`own_level`)."""

    kind: str  # upward | own_level
    id: int
    year: int
    organizer_id: int
    organizer_code: str
    organizer_name: str

    @property
    def label(self) -> str:
        return self.organizer_code if self.kind == "upward" else f"{self.organizer_code} (本级)"

    def column_values(self) -> dict[str, int | None]:
        """The foreign-key pair rows of attendees, codes and batches carry."""
        if self.kind == "upward":
            return {"meeting_id": self.id, "committee_meeting_id": None}
        return {"meeting_id": None, "committee_meeting_id": self.id}

    def owner_clause(self, table: sa.Table) -> sa.ColumnElement[bool]:
        if self.kind == "upward":
            return table.c.meeting_id == self.id
        return table.c.committee_meeting_id == self.id


def _org(conn: sa.Connection, code: str) -> Any:
    row = conn.execute(sa.select(orgs.c.id, orgs.c.code, orgs.c.name).where(orgs.c.code == code)).first()
    if row is None:
        raise NotFound("org.not_found", code=code)
    return row


def _check_year(conn: sa.Connection, year: int) -> None:
    if conn.execute(sa.select(years.c.year).where(years.c.year == year)).first() is None:
        raise NotFound("year.not_launched", year=year)


def resolve_meeting(
    conn: sa.Connection, *, year: int, organizer: str | None = None, own: str | None = None, create_own: bool = False
) -> MeetingRef:
    """`--meeting ORGANIZER` (the organizer's evaluation meeting) or `--own ORG` (the own committee's meeting)."""
    if bool(organizer) == bool(own):
        raise BadInput("meeting.which")
    _check_year(conn, year)
    if organizer:
        org = _org(conn, organizer)
        meeting_id = conn.execute(
            sa.select(meetings.c.id).where(meetings.c.year == year, meetings.c.organizer_id == org.id)
        ).scalar()
        if meeting_id is None:
            raise NotFound("meeting.none_heard", organizer=organizer, year=year)
        return MeetingRef("upward", meeting_id, year, org.id, org.code, org.name)
    assert own is not None
    org = _org(conn, own)
    has_cycle = conn.execute(
        sa.select(cycles.c.id).where(cycles.c.year == year, cycles.c.org_id == org.id, cycles.c.kind == "own_level")
    ).first()
    if has_cycle is None:
        raise NotFound("cycle.no_own_level", org=own, year=year)
    meeting_id = conn.execute(
        sa.select(committee_meetings.c.id).where(committee_meetings.c.year == year, committee_meetings.c.org_id == org.id)
    ).scalar()
    if meeting_id is None:
        if not create_own:
            raise NotFound("meeting.own_not_opened", org=own, year=year)
        meeting_id = conn.execute(
            committee_meetings.insert().values(year=year, org_id=org.id).returning(committee_meetings.c.id)
        ).scalar_one()
    return MeetingRef("own_level", meeting_id, year, org.id, org.code, org.name)


def meeting_of_cycle(conn: sa.Connection, cycle: sa.Row[Any]) -> MeetingRef | None:
    """The meeting a cycle presents at, if it exists yet (own committee meetings exist once opened)."""
    org = conn.execute(sa.select(orgs.c.id, orgs.c.code, orgs.c.name).where(orgs.c.id == cycle.organizer_id)).one()
    if cycle.kind == "upward":
        if cycle.meeting_id is None:
            return None
        return MeetingRef("upward", cycle.meeting_id, cycle.year, org.id, org.code, org.name)
    meeting_id = conn.execute(
        sa.select(committee_meetings.c.id).where(
            committee_meetings.c.year == cycle.year, committee_meetings.c.org_id == cycle.org_id
        )
    ).scalar()
    return None if meeting_id is None else MeetingRef("own_level", meeting_id, cycle.year, org.id, org.code, org.name)


def _meeting_table(ref: MeetingRef) -> sa.Table:
    return meetings if ref.kind == "upward" else committee_meetings


def meeting_status(conn: sa.Connection, ref: MeetingRef) -> Any:
    table = _meeting_table(ref)
    return conn.execute(
        sa.select(table.c.opened_at, table.c.closed_at, table.c.presiding, table.c.venue, table.c.opened_by)
        .where(table.c.id == ref.id)
    ).one()


def is_open(conn: sa.Connection, ref: MeetingRef) -> bool:
    status = meeting_status(conn, ref)
    return status.opened_at is not None and status.closed_at is None


def presenting_cycles(conn: sa.Connection, ref: MeetingRef) -> list[sa.Row[Any]]:
    """The cycles on the meeting's agenda, in tree order: (id, org_id, code, name, state)."""
    query = (
        sa.select(cycles.c.id, cycles.c.org_id, orgs.c.code, orgs.c.name, cycles.c.state, orgs.c.secretary)
        .select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id))
        .order_by(orgs.c.path)
    )
    if ref.kind == "upward":
        query = query.where(cycles.c.meeting_id == ref.id, cycles.c.kind == "upward")
    else:
        query = query.where(cycles.c.year == ref.year, cycles.c.org_id == ref.organizer_id, cycles.c.kind == "own_level")
    return list(conn.execute(query))


def check_present_allowed(conn: sa.Connection, cycle: sa.Row[Any], org_code: str) -> None:
    """`present` needs the cycle's meeting open (hook on `present`)."""
    ref = meeting_of_cycle(conn, cycle)
    if cycle.kind == "own_level":
        hint = f"shuzhi meeting open --year {cycle.year} --own {org_code}"
    else:
        organizer = conn.execute(sa.select(orgs.c.code).where(orgs.c.id == cycle.organizer_id)).scalar()
        hint = f"shuzhi meeting open --year {cycle.year} --meeting {organizer}"
    if ref is None or not is_open(conn, ref):
        raise Refused("meeting.not_open", org=org_code, hint=hint)


def open_meeting(
    db: Database, *, year: int, now: datetime, organizer: str | None = None, own: str | None = None,
    by: str = "cli", presiding: str | None = None, venue: str | None = None,
) -> dict[str, Any]:
    """Open the meeting (idempotent while open); a closed meeting cannot be reopened."""
    with db.begin() as conn:
        ref = resolve_meeting(conn, year=year, organizer=organizer, own=own, create_own=True)
        status = meeting_status(conn, ref)
        if status.closed_at is not None:
            raise Refused("meeting.closed", organizer=ref.label, year=year)
        table = _meeting_table(ref)
        values: dict[str, Any] = {}
        if status.opened_at is None:
            values.update(opened_at=to_db_time(now), opened_by=by)
        if presiding is not None:
            values["presiding"] = presiding
        if venue is not None:
            values["venue"] = venue
        if values:
            conn.execute(table.update().where(table.c.id == ref.id).values(**values))
    return show_meeting(db, year=year, organizer=organizer, own=own)


def close_meeting(
    db: Database, *, year: int, now: datetime, organizer: str | None = None, own: str | None = None
) -> dict[str, Any]:
    with db.begin() as conn:
        ref = resolve_meeting(conn, year=year, organizer=organizer, own=own)
        status = meeting_status(conn, ref)
        if status.opened_at is None:
            raise Refused("meeting.not_opened", organizer=ref.label, year=year)
        if status.closed_at is None:
            table = _meeting_table(ref)
            conn.execute(table.update().where(table.c.id == ref.id).values(closed_at=to_db_time(now)))
    return show_meeting(db, year=year, organizer=organizer, own=own)


def add_attendees(
    db: Database, *, year: int, attendees: list[dict[str, str]], organizer: str | None = None, own: str | None = None
) -> int:
    """Register attendees: dicts with name (required), unit and role. Returns how many the meeting now has."""
    problems = [Problem("attendee.name_empty", number=i) for i, a in enumerate(attendees, start=1)
                if not (a.get("name") or "").strip()]
    if problems:
        raise BadInput.listing(problems)
    if not attendees:
        raise BadInput("meeting.no_attendees")
    with db.begin() as conn:
        ref = resolve_meeting(conn, year=year, organizer=organizer, own=own, create_own=True)
        conn.execute(
            meeting_attendees.insert(),
            [
                {**ref.column_values(), "name": a["name"].strip(), "unit": (a.get("unit") or "").strip(),
                 "role": (a.get("role") or "").strip()}
                for a in attendees
            ],
        )
        return attendee_count(conn, ref)


def attendee_count(conn: sa.Connection, ref: MeetingRef) -> int:
    return conn.execute(
        sa.select(sa.func.count()).select_from(meeting_attendees).where(ref.owner_clause(meeting_attendees))
    ).scalar_one()


def _cycle_on_agenda(conn: sa.Connection, ref: MeetingRef, org: str) -> sa.Row[Any]:
    for row in presenting_cycles(conn, ref):
        if row.code == org:
            return row
    raise BadInput("meeting.not_presenting", org=org, organizer=ref.label, year=ref.year)


def _ensure_agenda_item(conn: sa.Connection, cycle_id: int) -> None:
    exists = conn.execute(sa.select(agenda_items.c.cycle_id).where(agenda_items.c.cycle_id == cycle_id)).first()
    if exists is None:
        conn.execute(agenda_items.insert().values(cycle_id=cycle_id, questions=[]))


def mark_presented(conn: sa.Connection, cycle_id: int, now: datetime) -> None:
    """Called by the `present` hook: the agenda item records when the secretary presented."""
    _ensure_agenda_item(conn, cycle_id)
    conn.execute(agenda_items.update().where(agenda_items.c.cycle_id == cycle_id).values(presented_at=to_db_time(now)))


def record_comment(
    db: Database, *, year: int, org: str, now: datetime, comment: str, organizer: str | None = None,
    own: str | None = None, strengths: str | None = None, problems: str | None = None,
    direction: str | None = None, by: str = "cli",
) -> dict[str, Any]:
    """The presiding secretary's comment on one secretary (R16: good practice, problems, direction)."""
    if not comment.strip():
        raise BadInput("meeting.comment_text_empty", option="--text")
    with db.begin() as conn:
        ref = resolve_meeting(conn, year=year, organizer=organizer, own=own)
        cycle = _cycle_on_agenda(conn, ref, org)
        _ensure_agenda_item(conn, cycle.id)
        conn.execute(
            agenda_items.update().where(agenda_items.c.cycle_id == cycle.id).values(
                comment=comment.strip(), strengths=strengths, problems=problems, direction=direction,
                commented_by=by, commented_at=to_db_time(now),
            )
        )
    return show_meeting(db, year=year, organizer=organizer, own=own)


def record_question(
    db: Database, *, year: int, org: str, question: str, organizer: str | None = None, own: str | None = None,
    asked_by: str = "", answer: str = "",
) -> None:
    if not question.strip():
        raise BadInput("meeting.question_empty", option="--question")
    with db.begin() as conn:
        ref = resolve_meeting(conn, year=year, organizer=organizer, own=own)
        cycle = _cycle_on_agenda(conn, ref, org)
        _ensure_agenda_item(conn, cycle.id)
        current = conn.execute(sa.select(agenda_items.c.questions).where(agenda_items.c.cycle_id == cycle.id)).scalar()
        questions = [*list(current or []), {"by": asked_by, "question": question.strip(), "answer": answer.strip()}]
        conn.execute(agenda_items.update().where(agenda_items.c.cycle_id == cycle.id).values(questions=questions))


def agenda_of(conn: sa.Connection, cycle_id: int) -> sa.Row[Any] | None:
    return conn.execute(sa.select(agenda_items).where(agenda_items.c.cycle_id == cycle_id)).first()


def _iso(moment: datetime | None) -> str | None:
    aware = from_db_time(moment)
    return aware.isoformat(timespec="seconds") if aware else None


def show_meeting(db: Database, *, year: int, organizer: str | None = None, own: str | None = None) -> dict[str, Any]:
    with db.connect() as conn:
        ref = resolve_meeting(conn, year=year, organizer=organizer, own=own)
        status = meeting_status(conn, ref)
        held_on = None
        if ref.kind == "upward":
            held_on = conn.execute(sa.select(meetings.c.held_on).where(meetings.c.id == ref.id)).scalar()
        attendees = [
            {"name": a.name, "unit": a.unit, "role": a.role}
            for a in conn.execute(
                sa.select(meeting_attendees).where(ref.owner_clause(meeting_attendees)).order_by(meeting_attendees.c.id)
            )
        ]
        agenda = []
        presenting = presenting_cycles(conn, ref)
        items = {
            item.cycle_id: item
            for item in conn.execute(
                sa.select(agenda_items).where(agenda_items.c.cycle_id.in_([row.id for row in presenting]))
            )
        } if presenting else {}
        for row in presenting:
            item = items.get(row.id)
            agenda.append({
                "org": row.code,
                "name": row.name,
                "state": row.state,
                "presented_at": _iso(item.presented_at) if item else None,
                "questions": list(item.questions) if item else [],
                "comment": item.comment if item else None,
                "strengths": item.strengths if item else None,
                "problems": item.problems if item else None,
                "direction": item.direction if item else None,
            })
        return {
            "meeting": ref.organizer_code,
            "kind": ref.kind,
            "year": year,
            "held_on": held_on.isoformat() if held_on else None,
            "open": status.opened_at is not None and status.closed_at is None,
            "opened_at": _iso(status.opened_at),
            "closed_at": _iso(status.closed_at),
            "presiding": status.presiding,
            "venue": status.venue,
            "attendees": attendees,
            "agenda": agenda,
        }
