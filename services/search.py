"""Find an organization by code prefix, pinyin initials or part of its name (the console's search box, R34).

The initials (`orgs.initials`, '城关镇党委' → 'cgzdw') are computed once per name at import (services.orgs) and by
migration 0009 for older trees; a search is at most a few indexed range scans plus, when those leave room, one
bounded scan of names. Best first: the exact code, codes starting with the text, initials starting with it, names
starting with it, then (upper levels only) names containing it; within each, upper levels before lower ones.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput
from states.orgs import LEVEL_OF_KIND, Level
from storage.db import Database
from storage.tables.core import orgs

MAX_RESULTS = 20
MAX_QUERY = 200  # the longest name an organization may have: a longer text matches nothing, so it is refused
UPPER_KINDS = tuple(kind for kind, level in LEVEL_OF_KIND.items() if level != Level.GRASSROOTS)


@lru_cache(maxsize=65536)
def _char_initial(char: str) -> str:
    if char.isascii():
        return char.lower() if char.isalnum() else ""
    if "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff":
        from pypinyin import Style, lazy_pinyin

        reading = lazy_pinyin(char, style=Style.FIRST_LETTER, errors="ignore")
        return reading[0][:1].lower() if reading and reading[0] else ""
    return char.lower() if char.isalnum() else ""


def name_initials(name: str) -> str:
    """Pinyin initials of a name, one letter per Chinese character, ASCII letters and digits kept (lower case):
    '城关镇党委' → 'cgzdw', '马口镇A1村' → 'mkza1c'. Per character and cached: a national tree (670,000 names) in
    seconds, where pypinyin's phrase-level conversion takes minutes."""
    return "".join(_char_initial(c) for c in name)[:200]


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

    lowered = text.lower()
    initials = "".join(c for c in lowered if c.isascii() and c.isalnum())
    with db.connect() as conn:
        for variant in dict.fromkeys((text, text.upper())):
            take(0, sa.select(*columns).where(orgs.c.code == variant))
        for variant in dict.fromkeys((text, text.upper())):
            take(1, sa.select(*columns).where(_prefix_range(orgs.c.code, variant)).order_by(orgs.c.code),
                 check=lambda row, v=variant: row.code.startswith(v))
        if initials and initials == lowered.replace(" ", ""):
            take(2, sa.select(*columns).where(_prefix_range(orgs.c.initials, initials)).order_by(orgs.c.depth, orgs.c.initials),
                 check=None)
        # names starting with the text, at every level: an indexed prefix (ix_orgs_name)
        if conn.dialect.name == "postgresql":  # varchar_pattern_ops index: LIKE 'text%' whatever the locale
            starts: sa.ColumnElement[bool] = orgs.c.name.like(f"{_like_escape(text)}%", escape="\\")
        else:
            starts = _prefix_range(orgs.c.name, text)
        take(3, sa.select(*columns).where(starts).order_by(orgs.c.depth, orgs.c.name),
             check=lambda row: row.name.startswith(text))
        # names containing it: the upper levels only (towns, city units, cities: through ix_orgs_kind); a
        # village is found by the start of its name, its code or its initials — a substring scan of every
        # grassroots name would cost ~0.5 s at national scale
        pattern = f"%{_like_escape(text)}%"
        take(4, sa.select(*columns).where(orgs.c.kind.in_(UPPER_KINDS), orgs.c.name.like(pattern, escape="\\"))
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
