"""What the flows share: the database from a parameter or SHUZHI_DB, the clock from a parameter or real time."""

from __future__ import annotations

from datetime import datetime

from services.clock import SystemClock, parse_when
from services.settings import Settings


def flow_settings(db_url: str | None) -> Settings:
    """Settings read once in the flow run (the worker's environment), the database overridable by parameter."""
    return Settings.from_env(db_url=db_url)


def flow_now(now: str | None) -> datetime:
    return parse_when(now) if now else SystemClock().now()
