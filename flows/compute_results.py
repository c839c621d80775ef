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
    from states.scoring import CATEGORY_LABELS

    lines = [f"# {summary['year']} 年度综合评定", "",
             f"{summary['units']} units, {summary['ranked']} ranked; weights {summary['weights']}", "",
             "| category | rank | org | composite | key management | missing |", "|---|---|---|---|---|---|"]
    for r in summary["ranking"]:
        flag = "重点管理" if r["key_management"] else ("约谈" if r["weak"] else "")
        lines.append(f"| {CATEGORY_LABELS[r['category']]} | {r['rank'] or '—'} | {r['org']} | "
                     f"{'—' if r['composite'] is None else r['composite']} | {flag} | {', '.join(r['missing'])} |")
    return "\n".join(lines) + "\n"


@flow(name="compute-results", log_prints=False)
def compute_results_flow(db_url: str | None = None, year: int = 0, now: str | None = None) -> dict[str, Any]:
    """Compute and store the year's results; the artifact `results-YEAR` shows the ranking.

    With no `db_url` the worker's SHUZHI_DB is used (so no password is stored in the deployment's parameters);
    with no `now`, the real time."""
    from flows.runtime import flow_now, flow_settings

    summary = run_compute_results(flow_settings(db_url).db_url, year, flow_now(now).isoformat())
    create_markdown_artifact(key=f"results-{year}", markdown=results_markdown(summary),
                             description=f"{year} composite scores, ranks and key management")
    return summary
