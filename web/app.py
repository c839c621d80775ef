"""The console's application factory: settings in, a FastAPI app out (no engine or app at import time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from services.accounts import TooManyAttempts
from services.app import App, build_app
from services.dashboard import FunnelCache
from services.errors import BadInput, NotFound, PermissionDenied, Refused, ShuzhiError
from services.settings import Settings
from web.security import SESSION_COOKIE, SESSION_HOURS, WebConfig, web_config

HERE = Path(__file__).parent
STATUS_OF_ERROR: list[tuple[type[ShuzhiError], int]] = [
    (TooManyAttempts, 429),
    (PermissionDenied, 403),
    (NotFound, 404),
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
    core = app or build_app(settings)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.autoescape = True
    templates.env.filters["local"] = local_time
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

    @web.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
        )
        return response

    @web.exception_handler(ShuzhiError)
    async def service_error(request: Request, error: ShuzhiError) -> Response:
        status = status_of(error)
        if wants_json(request):
            return JSONResponse({"error": error.message, "problems": error.problems}, status_code=status)
        from web.pages import render_error

        return render_error(request, status, error.message, error.problems)

    @web.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 401 and not wants_json(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if wants_json(request):
            return JSONResponse({"error": str(error.detail), "problems": []}, status_code=error.status_code,
                                headers=getattr(error, "headers", None))
        from web.pages import render_error

        return render_error(request, error.status_code, str(error.detail), [])

    @web.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in error.errors()]
        if wants_json(request):
            return JSONResponse({"error": "bad input", "problems": problems}, status_code=422)
        from web.pages import render_error

        return render_error(request, 400, "输入有误 bad input", problems)

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


def html(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status)


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
