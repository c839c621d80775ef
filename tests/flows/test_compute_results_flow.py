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


@pytest.mark.prefect
@pytest.mark.slow
def test_flow_under_prefect_leaves_an_artifact(app: App, tmp_path: Path) -> None:
    import asyncio

    from prefect.client.orchestration import get_client

    from flows.compute_results import compute_results_flow

    build_city(app, tmp_path)
    summary = compute_results_flow(app.db.url, 2014, "2014-12-31")
    assert summary["weak"] == ["T1", "U1"]

    async def artifact_markdown() -> str:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        async with get_client() as client:
            artifacts = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["results-2014"])))
            return str(artifacts[0].data)

    assert "| 村 | 12 | V01 | 60.0 | 重点管理 |  |" in asyncio.run(artifact_markdown())
