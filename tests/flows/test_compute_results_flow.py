"""The compute-results flow: its work as a plain function, and once under Prefect with its artifact."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.app import App
from tests.results.conftest import build_city


def test_flow_work_without_prefect(app: App, tmp_path: Path) -> None:
    from flows.compute_results import results_markdown, run_compute_results

    build_city(app, tmp_path)
    summary = run_compute_results(app.db.url, 2014, "2014-12-31")
    assert summary["key_management"] == ["C01", "C02", "V01", "V02", "V03"]
    markdown = results_markdown(summary)
    assert "| 乡镇（街道、场） | 1 | T2 | 90.0 |" in markdown
    assert "| 市直单位 | — | U4 | — |  | daily |" in markdown


def test_the_results_artifact_stays_small_on_a_national_ranking(monkeypatch: pytest.MonkeyPatch) -> None:
    """671,130 units would make a 9 MB table: the artifact has the summary, the top 50 and a console link."""
    from flows.artifacts import ARTIFACT_LIMIT
    from flows.compute_results import results_markdown

    monkeypatch.setenv("SHUZHI_BASE_URL", "https://shuzhi.example.gov.cn/")
    ranking = [{"org": f"V{i:07d}", "category": "villages", "rank": i + 1, "composite": 90.0 - i / 1e5,
                "key_management": i % 20 == 0, "weak": False, "missing": ["daily", "plan"] * 3}
               for i in range(671_130)]
    summary = {"year": 2014, "units": len(ranking), "ranked": len(ranking), "weights": {"daily": 0.4},
               "key_management": [r["org"] for r in ranking if r["key_management"]], "weak": [], "ranking": ranking}
    markdown = results_markdown(summary)
    assert len(markdown.encode()) <= ARTIFACT_LIMIT
    assert "| 村 | 1 | V0000000 | 90.0 | 重点管理 |" in markdown and "V0000049" in markdown and "V0000050" not in markdown
    assert "671130 units in all, the first 50 shown" in markdown
    assert "(https://shuzhi.example.gov.cn/results?year=2014)" in markdown
    assert "key management: 33557" in markdown

    long_cells = {**summary, "ranking": [{**r, "org": "长" * 5000} for r in ranking[:60]]}
    assert len(results_markdown(long_cells).encode()) <= ARTIFACT_LIMIT


@pytest.mark.prefect
@pytest.mark.slow
def test_flow_under_prefect_leaves_an_artifact(app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from prefect.client.orchestration import get_client

    from flows.compute_results import compute_results_flow

    build_city(app, tmp_path)
    monkeypatch.setenv("SHUZHI_DB", app.db.url)
    summary = compute_results_flow(2014, "2014-12-31")
    assert summary["weak"] == ["T1", "U1"]

    async def artifact_markdown() -> str:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        async with get_client() as client:
            artifacts = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["results-2014"])))
            return str(artifacts[0].data)

    assert "| 村 | 12 | V01 | 60.0 | 重点管理 |  |" in asyncio.run(artifact_markdown())
