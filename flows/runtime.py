"""What the flows share: the database and channels from the worker's environment, the clock from a parameter.

No credential is ever a flow parameter (parameters are readable through Prefect's API and UI). The database URL
is the worker's SHUZHI_DB, or, when SHUZHI_DB_SECRET_BLOCK names a Prefect `Secret` block, that block's value."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from services.clock import SystemClock, parse_when
from services.settings import Settings

MAX_RUNS = 5  # a run re-queued after crashes more often than this fails instead (a crash loop needs a person)


def flow_settings() -> Settings:
    """Settings read once in the flow run from the worker's environment (and the Secret block, if configured)."""
    block = os.environ.get("SHUZHI_DB_SECRET_BLOCK")
    if block:
        from prefect.blocks.system import Secret

        secret: Any = Secret.load(block)  # a sync call here (the flows are sync)
        return Settings.from_env(db_url=str(secret.get()))
    return Settings.from_env()


def flow_now(now: str | None) -> datetime:
    return parse_when(now) if now else SystemClock().now()


def guard_crash_loop() -> None:
    """Refuse to run a flow run for the MAX_RUNS-th+1 time (runs re-queued by the crash automation count up)."""
    from prefect.runtime import flow_run

    count = int(flow_run.run_count or 0)
    if count > MAX_RUNS:
        raise RuntimeError(f"this flow run has started {count} times (crashed or failed each time): look at its logs")
