"""The console's application factory: settings in, a FastAPI app out (no engine or app at import time)."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException  # FastAPI's is a subclass: one handler for both
from starlette.middleware.sessions import SessionMiddleware

from services.accounts import TooManyAttempts
from services.app import App, build_app
from services.dashboard import FunnelCache
from services.errors import BadInput, NotFound, PermissionDenied, Refused, ShuzhiError, TooLarge, where_it_failed
from services.settings import Settings
from web.security import SESSION_COOKIE, SESSION_HOURS, WebConfig, web_config

HERE = Path(__file__).parent
STATUS_OF_ERROR: list[tuple[type[ShuzhiError], int]] = [
    (TooManyAttempts, 429),
    (PermissionDenied, 403),
    (NotFound, 404),
    (TooLarge, 413),
    (BadInput, 400),
    (Refused, 409),
]


class ConsoleState:
    """What every request shares: the composition root, the checked web settings, templates, the funnel cache."""

    def __init__(self, app: App, config: WebConfig, templates: Jinja2Templates) -> None:
        self.app = app
        self.db = app.db
        self.config = config
        self.templates = templates
        self.funnel = FunnelCache()


def status_of(error: ShuzhiError) -> int:
    for kind, status in STATUS_OF_ERROR:
        if isinstance(error, kind):
            return status
    return 500


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api")


def create_app(settings: Settings, *, app: App | None = None) -> FastAPI:
    """The console for `settings` (or for a ready composition root `app`, as tests and the demo pass)."""
    config = web_config(settings)
    core = app or build_app(settings, db=console_database(settings))
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.autoescape = True
    templates.env.auto_reload = config.environment == "development"  # in service: no stat() of each template per page
    templates.env.filters["local"] = local_time
    templates.env.filters["in_lang"] = in_lang  # a catalogue Problem in the page's language
    web = FastAPI(
        title="Shuzhi console API",
        version="1",
        description="述职评议考核 — the same reads and actions as the console. Authenticate with the session cookie "
        "(POST needs the X-CSRF-Token header) or `Authorization: Bearer TOKEN` from `shuzhi users token NAME`.",
        docs_url=None,  # served offline by web.apidocs (Swagger UI from the fastapi-offline wheel, CSP-clean)
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    web.state.shuzhi = ConsoleState(core, config, templates)
    web.add_middleware(
        SessionMiddleware,
        secret_key=config.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=config.secure_cookies,
    )
    web.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    web.add_middleware(SecurityHeaders)

    @web.exception_handler(ShuzhiError)
    async def service_error(request: Request, error: ShuzhiError) -> Response:
        status = status_of(error)
        lang = request_language(request)
        if wants_json(request):
            return JSONResponse(error.as_dict(lang), status_code=status)
        from web.pages import render_error

        return render_error(request, status, error.render(lang), error.problems)

    @web.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 401 and not wants_json(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        message = _http_message(error, request_language(request))
        if wants_json(request):
            return JSONResponse({"error": message, "problems": []}, status_code=error.status_code,
                                headers=getattr(error, "headers", None))
        from web.pages import render_error

        return render_error(request, error.status_code, message, [])

    @web.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        en = request_language(request) == "en"
        problems = [_validation_problem(e, en=en) for e in error.errors()]
        if wants_json(request):
            return JSONResponse({"error": "bad input" if en else "输入有误", "problems": problems}, status_code=422)
        from web.pages import render_error

        return render_error(request, 422, "bad input" if en else "输入有误", problems)

    from web.accounts import api as accounts_api
    from web.accounts import router as accounts_router
    from web.api import router as api_router
    from web.apidocs import install_api_docs
    from web.operator import router as operator_router
    from web.pages import router as pages_router
    from web.participant import router as participant_router
    from web.participant_api import router as participant_api_router

    web.include_router(accounts_api)
    web.include_router(accounts_router)
    install_api_docs(web)
    web.include_router(operator_router)  # issue 12: search, lagging filters and exports, bulk remind, on behalf
    web.include_router(api_router)
    web.include_router(participant_api_router)  # issue 9: the participants' API
    web.include_router(pages_router)
    web.include_router(participant_router)  # issue 9: the participants' pages

    @web.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @web.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    return web


class SecurityHeaders:
    """Headers every response carries, and the last resort for an error no handler took: an id for the log and the
    user, never the data. Plain ASGI: a `BaseHTTPMiddleware` ran each request through an extra task and streams."""

    HEADERS = (
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"),
    )

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.datastructures import MutableHeaders

        from web.flash import remember

        remember(Request(scope))
        started = False

        async def send_with_headers(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in self.HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            if started:  # the response is under way: nothing better to send than the cut
                raise
            await unexpected_error(Request(scope), error)(scope, receive, send_with_headers)


log = logging.getLogger("shuzhi.web")


def request_language(request: Request) -> str:
    from web.i18n import language

    try:
        return language(request)
    except AssertionError:  # no session middleware on this scope
        return "en" if request.query_params.get("lang") == "en" else "zh"


def _validation_problem(error: Any, *, en: bool) -> str:
    """A request field that failed validation, named as the form or query calls it (no pydantic jargon in Chinese)."""
    field = str(error.get("loc", ("", ""))[-1])
    if en:
        return f"{field}: {error.get('msg')}"
    kind = str(error.get("type", ""))
    reason = {"missing": "缺少该项", "int_parsing": "应为整数", "less_than_equal": "数值过大",
              "greater_than_equal": "数值过小", "string_too_long": "内容过长", "string_too_short": "内容过短",
              "literal_error": "取值无效", "string_pattern_mismatch": "格式不正确"}.get(kind, "取值无效")
    return f"{FIELD_LABELS.get(field, field)}：{reason}"


# request fields as the Chinese console names them (a validation problem never shows the parameter's identifier)
FIELD_LABELS = {
    "year": "年度", "kind": "述职类型", "event": "操作", "note": "说明或理由", "count": "数量", "organizer": "会议组织单位",
    "own": "本级述职会", "when": "日期", "date": "日期", "name": "用户名", "role": "角色", "scope": "范围",
    "password": "密码", "phone": "手机号", "code": "编码", "file": "文件", "plan_text": "年度方案", "plan_file": "方案文件",
    "q": "搜索词", "offset": "起始位置", "limit": "每页条数", "level": "层级", "step": "环节", "days_late": "逾期天数",
    "under": "范围", "overdue": "已逾期", "returned": "退回未重报", "category": "类别", "status": "发送状态",
    "format": "导出格式", "org": "单位", "ratings": "评价", "comment": "点评", "attendees": "参会人员",
    "items": "整改事项", "commitment": "公开承诺", "csrf_token": "表单校验码", "active": "启用", "mode": "方式",
    "dry_run": "仅预览", "body": "请求内容",
}


def error_id() -> str:
    return uuid.uuid4().hex[:12]


def unexpected_error(request: Request, error: BaseException) -> Response:
    """500 with an id: the log gets the id, the exception's type and where it happened, never its message
    (which may quote SQL parameters, phones or e-mails) unless SHUZHI_DEBUG is set."""
    from services.errors import render as render_message

    if _is_number_out_of_range(error):  # a huge integer in a query or path: bad input, not a failure (L6)
        en = request_language(request) == "en"
        message = "a number is out of range" if en else "输入的数值超出范围"
        if wants_json(request):
            return JSONResponse({"error": message, "code": "number.range", "problems": []}, status_code=422)
        from web.pages import render_error

        return render_error(request, 422, message, [])
    ident = error_id()
    frames = where_it_failed(error)
    if os.environ.get("SHUZHI_DEBUG"):
        log.error("error %s on %s %s: %s: %s\n%s", ident, request.method, request.url.path, type(error).__name__,
                  error, frames)
    else:
        log.error("error %s on %s %s: %s\n%s", ident, request.method, request.url.path, type(error).__name__, frames)
    message = render_message("internal", {"error_id": ident}, request_language(request))
    if wants_json(request):
        return JSONResponse({"error": message, "code": "internal", "error_id": ident, "problems": []}, status_code=500)
    body = (f"<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>500</title>"
            f"<link rel=\"stylesheet\" href=\"/static/style.css\"><main><section class=\"card\"><h1>500</h1>"
            f"<p class=\"error-message\">{message}</p><p><a href=\"/overview\">←</a></p></section></main></html>")
    return HTMLResponse(body, status_code=500)


def _is_number_out_of_range(error: BaseException) -> bool:
    if isinstance(error, OverflowError):
        return True
    import sqlalchemy.exc

    return isinstance(error, sqlalchemy.exc.DBAPIError) and isinstance(error.orig, OverflowError)


def html(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status)


def console_database(settings: Settings) -> Any:
    """The console's database handle: on PostgreSQL a pool that keeps as many connections as the worker's threads
    use at once (SHUZHI_DB_POOL, default 15, + 10 overflow). With SQLAlchemy's default of 5, every connection
    beyond the fifth was closed at checkin and opened again for the next request (a PostgreSQL backend forked,
    authenticated and its catalog caches cold): constant churn under load."""
    from services.errors import BadInput
    from storage.db import Database, make_engine, normalize_url

    url = normalize_url(settings.db_url)
    if not url.startswith("postgresql"):
        return None
    raw = settings.extra.get("SHUZHI_DB_POOL", "15")
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise BadInput("field.bad_number", field="SHUZHI_DB_POOL", value=raw, low=1, high=200)
    return Database(url, engine=make_engine(url, pool_size=int(raw), max_overflow=10))


def _http_message(error: HTTPException, lang: str) -> str:
    """An HTTPException's detail in `lang`: a catalogue code (`http.csrf`), or a bare status phrase ("Not Found",
    from the router) as the status's own entry (`http.404`); any other detail as written."""
    from http import HTTPStatus

    from services.errors import MESSAGES, render

    detail = str(error.detail)
    if detail in MESSAGES:
        return render(detail, {}, lang)
    try:
        phrase = HTTPStatus(error.status_code).phrase
    except ValueError:
        phrase = ""
    code = f"http.{error.status_code}"
    return render(code, {}, lang) if detail == phrase and code in MESSAGES else detail


def in_lang(text: Any, lang: str) -> str:
    """A problem of an error's list in `lang` (services.errors.Problem); any other text as written."""
    from services.errors import Problem

    return text.render(lang) if isinstance(text, Problem) else str(text)


def local_time(value: str | None, length: int = 16) -> str:
    """An ISO timestamp as the plan's wall clock (Asia/Shanghai), 'YYYY-MM-DD HH:MM'; '' for none."""
    if not value:
        return ""
    from datetime import datetime

    from services.clock import PLAN_TZ

    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)[:length]
    if moment.tzinfo is not None:
        moment = moment.astimezone(PLAN_TZ)
    return moment.isoformat(sep=" ", timespec="minutes")[:length]
