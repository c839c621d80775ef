"""Importing and listing the organization tree (R1–R3)."""

from __future__ import annotations

import contextlib
import re
import sys
import unicodedata
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput, NotFound, Problem, RowProblems
from services.search import name_initials
from services.tabular import map_header, stream_rows
from states.orgs import (
    KIND_LABELS,
    KINDS,
    LEVEL_OF_KIND,
    Level,
    is_valid_code,
    is_valid_email,
    is_valid_phone,
)
from storage.db import Database, to_db_time
from storage.statistics import analyze_committed, analyzes_after_commit
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
NULL_TEXT = "\\N"  # NULL in COPY's text format
SQLITE_CACHE_KB = 64_000
BULK_ROWS = 50_000  # at least this many new organizations, and more than there were: indexes rebuilt after
# Rows at or above this level are held in memory between the passes (and written first, so that every parent
# exists before its children): at national scale ~71,000 of 671,000. Grassroots rows are streamed twice.
GRASSROOTS = int(Level.GRASSROOTS)
KIND_INDEX = {kind: position for position, kind in enumerate(KINDS)}
LEVEL_OF_INDEX = bytes(int(LEVEL_OF_KIND[kind]) for kind in KINDS)
# Text columns and their limits, read from the table: the same check on SQLite (which would store any length)
# and on PostgreSQL (which would fail the whole statement, its parameters in the traceback).
LIMITS: dict[str, int | None] = {
    field: getattr(orgs.c[field].type, "length", None) for field in ("name", "secretary", "phone", "email")
}
NAME_LIMIT, SECRETARY_LIMIT, PHONE_LIMIT, EMAIL_LIMIT = (LIMITS[f] or sys.maxsize for f in ("name", "secretary", "phone",
                                                                                           "email"))
LABELS = {"name": "名称（name）", "secretary": "书记（secretary）", "phone": "手机（phone）", "email": "邮箱（email）"}


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


KIND_CHOICES_ZH = "、".join(f"{kind}（{KIND_LABELS[kind]}）" for kind in KINDS)
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # control, format (bidi, zero-width), separators


def unreadable_character(value: str) -> str | None:
    """The first control, bidi, zero-width or line-separator character in `value`, if any.

    `str.isprintable()` (C speed) clears nearly every value; only the rest is looked at character by character.
    Spaces (U+3000 included) and private-use characters (rare names in old GB encodings) are accepted."""
    if value.isprintable():
        return None
    for character in value:
        if not character.isprintable() and unicodedata.category(character) in REFUSED_CATEGORIES:
            return character
    return None


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# An address as the SMTP layer reads it: a dot-atom local part and a host name, nothing else. `a:b@x.cn` (a group)
# and `(comment)a@x.cn` (a comment) are refused: the header parser would deliver them to someone else.
SMTP_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+", re.ASCII)


def text_problems(row: _Row) -> list[Problem]:
    """Lengths against the columns; control, bidi and zero-width characters refused in every text field."""
    if (len(row.name) <= NAME_LIMIT and len(row.secretary) <= SECRETARY_LIMIT and len(row.phone) <= PHONE_LIMIT
            and len(row.email) <= EMAIL_LIMIT and (row.name + row.secretary + row.phone + row.email).isprintable()):
        return []  # nearly every row: one C call, then the field-by-field look only for a row that fails it
    reasons = []
    for field, limit in LIMITS.items():
        value = getattr(row, field)
        if limit is not None and len(value) > limit:
            reasons.append(Problem("row.too_long", field_zh=LABELS[field], field_en=field, length=len(value),
                                   limit=limit))
        found = unreadable_character(value)
        if found:
            reasons.append(Problem("row.invisible", field_zh=LABELS[field], field_en=field, point=f"{ord(found):04X}"))
    return reasons


class _Tree:
    """The organization tree as compact arrays: node index per code, the rest in typed arrays.

    Existing organizations are loaded first (their ids, parents, kinds and a digest of their contact fields),
    then the file's good rows update or add nodes. At national scale: ~80 MB instead of a row object each."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.codes: list[str] = []
        self.ids = array("q")
        self.old_parent = array("i")
        self.parent = array("i")
        self.kind = bytearray()
        self.digest = array("q")
        self.row = array("i")  # the file's row number, 0 when the node is not in the file

    def add(self, code: str, *, id: int = 0, kind: int = 0, digest: int = 0) -> int:
        node = len(self.codes)
        self.index[code] = node
        self.codes.append(code)
        self.ids.append(id)
        self.old_parent.append(-1)
        self.parent.append(-1)
        self.kind.append(kind)
        self.digest.append(digest)
        self.row.append(0)
        return node

    def level(self, node: int) -> int:
        return LEVEL_OF_INDEX[self.kind[node]]


def _digest(name: str, kind: str, secretary: str, phone: str, email: str) -> int:
    return hash((name, kind, secretary, phone, email))


def _load_existing(conn: sa.Connection, tree: _Tree) -> None:
    parent_org = orgs.alias("parent_org")
    parents: list[str] = []
    query = (
        sa.select(orgs.c.id, orgs.c.code, orgs.c.kind, orgs.c.name, orgs.c.secretary, orgs.c.phone, orgs.c.email,
                  parent_org.c.code.label("parent"))
        .select_from(orgs.outerjoin(parent_org, parent_org.c.id == orgs.c.parent_id))
    )
    for id_, code, kind, name, secretary, phone, email, parent in conn.execute(
        query.execution_options(yield_per=20_000)
    ):
        tree.add(code, id=id_, kind=KIND_INDEX.get(kind, len(KINDS) - 1),
                 digest=_digest(name, kind, secretary, phone, email))
        parents.append(sys.intern(parent) if parent else "")
    for node, code in enumerate(parents):
        if code:
            tree.old_parent[node] = tree.parent[node] = tree.index[code]


def _file_rows(path: Path) -> Iterator[_Row]:
    iterator = stream_rows(path)
    header = next(iterator, None)
    if header is None:
        raise BadInput("file.empty", name=path.name, header=",".join(FIELDS))
    columns = map_header(header[1], HEADER_ALIASES, REQUIRED_COLUMNS)
    get = [columns.get(name) for name in ("code", "name", "kind", "parent", "secretary", "phone", "email")]
    # the common case, every column present: one itemgetter call per row (C speed) instead of seven lookups
    whole = itemgetter(*get) if None not in get else None
    width = max(p for p in get if p is not None) + 1
    for number, cells in iterator:
        size = len(cells)
        if whole is not None and size >= width:
            yield _Row(number, *whole(cells))
        else:
            yield _Row(number, *[cells[p] if p is not None and p < size else "" for p in get])


def import_orgs(db: Database, path: Path, *, now: datetime) -> ImportResult:
    """All-or-nothing, streaming import: every bad row is named, and a file with any error changes nothing.

    Pass 1 reads the file once, checks each row and builds the tree on compact arrays (`_Tree`); the tree
    checks (unknown parent, level, cycles) run on those arrays. Pass 2 writes (one COPY on PostgreSQL, chunks of
    executemany on SQLite): the upper levels held from pass 1 first, then the grassroots rows read again from the
    file. Ids are assigned here, so parents are written with their children and no per-row UPDATE is needed. A
    tree arriving whole into an (almost) empty table is written without its secondary indexes, rebuilt after. The
    planners' statistics are refreshed once the tree is complete (parents set), never before."""
    path = Path(path)
    with db.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:  # ids are assigned here: one import writes at a time (readers are not blocked)
            conn.execute(sa.text("LOCK TABLE orgs IN SHARE ROW EXCLUSIVE MODE"))
        elif not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            # the same on SQLite, and a transaction that holds the index drops below: the driver begins one only
            # before an INSERT, so a bulk load that failed left the table without its indexes
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        tree = _Tree()
        _load_existing(conn, tree)
        existing_count = len(tree.codes)
        next_id = (max(tree.ids) if existing_count else 0) + 1

        problems = RowProblems()
        bad: dict[str, int] = {}  # code → first row, for rows with errors
        file_nodes = array("i")
        file_parents: list[str] = []
        upper: list[_Row] = []
        rows_seen = 0
        for row in _file_rows(path):
            rows_seen += 1
            reasons = _row_problems(row, tree, bad)
            if reasons:
                for reason in reasons:
                    problems.add(row.number, reason)
                known = tree.index.get(row.code)
                if row.code and row.code not in bad and (known is None or not tree.row[known]):
                    bad[row.code] = row.number
                continue
            node = tree.index.get(row.code)
            if node is None:
                node = tree.add(row.code)
            tree.row[node] = row.number
            tree.kind[node] = KIND_INDEX[row.kind]
            file_nodes.append(node)
            file_parents.append(sys.intern(row.parent))
            if LEVEL_OF_KIND[row.kind] < GRASSROOTS:
                upper.append(row)
        if not rows_seen:
            problems.add(0, Problem("file.no_rows"))
        problems.extend_pairs(_tree_problems(tree, file_nodes, file_parents, bad))
        if problems:
            problems.refuse(path.name)
        del file_parents, bad

        for node in range(existing_count, len(tree.codes)):
            tree.ids[node] = next_id
            next_id += 1
        writer = _Writer(conn, tree, existing=existing_count, stamp=to_db_time(now), postgres=postgres)
        arriving = len(tree.codes) - existing_count
        rebuild = arriving >= BULK_ROWS and arriving >= existing_count
        # a tree arriving whole: indexes built once at the end, sorted (2-3× faster than row by row); on PostgreSQL
        # the code's unique index and the parent's foreign key too: checked row by row they were 60 % of the COPY's
        # server time, and the checks above already guarantee both (each is validated again when re-added)
        deferred = _deferred_constraints(postgres) if rebuild else []
        for constraint in deferred:
            conn.execute(sa.schema.DropConstraint(constraint))
        if rebuild:
            for index in orgs.indexes:
                index.drop(conn)
        elif not postgres:  # the path index written in random order: a page cache that holds it (2 MB thrashed);
            # not for a rebuild, whose sorter would size itself on it (333 MB peak at national scale)
            conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
        upper.sort(key=lambda r: LEVEL_OF_KIND[r.kind])
        with writer:
            for row in upper:
                writer.write(row)
            del upper
            for row in _file_rows(path):
                node = tree.index.get(row.code, -1)
                if node < 0 or tree.row[node] != row.number:
                    raise BadInput("file.changed", name=path.name)
                if LEVEL_OF_KIND[row.kind] >= GRASSROOTS:
                    writer.write(row)
        if rebuild:
            for index in orgs.indexes:
                index.create(conn)
        for constraint in deferred:  # the unique code first: the foreign key's check then reads a complete table
            conn.execute(sa.schema.AddConstraint(constraint))
        moved = writer.refresh_moved_subtrees(file_nodes)
        if writer.imported and postgres:
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('orgs', 'id'), (SELECT max(id) FROM orgs))"))
        analyze_later = False
        if writer.imported or writer.updated or moved:
            # after the tree is complete (every parent_id set): statistics taken earlier told the planners that
            # every organization had the same parent, and the launch's organizer query read the table per row
            analyze_later = analyzes_after_commit(conn)
            if not analyze_later:
                conn.execute(sa.text("ANALYZE orgs"))
        if not postgres:
            conn.exec_driver_sql("PRAGMA cache_size=-2000")  # the pooled connection back to SQLite's default
    if analyze_later:
        analyze_committed(db, ["orgs"])
    return ImportResult(imported=writer.imported, updated=writer.updated, unchanged=writer.unchanged)


def _deferred_constraints(postgres: bool) -> list[sa.Constraint]:
    """The constraints a PostgreSQL bulk load drops and re-adds: the code's uniqueness, then the parent's key."""
    if not postgres:
        return []
    found: list[sa.Constraint] = [c for c in orgs.constraints if isinstance(c, sa.UniqueConstraint) and list(c.columns.keys()) == ["code"]]
    found += [c for c in orgs.constraints if isinstance(c, sa.ForeignKeyConstraint)]
    return found


class _Writer:
    """Pass 2: inserts and updates, counting what changed. On PostgreSQL the inserts go to one COPY that stays open
    while the rows are prepared, so the server stores them on its core while this one reads and checks the next
    (closed only around a chunk of updates); on SQLite, an executemany per chunk. Use as a context manager: a
    failure cancels the COPY."""

    COLUMNS = ("id", "code", "name", "kind", "parent_id", "path", "depth", "secretary", "phone", "email", "initials",
               "updated_at")
    COPY_COLUMNS = ("id", "code", "kind", "parent_id", "path", "depth", "name", "secretary", "phone", "email", "initials",
                    "updated_at")  # the four free texts side by side: escaped in one call
    LINES_PER_WRITE = 1000  # COPY text handed to the driver in pieces of this many rows

    def __init__(self, conn: sa.Connection, tree: _Tree, *, existing: int, stamp: datetime, postgres: bool) -> None:
        self.conn, self.tree, self.stamp, self.postgres = conn, tree, stamp, postgres
        self.original_stamp = stamp
        self.existing = existing  # nodes below this index are organizations already stored
        if not postgres:  # the timestamp as SQLAlchemy stores it, once: rows go to the driver as plain tuples
            process = orgs.c.updated_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
            self.stamp = process(stamp) if process else stamp
            self._sqlite_insert = (f"INSERT INTO orgs ({', '.join(self.COLUMNS)}) "
                                   f"VALUES ({', '.join('?' for _ in self.COLUMNS)})")
        self._stamp_text = stamp.isoformat(sep=" ")
        self._copy: Any = None
        self._copy_stack = contextlib.ExitStack()
        self.inserts: list[tuple[Any, ...]] = []
        self.lines: list[str] = []
        self.updates: list[dict[str, Any]] = []
        self.imported = self.updated = self.unchanged = 0
        self.written = bytearray(len(tree.codes))
        self._paths: dict[int, str] = {}
        self._has_child = bytearray(len(tree.codes))
        for parent in tree.parent:
            if parent >= 0:
                self._has_child[parent] = 1

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        if kind is None:
            self.flush(final=True)
        else:  # COPY cancelled (the transaction is rolled back by the caller)
            self.lines.clear()
        self._close_copy(kind, error, trace)

    def _open_copy(self) -> Any:
        if self._copy is None:
            raw: Any = self.conn.connection.dbapi_connection  # psycopg 3: COPY is 3-5× an executemany
            cursor = self._copy_stack.enter_context(raw.cursor())
            self._copy = self._copy_stack.enter_context(cursor.copy(f"COPY orgs ({', '.join(self.COPY_COLUMNS)}) FROM STDIN"))
        return self._copy

    def _close_copy(self, *exc: Any) -> None:
        if self._copy is not None:
            self._copy = None
            stack, self._copy_stack = self._copy_stack, contextlib.ExitStack()
            stack.__exit__(*exc) if exc and exc[0] is not None else stack.close()

    def path_of(self, node: int) -> str:
        known = self._paths.get(node)
        if known is not None:
            return known
        parent = self.tree.parent[node]
        path = (self.path_of(parent) if parent >= 0 else "/") + self.tree.codes[node] + "/"
        if self._has_child[node]:  # only inner nodes are remembered: ~43,000 paths at national scale
            self._paths[node] = path
        return path

    def write(self, row: _Row) -> None:
        tree = self.tree
        node = tree.index[row.code]
        parent = tree.parent[node]
        new = node >= self.existing
        if not new and tree.digest[node] == _digest(row.name, row.kind, row.secretary, row.phone, row.email) \
                and parent == tree.old_parent[node]:
            self.unchanged += 1
            return
        org_path = self.path_of(node)
        self.written[node] = 1
        if new and self.postgres:
            # COPY's text format by hand: the checks above refuse tabs, line breaks and every control character in
            # the texts and codes, so a backslash is the only character to escape (write_row cost 3× this)
            texts = f"{row.name}\t{row.secretary}\t{row.phone}\t{row.email}"
            if "\\" in texts:
                texts = texts.replace("\\", "\\\\")
            parent_id = tree.ids[parent] if parent >= 0 else NULL_TEXT
            self.lines.append(f"{tree.ids[node]}\t{row.code}\t{row.kind}\t{parent_id}\t{org_path}\t"
                              f"{org_path.count('/') - 2}\t{texts}\t{name_initials(row.name)}\t{self._stamp_text}\n")
            self.imported += 1
            if len(self.lines) >= self.LINES_PER_WRITE:
                self._open_copy().write("".join(self.lines))
                self.lines.clear()
            return
        values = (tree.ids[node], row.code, row.name, row.kind, tree.ids[parent] if parent >= 0 else None, org_path,
                  org_path.count("/") - 2, row.secretary, row.phone, row.email, name_initials(row.name), self.stamp)
        if new:
            self.inserts.append(values)
            self.imported += 1
        else:
            self.updates.append(dict(zip(("_id", *self.COLUMNS[1:]), values, strict=True))
                                | {"updated_at": self.original_stamp})
            self.updated += 1
        self.flush()

    def flush(self, final: bool = False) -> None:
        if final and self.lines:
            self._open_copy().write("".join(self.lines))
            self.lines.clear()
        if final:
            self._close_copy()
        if self.inserts and (final or len(self.inserts) >= CHUNK):
            # the driver's executemany on tuples: SQLAlchemy's per-row parameter handling cost 3× the insert
            self.conn.exec_driver_sql(self._sqlite_insert, self.inserts)
            self.inserts.clear()
        if self.updates and (final or len(self.updates) >= CHUNK):
            if self.lines:  # the rows before these updates, in order
                self._open_copy().write("".join(self.lines))
                self.lines.clear()
            self._close_copy()  # one statement at a time on a connection
            self.conn.execute(orgs.update().where(orgs.c.id == sa.bindparam("_id")), self.updates)
            self.updates.clear()

    def refresh_moved_subtrees(self, file_nodes: array[int]) -> int:
        """Organizations not rewritten above whose ancestor moved get their new path."""
        tree = self.tree
        moved = bytearray(len(tree.codes))
        any_moved = False
        for node in file_nodes:
            if node < self.existing and tree.parent[node] != tree.old_parent[node]:
                moved[node] = 1
                any_moved = True
        if not any_moved:
            return 0
        refresh: list[dict[str, Any]] = []
        for node in range(self.existing):
            if self.written[node]:
                continue
            current = tree.parent[node]
            while current >= 0 and not moved[current]:
                current = tree.parent[current]
            if current >= 0:
                org_path = self.path_of(node)
                refresh.append({"_id": tree.ids[node], "path": org_path, "depth": org_path.count("/") - 2})
        for start in range(0, len(refresh), CHUNK):
            self.conn.execute(orgs.update().where(orgs.c.id == sa.bindparam("_id")), refresh[start : start + CHUNK])
        return len(refresh)


def _row_problems(row: _Row, tree: _Tree, bad: dict[str, int]) -> list[Problem]:
    reasons = []
    if not row.code:
        reasons.append(Problem("org_row.code_missing"))
    elif not is_valid_code(row.code):
        reasons.append(Problem("org_row.code_bad", code=row.code[:80]))
    else:
        node = tree.index.get(row.code)
        first = tree.row[node] if node is not None else 0
        first = first or bad.get(row.code, 0)
        if first:
            reasons.append(Problem("org_row.code_duplicate", code=row.code, first=first))
    if not row.name:
        reasons.append(Problem("org_row.name_empty"))
    if row.kind not in KINDS:
        reasons.append(Problem("org_row.kind_bad", kind=row.kind[:80], choices=" ".join(KINDS), choices_zh=KIND_CHOICES_ZH))
    if row.kind and row.kind != "prefecture" and not row.parent:
        reasons.append(Problem("org_row.parent_missing"))
    if row.kind == "prefecture" and row.parent:
        reasons.append(Problem("org_row.prefecture_parent"))
    if row.phone and not is_valid_phone(row.phone):
        reasons.append(Problem("org_row.phone_bad"))
    if row.email and not (is_valid_email(row.email) and SMTP_ADDRESS.fullmatch(row.email)):
        reasons.append(Problem("org_row.email_bad"))
    reasons.extend(text_problems(row))
    return reasons


def _tree_problems(tree: _Tree, file_nodes: array[int], file_parents: list[str],
                   bad: dict[str, int]) -> list[tuple[int, Problem]]:
    """The tree's problems as (row, reason) pairs: an unknown parent, a cycle, a level that does not fit."""
    problems: list[tuple[int, Problem]] = []
    for node, parent_code in zip(file_nodes, file_parents, strict=True):
        if not parent_code:
            tree.parent[node] = -1
            continue
        parent = tree.index.get(parent_code)
        if parent is None:
            reason = Problem("org_row.parent_bad_row" if parent_code in bad else "org_row.parent_unknown",
                             parent=parent_code[:80])
            problems.append((tree.row[node], reason))
            tree.row[node] = -tree.row[node]  # not part of the tree: skip the checks below
            continue
        tree.parent[node] = parent
    for node in file_nodes:
        number = tree.row[node]
        if number < 0:
            tree.row[node] = -number
            continue
        parent = tree.parent[node]
        if parent < 0 or tree.level(parent) < tree.level(node):
            continue  # levels strictly decrease upwards: no cycle can pass through this row
        chain = [node]
        current = parent
        found: Problem | None = None
        while current >= 0:
            if current == node:
                found = Problem("org_row.cycle", chain=" → ".join([tree.codes[n] for n in chain] + [tree.codes[node]]))
                break
            if current in chain or len(chain) > 64:
                break  # a cycle above this row; reported on the rows that form it
            chain.append(current)
            current = tree.parent[current]
        if found is None:
            kind, parent_kind = KINDS[tree.kind[node]], KINDS[tree.kind[parent]]
            found = Problem("org_row.level", kind=kind, kind_label=KIND_LABELS[kind], parent_kind=parent_kind,
                            parent_label=KIND_LABELS[parent_kind], parent=tree.codes[parent])
        problems.append((number, found))
    return problems


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
