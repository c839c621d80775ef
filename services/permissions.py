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
from services.errors import PermissionDenied, Problem
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

# each action as a refusal names it (services.errors: denied.*)
ACTION_LABELS: dict[str, str] = {
    "view": "查看", "manage_users": "管理账户", "view_audit": "查看审计日志", "import_orgs": "导入组织架构",
    "start_year": "启动年度述职", "move_meeting": "调整会议日期", "issue_ballots": "发放测评码", "remind": "发送提醒",
    "compute_results": "计算考核结果", "act_on_behalf": "代为办理", "reveal_phone": "查看完整手机号",
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


def _refuse(actor: Actor, code: str, **params: Any) -> PermissionDenied:
    """`无权操作：name（role，范围 scope）…`: who was refused and what, from the catalogue (`denied.*`)."""
    from services.accounts import ROLE_LABELS

    return PermissionDenied("denied", name=actor.name, role=actor.role, role_label=ROLE_LABELS.get(actor.role, actor.role),
                            scope_zh=f"，范围 {actor.scope}" if actor.scope else "",
                            scope_en=f", scope {actor.scope}" if actor.scope else "", what=Problem(code, **params))


def _event(event: str) -> dict[str, str]:
    from states.machine import EVENT_LABELS

    return {"event": event, "event_label": EVENT_LABELS.get(event, event)}


def event_allowed_for_role(role: str, event: str) -> bool:
    allowed = ROLE_EVENTS.get(role, frozenset())
    return "*" in allowed or event in allowed


def check_fire(conn: sa.Connection, actor: Actor, cycle: sa.Row[Any], event: str) -> None:
    """Refuse an event the actor may not fire on this cycle (called by services.cycles.fire_event)."""
    if actor.role not in ROLES:
        raise _refuse(actor, "denied.fire_unknown_role", **_event(event))
    if not event_allowed_for_role(actor.role, event):
        raise _refuse(actor, "denied.fire", org=cycle.org_code, **_event(event))
    if actor.role in ("admin", "org_department"):
        return
    if actor.role == "secretary":
        if actor.scope != cycle.org_code:
            raise _refuse(actor, "denied.fire_own_unit", org=cycle.org_code, **_event(event))
        return
    # reviewer: the cycle's organizer must lie in the reviewer's subtree
    if not is_within(_path_of_id(conn, cycle.organizer_id), _path_of_code(conn, actor.scope or "")):
        raise _refuse(actor, "denied.fire_scope", org=cycle.org_code, scope=actor.scope, **_event(event))


def check_read(actor: Actor, *, org: str | None = None, citywide: bool = False) -> None:
    """A secretary reads only their own unit (issue 9): no city-wide list or board, no other unit's page."""
    if actor.role != "secretary":
        return
    if citywide:
        raise _refuse(actor, "denied.citywide")
    if org is not None and org != actor.scope:
        raise _refuse(actor, "denied.read_other", org=org)


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
        raise _refuse(actor, "denied.remind_scope", org=org, kind=kind,
                      kind_label="向本级述职" if kind == "own_level" else "向上级述职", scope=actor.scope)


def check_action(conn: sa.Connection, actor: Actor, action: str, *, org: str | None = None) -> None:
    """Refuse an action (ACTIONS) the actor may not take; `org` is the organization it touches, for scoped roles."""
    grant = ACTIONS.get(action, {}).get(actor.role)
    if grant == "*":
        return
    if grant == "scope" and org:
        if is_within(_path_of_code(conn, org), _path_of_code(conn, actor.scope or "")):
            return
        raise _refuse(actor, "denied.action_scope", action=action, action_label=ACTION_LABELS.get(action, action),
                      org=org, scope=actor.scope)
    raise _refuse(actor, "denied.action", action=action, action_label=ACTION_LABELS.get(action, action))


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
