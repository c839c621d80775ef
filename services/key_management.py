"""Key management (R31): listing, admonition records, and tracking across years (consecutive, improved)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput, NotFound
from states.scoring import rectification_deadline
from storage.db import Database, to_db_time
from storage.tables.core import orgs
from storage.tables.results import key_management, results

MEASURE_LABELS = {"key_management": "列入重点管理", "admonition": "报送约谈、限期整改"}
STATUS_LABELS = {"open": "整改中", "improved": "已晋位升级", "continued": "连续列入"}


def refresh_key_management(
    conn: sa.Connection,
    *,
    year: int,
    listed: dict[int, tuple[str, str]],
    today: date,
    rectification_days: int,
    now: datetime,
) -> None:
    """Make the year's rows match `listed` (org id → (measure, reason)); keep what people recorded
    (talk, deadline) on rows that stay; then re-derive the statuses of this year and the years around it."""
    existing = {r.org_id: r for r in conn.execute(sa.select(key_management).where(key_management.c.year == year))}
    previous = {
        r.org_id: r.consecutive_years
        for r in conn.execute(
            sa.select(key_management.c.org_id, key_management.c.consecutive_years).where(key_management.c.year == year - 1)
        )
    }
    gone = [org_id for org_id in existing if org_id not in listed]
    if gone:
        conn.execute(key_management.delete().where(key_management.c.year == year, key_management.c.org_id.in_(gone)))
    stamp = to_db_time(now)
    inserts, updates = [], []
    for org_id, (measure, reason) in listed.items():
        consecutive = previous.get(org_id, 0) + 1
        rectify_by = rectification_deadline(today, rectification_days) if measure == "admonition" else None
        old = existing.get(org_id)
        if old is None:
            inserts.append({"year": year, "org_id": org_id, "measure": measure, "reason": reason,
                            "consecutive_years": consecutive, "rectify_by": rectify_by, "status": "open",
                            "created_at": stamp})
        else:
            updates.append({"_id": old.id, "measure": measure, "reason": reason, "consecutive_years": consecutive,
                            "rectify_by": old.rectify_by or rectify_by})
    if inserts:
        conn.execute(key_management.insert(), inserts)
    if updates:
        conn.execute(key_management.update().where(key_management.c.id == sa.bindparam("_id")), updates)
    _derive_status(conn, year - 1)
    _derive_status(conn, year)


def _derive_status(conn: sa.Connection, year: int) -> None:
    """A listed unit is `continued` if listed again the next year, `improved` (晋位升级) if the next
    year's results rank it without listing it, and `open` while the next year has no result for it."""
    nxt = key_management.alias("nxt")
    listed_next = sa.exists().where(nxt.c.year == year + 1, nxt.c.org_id == key_management.c.org_id)
    scored_next = sa.exists().where(results.c.year == year + 1, results.c.org_id == key_management.c.org_id,
                                    results.c.composite.is_not(None))
    conn.execute(
        key_management.update().where(key_management.c.year == year).values(
            status=sa.case((listed_next, "continued"), (scored_next, "improved"), else_="open")
        )
    )


def list_key_management(db: Database, *, year: int) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(key_management, orgs.c.code, orgs.c.name, orgs.c.kind, results.c.composite, results.c.rank,
                      results.c.category)
            .select_from(
                key_management.join(orgs, orgs.c.id == key_management.c.org_id).outerjoin(
                    results, sa.and_(results.c.org_id == key_management.c.org_id, results.c.year == key_management.c.year)
                )
            )
            .where(key_management.c.year == year)
            .order_by(key_management.c.measure, results.c.category, results.c.composite, orgs.c.code)
        ).all()
    return [
        {
            "org": r.code, "name": r.name, "kind": r.kind, "category": r.category, "measure": r.measure,
            "reason": r.reason, "composite": r.composite, "rank": r.rank, "consecutive_years": r.consecutive_years,
            "repeat": r.consecutive_years > 1, "rectify_by": r.rectify_by.isoformat() if r.rectify_by else None,
            "talk_on": r.talk_on.isoformat() if r.talk_on else None, "talk_note": r.talk_note, "status": r.status,
        }
        for r in rows
    ]


def record_admonition(db: Database, *, year: int, org: str, talk_on: date, note: str, rectify_by: date | None = None) -> dict[str, Any]:
    """Record that the admonition talk (约谈) with a weak unit's secretary was held (and, if given, a new deadline)."""
    with db.begin() as conn:
        org_id = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == org)).scalar()
        if org_id is None:
            raise NotFound("org.not_found", code=org)
        row = conn.execute(
            sa.select(key_management).where(key_management.c.year == year, key_management.c.org_id == org_id)
        ).first()
        if row is None:
            raise NotFound("key.none", org=org, year=year)
        if not note.strip():
            raise BadInput("key.note_empty", option="--note")
        values: dict[str, Any] = {"talk_on": talk_on, "talk_note": note.strip()}
        if rectify_by is not None:
            if rectify_by < talk_on:
                raise BadInput("key.rectify_before_talk", value=rectify_by, talk_on=talk_on, option="--rectify-by")
            values["rectify_by"] = rectify_by
        conn.execute(key_management.update().where(key_management.c.id == row.id).values(**values))
    return next(item for item in list_key_management(db, year=year) if item["org"] == org)
