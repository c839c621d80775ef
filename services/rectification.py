"""Rectification (R18): items (problem, measure, responsible person, due date), the public commitment, filing,
tracking to done; unfinished items are carried into next year's cycle (services.reports.carry_open_items)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from services.cycles import FiredEvent, find_cycle
from services.errors import BadInput, NotFound, Problem, Refused
from services.orgs import under_code
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import cycles, orgs
from storage.tables.review import commitments, rectification_items

# Items are drawn up after the evaluation, before the commitment is filed.
EDITABLE_STATES = ("evaluated", "feedback_given", "rectifying")


def _check_editable(cycle: Any, org: str) -> None:
    if cycle.state not in EDITABLE_STATES:
        from states.machine import STATE_LABELS

        raise Refused("rectification.state", org=org, state=cycle.state, allowed=", ".join(EDITABLE_STATES),
                      state_label=STATE_LABELS.get(cycle.state, cycle.state))


def add_item(
    db: Database, *, year: int, org: str, problem: str, measure: str, responsible: str, due: date | str,
    now: datetime, kind: str = "upward", by: str = "cli",
) -> dict[str, Any]:
    problems: list[Problem] = [Problem("rect.field_empty", label=label, field=field)
                               for field, label, value in (("problem", "整改问题", problem), ("measure", "整改措施", measure),
                                                           ("responsible", "责任人", responsible)) if not value.strip()]
    if isinstance(due, str):
        try:
            due = date.fromisoformat(due.strip())
        except ValueError:
            problems.append(Problem("rect.due_bad", value=str(due)[:40]))
    with db.begin() as conn:
        cycle = find_cycle(conn, year=year, org=org, kind=kind)
        if isinstance(due, date) and due > cycle.commitment_due:
            problems.append(Problem("rect.due_after", due=due, limit=cycle.commitment_due))
        if problems:
            raise BadInput.listing(problems)
        _check_editable(cycle, org)
        item_id = conn.execute(rectification_items.insert().values(
            cycle_id=cycle.id, problem=problem.strip(), measure=measure.strip(), responsible=responsible.strip(),
            due=due, status="open", created_at=to_db_time(now), created_by=by,
        ).returning(rectification_items.c.id)).scalar_one()
    return {"id": item_id, "org": org, "kind": kind, "due": due.isoformat() if isinstance(due, date) else due}


def mark_done(db: Database, *, item_id: int, now: datetime, note: str | None = None) -> dict[str, Any]:
    with db.begin() as conn:
        row = conn.execute(sa.select(rectification_items).where(rectification_items.c.id == item_id)).first()
        if row is None:
            raise NotFound("rectification.no_item", id=item_id)
        if row.status == "done":
            raise Refused("rectification.done_already", id=item_id)
        conn.execute(rectification_items.update().where(rectification_items.c.id == item_id).values(
            status="done", done_at=to_db_time(now), done_note=note))
        # finishing a carried item finishes the original too: last year's list shows it done
        if row.carried_from_id is not None:
            conn.execute(rectification_items.update().where(
                rectification_items.c.id == row.carried_from_id, rectification_items.c.status == "open"
            ).values(status="done", done_at=to_db_time(now), done_note=note))
    return {"id": item_id, "status": "done"}


def set_commitment(
    db: Database, *, year: int, org: str, text: str, now: datetime, kind: str = "upward", by: str = "cli"
) -> dict[str, Any]:
    """The public commitment text (公开承诺); replaced until it is filed."""
    if not text.strip():
        raise BadInput("commitment.empty", option="--text")
    with db.begin() as conn:
        cycle = find_cycle(conn, year=year, org=org, kind=kind)
        _check_editable(cycle, org)
        conn.execute(commitments.delete().where(commitments.c.cycle_id == cycle.id))
        conn.execute(commitments.insert().values(cycle_id=cycle.id, text=text.strip(), updated_at=to_db_time(now),
                                                 updated_by=by))
    return {"org": org, "kind": kind, "year": year}


def check_and_file_commitment(conn: sa.Connection, fired: FiredEvent, cycle: sa.Row[Any]) -> None:
    """Hook on `file_commitment`: a commitment and at least one item, or the filing is refused."""
    text = conn.execute(sa.select(commitments.c.text).where(commitments.c.cycle_id == cycle.id)).scalar()
    items = conn.execute(
        sa.select(sa.func.count()).select_from(rectification_items).where(rectification_items.c.cycle_id == cycle.id)
    ).scalar_one()
    missing = []  # (Chinese, English), each with the command that supplies it
    if not text:
        command = f"shuzhi rectification commitment --year {cycle.year} {fired.org_code} --text …"
        missing.append((f"还没有公开承诺（{command}）", f"no public commitment ({command})"))
    if not items:
        command = f"shuzhi rectification add --year {cycle.year} {fired.org_code} …"
        missing.append((f"还没有整改事项（{command}）", f"no rectification item ({command})"))
    if missing:
        raise Refused("rectification.missing", org=fired.org_code, missing="；".join(zh for zh, _ in missing),
                      missing_en="; ".join(en for _, en in missing))
    conn.execute(commitments.update().where(commitments.c.cycle_id == cycle.id).values(filed_at=to_db_time(fired.at)))


def _item_dict(r: sa.Row[Any]) -> dict[str, Any]:
    done = from_db_time(r.done_at)
    return {
        "id": r.id, "org": r.code, "kind": r.kind, "year": r.year, "problem": r.problem, "measure": r.measure,
        "responsible": r.responsible, "due": r.due.isoformat(), "status": r.status,
        "done_at": done.isoformat(timespec="seconds") if done else None, "carried_from": r.carried_from_id,
    }


def list_items(
    db: Database, *, year: int, org: str | None = None, under: str | None = None, kind: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    if status and status not in ("open", "done"):
        raise BadInput("rectification.status_bad", value=status, option="--status")
    query = (
        sa.select(rectification_items, orgs.c.code, cycles.c.kind, cycles.c.year)
        .select_from(rectification_items.join(cycles, cycles.c.id == rectification_items.c.cycle_id)
                     .join(orgs, orgs.c.id == cycles.c.org_id))
        .where(cycles.c.year == year)
        .order_by(orgs.c.path, cycles.c.kind, rectification_items.c.id)
    )
    with db.connect() as conn:
        if org:
            query = query.where(orgs.c.code == org)
        if kind:
            query = query.where(cycles.c.kind == kind)
        if status:
            query = query.where(rectification_items.c.status == status)
        if under:
            query = query.where(under_code(conn, under))
        return [_item_dict(r) for r in conn.execute(query)]


_ITEMS_OF = (
    sa.select(rectification_items, orgs.c.code, cycles.c.kind, cycles.c.year)
    .select_from(rectification_items.join(cycles, cycles.c.id == rectification_items.c.cycle_id)
                 .join(orgs, orgs.c.id == cycles.c.org_id))
    .where(rectification_items.c.cycle_id == sa.bindparam("cycle_id"))
    .order_by(rectification_items.c.id)
)


def items_of(conn: sa.Connection, cycle_id: int) -> list[dict[str, Any]]:
    """One cycle's rectification items, in the order they were filed (as `list_items` lists them for one unit)."""
    return [_item_dict(r) for r in conn.execute(_ITEMS_OF, {"cycle_id": cycle_id})]


def commitment_of(conn: sa.Connection, cycle_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(commitments).where(commitments.c.cycle_id == cycle_id)).first()
    if row is None:
        return None
    filed = from_db_time(row.filed_at)
    return {"text": row.text, "filed_at": filed.isoformat(timespec="seconds") if filed else None}


def show_commitment(db: Database, *, year: int, org: str, kind: str = "upward") -> dict[str, Any]:
    with db.connect() as conn:
        cycle = find_cycle(conn, year=year, org=org, kind=kind)
        return {"org": org, "kind": kind, "year": year, "state": cycle.state,
                "commitment": commitment_of(conn, cycle.id),
                "items": list_items(db, year=year, org=org, kind=kind)}


def draw_up_plan(
    db: Database, *, year: int, org: str, items: list[dict[str, Any]], commitment: str | None, now: datetime,
    kind: str = "upward", by: str = "web", actor: Any = None,
) -> dict[str, Any]:
    """Rectification items (item, measure, deadline, responsible) and/or the public commitment in one transaction:
    every item is checked first (each problem named by its row and field), then all are written or none."""
    problems: list[Problem] = []
    parsed: list[tuple[str, str, str, date]] = []
    labels = {"item": "整改事项", "measure": "整改措施", "responsible": "责任人", "deadline": "完成时限"}
    for number, raw in enumerate(items, start=1):
        values = {name: str(raw.get(name) or "").strip() for name in labels}
        row_problems = [Problem("rect.item", number=number, reason=Problem("rect.field_empty", label=labels[name],
                                                                           field=name))
                        for name in ("item", "measure", "responsible", "deadline") if not values[name]]
        deadline: date | None = None
        if values["deadline"]:
            try:
                deadline = date.fromisoformat(values["deadline"])
            except ValueError:
                row_problems.append(Problem("rect.item", number=number,
                                            reason=Problem("rect.due_bad", value=values["deadline"][:40])))
        problems += row_problems
        if not row_problems and deadline is not None:
            parsed.append((values["item"], values["measure"], values["responsible"], deadline))
    text = (commitment or "").strip()
    if not items and not text:
        problems.append(Problem("rectification.empty"))
    with db.begin() as conn:
        cycle = find_cycle(conn, year=year, org=org, kind=kind)
        if actor is not None:
            from services.permissions import check_fire

            check_fire(conn, actor, cycle, "file_commitment")  # type: ignore[arg-type]
        for number, (_, _, _, deadline) in enumerate(parsed, start=1):
            if deadline > cycle.commitment_due:
                problems.append(Problem("rect.item", number=number, reason=Problem(
                    "rect.due_after", due=deadline, limit=cycle.commitment_due)))
        if problems:
            raise BadInput.listing(problems)
        _check_editable(cycle, org)
        for problem, measure, responsible, deadline in parsed:
            conn.execute(rectification_items.insert().values(
                cycle_id=cycle.id, problem=problem, measure=measure, responsible=responsible, due=deadline,
                status="open", created_at=to_db_time(now), created_by=by,
            ))
        if text:
            conn.execute(commitments.delete().where(commitments.c.cycle_id == cycle.id))
            conn.execute(commitments.insert().values(cycle_id=cycle.id, text=text, updated_at=to_db_time(now), updated_by=by))
    return {"year": year, "org": org, "kind": kind, "added": len(parsed), "commitment": bool(text)}
