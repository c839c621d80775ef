"""The `check-deadlines` flow: the deadline sweep, with a markdown artifact of lagging units per organizer."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact


def run_sweep(db_url: str | None, now: str | None, year: int | None) -> dict[str, Any]:
    from flows.runtime import flow_now, flow_settings
    from services.sweep import sweep_deadlines
    from storage.db import Database

    db = Database(flow_settings(db_url).db_url)
    try:
        moment = flow_now(now)
        result = sweep_deadlines(db, now=moment, year=year, summary=True)
    finally:
        db.dispose()
    return {**result.as_dict(), "years": result.years, "by_organizer": result.by_organizer,
            "at": moment.isoformat(timespec="minutes")}


def sweep_markdown(summary: dict[str, Any], *, top: int = 50) -> str:
    lines = [f"# 截止日期排查 deadline sweep — {summary['at']}", "",
             f"- checked: {summary['checked']}, lagging: **{summary['lagging']}**",
             f"- messages queued: **{summary['queued']}** (escalations: {summary['escalated']})",
             f"- years: {', '.join(str(y) for y in summary['years']) or '—'}", ""]
    rows = summary["by_organizer"]
    if rows:
        lines += ["| year | organizer | name | lagging | overdue |", "|---|---|---|---|---|"]
        lines += [f"| {r['year']} | {r['organizer']} | {r['name']} | {r['lagging']} | {r['overdue']} |" for r in rows[:top]]
        if len(rows) > top:
            lines.append(f"\n…and {len(rows) - top} more organizers")
    else:
        lines.append("No lagging units.")
    return "\n".join(lines) + "\n"


@flow(name="check-deadlines", log_prints=False)
def check_deadlines_flow(db_url: str | None = None, now: str | None = None, year: int | None = None) -> dict[str, Any]:
    """Sweep every open year (or one); the artifact `deadline-sweep` lists lagging units per organizer."""
    summary = run_sweep(db_url, now, year)
    create_markdown_artifact(key="deadline-sweep", markdown=sweep_markdown(summary),
                             description=f"{summary['lagging']} lagging, {summary['queued']} queued")
    return {k: v for k, v in summary.items() if k != "by_organizer"}
