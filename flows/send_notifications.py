"""The `send-notifications` flow: one dispatcher pass over the outbox, with a markdown artifact of what went out."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact


def run_dispatch(db_url: str | None, now: str | None) -> dict[str, Any]:
    from flows.runtime import flow_now, flow_settings
    from notifications.config import build_channels
    from notifications.render import Renderer
    from services.outbox import dispatch, outbox_counts
    from storage.db import Database

    settings = flow_settings(db_url)
    db = Database(settings.db_url)
    try:
        moment = flow_now(now)
        result = dispatch(db, now=moment, channels=build_channels(settings), renderer=Renderer.for_settings(settings))
        counts = outbox_counts(db)
    finally:
        db.dispose()
    return {**result.as_dict(), "outbox": counts, "errors": sorted(set(result.errors))[:10],
            "at": moment.isoformat(timespec="minutes")}


def dispatch_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# 通知发送 notifications — {summary['at']}", "",
             f"- sent: **{summary['sent']}** in {summary['deliveries']} deliveries",
             f"- retry later: {summary['retried']}, failed for good: {summary['failed']}",
             f"- held (quiet hours, rate limits): {summary['held']}; reclaimed: {summary['reclaimed']}; "
             f"cancelled: {summary['cancelled']}", "", "| outbox | messages |", "|---|---|"]
    lines += [f"| {status} | {count} |" for status, count in summary["outbox"].items()]
    if summary["errors"]:
        lines += ["", "Errors:", *[f"- {e}" for e in summary["errors"]]]
    return "\n".join(lines) + "\n"


@flow(name="send-notifications", log_prints=False)
def send_notifications_flow(db_url: str | None = None, now: str | None = None) -> dict[str, Any]:
    """Deliver what is queued through the configured channels; the artifact `notifications` shows the counts."""
    summary = run_dispatch(db_url, now)
    create_markdown_artifact(key="notifications", markdown=dispatch_markdown(summary),
                             description=f"{summary['sent']} sent, {summary['failed']} failed")
    return summary
