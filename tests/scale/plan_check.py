"""Reading query plans on both backends: which tables a statement scans, and whether a scan repeats per row.

A plan may read a big table once (an outer scan, or the build side of a hash join): that is linear. A scan on
the inner side of a nested loop, or inside a correlated subquery, runs once per outer row: at national scale that
is the quadratic plan issue 11 measured (149 s in one launch query, 206 s in one sweep insert).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

BIG_TABLES = frozenset({"orgs", "cycles", "meetings", "outbox", "history"})
# partial indexes whose predicate keeps them small whatever the table (reading one whole is not a table scan)
SMALL_PARTIAL_INDEXES = frozenset({
    "ix_outbox_otp_queued",  # queued sign-in codes: a handful at any time
    # the upper levels' names (~10 % of the tree), covering, in the search box's order: read until 20 names contain
    # the text, whole only for a miss — never a table row (the search before it read every upper row by ix_orgs_kind)
    "ix_orgs_upper_names",
})
# Outer loops that do not multiply: the two channels the sweep fans out to, the launched years.
SMALL_SOURCES = frozenset({"ch", "years", "CONSTANT"})
EXPLAINABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
_ALIAS = re.compile(
    r"(?:FROM|JOIN)\s+\"?(\w+)\"?(?:\s+(?:AS\s+)?\"?(?!WHERE|ON|JOIN|LEFT|INNER|ORDER|GROUP|LIMIT|WHERE)(\w+)\"?)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Scan:
    table: str
    repeated: bool  # runs once per row of an outer loop
    detail: str


@dataclass
class Recorded:
    statement: str
    parameters: Any


@contextmanager
def recording(engine: sa.Engine | None = None) -> Iterator[list[Recorded]]:
    """Every statement sent through SQLAlchemy (on `engine`, or on every engine) while the block runs;
    an executemany counts once."""
    statements: list[Recorded] = []
    target: Any = engine if engine is not None else sa.Engine

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append(Recorded(statement, None if executemany else parameters))

    sa.event.listen(target, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(target, "before_cursor_execute", before)


def explainable(recorded: Recorded) -> bool:
    return recorded.parameters is not None and recorded.statement.lstrip().upper().startswith(EXPLAINABLE)


def scans(conn: sa.Connection, statement: str, parameters: Any = None) -> list[Scan]:
    """The scans of big tables in `statement`'s plan (no execution: EXPLAIN without ANALYZE)."""
    if conn.dialect.name == "postgresql":
        return _pg_scans(conn, statement, parameters)
    return _sqlite_scans(conn, statement, parameters)


def plan_shape(conn: sa.Connection, statement: str, parameters: Any = None) -> list[str]:
    """The plan as text with numbers removed: two plans of the same shape compare equal whatever the sizes."""
    if conn.dialect.name == "postgresql":
        plan = conn.exec_driver_sql("EXPLAIN (COSTS OFF) " + statement, parameters or {}).scalars().all()
    else:
        plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters or ())]
    # which of two equivalent indexes serves a seek is not a change of shape; a seek turning into a scan is
    return [re.sub(r"\d+", "N", re.sub(r"(INDEX|[Uu]sing) \w+", r"\1 IX", line)).strip() for line in plan]


def inner_loops(conn: sa.Connection, statement: str, parameters: Any = None) -> list[str]:
    """SQLite: the plan's inner loops (what runs once per outer row), normalized as `plan_shape` does. How the
    outer loop reads its table (a scan, or a search when statistics say a key narrows it) may change with size;
    what runs per row must not."""
    rows = list(conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters or ()))
    loops: dict[int, int] = {}
    inner = []
    for _node, parent, _unused, detail in rows:
        if detail.split()[0] not in ("SCAN", "SEARCH"):
            continue
        loops[parent] = loops.get(parent, 0) + 1
        if loops[parent] > 1:
            inner.append(re.sub(r"\d+", "N", re.sub(r"(INDEX) \w+", r"\1 IX", detail)))
    return inner


def _aliases(statement: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for table, alias in _ALIAS.findall(statement):
        found[alias or table] = table
        found.setdefault(table, table)
    return found


def _sqlite_scans(conn: sa.Connection, statement: str, parameters: Any) -> list[Scan]:
    rows = list(conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters or ()))
    aliases = _aliases(statement)
    details = {row[0]: (row[1], row[3]) for row in rows}
    multiplying_loops: dict[int, int] = {}  # per plan level: outer loops seen so far over sources that can be big
    out: list[Scan] = []
    for _node, parent, _unused, detail in rows:
        words = detail.split()
        is_loop = words[0] in ("SCAN", "SEARCH") and len(words) > 1
        outer_loops = multiplying_loops.get(parent, 0)
        if is_loop and words[1] not in SMALL_SOURCES and aliases.get(words[1], words[1]) not in SMALL_SOURCES:
            multiplying_loops[parent] = outer_loops + 1
        if not is_loop or words[0] != "SCAN" or SMALL_PARTIAL_INDEXES.intersection(words):
            continue
        table = aliases.get(words[1], words[1])
        if table not in BIG_TABLES:
            continue
        repeated = outer_loops > 0
        ancestor = parent
        while ancestor in details:
            grand, text = details[ancestor]
            if text.startswith("CORRELATED"):
                repeated = True
            ancestor = grand
        out.append(Scan(table, repeated, detail))
    return out


def _pg_scans(conn: sa.Connection, statement: str, parameters: Any) -> list[Scan]:
    raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters or {}).scalar_one()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    out: list[Scan] = []

    def can_be_big(node: dict[str, Any]) -> bool:
        """Whether a subtree reads a big table (a CTE other than the small ones counts as big): never judged by
        the row estimates, which are what stale statistics get wrong."""
        if node.get("Relation Name") in BIG_TABLES:
            return True
        if node.get("Node Type") == "CTE Scan" and node.get("CTE Name") not in SMALL_SOURCES:
            return True
        return any(can_be_big(child) for child in node.get("Plans", []))

    def walk(node: dict[str, Any], repeated: bool) -> None:
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in BIG_TABLES:
            out.append(Scan(node["Relation Name"], repeated, f"Seq Scan on {node['Relation Name']}"))
        children = node.get("Plans", [])
        outer = next((c for c in children if c.get("Parent Relationship") == "Outer"), None)
        for child in children:
            relation = child.get("Parent Relationship")
            inner = (node.get("Node Type") == "Nested Loop" and relation == "Inner"
                     and (outer is None or can_be_big(outer)))
            walk(child, repeated or inner or relation == "SubPlan")

    walk(plan, False)
    return out
