"""Flash messages: kept in the signed session for the next page, never read from the URL (issue 10 L8).

`flash(text)` works from any route: the console's middleware remembers the request's scope for the request's
context, so helpers that only build a redirect (`web.pages._back`) need no request parameter.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

from fastapi import Request

CURRENT_SCOPE: ContextVar[dict[str, Any] | None] = ContextVar("shuzhi_current_scope", default=None)
MAX_FLASH = 500  # characters kept: a flash is a sentence, and the session cookie has a size limit


def remember(request: Request) -> None:
    CURRENT_SCOPE.set(request.scope)  # type: ignore[arg-type]  # the ASGI scope is a dict


def flash(text: str, *, error: bool = False, scope: MutableMapping[str, Any] | None = None) -> None:
    """Show `text` on the next page this browser renders."""
    scope = scope if scope is not None else CURRENT_SCOPE.get()
    if scope is None or "session" not in scope or not text:
        return
    scope["session"]["flash"] = {"text": text[:MAX_FLASH], "error": bool(error)}


def take(request: Request) -> dict[str, str | None]:
    """The pending flash as the templates' `msg`/`err`, removed from the session (shown once)."""
    if "session" not in request.scope:
        return {"msg": None, "err": None}
    pending = request.session.pop("flash", None)
    if not isinstance(pending, dict) or not pending.get("text"):
        return {"msg": None, "err": None}
    text = str(pending["text"])
    return {"msg": None, "err": text} if pending.get("error") else {"msg": text, "err": None}
