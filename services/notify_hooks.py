"""Transition hooks that queue a notice in the transition's own transaction: a returned report, fed-back results."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from services.cycles import FiredEvent
from states.machine import RETURN_EVENTS
from storage.db import to_db_time
from storage.tables.core import orgs
from storage.tables.notify import outbox

NOTICE_OF_EVENT = {**{event: ("returned", "resubmit", "review_due") for event in RETURN_EVENTS},
                   "give_feedback": ("feedback", "commitment", "commitment_due")}


def queue_transition_notice(conn: sa.Connection, fired: FiredEvent, cycle_row: sa.Row[Any]) -> None:
    """`revise`/`rewrite` → `returned` with the reason; `give_feedback` → `feedback`; to the secretary, SMS and e-mail."""
    notice = NOTICE_OF_EVENT.get(fired.event)
    if notice is None:
        return
    template, step, due_column = notice
    contact = conn.execute(sa.select(orgs.c.phone, orgs.c.email).where(orgs.c.id == fired.org_id)).one()
    marker = f"v{cycle_row.version + 1}"  # the cycle's version after this transition: once per return
    rows = [
        {
            "key": f"{fired.year}:{fired.org_id}:{fired.kind}:{step}:{template}:{marker}:{channel}",
            "year": fired.year, "org_id": fired.org_id, "recipient_org_id": fired.org_id, "cycle_kind": fired.kind,
            "step": step, "template": template, "channel": channel, "address": address,
            "due": cycle_row._mapping[due_column], "note": fired.note, "status": "queued", "attempts": 0,
            "created_at": to_db_time(fired.at),
        }
        for channel, address in (("sms", contact.phone), ("email", contact.email))
        if address
    ]
    if not rows:
        return
    insert: Any = postgresql.insert(outbox) if conn.dialect.name == "postgresql" else sqlite.insert(outbox)
    conn.execute(insert.values(rows).on_conflict_do_nothing())
