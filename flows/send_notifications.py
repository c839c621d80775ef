"""The `send-notifications` flow: one dispatcher pass over the outbox, with a markdown artifact of what went out."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact


def run_dispatch(now: str | None) -> dict[str, Any]:
    """One dispatcher pass as a plain function, over the worker's database and channels."""
    from flows.runtime import flow_now, flow_settings
    from notifications.config import build_channels
    from notifications.render import Renderer
    from services.outbox import dispatch, outbox_counts
    from storage.db import Database

    settings = flow_settings()
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
    from flows.artifacts import bounded_markdown, cell

    head = [f"# 通知发送 notifications — {summary['at']}", "",
            f"- sent: **{summary['sent']}** in {summary['deliveries']} deliveries",
            f"- retry later: {summary['retried']}, failed for good: {summary['failed']}",
            f"- held (quiet hours, rate limits): {summary['held']}; reclaimed: {summary['reclaimed']}; "
            f"cancelled: {summary['cancelled']}", ""]
    if summary["errors"]:
        head += ["Errors:", *[f"- {cell(e)}" for e in summary["errors"]], ""]
    return bounded_markdown(head, ["outbox", "messages"], list(summary["outbox"].items()), page="/outbox",
                            noun="statuses")


@flow(name="send-notifications", log_prints=False)
def send_notifications_flow(now: str | None = None) -> dict[str, Any]:
    """Deliver what is queued through the worker's channels; the artifact `notifications` shows the counts.

    Several runs may overlap (deploy/prefect.yaml allows two): claims are taken with SKIP LOCKED and fenced.
    `now` moves the quiet hours and backoff clock; see deploy/README.md before mixing it with live schedules."""
    from flows.runtime import guard_crash_loop

    guard_crash_loop()
    summary = run_dispatch(now)
    create_markdown_artifact(key="notifications", markdown=dispatch_markdown(summary),
                             description=f"{summary['sent']} sent, {summary['failed']} failed")
    return summary
