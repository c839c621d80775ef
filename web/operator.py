"""The operators' console (issue 12): search, the filtered lagging list with bulk reminders, exports, acting on a
unit's behalf, revealing a phone number (audited), launching a year with a preview, ballot codes as a file.

Pages and their JSON twins live here; both go through `OperatorConsole` (web.actions.Console plus these actions),
so what is refused or audited is the same whichever way an operator comes in.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from services import dashboard, export
from services.accounts import Account
from services.errors import BadInput, NotFound, PermissionDenied, Problem, Refused, ShuzhiError, TooLarge
from services.lagging import (
    LAGGING_COLUMNS,
    LEVEL_LABELS,
    PAGE_COUNT_CAP,
    LaggingFilter,
    export_lagging,
    lagging_page,
    remind_bulk,
)
from services.permissions import check_action, may
from services.search import MAX_QUERY, search_orgs
from states.machine import STEP_LABELS, STEPS
from states.orgs import mask_contact
from storage.tables.core import cycles, orgs
from web.actions import MAX_UPLOAD, Console
from web.flash import flash
from web.i18n import BEHALF_MARK, language, say
from web.security import bearer_token, check_csrf, client_of, current_account, guard_read

router = APIRouter()

# The secretary's own steps an operator (组织部, admin) may take for a unit, recorded as done on its behalf.
BEHALF_EVENTS = ("finish_research", "submit", "resubmit", "start_rectification", "file_commitment")
OPERATOR_ROLES = ("admin", "org_department")
Year = Annotated[int, Field(ge=1990, le=2100)]


def _shared(request: Request) -> Any:
    return request.app.state.shuzhi


class OperatorConsole(Console):
    """web.actions.Console plus the operators' actions; each one checked, audited, refused plainly."""

    def remind_bulk(self, f: LaggingFilter, *, dry_run: bool) -> dict[str, Any]:
        grant_scope = f.under or (self.actor.scope if self.actor.role == "reviewer" else None)
        f = LaggingFilter(**{**f.__dict__, "under": grant_scope})
        self.require("remind", org=f.under)
        detail = f"{f.year} {urlencode(f.as_query())}"
        if dry_run:
            return remind_bulk(self.app.db, f, now=self.app.now(), by=self.account.name, dry_run=True)
        try:
            result = remind_bulk(self.app.db, f, now=self.app.now(), by=self.account.name)
        except Refused as refused:
            self._audit("remind_bulk", "refused", f"{detail}: {refused.message}")
            raise
        self._audit("remind_bulk", "ok", f"{detail}: {result['units']} units, {result['messages']} messages")
        return result

    def reveal_contact(self, code: str) -> dict[str, Any]:
        self.require("reveal_phone", org=code)
        with self.app.db.connect() as conn:
            row = conn.execute(sa.select(orgs.c.code, orgs.c.name, orgs.c.secretary, orgs.c.phone, orgs.c.email)
                               .where(orgs.c.code == code)).first()
        if row is None:
            raise NotFound("org.not_found", code=code)
        self._audit("reveal_phone", "ok", f"{code} {row.secretary} {mask_contact(row.phone)}")
        return {"code": row.code, "name": row.name, "secretary": row.secretary, "phone": row.phone, "email": row.email}

    def act_on_behalf(self, *, year: int, org: str, event: str, kind: str = "upward", note: str | None = None,
                      report: tuple[str, bytes] | None = None, commitment: str | None = None,
                      item: tuple[str, str, str, str] | None = None) -> dict[str, Any]:
        """A unit's own step taken by the organization department or an admin: '代为办理 by X for Y' in the cycle's
        history (its note) and in the audit. A report upload is checked like the secretary's own."""
        if event not in BEHALF_EVENTS:
            raise BadInput("behalf.event", value=event, choices=", ".join(BEHALF_EVENTS))
        self.require("act_on_behalf", org=org)
        from services.cycles import fire_event

        mark = f"{BEHALF_MARK} by {self.account.name} for {org}"
        full_note = f"{mark}：{note.strip()}" if note and note.strip() else mark
        detail = f"{mark}: {year} {kind} {event}"

        def call() -> dict[str, Any]:
            if event == "file_commitment" and (commitment or item):
                from services.rectification import add_item, set_commitment

                if commitment:
                    set_commitment(self.app.db, year=year, org=org, text=commitment, now=self.app.now(), kind=kind, by=mark)
                if item and item[0].strip():
                    problem, measure, responsible, due = item
                    add_item(self.app.db, year=year, org=org, problem=problem, measure=measure, responsible=responsible,
                             due=due, now=self.app.now(), kind=kind, by=mark)
            options: dict[str, Any] = {}
            with tempfile.TemporaryDirectory() as folder:
                if report is not None:
                    name, content = report
                    from services.reports import read_report_bytes

                    read_report_bytes(name, content)  # a bad file is refused before anything changes
                    path = Path(folder) / Path(name).name
                    path.write_bytes(content)
                    options["report"] = str(path)
                fired = fire_event(self.app.db, year=year, org=org, event=event, kind=kind, now=self.app.now(),
                                   note=full_note, actor=self.actor, hooks=self.app.hooks, options=options,
                                   by=self.account.name)
            return {**fired.as_dict(), "on_behalf": mark}

        return dict(self._run("act_on_behalf", detail, call))


def operator_console(request: Request, account: Account) -> OperatorConsole:
    shared = _shared(request)
    return OperatorConsole(shared.app, account, client_of(request), on_change=shared.funnel.clear)


def _account(request: Request) -> Account:
    account = current_account(request)
    if account is None:
        if request.url.path.startswith("/api"):
            raise HTTPException(status_code=401, detail="http.sign_in_or_token",
                                headers={"WWW-Authenticate": "Bearer"})
        raise HTTPException(status_code=401, detail="http.sign_in")
    guard_read(request, account)  # a secretary reads only their own unit (issue 9), here as on every other route
    return account


User = Annotated[Account, Depends(_account)]


def _writer(request: Request, account: User) -> OperatorConsole:
    if bearer_token(request) is None:
        check_csrf(request, request.headers.get("x-csrf-token"))
    return operator_console(request, account)


Writer = Annotated[OperatorConsole, Depends(_writer)]


def _may(request: Request, account: Account, action: str, org: str | None = None) -> bool:
    with _shared(request).db.connect() as conn:
        return may(conn, account.actor, action, org=org)


def _latest_year(request: Request, year: int | None) -> int | None:
    if year is not None:
        return year
    launched = dashboard.launched_years(_shared(request).db)
    return launched[0] if launched else None


# --- filters -----------------------------------------------------------------------------------------------------

def _int_or_none(value: str | None, field: str) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise BadInput("field.not_int", field=field, value=value) from None


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "on", "yes")


def resolve_org(db: Any, text: str | None) -> tuple[str | None, str | None]:
    """A code as typed, or the best match of a name / pinyin initials: (code, how it was matched) — the lagging
    filter's and the organizer pickers' "by name". Nothing found is a plain NotFound naming the text."""
    value = (text or "").strip()
    if not value:
        return None, None
    with db.connect() as conn:
        if conn.execute(sa.select(orgs.c.id).where(orgs.c.code == value)).first() is not None:
            return value, None
    hits = search_orgs(db, value, limit=2)
    if not hits:
        raise NotFound("search.none", value=value)
    best = hits[0]
    return best["code"], Problem("search.matched", value=value, name=best["name"], code=best["code"])


def lagging_filter(request: Request, *, year: int, params: dict[str, Any]) -> tuple[LaggingFilter, str | None]:
    under, matched = resolve_org(_shared(request).db, params.get("under"))
    f = LaggingFilter(
        year=year, kind=str(params.get("kind") or "upward"), under=under,
        level=_int_or_none(params.get("level"), "level"), step=str(params.get("step") or "") or None,
        overdue=_flag(params.get("overdue")), returned=_flag(params.get("returned")),
        days_late=_int_or_none(params.get("days_late"), "days_late"),
    )
    f.check()
    return f, matched


def _export_response(request: Request, account: Account, fmt: str, name: str, header: list[str], rows: Any,
                     title: str) -> Response:
    if fmt not in export.FORMATS:
        raise BadInput("export.format", value=fmt)
    operator_console(request, account)._audit("export", "ok", name)
    return StreamingResponse(
        export.chunks(fmt, header, rows, title=title), media_type=export.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}.{fmt}"},
    )


def _lagging_export(request: Request, account: Account, f: LaggingFilter, fmt: str) -> Response:
    db, today = _shared(request).db, _shared(request).app.today()
    full = _may(request, account, "reveal_phone")
    with db.connect() as conn:  # refuse a bad filter before the download starts
        from services.lagging import _conditions

        _conditions(conn, f, today)
    if full:
        operator_console(request, account)._audit("reveal_phone", "ok", f"lagging export {f.year} {urlencode(f.as_query())}")
    rows = export_lagging(db, f, today=today, full_phone=full)
    return _export_response(request, account, fmt, f"滞后单位-{f.year}", [label for _, label in LAGGING_COLUMNS], rows, "滞后单位")


RESULT_COLUMNS = [("category_label", "类别"), ("rank", "名次"), ("org", "编码"), ("name", "单位"), ("composite", "综合得分"),
                  ("key_management", "重点管理"), ("weak", "约谈"), ("missing", "缺项")]
CATEGORY_LABELS = {"towns": "乡镇（街道）", "city_units": "市直单位", "villages": "村", "communities_and_others": "社区及其他"}


def _result_rows(rows: list[dict[str, Any]]) -> Any:
    for r in rows:
        yield [CATEGORY_LABELS.get(r["category"], r["category"]), r["rank"], r["org"], r["name"], r["composite"],
               "是" if r["key_management"] else "", "是" if r["weak"] else "", "、".join(r["missing"])]


OUTBOX_COLUMNS = ["编号", "单位", "渠道", "收件（已遮蔽）", "内容", "环节", "状态", "创建时间", "发送时间", "备注"]


def _outbox_rows(db: Any, *, year: int | None, org: str | None, status: str | None) -> Any:
    from storage.tables.notify import outbox as messages
    from web.integrations import outbox_filter

    conditions = outbox_filter(year=year, org=org, status=status)

    def rows() -> Any:
        from web.app import local_time

        with db.connect() as conn:
            last: int | None = None
            while True:
                query = (sa.select(messages.c.id, orgs.c.code, messages.c.channel, messages.c.address, messages.c.template,
                                   messages.c.step, messages.c.status, messages.c.created_at, messages.c.sent_at,
                                   messages.c.last_error)
                         .select_from(messages.join(orgs, orgs.c.id == messages.c.org_id)).where(*conditions))
                if last is not None:
                    query = query.where(messages.c.id < last)
                chunk = conn.execute(query.order_by(messages.c.id.desc()).limit(2000)).all()
                if not chunk:
                    return
                for m in chunk:
                    yield [m.id, m.code, m.channel, mask_contact(m.address), m.template, STEP_LABELS.get(m.step or "", m.step),
                           m.status, local_time(_utc(m.created_at)), local_time(_utc(m.sent_at)), m.last_error or ""]
                last = chunk[-1].id

    return rows()


def _utc(moment: datetime | None) -> str | None:
    from storage.db import from_db_time

    aware = from_db_time(moment)
    return aware.isoformat() if aware else None


# --- API ---------------------------------------------------------------------------------------------------------

@router.get("/api/search", tags=["api"], summary="find organizations by code prefix, name or pinyin initials (≤ 20, best first)")
def api_search(request: Request, account: User,
               q: Annotated[str, Query(max_length=MAX_QUERY, description="code, part of a name, or pinyin initials")] = "",
               ) -> list[dict[str, Any]]:
    return search_orgs(_shared(request).db, q)


@router.get("/api/lagging", tags=["api"], summary="lagging cycles (R20), filtered; format=xlsx|csv streams the whole list as a file")
def api_lagging(request: Request, account: User, year: Year, kind: Literal["upward", "own_level"] = "upward",
                under: Annotated[str | None, Query(max_length=200)] = None,
                level: Annotated[int | None, Query(ge=1, le=3)] = None, step: Annotated[str | None, Query(max_length=20)] = None,
                overdue: bool = False, returned: bool = False,
                days_late: Annotated[int | None, Query(ge=0, le=3660)] = None,
                offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                limit: Annotated[int, Query(ge=1, le=5000)] = 500,
                format: Literal["json", "xlsx", "csv"] = "json") -> Any:
    f, _ = lagging_filter(request, year=year, params={"kind": kind, "under": under, "level": level, "step": step,
                                                     "overdue": overdue, "returned": returned, "days_late": days_late})
    if format != "json":
        return _lagging_export(request, account, f, format)
    # phones stay masked in the JSON list; GET /api/orgs/{code}/contact reveals one (audited)
    page = lagging_page(_shared(request).db, f, today=_shared(request).app.today(), offset=offset, limit=limit)
    return Response(content=_json(page["rows"]), media_type="application/json", headers={"X-Total-Count": str(page["total"])})


def _json(data: Any) -> bytes:
    import json

    return json.dumps(data, ensure_ascii=False).encode("utf-8")


class BulkRemindBody(BaseModel):
    year: Year
    kind: Literal["upward", "own_level"] = "upward"
    under: Annotated[str | None, Field(max_length=200)] = None
    level: Annotated[int | None, Field(ge=1, le=3)] = None
    step: Annotated[str | None, Field(max_length=20)] = None
    overdue: bool = False
    returned: bool = False
    days_late: Annotated[int | None, Field(ge=0, le=3660)] = None
    dry_run: bool = False


@router.post("/api/remind/bulk", tags=["api"],
             summary="remind every unit of the filtered lagging list (dry_run: only count {units, messages}); capped")
def api_remind_bulk(request: Request, body: BulkRemindBody, console: Writer) -> dict[str, Any]:
    f, _ = lagging_filter(request, year=body.year, params=body.model_dump())
    return console.remind_bulk(f, dry_run=body.dry_run)


@router.get("/api/results", tags=["api"], summary="composite scores, ranks, key management (results.md); format=xlsx|csv for a file")
def api_results(request: Request, account: User, year: Year,
                category: Literal["towns", "city_units", "villages", "communities_and_others"] | None = None,
                format: Literal["json", "xlsx", "csv"] = "json") -> Any:
    from web import integrations

    rows = integrations.results(_shared(request).db, year=year, category=category)
    if format == "json":
        return rows
    return _export_response(request, account, format, f"考核结果-{year}", [label for _, label in RESULT_COLUMNS],
                            _result_rows(rows), "考核结果")


@router.get("/api/outbox", tags=["api"], summary="a page of messages, newest first (contacts masked); format=xlsx|csv for a file")
def api_outbox(request: Request, account: User, year: Year | None = None,
               org: Annotated[str | None, Query(max_length=64)] = None,
               status: Literal["queued", "sending", "sent", "failed", "cancelled"] | None = None,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
               limit: Annotated[int, Query(ge=1, le=500)] = 50,
               format: Literal["json", "xlsx", "csv"] = "json") -> Any:
    from web import integrations

    db = _shared(request).db
    if format == "json":
        return integrations.outbox(db, year=year, org=org, status=status, offset=offset, limit=limit)
    return _export_response(request, account, format, f"消息-{year or '全部'}", OUTBOX_COLUMNS,
                            _outbox_rows(db, year=year, org=org, status=status), "消息")


@router.get("/api/orgs/{code}/contact", tags=["api"], summary="a unit's full phone and e-mail (组织部 and admin; every reveal audited)")
def api_contact(request: Request, code: str, account: User) -> dict[str, Any]:
    return operator_console(request, account).reveal_contact(code)


@router.post("/api/cycles/{year}/{org}/behalf", tags=["api"],
             summary="take a unit's own step on its behalf (组织部, admin): recorded as 代为办理 by X for Y")
async def api_behalf(year: int, org: str, console: Writer, event: Annotated[str, Form()],
                     kind: Annotated[str, Form()] = "upward", note: Annotated[str, Form()] = "",
                     commitment: Annotated[str, Form()] = "", problem: Annotated[str, Form()] = "",
                     measure: Annotated[str, Form()] = "", responsible: Annotated[str, Form()] = "",
                     due: Annotated[str, Form()] = "", report: Annotated[UploadFile | None, File()] = None) -> dict[str, Any]:
    upload = await _upload(report)
    return await run_in_threadpool(  # report parsing and the transition off the event loop (M6)
        lambda: console.act_on_behalf(year=year, org=org, event=event, kind=kind, note=note, report=upload,
                                      commitment=commitment or None,
                                      item=(problem, measure, responsible, due) if problem.strip() else None))


async def _upload(report: UploadFile | None) -> tuple[str, bytes] | None:
    if report is None or not report.filename:
        return None
    content = await report.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise TooLarge("report.too_large", name=report.filename, limit=MAX_UPLOAD // (1024 * 1024))
    return report.filename, content


class PreviewBody(BaseModel):
    year: Year
    plan: Annotated[str, Field(min_length=1, max_length=200_000)]


@router.post("/api/years/preview", tags=["api"], summary="what launching this plan would create (nothing written)")
def api_preview(request: Request, body: PreviewBody, console: Writer) -> dict[str, Any]:
    console.require("start_year")
    from services.launch_preview import preview_launch

    return preview_launch(console.app.db, plan_text=body.plan, year=body.year)


@router.get("/api/years/{year}/plan-template", tags=["api"], summary="a plan (TOML) for the year, filled from the tree")
def api_plan_template(request: Request, year: int, account: User) -> Response:
    operator_console(request, account).require("start_year")
    from services.launch_preview import plan_template

    return Response(plan_template(_shared(request).db, year=year, lang=language(request)),
                    media_type="text/plain; charset=utf-8")


# --- pages -------------------------------------------------------------------------------------------------------

def _render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    from web.pages import render

    return render(request, template, http_status=status, **context)


@router.get("/search", include_in_schema=False)
def search_page(request: Request, account: User, q: str = "", year: int | None = None) -> Response:
    db = _shared(request).db
    chosen = _latest_year(request, year)
    error = None
    hits: list[dict[str, Any]] = []
    try:
        hits = search_orgs(db, q)
    except BadInput as bad:
        error = bad.render(language(request))
    targets = _targets(db, chosen, hits)
    exact = [h for h in hits if h["code"] == q.strip() or h["code"] == q.strip().upper()]
    if (len(hits) == 1 or exact) and not error:
        return RedirectResponse(targets[(exact or hits)[0]["code"]], status_code=303)
    return _render(request, "search.html", hits=hits, targets=targets, q=q, year=chosen, err=error)


def _targets(db: Any, year: int | None, hits: list[dict[str, Any]]) -> dict[str, str]:
    """Where a hit jumps: its cycle of the year when it has one, else its place in the tree."""
    codes = [h["code"] for h in hits]
    with_cycle: set[str] = set()
    if year is not None and codes:
        with db.connect() as conn:
            with_cycle = set(conn.execute(
                sa.select(orgs.c.code).select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id))
                .where(cycles.c.year == year, orgs.c.code.in_(codes))
            ).scalars())
    return {c: (f"/cycles/{year}/{quote(c)}" if c in with_cycle else f"/tree?code={quote(c)}" + (f"&year={year}" if year else ""))
            for c in codes}


@router.get("/lagging", include_in_schema=False)
def lagging_list_page(request: Request, account: User, year: int | None = None,
                      offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Response:
    shared = _shared(request)
    chosen = _latest_year(request, year)
    params = dict(request.query_params)
    context: dict[str, Any] = {"year": chosen, "params": params, "steps": STEPS, "levels": LEVEL_LABELS,
                               "msg": None, "err": None,  # flash messages come from the session only (L8)
                               "page": None, "matched": None, "confirm": None, "query": ""}
    if chosen is None:
        return _render(request, "lagging.html", **context)
    try:
        f, matched = lagging_filter(request, year=chosen, params=params)
        page = lagging_page(shared.db, f, today=shared.app.today(), offset=offset, limit=50, count_cap=PAGE_COUNT_CAP)
    except (BadInput, NotFound) as error:
        context["err"] = error.render(language(request))
        return _render(request, "lagging.html", status=400 if isinstance(error, BadInput) else 404, **context)
    context.update(page=page, matched=matched, query=urlencode(f.as_query()), filter=f,
                   operator=account.role in OPERATOR_ROLES)
    return _render(request, "lagging.html", **context)


@router.get("/lagging/remind-bulk", include_in_schema=False)
def bulk_confirm_page(request: Request, account: User, year: int) -> Response:
    params = dict(request.query_params)
    try:
        f, matched = lagging_filter(request, year=year, params=params)
        counted = operator_console(request, account).remind_bulk(f, dry_run=True)
        refused = None
    except Refused as error:
        counted, refused, matched = None, error.render(language(request)), None
        f = LaggingFilter(year=year)
    shared = _shared(request)
    page = lagging_page(shared.db, f, today=shared.app.today(), limit=50, count_cap=PAGE_COUNT_CAP)
    return _render(request, "lagging.html", year=year, params=params, steps=STEPS, levels=LEVEL_LABELS, page=page,
                   matched=matched, query=urlencode(f.as_query()), filter=f, confirm=counted, err=refused, msg=None,
                   operator=account.role in OPERATOR_ROLES)


@router.post("/lagging/remind-bulk", include_in_schema=False)
async def bulk_remind(request: Request, account: User) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    params = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    year = _int_or_none(params.get("year"), "year")
    if year is None:
        raise BadInput("year.missing")
    f, _ = lagging_filter(request, year=year, params=params)
    back = "/lagging?" + urlencode({"year": year, **f.as_query()})
    try:
        done = await run_in_threadpool(operator_console(request, account).remind_bulk, f, dry_run=False)
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        flash(error.render(language(request)), error=True, scope=request.scope)
        return RedirectResponse(back, status_code=303)
    message = say(request, f"已批量提醒 {done['units']:,} 个单位，新入队 {done['messages']:,} 条消息（同一分钟内重复点击不会重复发送）",
                  f"reminded {done['units']:,} unit(s): {done['messages']:,} message(s) queued (a second click within "
                  "the minute sends nothing twice)")
    flash(message, scope=request.scope)
    return RedirectResponse(back, status_code=303)


@router.post("/orgs/{code}/contact", include_in_schema=False)
def contact_page(request: Request, code: str, account: User, csrf_token: Annotated[str, Form()] = "",
                 back: Annotated[str, Form()] = "/lagging") -> Response:
    check_csrf(request, csrf_token)
    contact = operator_console(request, account).reveal_contact(code)
    safe_back = back if back.startswith("/") and not back.startswith("//") else "/lagging"
    return _render(request, "contact.html", contact=contact, back=safe_back)


@router.post("/cycles/{year}/{org}/behalf", include_in_schema=False)
async def behalf_page(request: Request, year: int, org: str, account: User, event: Annotated[str, Form()],
                      kind: Annotated[str, Form()] = "upward", note: Annotated[str, Form()] = "",
                      commitment: Annotated[str, Form()] = "", problem: Annotated[str, Form()] = "",
                      measure: Annotated[str, Form()] = "", responsible: Annotated[str, Form()] = "",
                      due: Annotated[str, Form()] = "", report: Annotated[UploadFile | None, File()] = None,
                      csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    back = f"/cycles/{year}/{quote(org)}?kind={quote(kind)}"
    try:
        upload = await _upload(report)
        done = await run_in_threadpool(lambda: operator_console(request, account).act_on_behalf(
            year=year, org=org, event=event, kind=kind, note=note, report=upload, commitment=commitment or None,
            item=(problem, measure, responsible, due) if problem.strip() else None))
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        flash(error.render(language(request)), error=True, scope=request.scope)
        return RedirectResponse(back, status_code=303)
    from states.machine import STATE_LABELS

    message = say(request, f"{done['on_behalf']}：{STATE_LABELS.get(done['from'], done['from'])} → "
                           f"{STATE_LABELS.get(done['to'], done['to'])}",
                  f"{done['on_behalf'].replace(BEHALF_MARK, 'on behalf')}: {done['from'].replace('_', ' ')} → "
                  f"{done['to'].replace('_', ' ')}")
    flash(message, scope=request.scope)
    return RedirectResponse(back, status_code=303)


@router.get("/admin/years/template", include_in_schema=False)
def template_page(request: Request, account: User, year: int) -> Response:
    operator_console(request, account).require("start_year")
    from services.launch_preview import plan_template

    if not 1990 <= year <= 2100:
        raise BadInput("year.range", value=year)
    text = plan_template(_shared(request).db, year=year, lang=language(request))
    return _render(request, "admin.html", result=None, problems=[], form={"year": year, "plan_text": text}, message="",
                   title="launch_year")


@router.post("/admin/years/preview", include_in_schema=False)
async def preview_page(request: Request, account: User, year: Annotated[int, Form()], plan_text: Annotated[str, Form()] = "",
                       plan_file: Annotated[UploadFile | None, File()] = None, csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    operator_console(request, account).require("start_year")
    from services.launch_preview import preview_launch

    text = plan_text
    if plan_file is not None and plan_file.filename:
        from services.plan_files import MAX_PLAN_CHARS, plan_text_from_bytes

        # refused whole like the launch itself (this read used to cut the file at 1 MB and blank a non-UTF-8 one)
        text = plan_text_from_bytes(await plan_file.read(MAX_PLAN_CHARS + 1), name=plan_file.filename)
    preview = await run_in_threadpool(preview_launch, _shared(request).db, plan_text=text, year=year) if text.strip() else {
        "ok": False, "problems": [Problem("preview.empty")], "levels": []}
    return _render(request, "admin.html", status=200 if preview["ok"] else 400, result=None, problems=[], message="",
                   title="launch_year", form={"year": year, "plan_text": text}, preview=preview)


@router.post("/admin/ballots/issue.csv", include_in_schema=False)
def ballots_csv(request: Request, account: User, year: Annotated[int, Form()], organizer: Annotated[str, Form()],
                count: Annotated[int, Form()], csrf_token: Annotated[str, Form()] = "") -> Response:
    """Issue ballot codes and download them at once as a CSV (the codes are shown only once)."""
    check_csrf(request, csrf_token)
    code, _ = resolve_org(_shared(request).db, organizer)
    assert code is not None
    result = operator_console(request, account).issue_ballots(year=year, organizer=code, count=count)
    rows = ([i, c] for i, c in enumerate(result["codes"], start=1))
    return StreamingResponse(export.csv_chunks(["序号", "测评码"], rows), media_type=export.MEDIA_TYPES["csv"],
                             headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'测评码-{year}-{code}')}.csv"})


__all__ = ["BEHALF_EVENTS", "OperatorConsole", "check_action", "resolve_org", "router"]
