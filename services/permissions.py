"""Who may do what (R36), enforced in the services; the web console only hides what this refuses.

Roles (services.actors.ROLES):
- admin: everything, including accounts, importing the tree and launching a year;
- org_department (组织部, city-wide): every cycle event, moving meetings, ballot codes, reminders, results;
- reviewer (a committee, scope = its organization): reviews (approve / revise / rewrite) and runs the meeting
  (present, close_evaluation, give_feedback) of cycles whose organizer lies in its scope's subtree (R4);
  issues ballot codes and sends reminders there;
- secretary (scope = own unit): the secretary's own steps on their own unit's cycles;
- viewer: reads only.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.actors import ROLES, Actor
from services.errors import PermissionDenied
from services.orgs import subtree_bounds
from storage.tables.core import orgs

REVIEW_EVENTS = frozenset({"approve", "revise", "rewrite"})
ORGANIZER_EVENTS = frozenset({"present", "close_evaluation", "give_feedback"})
SECRETARY_EVENTS = frozenset({"finish_research", "submit", "resubmit", "start_rectification", "file_commitment"})

# Actions other than firing a cycle event, and the roles that may take them anywhere ("*") or in their scope.
ACTIONS: dict[str, dict[str, str]] = {
    "view": {"admin": "*", "org_department": "*", "reviewer": "*", "secretary": "*", "viewer": "*"},
    "manage_users": {"admin": "*"},
    "view_audit": {"admin": "*"},
    "import_orgs": {"admin": "*"},
    "start_year": {"admin": "*"},
    "move_meeting": {"admin": "*", "org_department": "*"},
    "issue_ballots": {"admin": "*", "org_department": "*", "reviewer": "scope"},
    "remind": {"admin": "*", "org_department": "*", "reviewer": "scope"},
    "compute_results": {"admin": "*", "org_department": "*"},
    "act_on_behalf": {"admin": "*", "org_department": "*"},  # a unit's own step, recorded as 代为办理
    "reveal_phone": {"admin": "*", "org_department": "*"},  # full phone numbers, each reveal audited
}

ROLE_EVENTS: dict[str, frozenset[str]] = {
    "admin": frozenset({"*"}),
    "org_department": frozenset({"*"}),
    "reviewer": REVIEW_EVENTS | ORGANIZER_EVENTS,
    "secretary": SECRETARY_EVENTS,
    "viewer": frozenset(),
}


def _path_of_id(conn: sa.Connection, org_id: int) -> str | None:
    return conn.execute(sa.select(orgs.c.path).where(orgs.c.id == org_id)).scalar()


def _path_of_code(conn: sa.Connection, code: str) -> str | None:
    return conn.execute(sa.select(orgs.c.path).where(orgs.c.code == code)).scalar()


def is_within(path: str | None, scope_path: str | None) -> bool:
    if not path or not scope_path:
        return False
    low, high = subtree_bounds(scope_path)
    return low <= path < high


def _refuse(actor: Actor, what: str) -> PermissionDenied:
    scope = f", scope {actor.scope}" if actor.scope else ""
    return PermissionDenied(f"无权操作 {actor.name} ({actor.role}{scope}) may not {what}")


def event_allowed_for_role(role: str, event: str) -> bool:
    allowed = ROLE_EVENTS.get(role, frozenset())
    return "*" in allowed or event in allowed


def check_fire(conn: sa.Connection, actor: Actor, cycle: sa.Row[Any], event: str) -> None:
    """Refuse an event the actor may not fire on this cycle (called by services.cycles.fire_event)."""
    if actor.role not in ROLES:
        raise _refuse(actor, f"fire '{event}' (unknown role)")
    if not event_allowed_for_role(actor.role, event):
        raise _refuse(actor, f"fire '{event}' on {cycle.org_code}")
    if actor.role in ("admin", "org_department"):
        return
    if actor.role == "secretary":
        if actor.scope != cycle.org_code:
            raise _refuse(actor, f"fire '{event}' on {cycle.org_code}: a secretary acts on their own unit's cycles only")
        return
    # reviewer: the cycle's organizer must lie in the reviewer's subtree
    if not is_within(_path_of_id(conn, cycle.organizer_id), _path_of_code(conn, actor.scope or "")):
        raise _refuse(actor, f"fire '{event}' on {cycle.org_code}: its organizer is outside scope {actor.scope}")


def check_read(actor: Actor, *, org: str | None = None, citywide: bool = False) -> None:
    """A secretary reads only their own unit (issue 9): no city-wide list or board, no other unit's page."""
    if actor.role != "secretary":
        return
    if citywide:
        raise _refuse(actor, "read the city-wide lists (a secretary reads their own unit only)")
    if org is not None and org != actor.scope:
        raise _refuse(actor, f"read {org}: a secretary reads their own unit only")


def check_remind(conn: sa.Connection, actor: Actor, *, year: int, org: str, kind: str) -> None:
    """Remind a cycle's owner: a reviewer only for cycles its committee organizes (issue 10 L2), like reviews."""
    check_action(conn, actor, "remind", org=org)
    if actor.role != "reviewer":
        return
    from storage.tables.core import cycles

    organizer_path = conn.execute(
        sa.select(orgs.c.path).select_from(cycles.join(orgs, orgs.c.id == cycles.c.organizer_id))
        .where(cycles.c.year == year, cycles.c.kind == kind,
               cycles.c.org_id == sa.select(orgs.c.id).where(orgs.c.code == org).scalar_subquery())
    ).scalar()
    if organizer_path is not None and not is_within(organizer_path, _path_of_code(conn, actor.scope or "")):
        raise _refuse(actor, f"remind {org}: its {kind} cycle is organized outside scope {actor.scope}")


def check_action(conn: sa.Connection, actor: Actor, action: str, *, org: str | None = None) -> None:
    """Refuse an action (ACTIONS) the actor may not take; `org` is the organization it touches, for scoped roles."""
    grant = ACTIONS.get(action, {}).get(actor.role)
    if grant == "*":
        return
    if grant == "scope" and org:
        if is_within(_path_of_code(conn, org), _path_of_code(conn, actor.scope or "")):
            return
        raise _refuse(actor, f"{action} for {org}: outside scope {actor.scope}")
    raise _refuse(actor, action)


def may(conn: sa.Connection, actor: Actor, action: str, *, org: str | None = None) -> bool:
    """Whether `check_action` would pass: pages use it to hide what the services would refuse anyway."""
    try:
        check_action(conn, actor, action, org=org)
    except PermissionDenied:
        return False
    return True


def require(db: Any, actor: Actor, action: str, *, org: str | None = None) -> None:
    """`check_action` in its own read: the console calls it before a use case that takes no actor of its own."""
    with db.connect() as conn:
        check_action(conn, actor, action, org=org)
