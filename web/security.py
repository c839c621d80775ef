"""Sessions, CSRF tokens, the current account, and the secret key rule (no default key outside development)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

from services.accounts import Account, account_for_token, get_account
from services.errors import BadInput
from services.settings import Settings

# Where "/" and a login without `next` lead, by role (SHUZHI_LANDING="secretary=/my,reviewer=/review" overrides).
LANDING_BY_ROLE = {"secretary": "/my", "reviewer": "/review"}
DEFAULT_LANDING = "/overview"
# Sign-in attempts per client address and per name, in this process (issue 10 M7), as `limits` rate strings; the
# lock with back-off after repeated failures is stored in the database (services.accounts.authenticate).
LOGIN_RATE_PER_CLIENT = "30/minute"
LOGIN_RATE_PER_NAME = "10/minute"
OTP_RATE_PER_CLIENT = "20/minute"

DEV_SECRET = "shuzhi-development-key-not-secret"  # refused outside development
KNOWN_WEAK = {DEV_SECRET, "secret", "changeme", "change-me", "dev", "development", "shuzhi"}
SESSION_COOKIE = "shuzhi_session"
SESSION_HOURS = 8


@dataclass(frozen=True)
class WebConfig:
    secret_key: str
    secure_cookies: bool
    environment: str
    ephemeral_key: bool  # no SHUZHI_SECRET_KEY: a random key, sessions end when the server stops
    prefect_api_url: str | None
    prefect_ui_url: str | None
    landing: tuple[tuple[str, str], ...] = tuple(LANDING_BY_ROLE.items())


def web_config(settings: Settings) -> WebConfig:
    """Read and check the console's settings once; a weak or default secret key is refused outside development."""
    extra = settings.extra
    environment = extra.get("SHUZHI_ENV", "production").strip() or "production"
    key = extra.get("SHUZHI_SECRET_KEY", "")
    ephemeral = False
    if environment == "development":
        key = key or DEV_SECRET
    elif not key:
        key, ephemeral = secrets.token_urlsafe(48), True
    elif key in KNOWN_WEAK or len(key) < 32:
        raise BadInput(
            "SHUZHI_SECRET_KEY: the default or a short key (< 32 characters) is refused outside development "
            "(SHUZHI_ENV=development); generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    base_url = extra.get("SHUZHI_BASE_URL", "")
    secure_flag = extra.get("SHUZHI_COOKIE_SECURE", "").lower() in ("1", "true", "yes")
    return WebConfig(
        secret_key=key,
        secure_cookies=secure_flag or base_url.startswith("https://"),
        environment=environment,
        ephemeral_key=ephemeral,
        prefect_api_url=settings.prefect_api_url,
        prefect_ui_url=extra.get("SHUZHI_PREFECT_UI_URL") or None,
        landing=tuple(_landing(extra.get("SHUZHI_LANDING", "")).items()),
    )


def _landing(text: str) -> dict[str, str]:
    """'secretary=/my,reviewer=/review' over the defaults; a target must be a path of this site."""
    landing = dict(LANDING_BY_ROLE)
    for part in text.split(","):
        role, _, target = part.partition("=")
        role, target = role.strip(), target.strip()
        if role and target:
            if not is_local_path(target):
                raise BadInput("landing.bad", value=target, option="SHUZHI_LANDING")
            landing[role] = target
    return landing


def is_local_path(target: str) -> bool:
    return target.startswith("/") and not target.startswith("//") and "\\" not in target


def landing_for(config: WebConfig, account: Account) -> str:
    """Where a signed-in account starts: a secretary on "/my", a reviewer on "/review", others on the overview."""
    return dict(config.landing).get(account.role, DEFAULT_LANDING)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not submitted or not hmac.compare_digest(str(expected), str(submitted)):
        raise HTTPException(status_code=403, detail="http.csrf")


def bearer_token(request: Request) -> str | None:
    """The bearer token, or None; a blank one ('Bearer \\xa0') is None too, never a way around CSRF (issue 10 L1)."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def has_authorization(request: Request) -> bool:
    """Any Authorization header at all (even blank or malformed): such a request is never a cookie session."""
    return "authorization" in request.headers


def by_cookie(request: Request) -> bool:
    """Whether the request's account came from the session cookie (so a change needs the CSRF token)."""
    current_account(request)
    return bool(getattr(request.state, "by_cookie", False))


def current_account(request: Request) -> Account | None:
    """The signed-in account: a bearer token, or the session cookie (whose epoch a logout invalidates)."""
    cached: Any = getattr(request.state, "account", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    db = request.app.state.shuzhi.db
    account: Account | None = None
    request.state.by_cookie = False
    if has_authorization(request):
        # a token or nothing: an Authorization header never falls back to the cookie
        token = bearer_token(request)
        if token:
            account = account_for_token(db, token, now=request.app.state.shuzhi.app.now())
    else:
        user_id = request.session.get("uid")
        if isinstance(user_id, int):
            found = get_account(db, user_id)
            if found is not None and found.active and found.session_epoch == request.session.get("epoch"):
                account = found
                request.state.by_cookie = True
    request.state.account = account
    return account


# Routes that read the whole city: refused to a secretary (services.permissions.check_read).
CITYWIDE_ROUTES = frozenset({
    "/overview", "/tree", "/lagging", "/lagging/remind", "/outbox", "/results", "/flows",
    "/api/overview", "/api/tree", "/api/cycles", "/api/lagging", "/api/outbox", "/api/results", "/api/flows",
    "/api/remind/bulk", "/api/search",
})


def guard_read(request: Request, account: Account) -> None:
    """Called by the pages' and the API's sign-in dependencies: a secretary's request for a city-wide route or for
    another unit's `{org}` is refused (403) before the route runs."""
    if account.role != "secretary":
        return
    from services.errors import PermissionDenied
    from services.permissions import check_read

    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    org = request.path_params.get("org")
    try:
        check_read(account.actor, org=str(org) if org is not None else None, citywide=template in CITYWIDE_ROUTES)
    except PermissionDenied as denied:
        from services.accounts import record

        shared = request.app.state.shuzhi
        record(shared.db, now=shared.app.now(), username=account.name, action="read", outcome="denied",
               detail=f"{request.method} {request.url.path}: {denied.message}", client=client_of(request))
        raise HTTPException(status_code=403, detail="http.own_unit_only") from None


def sign_in(request: Request, account: Account) -> None:
    request.session.clear()  # a new session on login: no fixation
    request.session.update({"uid": account.id, "epoch": account.session_epoch, "csrf": secrets.token_urlsafe(32)})


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""
