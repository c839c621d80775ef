"""Who acts: an account's role and scope, passed to services so rules are enforced there, not in pages."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("admin", "org_department", "reviewer", "secretary", "viewer")


@dataclass(frozen=True)
class Actor:
    name: str
    role: str = "admin"
    scope: str | None = None  # an organization code: the reviewer's organizer, the secretary's own unit


SYSTEM = Actor(name="system", role="admin")
