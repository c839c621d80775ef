"""A plan file's bytes as text: the one size and encoding check of the CLI, the launch page and the preview.

Apart from services.years (and SQLAlchemy) so that `shuzhi year start` in Prefect mode reads the plan and starts
the deployment without importing the database layer first."""

from __future__ import annotations

from services.errors import BadInput, TooLarge

MAX_PLAN_CHARS = 1_000_000  # 1 MB: a plan is a few KB; the CLI, the launch page and the preview refuse more


def plan_text_from_bytes(raw: bytes, *, name: str) -> str:
    """A plan file as uploaded or read from disk: refused whole when too big (never cut) or not UTF-8 — the one
    check the CLI, the launch page and the launch preview share. Read at most MAX_PLAN_CHARS + 1 bytes to call it."""
    if len(raw) > MAX_PLAN_CHARS:
        raise TooLarge("plan.too_large", limit=MAX_PLAN_CHARS // 1_000_000)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput("plan.encoding", name=name) from None
