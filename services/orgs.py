"""Importing and listing the organization tree (R1–R3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput, NotFound
from services.tabular import map_header, read_rows
from states.orgs import (
    KINDS,
    LEVEL_OF_KIND,
    is_valid_code,
    is_valid_email,
    is_valid_phone,
)
from storage.db import Database, to_db_time
from storage.tables.core import orgs

FIELDS = ("code", "name", "kind", "parent", "secretary", "phone", "email")
HEADER_ALIASES = {
    **{f: f for f in FIELDS},
    "编码": "code", "代码": "code", "名称": "name", "类型": "kind", "上级": "parent",
    "书记": "secretary", "手机": "phone", "电话": "phone", "邮箱": "email",
}
REQUIRED_COLUMNS = ("code", "name", "kind", "parent")


@dataclass(frozen=True)
class ImportResult:
    imported: int
    updated: int
    unchanged: int

    def as_dict(self) -> dict[str, int]:
        return {"imported": self.imported, "updated": self.updated, "unchanged": self.unchanged}


CHUNK = 10_000


@dataclass(slots=True)
class _Row:
    number: int
    code: str
    name: str
    kind: str
    parent: str
    secretary: str
    phone: str
    email: str


def _parse_file(path: Path) -> tuple[list[_Row], list[str]]:
    rows: list[_Row] = []
    problems: list[str] = []
    iterator = read_rows(path)
    header = next(iterator, None)
    if header is None:
        raise BadInput("file.empty", name=path.name, header=",".join(FIELDS))
    columns = map_header(header[1], HEADER_ALIASES, REQUIRED_COLUMNS)
    for number, cells in iterator:
        def cell(name: str, cells: list[str] = cells) -> str:
            position = columns.get(name)
            return cells[position].strip() if position is not None and position < len(cells) else ""

        rows.append(_Row(number, cell("code"), cell("name"), cell("kind"), cell("parent"),
                         cell("secretary"), cell("phone"), cell("email")))
    if not rows:
        problems.append("the file has a header but no rows")
    return rows, problems


def import_orgs(db: Database, path: Path, *, now: datetime) -> ImportResult:
    """All-or-nothing import: every bad row is named, and a file with any error changes nothing."""
    rows, problems = _parse_file(Path(path))
    with db.begin() as conn:
        existing = {
            r.code: r
            for r in conn.execute(
                sa.select(orgs.c.id, orgs.c.code, orgs.c.name, orgs.c.kind, orgs.c.parent_id,
                          orgs.c.secretary, orgs.c.phone, orgs.c.email, orgs.c.path)
            )
        }
        code_of_id = {r.id: r.code for r in existing.values()}
        # The tree as it will be: code → (kind, parent code)
        tree: dict[str, tuple[str, str]] = {
            code: (r.kind, code_of_id.get(r.parent_id, "") if r.parent_id else "") for code, r in existing.items()
        }
        seen: dict[str, int] = {}
        good: list[_Row] = []
        for row in rows:
            reasons = _row_problems(row, seen)
            if row.code and row.code not in seen:
                seen[row.code] = row.number
            if reasons:
                problems.extend(f"row {row.number}: {reason}" for reason in reasons)
            else:
                good.append(row)
        file_codes = {row.code for row in rows if row.code}
        for row in good:
            tree[row.code] = (row.kind, row.parent)
        for row in good:
            problem = _tree_problem(row, tree, file_codes)
            if problem:
                problems.append(f"row {row.number}: {problem}")
        if problems:
            raise BadInput("file.rows", name=Path(path).name, count=len(problems), problems=problems)

        paths = _paths(tree)
        stamp = to_db_time(now)
        imported = updated = unchanged = 0
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        parents: list[dict[str, Any]] = []

        def flush(final: bool = False) -> None:
            # in chunks: a national file (600,000 rows) never holds all its statements' parameters at once
            if inserts and (final or len(inserts) >= CHUNK):
                conn.execute(orgs.insert(), inserts)
                inserts.clear()
            if updates and (final or len(updates) >= CHUNK):
                conn.execute(orgs.update().where(orgs.c.id == sa.bindparam("_id")), updates)
                updates.clear()

        for row in good:
            org_path = paths[row.code]
            values = {"code": row.code, "name": row.name, "kind": row.kind, "secretary": row.secretary,
                      "phone": row.phone, "email": row.email, "path": org_path, "depth": org_path.count("/") - 2,
                      "updated_at": stamp}
            old = existing.get(row.code)
            if old is None:
                inserts.append(values)
                imported += 1
            elif (old.name, old.kind, old.secretary, old.phone, old.email, code_of_id.get(old.parent_id, "")) != (
                row.name, row.kind, row.secretary, row.phone, row.email, row.parent
            ):
                updates.append({"_id": old.id, **values})
                updated += 1
            else:
                unchanged += 1
                continue
            parents.append({"_code": row.code, "_parent": row.parent or None})
            flush()
        flush(final=True)
        if imported > 10_000:
            conn.execute(sa.text("ANALYZE orgs"))  # the planners' statistics, after a large tree arrives
        set_parent = (
            orgs.update()
            .where(orgs.c.code == sa.bindparam("_code"))
            .values(parent_id=sa.select(orgs.c.id).where(orgs.c.code == sa.bindparam("_parent")).scalar_subquery())
        )
        for start in range(0, len(parents), CHUNK):
            conn.execute(set_parent, parents[start : start + CHUNK])
        # a moved organization moves its whole subtree: refresh paths that changed
        moved = [
            {"_id": r.id, "path": paths[code], "depth": paths[code].count("/") - 2}
            for code, r in existing.items()
            if code not in file_codes and paths.get(code) and paths[code] != r.path
        ]
        if moved:
            conn.execute(orgs.update().where(orgs.c.id == sa.bindparam("_id")), moved)
    return ImportResult(imported=imported, updated=updated, unchanged=unchanged)


def _row_problems(row: _Row, seen: dict[str, int]) -> list[str]:
    reasons = []
    if not row.code:
        reasons.append("missing code")
    elif not is_valid_code(row.code):
        reasons.append(f"code '{row.code}' may use only letters, digits, '.', '_' and '-' (at most 64)")
    elif row.code in seen:
        reasons.append(f"duplicate code '{row.code}' (first at row {seen[row.code]})")
    if not row.name:
        reasons.append("empty name")
    if row.kind not in KINDS:
        reasons.append(f"unknown kind '{row.kind}' (one of {' '.join(KINDS)})")
    if row.kind and row.kind != "prefecture" and not row.parent:
        reasons.append("missing parent")
    if row.kind == "prefecture" and row.parent:
        reasons.append("a prefecture is the top of the tree and has no parent")
    if row.phone and not is_valid_phone(row.phone):
        reasons.append("malformed phone")
    if row.email and not is_valid_email(row.email):
        reasons.append("malformed email")
    return reasons


def _tree_problem(row: _Row, tree: dict[str, tuple[str, str]], file_codes: set[str]) -> str | None:
    if not row.parent:
        return None
    if row.parent not in tree:
        if row.parent in file_codes:
            return f"parent '{row.parent}' is on a row with errors"
        return f"unknown parent '{row.parent}'"
    chain = [row.code]
    current = row.parent
    while current:
        if current == row.code:
            return "cycle in the tree: " + " → ".join([*chain, row.code])
        if current in chain or len(chain) > 64:
            break  # a cycle above this row; reported on the rows that form it
        chain.append(current)
        current = tree.get(current, ("", ""))[1]
    parent_kind = tree[row.parent][0]
    if parent_kind in LEVEL_OF_KIND and LEVEL_OF_KIND[parent_kind] >= LEVEL_OF_KIND[row.kind]:
        return f"a {row.kind} cannot be under a {parent_kind} ('{row.parent}')"
    return None


def _paths(tree: dict[str, tuple[str, str]]) -> dict[str, str]:
    paths: dict[str, str] = {}

    def path_of(code: str) -> str:
        known = paths.get(code)
        if known is not None:
            return known
        chain = []
        current = code
        while current and current not in paths:
            chain.append(current)
            current = tree[current][1]
        prefix = paths[current] if current else "/"
        for item in reversed(chain):
            prefix = prefix + item + "/"
            paths[item] = prefix
        return paths[code]

    for code in tree:
        path_of(code)
    return paths


def list_orgs(db: Database, *, kind: str | None = None, parent: str | None = None) -> list[dict[str, Any]]:
    parent_org = orgs.alias("parent_org")
    query = (
        sa.select(orgs.c.code, orgs.c.name, orgs.c.kind, parent_org.c.code.label("parent"), orgs.c.secretary)
        .select_from(orgs.outerjoin(parent_org, parent_org.c.id == orgs.c.parent_id))
        .order_by(orgs.c.path)
    )
    if kind:
        if kind not in KINDS:
            raise BadInput("org_kind.bad", option="--kind", value=kind, choices=" ".join(KINDS))
        query = query.where(orgs.c.kind == kind)
    with db.connect() as conn:
        if parent:
            parent_id = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == parent)).scalar()
            if parent_id is None:
                raise NotFound("org.not_found", code=parent)
            query = query.where(orgs.c.parent_id == parent_id)
        return [
            {"code": r.code, "name": r.name, "kind": r.kind, "parent": r.parent or "", "secretary": r.secretary}
            for r in conn.execute(query)
        ]


def in_subtree(path_column: sa.ColumnElement[str], path: str) -> sa.ColumnElement[bool]:
    """`path_column` lies in the subtree rooted at `path`: one indexed range scan."""
    low, high = subtree_bounds(path)
    return sa.and_(path_column >= low, path_column < high)


def under_code(conn: sa.Connection, code: str) -> sa.ColumnElement[bool]:
    """The condition 'the organization is CODE or below it' (for `--under CODE`); NotFound for an unknown code."""
    path = conn.execute(sa.select(orgs.c.path).where(orgs.c.code == code)).scalar()
    if path is None:
        raise NotFound("org.not_found", code=code)
    return in_subtree(orgs.c.path, path)


def subtree_bounds(path: str) -> tuple[str, str]:
    """`path >= low AND path < high` selects the subtree rooted at `path` (which ends with '/')."""
    return path, path[:-1] + "0"  # '0' is the byte after '/'
