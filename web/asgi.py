"""The console as an ASGI factory for process managers: `uvicorn --factory web.asgi:create --workers N`.

Settings come from the environment (SHUZHI_DB, SHUZHI_SECRET_KEY, …) as for `shuzhi web`; each worker process
builds its own engine and connection pool. See docs/operations.md, "Production layout"."""

from __future__ import annotations

from fastapi import FastAPI

from services.settings import Settings
from web.app import create_app


def create() -> FastAPI:
    return create_app(Settings.from_env())
