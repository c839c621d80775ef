"""The operators' lagging list (R20, issue 12): filtered by subtree, level, step, overdue only, returned and not back,
days late; paged with a "last reminded" column; streamed whole to an export; reminded in bulk, set-based.

One filter (`LaggingFilter`) drives all three, so what an operator sees is what they export and what they remind.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from services.errors import BadInput, NotFound, Refused
from services.export import ColumnChunks
from states.deadlines import lagging_horizon
from states.machine import STATE_LABELS, STEP_LABELS, STEP_OF_STATE, STEPS
from states.orgs import LEVEL_OF_KIND, UPPER_KINDS, Level, mask_phone
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import cycles, orgs, years
from storage.tables.notify import outbox

PAGE = 50
PAGE_COUNT_CAP = 10_000
MAX_PAGE = 5000
# A bulk remind queues at most this many units' notices at once: beyond it the operator is asked to narrow the
# filter (the daily sweep already reminds every lagging unit; a click that texts 100,000 secretaries is a mistake).
BULK_REMIND_CAP = 10_000
LEVEL_LABELS = {1: "县（市、区）级", 2: "乡镇（街道）及市直单位", 3: "村（社区）及其他"}
STREAM_CHUNK = 2000


@dataclass(frozen=True)
class LaggingFilter:
    year: int
    kind: str = "upward"
    under: str | None = None  # an organization's code: its subtree (itself included)
    level: int | None = None  # 1 city, 2 town level, 3 grassroots
    step: str | None = None
    overdue: bool = False
    returned: bool = False  # returned for revision and not resubmitted yet
    days_late: int | None = None  # at least this many days past the due date

    def check(self) -> None:
        if self.kind not in ("upward", "own_level"):
            raise BadInput("kind.bad", value=self.kind, choices="upward, own_level")
        if self.level is not None and self.level not in LEVEL_LABELS:
            raise BadInput("level.bad", value=self.level)
        if self.step and self.step not in STEPS:
            raise BadInput("step.bad", value=self.step, choices=", ".join(STEPS))
        if self.days_late is not None and not 0 <= self.days_late <= 3660:
            raise BadInput("days_late.bad", value=self.days_late)

    def as_query(self) -> dict[str, Any]:
        """The filter as URL parameters (None and False left out)."""
        return {k: (1 if v is True else v) for k, v in asdict(self).items() if v not in (None, False, "")}


def _conditions(conn: sa.Connection, f: LaggingFilter, today: date) -> list[sa.ColumnElement[bool]]:
    f.check()
    plan = conn.execute(sa.select(years.c.plan).where(years.c.year == f.year)).scalar()
    if plan is None:
        raise NotFound("year.not_launched", year=f.year)
    window = int(max((plan.get("reminders") or {}).get("before_days") or [3, 1]))
    where: list[sa.ColumnElement[bool]] = [
        cycles.c.year == f.year, cycles.c.kind == f.kind, cycles.c.due <= lagging_horizon(today, window_days=window),
    ]
    if f.under:
        path = conn.execute(sa.select(orgs.c.path).where(orgs.c.code == f.under)).scalar()
        if path is None:
            raise NotFound("org.not_found", code=f.under)
        where.append(cycles.c.org_id.in_(sa.select(orgs.c.id).where(orgs.c.path >= path, orgs.c.path < path[:-1] + "0")))
    if f.level is not None:
        # the cycle's own organization, looked up by primary key: a NOT IN over every upper-level organization
        # (70,000 at national scale) was hashed once per statement, twice per page (the count and the rows)
        unit = orgs.alias("level_org")
        if Level(f.level) == Level.GRASSROOTS:  # the many: everything that is not an upper kind
            kind_test = unit.c.kind.not_in(UPPER_KINDS)
        else:
            kind_test = unit.c.kind.in_([k for k, lvl in LEVEL_OF_KIND.items() if int(lvl) == f.level])
        where.append(sa.exists().where(unit.c.id == cycles.c.org_id, kind_test))
    if f.step:
        where.append(cycles.c.state.in_([s for s, step in STEP_OF_STATE.items() if step == f.step]))
    if f.returned:
        where.append(cycles.c.state == "revising")
    if f.overdue:
        where.append(cycles.c.due < today)
    if f.days_late:
        where.append(cycles.c.due <= today - timedelta(days=f.days_late))
    return where


def _select(where: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    organizer = orgs.alias("organizer_org")
    return (
        sa.select(
            cycles.c.id.label("cycle_id"), cycles.c.org_id, orgs.c.code, orgs.c.name, orgs.c.kind.label("org_kind"),
            orgs.c.secretary, orgs.c.phone, cycles.c.kind, cycles.c.state, cycles.c.due, cycles.c.meeting_on,
            cycles.c.returns, organizer.c.code.label("organizer"), organizer.c.name.label("organizer_name"),
        )
        .select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id).join(organizer, organizer.c.id == cycles.c.organizer_id))
        .where(*where)
    )


def _row(r: Any, today: date, last: datetime | None, *, full_phone: bool) -> dict[str, Any]:
    (_, _, code, name, org_kind, secretary, phone, kind, state, due, meeting_on, returns, organizer,
     organizer_name) = r[:14]
    if due is not None and not isinstance(due, date):
        due = date.fromisoformat(str(due))
    late = (today - due).days if due is not None and due < today else 0
    reminded = from_db_time(last) if last is not None else None
    return {
        "org": code, "name": name, "org_kind": org_kind, "kind": kind, "state": state, "step": STEP_OF_STATE.get(state),
        "due": due.isoformat() if due is not None else None, "overdue": late > 0, "days_late": late,
        "meeting": meeting_on.isoformat() if isinstance(meeting_on, date) else str(meeting_on),
        "organizer": organizer, "organizer_name": organizer_name, "returns": returns, "secretary": secretary,
        "phone": phone if full_phone else mask_phone(phone),
        "last_reminded": reminded.isoformat(timespec="seconds") if reminded else None,
    }


def _last_reminded(conn: sa.Connection, year: int, org_ids: list[int]) -> dict[int, datetime]:
    """Each organization's latest queued message of the year. The ids go in as one text parameter (an array
    literal cast on PostgreSQL, a JSON list read by json_each on SQLite): an export asks this per chunk of 2,000,
    and 2,000 bound parameters (or a driver-side array) cost more to render and parse than the query takes."""
    if not org_ids:
        return {}
    listed = ",".join(map(str, org_ids))
    ids: sa.ColumnElement[bool]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        ids = outbox.c.org_id == sa.any_(sa.cast(sa.bindparam("ids", "{" + listed + "}", type_=sa.String),
                                                 ARRAY(sa.Integer)))
    else:
        ids = outbox.c.org_id.in_(sa.select(sa.column("value", sa.Integer)).select_from(
            sa.func.json_each(sa.bindparam("ids", "[" + listed + "]", type_=sa.String))))
    return dict(conn.execute(  # type: ignore[arg-type]
        sa.select(outbox.c.org_id, sa.func.max(outbox.c.created_at))
        .where(outbox.c.year == year, ids)
        .group_by(outbox.c.org_id)
    ).all())


def lagging_page(db: Database, f: LaggingFilter, *, today: date, offset: int = 0, limit: int = PAGE,
                 full_phone: bool = False, count_cap: int | None = None) -> dict[str, Any]:
    """One page of the filtered lagging list, most urgent first, with the total and each unit's last reminder.
    `count_cap`: count at most this many (the page says "10,000+"; a national count costs more than the page)."""
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise BadInput("page.bad_limit", limit=MAX_PAGE)
    with db.connect() as conn:
        where = _conditions(conn, f, today)
        counted = sa.select(cycles.c.id).where(*where)
        if count_cap is not None:
            counted = counted.limit(count_cap + 1)
        total = conn.execute(sa.select(sa.func.count()).select_from(counted.subquery())).scalar_one()
        capped = False
        if count_cap is not None and total > count_cap:
            total, capped = count_cap, True
        if conn.dialect.name == "postgresql":
            # the page is the head of a list sorted by (due, path): walking ix_cycles_year_due_state in due order
            # with index look-ups of each organization, then an incremental sort within a due date, stops after
            # `limit` rows; the planner prefers hashing every lagging cycle against a scan of all organizations
            # (0.2 scale: 184 ms against 25 ms; the scan grows with the tree). Local to this transaction.
            conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")
            conn.exec_driver_sql("SET LOCAL enable_mergejoin = off")
        rows = conn.execute(_select(where).order_by(cycles.c.due, orgs.c.path).offset(offset).limit(limit)).all()
        last = _last_reminded(conn, f.year, [r.org_id for r in rows])
    return {"total": int(total), "more": capped, "offset": offset, "limit": limit, "filter": f.as_query(),
            "rows": [_row(r, today, last.get(r.org_id), full_phone=full_phone) for r in rows]}


LAGGING_COLUMNS: list[tuple[str, str]] = [
    ("org", "编码"), ("name", "单位"), ("state_label", "状态"), ("step_label", "待办环节"), ("due", "截止日期"),
    ("days_late", "逾期天数"), ("organizer_name", "会议组织者"), ("meeting", "会议日期"), ("returns", "退回次数"),
    ("secretary", "书记"), ("phone", "手机"), ("last_reminded", "最近提醒"),
]
class _Labels(dict[Any, Any]):
    """A look-up table that computes (and keeps) what it does not hold yet: `map(table.__getitem__, column)` runs
    in C for every value seen before."""

    def __init__(self, compute: Callable[[Any], Any], known: dict[Any, Any] | None = None) -> None:
        super().__init__(known or {})
        self.compute = compute

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self.compute(key)
        return value


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def export_lagging(db: Database, f: LaggingFilter, *, today: date, full_phone: bool = False) -> ColumnChunks:
    """Every row of the filtered list as export cells (LAGGING_COLUMNS), in the page's order, handed to the writers
    a chunk of STREAM_CHUNK rows at a time as columns (services.export.ColumnChunks; iterated, it gives rows), so an
    export of the whole country holds a few chunks in memory. One sorted, joined query, read as a stream: SQLite's
    own cursor, read raw; on PostgreSQL a COPY of the query, read a few chunks ahead by a thread (see
    `_copied_ahead`). "Last reminded" is one grouped query per chunk.

    Each chunk is formatted column by column through look-up tables (labels per state, ISO text and days late per
    distinct date: a season has a few dozen), so no Python code runs per row; dates are read as text (SQLite's
    stored text, COPY's output), never parsed per row."""
    return ColumnChunks(_export_chunks(db, f, today=today, full_phone=full_phone))


def _export_chunks(db: Database, f: LaggingFilter, *, today: date, full_phone: bool) -> Iterator[list[Sequence[Any]]]:
    organizer = orgs.alias("organizer_org")
    due_raw = sa.type_coerce(cycles.c.due, sa.String)  # SQLite: the stored ISO text
    meeting_raw = sa.type_coerce(cycles.c.meeting_on, sa.String)
    query = (
        sa.select(orgs.c.code, orgs.c.name, cycles.c.state, due_raw, organizer.c.name, meeting_raw, cycles.c.returns,
                  orgs.c.secretary, orgs.c.phone, cycles.c.org_id)
        .select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id).join(organizer, organizer.c.id == cycles.c.organizer_id))
    )
    state_labels = _Labels(lambda state: state, {s: label for s, label in STATE_LABELS.items()})
    step_labels = _Labels(lambda state: STEP_LABELS.get(STEP_OF_STATE.get(state) or "", ""))
    due_texts = _Labels(lambda value: None if value is None else _as_date(value).isoformat())
    days_late = _Labels(lambda value: 0 if value is None else max((today - _as_date(value)).days, 0))
    # (meeting_on is NOT NULL; were it not: NULL on SQLite, '' from the COPY)
    meeting_texts = _Labels(lambda value: _as_date(value).isoformat(), {None: None, "": None})

    def cells(columns: Sequence[Sequence[Any]], reminded: dict[Any, str | None], numbers: bool) -> list[Sequence[Any]]:
        code, name, state, due, organizer_name, meeting, returns, secretary, phone, org_id = columns
        return [
            code, name, list(map(state_labels.__getitem__, state)), list(map(step_labels.__getitem__, state)),
            list(map(due_texts.__getitem__, due)), list(map(days_late.__getitem__, due)), organizer_name,
            list(map(meeting_texts.__getitem__, meeting)), returns if numbers else list(map(int, returns)), secretary,
            phone if full_phone else list(map(mask_phone, phone)), list(map(reminded.get, org_id)),
        ]

    with db.connect() as conn:
        where = _conditions(conn, f, today)
        statement = query.where(*where).order_by(cycles.c.due, orgs.c.path)
        postgres = conn.dialect.name == "postgresql"
        if not postgres:
            # SQLite's cursor read raw, a chunk of tuples at a time (SQLAlchemy's rows cost as much as the query)
            result = conn.execute(statement)
            try:
                cursor = result.cursor
                while rows := cursor.fetchmany(STREAM_CHUNK):
                    columns = list(zip(*rows, strict=True))
                    yield cells(columns, _reminded(conn, f.year, columns[-1]), True)
            finally:
                result.close()
    if postgres:  # the connection above is back in the pool: the reader thread takes its own
        for texts, reminded in _copied_ahead(db, statement, f.year):
            yield cells(texts, reminded, False)


READ_AHEAD = 4  # chunks fetched ahead of the writer: memory stays bounded (4 × STREAM_CHUNK rows)
COPY_COLUMNS = 10  # the export query's columns
EXPORT_WORK_MEM = "32MB"  # PostgreSQL: the export's sort memory, per process sorting (the COPY's transaction only)
_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_COPY_ESCAPE = re.compile(r"\\([0-7]{1,3}|x[0-9a-fA-F]{1,2}|.)")


def _copy_unescape(text: str) -> str:
    """A field of COPY's text format as it was: backslash escapes decoded (names may hold a backslash)."""
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "01234567":
            return chr(int(code, 8))
        if code[0] == "x" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _COPY_ESCAPES.get(code, code)

    return _COPY_ESCAPE.sub(one, text)


class _Stopped(Exception):
    """The export's reader was told to stop (the download ended early)."""


def _copied_ahead(db: Database, statement: sa.Select[Any], year: int) -> Iterator[tuple[list[Sequence[str]],
                                                                                        dict[str, str | None]]]:
    """PostgreSQL: the export's rows as columns of text, read a few chunks ahead of the writer by a thread with
    connections of its own: `COPY (query) TO STDOUT` on one (text format, NULL as ''), each chunk's "last reminded"
    on the other. A chunk of COPY lines becomes columns with C-level joins and splits (tabs and line breaks inside
    a field are escaped by COPY), no Python code per row; and a COPY runs the query as one statement, which the
    planner may parallelize (a cursor may not), and hands rows out as the sort yields them. The server computes
    while this process writes the spreadsheet: psycopg waits for the server without the GIL."""
    compiled = statement.compile(dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
    sql, params = str(compiled), compiled.params
    Chunk = tuple[list[Sequence[str]], dict[str, str | None]]
    chunks: queue.Queue[Chunk | BaseException | None] = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()
    copying: list[Any] = []  # the COPY's driver connection while it runs, so an abandoned download can cancel it

    def put(item: Chunk | BaseException | None) -> None:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped

    def columns_of(lines: list[bytes]) -> list[Sequence[str]]:
        text = b"".join(lines).decode("utf-8")
        fields = text.replace("\n", "\t").split("\t")
        fields.pop()  # after the last line's end
        if "\\" in text:  # an escaped character somewhere (rare): decode those fields
            fields = [_copy_unescape(field) if "\\" in field else field for field in fields]
        return [fields[i::COPY_COLUMNS] for i in range(COPY_COLUMNS)]

    def read() -> None:
        try:
            with db.engine.connect() as conn, db.engine.connect() as side:
                conn.exec_driver_sql("SET LOCAL datestyle = 'ISO, YMD'")  # dates as ISO text, whatever the server's
                # the national sort in memory (~27 MB per worker at 1.3 M cycles) rather than merged on disk: -10 %
                conn.exec_driver_sql(f"SET LOCAL work_mem = '{EXPORT_WORK_MEM}'")
                raw: Any = conn.connection.dbapi_connection
                copying.append(raw)
                with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (NULL '')", params) as copy:
                    lines: list[bytes] = []
                    for line in copy:
                        lines.append(bytes(line))
                        if len(lines) >= STREAM_CHUNK:
                            columns = columns_of(lines)
                            lines = []
                            put((columns, _reminded(side, year, columns[-1], key=str)))
                    if lines:
                        columns = columns_of(lines)
                        put((columns, _reminded(side, year, columns[-1], key=str)))
            put(None)
        except _Stopped:
            pass
        except BaseException as error:  # handed to the writer's thread, raised there
            try:
                put(error)
            except _Stopped:
                pass

    reader = threading.Thread(target=read, name="lagging-export", daemon=True)
    reader.start()
    try:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        if reader.is_alive() and copying:
            # the reader notices `stop` only at its next chunk: before the first, the whole national sort; cancelled,
            # the COPY ends at once and the reader gives its connections back
            cancel = getattr(copying[0], "cancel_safe", None) or copying[0].cancel
            with contextlib.suppress(Exception):
                cancel()
        reader.join(timeout=30)


def _reminded(conn: sa.Connection, year: int, org_ids: Sequence[Any], key: Callable[[int], Any] = int
              ) -> dict[Any, str | None]:
    """Each organization's last reminder as ISO text, keyed as the chunk holds its ids (`key`: str for COPY's)."""
    found = _last_reminded(conn, year, sorted({int(org) for org in org_ids}))
    return {key(org): _reminded_text(moment) for org, moment in found.items()}


def _reminded_text(moment: datetime) -> str | None:
    aware = from_db_time(moment)
    return aware.isoformat(timespec="seconds") if aware else None


def remind_bulk(db: Database, f: LaggingFilter, *, now: datetime, by: str, dry_run: bool = False,
                cap: int | None = None) -> dict[str, Any]:
    """Queue "remind now" for every unit of the filtered list that owes a step with a due date: the same messages
    as the per-row button (the same exactly-once key of the minute, so a second click within the minute queues
    nothing), in one INSERT … SELECT per due date. `dry_run` only counts {units, messages} for the confirmation.
    More than `cap` units is refused whole (nothing queued)."""
    from services.sweep import MANUAL_MARKER, OWNER, REMINDED_STATES, _deadline_messages, _insert_messages, owner_of_step

    cap = BULK_REMIND_CAP if cap is None else cap
    with db.begin() as conn:
        today, local = _local_today(conn, f.year, now)
        where = [*_conditions(conn, f, today), cycles.c.state.in_(REMINDED_STATES), cycles.c.due.is_not(None)]
        counted = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sa.case((OWNER.c.phone != "", 1), else_=0)), 0),
                sa.func.coalesce(sa.func.sum(sa.case((OWNER.c.email != "", 1), else_=0)), 0),
            )
            .select_from(cycles.join(OWNER, OWNER.c.id == owner_of_step()))
            .where(*where)
        ).one()
        units, messages = int(counted[0]), int(counted[1]) + int(counted[2])
        result = {"units": units, "messages": messages, "dry_run": dry_run, "cap": cap, "filter": f.as_query()}
        if units > cap:
            raise Refused("remind.bulk_cap", units=f"{units:,}", cap=f"{cap:,}")
        if dry_run or not units:
            return result
        marker = sa.literal(f"{MANUAL_MARKER}:{local:%Y-%m-%dT%H:%M}")
        stamp = to_db_time(now)
        note = f"批量提醒：{by}"
        dues = [d for (d,) in conn.execute(sa.select(cycles.c.due).where(*where).distinct())]
        queued = 0
        for due_value in dues:
            due = due_value if isinstance(due_value, date) else date.fromisoformat(str(due_value))
            days: sa.ColumnElement[Any]
            if due > today:
                template, days = "reminder", sa.literal((due - today).days, sa.Integer)
            elif due == today:
                template, days = "due_today", sa.literal(0, sa.Integer)
            else:
                template, days = "overdue", sa.cast(sa.null(), sa.Integer)
            selected = _deadline_messages(template, sa.and_(*where, cycles.c.due == due), marker, days, OWNER.c.id)
            queued += _insert_messages(conn, selected.subquery("m"), year=f.year, stamp=stamp, note=note)
        result["messages"] = queued
        return result


def _local_today(conn: sa.Connection, year: int, now: datetime) -> tuple[date, datetime]:
    plan = conn.execute(sa.select(years.c.plan).where(years.c.year == year)).scalar()
    if plan is None:
        raise NotFound("year.not_launched", year=year)
    local = now.astimezone(ZoneInfo(str(plan.get("timezone") or "Asia/Shanghai")))
    return local.date(), local
