"""Who may do what (R36), enforced in the services; the web console only hides what this refuses."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.actors import Actor
from services.errors import PermissionDenied


def check_fire(conn: sa.Connection, actor: Actor, cycle: sa.Row[Any], event: str) -> None:
    """Refuse an event the actor may not fire on this cycle (completed by the web console's issue)."""
    if actor.role in ("admin", "org_department"):
        return
    if actor.role == "viewer":
        raise PermissionDenied(f"{actor.name} (viewer) may not change cycles")
