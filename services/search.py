"""Find an organization by code prefix, pinyin initials or part of its name (the console's search box, R34).

The initials (`orgs.initials`, '城关镇党委' → 'cgzdw') are computed once per name at import (services.orgs) and by
migration 0009 for older trees; a search is a few indexed range reads that stop at 20 rows: prefixes through
indexes led by the level (ix_orgs_depth_initials, ix_orgs_depth_name: one UNION ALL of each level's first rows),
substrings of upper-level names through their partial index in the order wanted (ix_orgs_upper_names, migration
0013). Best first: the exact code, codes starting with the text, initials starting with it, names starting with it,
then (upper levels only) names containing it; within each, upper levels before lower ones.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput
from storage.db import Database
from storage.tables.core import UPPER_KINDS_SQL, orgs

MAX_RESULTS = 20
MAX_QUERY = 200  # the longest name an organization may have: a longer text matches nothing, so it is refused


# pypinyin's documented switches, read once when it is first imported: its phrase dictionary (~45 MB, ~0.6 s to
# load) serves whole words; one character at a time reads only the single-character dictionary, and gives the
# same initial for every character of the ranges below with or without it (checked over all 28,160 of them)
PYPINYIN_LEAN = {"PYPINYIN_NO_PHRASES": "1", "PYPINYIN_NO_DICT_COPY": "1"}


def _pinyin_first_letter(char: str) -> str:
    if "pypinyin" not in sys.modules:
        saved = {name: os.environ.get(name) for name in PYPINYIN_LEAN}
        os.environ.update({name: saved[name] or value for name, value in PYPINYIN_LEAN.items()})
        try:
            import pypinyin  # noqa: F401
        finally:  # the switches were for this import only, not for the process or its children
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    from pypinyin import Style, lazy_pinyin

    reading = lazy_pinyin(char, style=Style.FIRST_LETTER, errors="ignore")
    return reading[0][:1].lower() if reading and reading[0] else ""


def _char_initial(char: str) -> str:
    if char.isascii():
        return char.lower() if char.isalnum() else ""
    if "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff":
        return _pinyin_first_letter(char)
    return char.lower() if char.isalnum() else ""


class _Initials(dict[int, str]):
    """Code point → its initial, for `str.translate`: each distinct character is converted once, on first sight."""

    def __missing__(self, code_point: int) -> str:
        initial = self[code_point] = _char_initial(chr(code_point))
        return initial


_INITIALS = _Initials()


def name_initials(name: str) -> str:
    """Pinyin initials of a name, one letter per Chinese character, ASCII letters and digits kept (lower case):
    '城关镇党委' → 'cgzdw', '马口镇A1村' → 'mkza1c'. Per character, each converted once and then read by
    `str.translate` (C speed): a national tree (670,000 names) in about a second, where pypinyin's phrase-level
    conversion takes minutes."""
    return name.translate(_INITIALS)[:200]


def _prefix_range(column: Any, prefix: str) -> sa.ColumnElement[bool]:
    """`column` starts with `prefix`, as an index range (byte order: SQLite, and the C collation on PostgreSQL)."""
    return sa.and_(column >= prefix, column < prefix + "\U0010ffff")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_orgs(db: Database, q: str, *, limit: int = MAX_RESULTS) -> list[dict[str, Any]]:
    """Up to `limit` organizations matching `q`, best first: [{code, name, kind, path, trail}] where `trail` names
    the ancestors ('孝感市委 › 汉川市委'). An empty text finds nothing; one character is answered like any other."""
    text = " ".join((q or "").split())
    if len(text) > MAX_QUERY:
        raise BadInput("search.too_long", limit=MAX_QUERY, got=len(text))
    if not text:
        return []
    limit = max(1, min(limit, MAX_RESULTS))
    found: dict[int, tuple[int, sa.Row[Any]]] = {}
    columns = (orgs.c.id, orgs.c.code, orgs.c.name, orgs.c.kind, orgs.c.path, orgs.c.depth)

    def take(rank: int, query: sa.Select[Any], check: Any = None) -> None:
        need = limit - len(found)
        if need <= 0:
            return
        for row in conn.execute(query.limit(need + len(found))):
            if row.id in found or (check is not None and not check(row)):
                continue
            found[row.id] = (rank, row)
            if len(found) >= limit:
                return

    deepest: list[int | None] = []

    def by_level(rank: int, column: Any, prefix: str, check: Any, *, pattern_ops: bool = False) -> None:
        """`column` starting with `prefix`, ordered by (depth, column): each level's first rows read in order from
        an index led by depth (one UNION ALL), so a prefix shared by 300,000 names sorts none of them."""
        need = limit - len(found)
        if need <= 0:
            return
        if not deepest:
            deepest.append(conn.execute(sa.select(sa.func.max(orgs.c.depth))).scalar())  # one seek in ix_orgs_depth_*
        depth = deepest[0]
        if depth is None:
            return
        starts, order = _prefix_range(column, prefix), column
        if pattern_ops and conn.dialect.name == "postgresql":  # varchar_pattern_ops: LIKE 'text%', byte order
            starts = column.like(f"{_like_escape(prefix)}%", escape="\\")
            order = sa.literal_column(f"{column.table.name}.{column.name} USING ~<~")
        levels = [sa.select(*columns, column.label("sort_key")).where(orgs.c.depth == level, starts)
                  .order_by(order).limit(need + len(found)).subquery(f"level{level}") for level in range(depth + 1)]
        query = sa.union_all(*[sa.select(*level.c) for level in levels]) if len(levels) > 1 else sa.select(*levels[0].c)
        rows = sorted(conn.execute(query), key=lambda row: (row.depth, row.sort_key))
        for row in rows:
            if row.id in found or (check is not None and not check(row)):
                continue
            found[row.id] = (rank, row)
            if len(found) >= limit:
                return

    lowered = text.lower()
    initials = "".join(c for c in lowered if c.isascii() and c.isalnum())
    with db.connect() as conn:
        for variant in dict.fromkeys((text, text.upper())):
            take(0, sa.select(*columns).where(orgs.c.code == variant))
        for variant in dict.fromkeys((text, text.upper())):
            take(1, sa.select(*columns).where(_prefix_range(orgs.c.code, variant)).order_by(orgs.c.code),
                 check=lambda row, v=variant: row.code.startswith(v))
        if initials and initials == lowered.replace(" ", ""):
            by_level(2, orgs.c.initials, initials, check=None)
        # names starting with the text, at every level
        by_level(3, orgs.c.name, text, check=lambda row: row.name.startswith(text), pattern_ops=True)
        # names containing it: the upper levels only, read through their partial index in the order wanted (level,
        # length) until enough match; a village is found by the start of its name, its code or its initials — a
        # substring scan of every grassroots name would cost ~0.5 s at national scale
        pattern = f"%{_like_escape(text)}%"
        take(4, sa.select(*columns).where(sa.text(UPPER_KINDS_SQL), orgs.c.name.like(pattern, escape="\\"))
             .order_by(orgs.c.depth, sa.func.length(orgs.c.name)))
        ranked = sorted(found.values(), key=lambda item: (item[0], item[0] >= 3 and not item[1].name.startswith(text),
                                                          item[1].depth, len(item[1].name), item[1].code))
        codes = {c for _, row in ranked for c in row.path.strip("/").split("/")[:-1] if c}
        names = dict(conn.execute(sa.select(orgs.c.code, orgs.c.name).where(orgs.c.code.in_(codes))).all()) if codes else {}
    return [
        {"code": row.code, "name": row.name, "kind": row.kind, "path": row.path,
         "trail": " › ".join(names.get(c, c) for c in row.path.strip("/").split("/")[:-1] if c)}
        for _, row in ranked
    ]
