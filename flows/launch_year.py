"""The `launch-year` flow: the cascade of services.years.start_year, fanned out per batch of subtrees (never per cycle)."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

SUBTREES_PER_TASK = 60  # ~2,800 counties nationally → ~50 task runs, well inside what a Prefect server records quickly


def subtree_batches(db_url: str, *, per_task: int = SUBTREES_PER_TASK) -> list[list[str]]:
    """The paths under each top organization (cities under the prefectures), in batches."""
    from services.years import cascade_roots
    from storage.db import Database

    db = Database(db_url)
    try:
        paths = cascade_roots(db)
    finally:
        db.dispose()
    return [paths[i : i + per_task] for i in range(0, len(paths), per_task)]


def launch_batch(db_url: str, year: int, plan_text: str, now: str, by: str, paths: list[str] | None) -> dict[str, Any]:
    """One transaction: the year row and meetings (idempotent) and the cycles of these subtrees."""
    from services.clock import parse_when
    from services.years import start_year
    from storage.db import Database

    db = Database(db_url)
    try:
        return start_year(db, plan_text=plan_text, year=year, now=parse_when(now), by=by, subtrees=paths).as_dict()
    finally:
        db.dispose()


def _worth_retrying(_task: Any, _run: Any, state: Any) -> bool:
    """Database hiccups are retried; a refusal by the rules (bad plan, no organizations) is not."""
    from services.errors import ShuzhiError

    return not isinstance(state.result(raise_on_failure=False), ShuzhiError)


launch_subtrees = task(name="launch-subtrees", retries=2, retry_delay_seconds=5, retry_condition_fn=_worth_retrying)(launch_batch)


def combine(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The batches as one LaunchResult.as_dict(): `existing` and meetings as the first batch saw them."""
    first, last = results[0], results[-1]
    return {**last, "created": sum(r["created"] for r in results), "existing": first["existing"],
            "meetings_created": first["meetings_created"], "meetings_existing": first["meetings_existing"],
            "relaunch": first["relaunch"], "batches": len(results)}


def launch_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# {summary['year']} 年度启动 launch", "",
             f"- created cycles: **{summary['created']}** (already there: {summary['existing']})",
             f"- meetings: {summary['meetings_created']} new, {summary['meetings_existing']} existing",
             f"- assessed organizations: {summary['organizations']}; relaunch: {summary['relaunch']}",
             f"- batches of subtrees: {summary.get('batches', 1)}", "", "| kind | cycles |", "|---|---|"]
    lines += [f"| {kind} | {count} |" for kind, count in sorted(summary.get("created_by_kind", {}).items())]
    return "\n".join(lines) + "\n"


@flow(name="launch-year", log_prints=False)
def launch_year_flow(db_url: str | None = None, year: int = 0, plan_text: str = "", now: str | None = None,
                     by: str = "admin") -> dict[str, Any]:
    """Launch a year: validate once, then one task per batch of subtrees; idempotent like `year start`."""
    from flows.runtime import flow_now, flow_settings
    from services.years import load_plan_text

    load_plan_text(plan_text, year=year)  # a bad plan fails the run before any task
    url = flow_settings(db_url).db_url
    when = flow_now(now).isoformat()
    batches = subtree_batches(url)
    if not batches:
        results = [launch_subtrees(url, year, plan_text, when, by, None)]
    else:
        results = [launch_subtrees(url, year, plan_text, when, by, paths) for paths in batches]
    summary = combine(results)
    create_markdown_artifact(key=f"launch-{year}", markdown=launch_markdown(summary), description=f"launch of {year}")
    return summary
