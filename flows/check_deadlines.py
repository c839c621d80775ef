"""The `check-deadlines` flow: the deadline sweep, with a markdown artifact of lagging units per organizer."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact


def run_sweep(now: str | None, year: int | None) -> dict[str, Any]:
    """The sweep as a plain function over the worker's SHUZHI_DB (tests call it without Prefect)."""
    from flows.runtime import flow_now, flow_settings
    from services.sweep import sweep_deadlines
    from storage.db import Database

    db = Database(flow_settings().db_url)
    try:
        moment = flow_now(now)
        result = sweep_deadlines(db, now=moment, year=year, summary=True)
    finally:
        db.dispose()
    return {**result.as_dict(), "years": result.years, "by_organizer": result.by_organizer,
            "at": moment.isoformat(timespec="minutes")}


def sweep_markdown(summary: dict[str, Any]) -> str:
    from flows.artifacts import bounded_markdown

    head = [f"# 截止日期排查 deadline sweep — {summary['at']}", "",
            f"- checked: {summary['checked']}, lagging: **{summary['lagging']}**",
            f"- messages queued: **{summary['queued']}** (escalations: {summary['escalated']})",
            f"- years: {', '.join(str(y) for y in summary['years']) or '—'}", ""]
    rows = [(r["year"], r["organizer"], r["name"], r["lagging"], r["overdue"])
            for r in sorted(summary["by_organizer"], key=lambda r: (-r["lagging"], r["year"], r["organizer"]))]
    year = summary["years"][-1] if summary["years"] else ""
    return bounded_markdown(head, ["year", "organizer", "name", "lagging", "overdue"], rows,
                            page=f"/lagging?year={year}", noun="organizers with lagging units")


@flow(name="check-deadlines", log_prints=False)
def check_deadlines_flow(now: str | None = None, year: int | None = None) -> dict[str, Any]:
    """Sweep every open year (or one); the artifact `deadline-sweep` lists the organizers with the most lagging
    units. The database is the worker's (SHUZHI_DB), never a parameter."""
    from flows.runtime import guard_crash_loop

    guard_crash_loop()
    summary = run_sweep(now, year)
    create_markdown_artifact(key="deadline-sweep", markdown=sweep_markdown(summary),
                             description=f"{summary['lagging']} lagging, {summary['queued']} queued")
    return {k: v for k, v in summary.items() if k != "by_organizer"}
