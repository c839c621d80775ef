"""Server-rendered pages of the console (Chinese by default); every change goes through web.actions.Console."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from services import dashboard
from services.accounts import ROLE_LABELS, Account
from services.errors import BadInput, PermissionDenied, ShuzhiError, TooLarge
from services.permissions import may
from services.plan_files import MAX_PLAN_CHARS, plan_text_from_bytes
from states.machine import RETURN_EVENTS, STATES
from web import flash, integrations
from web.actions import MAX_UPLOAD, Console
from web.i18n import EN_ROLES, Labels, language, say
from web.security import check_csrf, client_of, csrf_token, current_account, guard_read

router = APIRouter(include_in_schema=False)
MAX_OFFSET = 10_000_000  # like the API: a bigger offset is a 422, never an overflow in the database (L6)
MAX_NOTE = 2000  # the return note, capped as the API caps it (L7)
PathYear = Annotated[int, Path(ge=1949, le=9998)]
QueryYear = Annotated[int | None, Query(ge=1949, le=9998)]


def _state(request: Request) -> Any:
    return request.app.state.shuzhi


def signed_in(request: Request) -> Account:
    account = current_account(request)
    if account is None:
        raise HTTPException(status_code=401, detail="http.sign_in")
    guard_read(request, account)
    return account


User = Annotated[Account, Depends(signed_in)]


def console(request: Request, account: Account) -> Console:
    shared = _state(request)
    return Console(shared.app, account, client_of(request), on_change=shared.funnel.clear)


def render(request: Request, template: str, http_status: int = 200, **context: Any) -> Response:
    shared = _state(request)
    labels = Labels(language(request))
    account = current_account(request)
    years = dashboard.launched_years(shared.db)
    base = {
        "t": labels,
        "lang": labels.lang,
        "user": account,
        "role_label": EN_ROLES if labels.en else ROLE_LABELS,
        "csrf": csrf_token(request),
        "years": years,
        "path": request.url.path,
        "can": (lambda action, org=None: _may(request, account, action, org)),
        "lang_url": (lambda code: _lang_url(request, code)),
        "L": (lambda zh, en: en if labels.en else zh),  # a template's own words: L('中文', 'English')
    }
    # flash messages come from the session, never from ?msg= / ?err= (L8); a route's own message stays when none is pending
    pending = {k: v for k, v in flash.take(request).items() if v is not None}
    return shared.templates.TemplateResponse(request, template, {**base, **context, **pending}, status_code=http_status)  # type: ignore[no-any-return]


def _lang_url(request: Request, code: str) -> str:
    """This page with its filters, in language `code` (the switch keeps the page; flash parameters are dropped)."""
    from urllib.parse import urlencode

    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "msg", "err")]
    return request.url.path + "?" + urlencode([*kept, ("lang", code)])


def _may(request: Request, account: Account | None, action: str, org: str | None) -> bool:
    if account is None:
        return False
    with _state(request).db.connect() as conn:
        return may(conn, account.actor, action, org=org)


# A page lists this many of an error's problems and says how many more there are (a national file with every row
# bad has over a million: the CLI prints them all, one line each, as cli.md asks; a page of them helps nobody).
PROBLEMS_SHOWN = 200


def _shown(problems: Sequence[str] | None) -> dict[str, Any]:
    problems = problems or []
    return {"problems": list(problems[:PROBLEMS_SHOWN]), "more_problems": max(len(problems) - PROBLEMS_SHOWN, 0)}


def render_error(request: Request, status: int, message: str, problems: Sequence[str]) -> Response:
    return render(request, "error.html", http_status=status, status_code=status, message=message, **_shown(problems))


def _year(request: Request, year: int | None) -> int | None:
    if year is not None:
        return year
    years = dashboard.launched_years(_state(request).db)
    return years[0] if years else None


def _back(url: str, message: str = "", error: bool = False) -> RedirectResponse:
    flash.flash(message, error=error)
    return RedirectResponse(url, status_code=303)


# sign in / out, "/" and the accounts pages are in web/accounts.py


def _error_text(request: Request, error: ShuzhiError) -> str:
    return error.render(language(request))


# --- reads -------------------------------------------------------------------------------------------------------

@router.get("/overview")
def overview_page(request: Request, account: User, year: int | None = None, kind: str = "upward") -> Response:
    shared = _state(request)
    chosen = _year(request, year)
    data = None
    if chosen is not None:
        data = dashboard.overview(shared.db, year=chosen, today=shared.app.today(), kind=kind, cache=shared.funnel)
    return render(request, "overview.html", data=data, year=chosen, kind=kind, states=STATES)


@router.get("/tree")
def tree_page(request: Request, account: User, year: QueryYear = None, code: str | None = None, kind: str = "upward",
              offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> Response:
    shared = _state(request)
    chosen = _year(request, year)
    if chosen is None:
        return render(request, "overview.html", data=None, year=None, kind=kind, states=STATES)
    data = dashboard.drill(shared.db, year=chosen, today=shared.app.today(), code=code or None, kind=kind, offset=offset)
    return render(request, "tree.html", data=data, year=chosen, kind=kind)


@router.get("/cycles/{year}/{org}")
def cycle_page(request: Request, account: User, year: PathYear, org: str, kind: str = "upward") -> Response:
    shared = _state(request)
    data, extras, events = integrations.cycle_with_extras(shared.db, year=year, org=org, kind=kind,
                                                          today=shared.app.today(), actor=account.actor)
    return render(request, "cycle.html", c=data, extras=extras, events=events, return_events=RETURN_EVENTS,
                  year=year, kind=kind)


@router.post("/lagging/remind")
def remind(request: Request, account: User, year: Annotated[int, Form()], org: Annotated[str, Form()],
           kind: Annotated[str, Form()] = "upward", csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        result = console(request, account).remind(year=year, org=org, kind=kind)
    except PermissionDenied:
        raise  # a refusal is a 403, not a redirect (issue 10 L3)
    except ShuzhiError as error:
        return _back(f"/lagging?year={year}", _error_text(request, error), error=True)
    return _back(f"/lagging?year={year}", _reminded(result, language(request)))


def _reminded(result: dict[str, Any], lang: str = "zh") -> str:
    """What one "remind now" queued, in the operator's words (and language)."""
    from services.outbox import CHANNEL_LABELS, TEMPLATE_LABELS, outbox_label
    from states.machine import STEP_LABELS

    if lang == "en":
        what = f"{result['org']} '{result['step']}' {outbox_label(TEMPLATE_LABELS, result['template'], 'en')}"
        to = f"{result['recipient_name']} ({result['recipient']})"
        if result["queued"]:
            channels = ", ".join(outbox_label(CHANNEL_LABELS, c, "en") for c in result["channels"])
            return f"{what} sent to {to}: {result['queued']} message(s) queued ({channels})"
        if not result["channels"]:
            return f"{to} has no phone or e-mail on file: the {what} cannot be sent"
        return f"the {what} was queued within this minute already: not sent twice"
    what = (f"{result['org']}“{STEP_LABELS.get(result['step'], result['step'])}”"
            f"{outbox_label(TEMPLATE_LABELS, result['template'])}")
    to = f"{result['recipient_name']}（{result['recipient']}）"
    if result["queued"]:
        channels = "、".join("短信" if c == "sms" else "邮件" for c in result["channels"])
        return f"已向{to}发送 {what}：新入队 {result['queued']} 条（{channels}）"
    if not result["channels"]:
        return f"{to}没有登记手机号或邮箱，{what}无法发送"
    return f"{what}本分钟内已入队，未重复发送"


@router.get("/outbox")
def outbox_page(request: Request, account: User, year: QueryYear = None, org: str | None = None,
                status: str | None = None, offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> Response:
    shared = _state(request)
    chosen = _year(request, year)
    data = integrations.outbox(shared.db, year=chosen, org=org, status=status, offset=offset)
    return render(request, "outbox.html", data=data, year=chosen, org=org or "", status=status or "")


@router.get("/results")
def results_page(request: Request, account: User, year: int | None = None, category: str | None = None) -> Response:
    shared = _state(request)
    chosen = _year(request, year)
    rows: list[dict[str, Any]] = []
    if chosen is not None:
        rows = integrations.results(shared.db, year=chosen, category=None)
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = counts.setdefault(row["category"], {"units": 0, "key_management": 0, "weak": 0})
        entry["units"] += 1
        entry["key_management"] += bool(row["key_management"])
        entry["weak"] += bool(row["weak"])
    shown = category if category in counts or category == "all" else next(iter(counts), "all")
    if shown != "all":
        rows = [row for row in rows if row["category"] == shown]
    return render(request, "results.html", rows=rows, counts=counts, year=chosen, category=shown)


@router.get("/flows")
def flows_page(request: Request, account: User) -> Response:
    config = _state(request).config
    data = integrations.flow_runs(config.prefect_api_url, config.prefect_ui_url)
    return render(request, "flows.html", data=data)


# --- cycle actions -----------------------------------------------------------------------------------------------

@router.post("/cycles/{year}/{org}/fire")
def fire(request: Request, account: User, year: PathYear, org: str, event: Annotated[str, Form()],
         kind: Annotated[str, Form()] = "upward", note: Annotated[str, Form()] = "",
         csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    back = f"/cycles/{year}/{quote(org)}?kind={quote(kind)}"
    if len(note) > MAX_NOTE:
        return _back(back, say(request, f"说明/理由不能超过 {MAX_NOTE} 个字符（现有 {len(note)} 个），未作任何更改",
                                f"the note is longer than {MAX_NOTE} characters; nothing was changed"), error=True)
    try:
        done = console(request, account).fire(year=year, org=org, event=event, kind=kind, note=note)
    except PermissionDenied as denied:
        raise denied
    except ShuzhiError as error:
        return _back(back, _error_text(request, error), error=True)
    labels = Labels(language(request))
    return _back(back, f"{labels.state(done['from'])} → {labels.state(done['to'])}")


# --- admin -------------------------------------------------------------------------------------------------------

@router.get("/admin")
def admin_page(request: Request, account: User) -> Response:
    return render(request, "admin.html", result=None, problems=[], form={})


def _admin_result(request: Request, *, title: str, result: Any = None, problems: Sequence[str] | None = None,
                  message: str = "", status: int = 200, form: dict[str, Any] | None = None) -> Response:
    return render(request, "admin.html", http_status=status, title=title, result=result, **_shown(problems),
                  message=message, form=form or {})


@router.post("/admin/orgs/import")
def admin_import(request: Request, account: User, file: Annotated[UploadFile, File()],
                 csrf_token: Annotated[str, Form()] = "") -> Response:
    # a plain `def`: the import runs in a worker thread, the event loop keeps answering (M6)
    check_csrf(request, csrf_token)
    content = file.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        return _admin_result(request, title="import_tree", status=413, message=say(
            request, f"文件过大（上限 {MAX_UPLOAD // (1024 * 1024)} MB），未导入任何数据",
            f"the file is larger than {MAX_UPLOAD // (1024 * 1024)} MB; nothing was imported"))
    try:
        result = console(request, account).import_orgs(file.filename or "", content)
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        return _admin_result(request, title="import_tree", message=_error_text(request, error), problems=error.problems,
                             status=400)
    return _admin_result(request, title="import_tree", result=result, message=say(request, "导入完成", "imported"))


@router.post("/admin/years/launch")
def admin_launch(request: Request, account: User, year: Annotated[int, Form()],
                 plan_text: Annotated[str, Form()] = "", plan_file: Annotated[UploadFile | None, File()] = None,
                 csrf_token: Annotated[str, Form()] = "") -> Response:
    # a plain `def`: the cascade runs in a worker thread, the event loop keeps answering (M6)
    check_csrf(request, csrf_token)
    text = plan_text
    if plan_file is not None and plan_file.filename:
        try:  # refused whole, never cut (L4)
            text = plan_text_from_bytes(plan_file.file.read(MAX_PLAN_CHARS + 1), name=plan_file.filename)
        except BadInput as error:
            return _admin_result(request, title="launch_year", status=413 if isinstance(error, TooLarge) else 400,
                                 message=say(request, f"{error.render('zh')}，未启动", f"{error.render('en')}; nothing was launched"))
    form = {"year": year, "plan_text": text}
    try:
        if not text.strip():
            raise BadInput("field.empty", field=say(request, "年度方案（粘贴 TOML 或选择文件）", "plan"))
        result = console(request, account).start_year(year=year, plan_text=text)
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        return _admin_result(request, title="launch_year", message=_error_text(request, error), problems=error.problems,
                             status=400, form=form)
    return _admin_result(request, title="launch_year", result=result, form=form,
                         message=say(request, f"{year} 年度已启动", f"{year} launched"))


@router.post("/admin/meetings/move")
def admin_move(request: Request, account: User, year: Annotated[int, Form()], organizer: Annotated[str, Form()],
               date: Annotated[str, Form()], csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        result = console(request, account).move_meeting(year=year, organizer=_org_code(request, organizer), when=date)
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        return _admin_result(request, title="move_meeting", message=_error_text(request, error), problems=error.problems,
                             status=400)
    return _admin_result(request, title="move_meeting", result=result, message=say(request, "会议已调整", "moved"))


@router.post("/admin/ballots/issue")
def admin_ballots(request: Request, account: User, year: Annotated[int, Form()], organizer: Annotated[str, Form()],
                  count: Annotated[int, Form()], csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        result = console(request, account).issue_ballots(year=year, organizer=_org_code(request, organizer), count=count)
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        return _admin_result(request, title="issue_ballots", message=_error_text(request, error), problems=error.problems,
                             status=400)
    return _admin_result(request, title="issue_ballots", result=result,
                         message=say(request, "测评码已生成（仅显示一次）", "codes issued (shown once)"))


def _org_code(request: Request, text: str) -> str:
    """An organizer picked by name (or pinyin initials) as well as by code (issue 12)."""
    from web.operator import resolve_org

    code, _ = resolve_org(_state(request).db, text)
    return code or text
