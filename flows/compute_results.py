"""The `compute-results` flow: compute a year's results and leave a markdown artifact of the ranking."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact


def run_compute_results(db_url: str, year: int, now: str) -> dict[str, Any]:
    """The flow's work as a plain function (tests call it without Prefect)."""
    from services.clock import parse_when
    from services.results import compute_results, show_results
    from storage.db import Database

    db = Database(db_url)
    try:
        summary = compute_results(db, year=year, now=parse_when(now))
        summary["ranking"] = [
            {"org": r["org"], "category": r["category"], "rank": r["rank"], "composite": r["composite"],
             "key_management": r["key_management"], "weak": r["weak"], "missing": r["missing"]}
            for r in show_results(db, year=year)
        ]
    finally:
        db.dispose()
    return summary


def results_markdown(summary: dict[str, Any]) -> str:
    """The summary and the first 50 rows of the ranking (the service's order: category, then rank); the console's
    results page has the rest."""
    from flows.artifacts import TOP_ROWS, bounded_markdown
    from states.scoring import CATEGORY_LABELS

    ranking = summary["ranking"]
    head = [f"# {summary['year']} 年度综合评定", "",
            f"- units: {summary['units']}, ranked: {summary['ranked']}; weights {summary['weights']}",
            f"- 重点管理 key management: {len(summary.get('key_management', []))}; 约谈 weak: {len(summary.get('weak', []))}",
            ""]
    rows = []
    for r in ranking[:TOP_ROWS]:
        flag = "重点管理" if r["key_management"] else ("约谈" if r["weak"] else "")
        rows.append((CATEGORY_LABELS[r["category"]], r["rank"] or "—", r["org"],
                     "—" if r["composite"] is None else r["composite"], flag, ", ".join(r["missing"])))
    return bounded_markdown(head, ["category", "rank", "org", "composite", "key management", "missing"], rows,
                            page=f"/results?year={summary['year']}", noun="units", total=len(ranking))


@flow(name="compute-results", log_prints=False)
def compute_results_flow(year: int, now: str | None = None) -> dict[str, Any]:
    """Compute and store the year's results; the artifact `results-YEAR` shows the top of the ranking.

    The database is the worker's SHUZHI_DB (never a parameter: parameters are readable in Prefect's UI);
    with no `now`, the real time."""
    from flows.runtime import flow_now, flow_settings, guard_crash_loop

    guard_crash_loop()
    summary = run_compute_results(flow_settings().db_url, year, flow_now(now).isoformat())
    create_markdown_artifact(key=f"results-{year}", markdown=results_markdown(summary),
                             description=f"{year} composite scores, ranks and key management")
    return {k: v for k, v in summary.items() if k != "ranking"}  # the flow's result stays small
