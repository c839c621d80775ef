"""Sign-in (password or SMS code), sign-out, the landing page by role, and account management (pages and /api/users).

Every change is audited through web.actions.Console; the sign-in routes are rate limited per client address and per
name in this process (`limits`), and locked with back-off in the database after repeated failures.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from services.accounts import (
    PROVISION_ROLES,
    Account,
    TooManyAttempts,
    audit_name,
    authenticate,
    count_users,
    create_user,
    end_sessions,
    force_sms_sign_in,
    issue_sign_in_token,
    list_audit,
    list_users,
    record,
    reset_password,
    revoke_tokens,
    update_user,
)
from services.actors import ROLES
from services.errors import PermissionDenied, Problem, ShuzhiError
from services.otp import AccountChoiceNeeded, request_code, verify_code
from web.actions import Console
from web.i18n import language, say
from web.security import (
    LOGIN_RATE_PER_CLIENT,
    LOGIN_RATE_PER_NAME,
    OTP_RATE_PER_CLIENT,
    check_csrf,
    client_of,
    current_account,
    is_local_path,
    landing_for,
    sign_in,
)

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["accounts"])
PAGE = 100


def _shared(request: Request) -> Any:
    return request.app.state.shuzhi


class SignInLimiter:
    """Moving-window limits on sign-in attempts, per client address and per name (one per console process)."""

    def __init__(self) -> None:
        from limits import parse
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.window = MovingWindowRateLimiter(MemoryStorage())
        self.per_client = parse(LOGIN_RATE_PER_CLIENT)
        self.per_name = parse(LOGIN_RATE_PER_NAME)
        self.otp_per_client = parse(OTP_RATE_PER_CLIENT)

    def allow_login(self, client: str, name: str) -> bool:
        by_client = self.window.hit(self.per_client, "login-client", client)
        by_name = self.window.hit(self.per_name, "login-name", name.strip().lower()[:100])
        return by_client and by_name

    def allow_otp(self, client: str) -> bool:
        return self.window.hit(self.otp_per_client, "otp-client", client)


def limiter(request: Request) -> SignInLimiter:
    found = getattr(request.app.state, "sign_in_limiter", None)
    if found is None:
        found = SignInLimiter()
        request.app.state.sign_in_limiter = found
    return found  # type: ignore[no-any-return]


def _too_many(request: Request, what: str, name: str) -> None:
    shared = _shared(request)
    record(shared.db, now=shared.app.now(), username=audit_name(name, known=False, secret=shared.config.secret_key),
           action=what, outcome="rate_limited", client=client_of(request))
    raise TooManyAttempts("login.too_many")


def _render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    from web.pages import render

    return render(request, template, http_status=status, **context)


def _after_sign_in(request: Request, account: Account, next_path: str) -> Response:
    sign_in(request, account)
    if next_path and next_path != "/" and is_local_path(next_path) and not next_path.startswith("/login"):
        return RedirectResponse(next_path, status_code=303)
    return RedirectResponse(landing_for(_shared(request).config, account), status_code=303)


# --- sign in / out -----------------------------------------------------------------------------------------------

@router.get("/login")
def login_page(request: Request, next: str = "/", mode: Literal["password", "sms"] = "password") -> Response:
    return _render(request, "login.html", next=next if is_local_path(next) else "/", mode=mode)


@router.post("/login")
def login(request: Request, name: Annotated[str, Form(max_length=200)] = "", password: Annotated[str, Form(max_length=1000)] = "",
          csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    check_csrf(request, csrf_token)
    shared = _shared(request)
    try:
        if not limiter(request).allow_login(client_of(request), name):
            _too_many(request, "login", name)
        account = authenticate(shared.db, name, password, now=shared.app.now(), client=client_of(request),
                               secret=shared.config.secret_key)
    except TooManyAttempts as refused:
        return _render(request, "login.html", 429, error=refused.render(language(request)), next=next, name=name, mode="password")
    except PermissionDenied as denied:
        return _render(request, "login.html", 401, error=denied.render(language(request)), next=next, name=name, mode="password")
    return _after_sign_in(request, account, next)


@router.post("/login/otp/send")
def login_otp_send(request: Request, phone: Annotated[str, Form(max_length=40)] = "", csrf_token: Annotated[str, Form()] = "",
                   next: Annotated[str, Form()] = "/") -> Response:
    check_csrf(request, csrf_token)
    shared = _shared(request)
    try:
        if not limiter(request).allow_otp(client_of(request)):
            _too_many(request, "otp_request", phone)
        request_code(shared.db, phone, now=shared.app.now(), secret=shared.config.secret_key, client=client_of(request))
    except TooManyAttempts as refused:
        return _render(request, "login.html", 429, error=refused.render(language(request)), next=next, phone=phone, mode="sms", sent=True)
    except ShuzhiError as error:
        return _render(request, "login.html", 400, error=error.render(language(request)), next=next, phone=phone, mode="sms")
    return _render(request, "login.html", next=next, phone=phone, mode="sms", sent=True,
                   notice=say(request, "验证码已发送（如该号码已开通账户），5 分钟内有效",
                              "a code was sent (if an account has this phone); it is valid for 5 minutes"))


@router.post("/login/otp")
def login_otp(request: Request, phone: Annotated[str, Form(max_length=40)] = "", code: Annotated[str, Form(max_length=20)] = "",
              account: Annotated[str, Form(max_length=100)] = "", csrf_token: Annotated[str, Form()] = "",
              next: Annotated[str, Form()] = "/") -> Response:
    check_csrf(request, csrf_token)
    shared = _shared(request)
    try:
        if not limiter(request).allow_otp(client_of(request)):
            _too_many(request, "otp_verify", phone)
        found = verify_code(shared.db, phone, code, now=shared.app.now(), secret=shared.config.secret_key,
                            account=account or None, client=client_of(request))
    except AccountChoiceNeeded as choice:
        return _render(request, "login.html", next=next, phone=phone, code=code, mode="sms", sent=True,
                       choices=choice.names, notice=choice.render(language(request)))
    except TooManyAttempts as refused:
        return _render(request, "login.html", 429, error=refused.render(language(request)), next=next, phone=phone, mode="sms", sent=True)
    except ShuzhiError as error:
        return _render(request, "login.html", 400, error=error.render(language(request)), next=next, phone=phone, mode="sms", sent=True)
    return _after_sign_in(request, found, next)


def _signed_in(request: Request) -> Account:
    account = current_account(request)
    if account is None:
        raise HTTPException(status_code=401, detail="http.sign_in")
    return account


User = Annotated[Account, Depends(_signed_in)]


@router.post("/logout")
def logout(request: Request, account: User, csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    shared = _shared(request)
    end_sessions(shared.db, account.id)
    record(shared.db, now=shared.app.now(), username=account.name, action="logout", outcome="ok", client=client_of(request))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(request: Request, account: User) -> Response:
    return RedirectResponse(landing_for(_shared(request).config, account), status_code=303)


# --- account management ------------------------------------------------------------------------------------------

class AccountsConsole(Console):
    """The admin's account actions, each checked (manage_users) and audited; passwords never enter the audit."""

    def create(self, *, name: str, role: str, scope: str | None, phone: str | None, password: str | None) -> dict[str, Any]:
        self.require("manage_users")
        return dict(self._run("add_user", f"{name} {role} {scope or ''}", lambda: create_user(
            self.app.db, name, role, password, scope=scope or None, phone=phone or None).as_dict()))

    def update(self, name: str, *, role: str | None, scope: str | None, active: bool | None) -> dict[str, Any]:
        self.require("manage_users")
        detail = " ".join(f"{k}={v}" for k, v in (("role", role), ("scope", scope), ("active", active)) if v is not None)
        return dict(self._run("edit_user", f"{name} {detail}", lambda: update_user(
            self.app.db, name, role=role, scope=scope, active=active, clear_scope=scope == "").as_dict()))

    def reset(self, name: str, *, mode: str) -> dict[str, Any]:
        self.require("manage_users")
        if mode == "sms":
            return dict(self._run("force_sms", name, lambda: {"name": force_sms_sign_in(self.app.db, name).name,
                                                                "sms_only": True}))
        return dict(self._run("reset_password", name, lambda: {"name": name, "password": reset_password(self.app.db, name)}))

    def revoke(self, name: str) -> dict[str, Any]:
        self.require("manage_users")
        return dict(self._run("revoke_tokens", name, lambda: {"name": name, "revoked": revoke_tokens(self.app.db, name)}))


def _console(request: Request, account: Account) -> AccountsConsole:
    shared = _shared(request)
    return AccountsConsole(shared.app, account, client_of(request), on_change=None)


def _active_filter(value: str | None) -> bool | None:
    return {"1": True, "true": True, "0": False, "false": False}.get((value or "").lower())


def _users_page(request: Request, account: Account, status: int = 200, **context: Any) -> Response:
    shared = _shared(request)
    params = request.query_params
    q, role, active = params.get("q") or None, params.get("role") or None, _active_filter(params.get("active"))
    try:
        offset = max(0, min(int(params.get("offset") or 0), 10_000_000))
    except ValueError:
        offset = 0
    flash: dict[str, str] = {}  # pending messages are added by render() from the session
    base = {
        "users": list_users(shared.db, q=q, role=role if role in ROLES else None, active=active, limit=PAGE, offset=offset),
        "total": count_users(shared.db, q=q, role=role if role in ROLES else None, active=active),
        "audit": list_audit(shared.db, limit=100), "roles": ROLES, "offset": offset, "page": PAGE,
        "filters": {"q": q or "", "role": role or "", "active": params.get("active") or ""},
        "form": {}, "msg": flash.get("msg"), "err": flash.get("err"), "secret_once": None,
        "provision_roles": PROVISION_ROLES,
    }
    return _render(request, "users.html", status, **{**base, **context})


def _flash(request: Request, *, msg: str | None = None, err: str | None = None) -> Response:
    """A message for the next view of the page, carried in the session (never in the URL: issue 10 L8)."""
    from web.flash import flash

    flash(err or msg or "", error=bool(err), scope=request.scope)  # the console's one flash (L8)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/users")
def users_page(request: Request, account: User) -> Response:
    _console(request, account).require("manage_users")
    return _users_page(request, account)


@router.post("/admin/users")
def users_add(request: Request, account: User, name: Annotated[str, Form(max_length=200)] = "",
              role: Annotated[str, Form(max_length=40)] = "", scope: Annotated[str, Form(max_length=64)] = "",
              phone: Annotated[str, Form(max_length=40)] = "", password: Annotated[str, Form(max_length=1000)] = "",
              csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    console = _console(request, account)
    form = {"name": name, "role": role, "scope": scope, "phone": phone}
    try:
        if not role:
            from services.errors import BadInput

            raise BadInput("account.role_missing", problems=[Problem("account.role_choose")])
        console.create(name=name.strip(), role=role, scope=scope.strip() or None, phone=phone.strip() or None,
                       password=password or None)
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        return _users_page(request, account, 400, form=form, form_problems=error.problems or [error.render(language(request))])
    return _flash(request, msg=say(request, f"已创建账户 {name.strip()}", f"account {name.strip()} created"))


@router.post("/admin/users/{name}/edit")
def users_edit(request: Request, account: User, name: str, role: Annotated[str, Form(max_length=40)] = "",
               scope: Annotated[str, Form(max_length=64)] = "", active: Annotated[str, Form(max_length=5)] = "",
               csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        _console(request, account).update(name, role=role or None, scope=scope.strip(), active=_active_filter(active))
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        return _users_page(request, account, 400 if error.exit_code == 2 else 409, edit_name=name,
                           edit_form={"role": role, "scope": scope, "active": active},
                           edit_problems=[error.render(language(request)), *error.problems])
    return _flash(request, msg=say(request, f"已更新账户 {name}", f"account {name} updated"))


@router.post("/admin/users/{name}/reset")
def users_reset(request: Request, account: User, name: str, mode: Annotated[Literal["password", "sms"], Form()] = "password",
                csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        result = _console(request, account).reset(name, mode=mode)
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        return _flash(request, err=error.render(language(request)))
    if mode == "sms":
        return _flash(request, msg=say(request, f"账户 {name} 已改为短信验证码登录，原密码作废",
                                            f"account {name} now signs in by SMS code; its password no longer works"))
    # shown in this answer only: never stored, never in a cookie or a URL
    return _users_page(request, account, msg=say(request, f"已重置账户 {name} 的密码（仅显示一次）",
                                                 f"the password of {name} was reset (shown once)"),
                       secret_once={"name": name, "password": result["password"]})


@router.post("/admin/users/{name}/revoke")
def users_revoke(request: Request, account: User, name: str, csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        result = _console(request, account).revoke(name)
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        return _flash(request, err=error.render(language(request)))
    return _flash(request, msg=say(request, f"已吊销账户 {name} 的 {result['revoked']} 个 API 令牌",
                                    f"{result['revoked']} API token(s) of account {name} revoked"))


# --- the JSON API ------------------------------------------------------------------------------------------------

Phone = Annotated[str, Field(min_length=1, max_length=40)]


class OtpBody(BaseModel):
    phone: Phone


class OtpVerifyBody(BaseModel):
    phone: Phone
    code: Annotated[str, Field(min_length=1, max_length=20)]
    account: Annotated[str | None, Field(max_length=100, description="which account, when the phone has several")] = None


class NewUserBody(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: Literal["admin", "org_department", "reviewer", "secretary", "viewer"]
    scope: Annotated[str | None, Field(max_length=64)] = None
    phone: Phone | None = None
    password: Annotated[str | None, Field(max_length=1000, description="none: SMS sign-in only (needs a phone)")] = None


class UserPatch(BaseModel):
    role: Literal["admin", "org_department", "reviewer", "secretary", "viewer"] | None = None
    scope: Annotated[str | None, Field(max_length=64, description="'' clears it")] = None
    active: bool | None = None


class ResetBody(BaseModel):
    mode: Literal["password", "sms"] = "password"


@api.post("/auth/otp", status_code=202, summary="send a one-time sign-in code by SMS (the same answer for any phone)")
def api_otp(request: Request, body: OtpBody) -> dict[str, Any]:
    shared = _shared(request)
    if not limiter(request).allow_otp(client_of(request)):
        _too_many(request, "otp_request", body.phone)
    request_code(shared.db, body.phone, now=shared.app.now(), secret=shared.config.secret_key, client=client_of(request))
    return {"status": "accepted", "expires_in": 300}


@api.post("/auth/otp/verify", summary="exchange phone and code for a bearer token (8 hours)")
def api_otp_verify(request: Request, body: OtpVerifyBody) -> Response:
    shared = _shared(request)
    if not limiter(request).allow_otp(client_of(request)):
        _too_many(request, "otp_verify", body.phone)
    try:
        account = verify_code(shared.db, body.phone, body.code, now=shared.app.now(), secret=shared.config.secret_key,
                              account=body.account, client=client_of(request))
    except AccountChoiceNeeded as choice:
        return JSONResponse({"error": choice.render(language(request)), "problems": choice.problems_in(language(request)),
                             "accounts": choice.names}, status_code=409)
    token = issue_sign_in_token(shared.db, account, now=shared.app.now())
    return JSONResponse({"token": token, "token_type": "bearer", "expires_in": 8 * 3600, "account": account.as_dict()})


def _api_admin(request: Request) -> AccountsConsole:
    from web.api import api_writer

    account = current_account(request)
    if account is None:
        raise HTTPException(status_code=401, detail="http.sign_in_or_token",
                            headers={"WWW-Authenticate": "Bearer"})
    if request.method != "GET":
        api_writer(request, account)  # the CSRF rule of every changing API call
    console = _console(request, account)
    console.require("manage_users")
    return console


Admin = Annotated[AccountsConsole, Depends(_api_admin)]


@api.get("/users", summary="accounts, filtered (name or scope containing q, role, active), a page at a time")
def api_users(request: Request, console: Admin, q: Annotated[str | None, Query(max_length=100)] = None,
              role: Literal["admin", "org_department", "reviewer", "secretary", "viewer"] | None = None,
              active: bool | None = None, scope: Annotated[str | None, Query(max_length=64)] = None,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    db = _shared(request).db
    return {"total": count_users(db, q=q, role=role, active=active, scope=scope), "offset": offset, "limit": limit,
            "users": list_users(db, q=q, role=role, active=active, scope=scope, limit=limit, offset=offset)}


@api.post("/users", status_code=201, summary="create an account (no password: SMS sign-in to its phone)")
def api_create_user(body: NewUserBody, console: Admin) -> dict[str, Any]:
    return console.create(name=body.name, role=body.role, scope=body.scope, phone=body.phone, password=body.password)


@api.patch("/users/{name}", summary="change role, scope or active (never the last admin)")
def api_patch_user(name: str, body: UserPatch, console: Admin) -> dict[str, Any]:
    return console.update(name, role=body.role, scope=body.scope, active=body.active)


@api.post("/users/{name}/reset", summary="a new password (shown once), or mode=sms: SMS sign-in only")
def api_reset_user(name: str, body: ResetBody, console: Admin) -> dict[str, Any]:
    return console.reset(name, mode=body.mode)


@api.post("/users/{name}/revoke", summary="revoke every API token of the account")
def api_revoke_user(name: str, console: Admin) -> dict[str, Any]:
    return console.revoke(name)
