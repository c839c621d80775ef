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
    )


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not submitted or not hmac.compare_digest(str(expected), str(submitted)):
        raise HTTPException(status_code=403, detail="CSRF token missing or wrong: reload the page and try again")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def current_account(request: Request) -> Account | None:
    """The signed-in account: a bearer token, or the session cookie (whose epoch a logout invalidates)."""
    cached: Any = getattr(request.state, "account", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    db = request.app.state.shuzhi.db
    account: Account | None = None
    token = bearer_token(request)
    if token:
        account = account_for_token(db, token)
    else:
        user_id = request.session.get("uid")
        if isinstance(user_id, int):
            found = get_account(db, user_id)
            if found is not None and found.active and found.session_epoch == request.session.get("epoch"):
                account = found
    request.state.account = account
    return account


def sign_in(request: Request, account: Account) -> None:
    request.session.clear()  # a new session on login: no fixation
    request.session.update({"uid": account.id, "epoch": account.session_epoch, "csrf": secrets.token_urlsafe(32)})


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""
