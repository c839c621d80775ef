"""The launch-year, check-deadlines and send-notifications flows: thin wrappers that leave an artifact."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from services.clock import parse_when
from storage.db import Database
from storage.tables.core import cycles
from tests.conftest import SAMPLE_ORGS, SAMPLE_PLAN


def imported_db(tmp_path: Path) -> Database:
    from services.orgs import import_orgs

    db = Database(f"sqlite:///{tmp_path / 'flows.db'}")
    db.upgrade()
    (tmp_path / "orgs.csv").write_text(SAMPLE_ORGS, encoding="utf-8")
    import_orgs(db, tmp_path / "orgs.csv", now=parse_when("2014-11-20"))
    return db


def test_plain_functions_without_prefect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.check_deadlines import run_sweep, sweep_markdown
    from flows.launch_year import run_batch, split_roots
    from services.years import finalize_launch, prepare_launch

    db = imported_db(tmp_path)
    monkeypatch.setenv("SHUZHI_DB", db.url)
    prepared = prepare_launch(db, plan_text=SAMPLE_PLAN, year=2014, now=parse_when("2014-11-25T09:00+08:00"))
    assert split_roots(prepared.roots, 8) == [["/XG/HC/"]]
    assert run_batch(2014, prepared.roots, "2014-11-25T09:00+08:00") == 16
    assert run_batch(2014, prepared.roots, "2014-11-25T09:00+08:00") == 0  # a batch run twice creates nothing
    assert finalize_launch(db, prepared=prepared).created == 16
    summary = run_sweep("2014-12-09", None)
    assert summary["queued"] == 11 and "| 2014 | HC | 汉川市委 | 3 | 0 |" in sweep_markdown(summary)


def test_roots_split_into_even_contiguous_batches() -> None:
    from flows.launch_year import split_roots

    roots = [f"/P/C{i:02d}/" for i in range(10)]
    groups = split_roots(roots, 4)
    assert [len(g) for g in groups] == [3, 3, 2, 2] and [r for g in groups for r in g] == roots
    assert split_roots(roots[:2], 8) == [[roots[0]], [roots[1]]]
    assert split_roots(list(reversed(roots)), 4) == groups  # in path order whatever the order given


def test_batches_are_sized_by_the_tree_unless_asked() -> None:
    from flows.launch_year import batch_count

    # a batch flow run costs a process start: a province is launched in the launch's own run, the country in 3
    assert [batch_count(n) for n in (16, 100_670, 399_999, 671_130, 5_000_000)] == [1, 1, 1, 3, 4]
    assert batch_count(16, 4) == 4 and batch_count(671_130, 1) == 1


@pytest.mark.prefect
def test_flows_run_under_prefect_and_leave_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.artifacts import Artifact

    from flows.check_deadlines import check_deadlines_flow
    from flows.launch_year import launch_year_flow
    from flows.send_notifications import send_notifications_flow

    db = imported_db(tmp_path)
    monkeypatch.setenv("SHUZHI_DB", db.url)  # the worker's environment: never a parameter
    launched = launch_year_flow(year=2014, plan_text=SAMPLE_PLAN, now="2014-11-25", by="flow")
    assert launched["created"] == 16 and launched["year"] == 2014
    assert launch_year_flow(year=2014, plan_text=SAMPLE_PLAN, now="2014-11-25")["created"] == 0
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(cycles)).scalar_one() == 16

    swept = check_deadlines_flow(now="2014-12-09")
    assert swept["queued"] == 11 and swept["escalated"] == 2
    monkeypatch.setenv("SHUZHI_SINK_DIR", str(tmp_path / "sink"))
    sent = send_notifications_flow(now="2014-12-09T10:00")
    assert sent["sent"] == 11 and len(list((tmp_path / "sink").iterdir())) == sent["deliveries"]

    sweep_artifact = Artifact.get("deadline-sweep")
    assert sweep_artifact is not None and "汉川市委" in str(sweep_artifact.data)
    notify_artifact = Artifact.get("notifications")
    assert notify_artifact is not None and "sent: **11**" in str(notify_artifact.data)
    launch_artifact = Artifact.get("launch-2014")
    assert launch_artifact is not None

    from services.errors import BadInput

    with pytest.raises(BadInput):
        launch_year_flow(year=2014, plan_text="year = 2014\n", now="2014-11-25")




def test_no_flow_takes_a_database_url_or_a_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parameters are readable by anyone with Prefect's UI: the flows read the database from the worker."""
    import inspect

    from flows.check_deadlines import check_deadlines_flow
    from flows.compute_results import compute_results_flow
    from flows.launch_year import launch_batch_flow, launch_year_flow
    from flows.send_notifications import send_notifications_flow
    from flows.trigger import launch_parameters

    for flow in (launch_year_flow, launch_batch_flow, check_deadlines_flow, send_notifications_flow, compute_results_flow):
        assert not {"db_url", "smtp_url", "password"} & set(inspect.signature(flow.fn).parameters), flow.name
    monkeypatch.setenv("SHUZHI_DB", "postgresql://shuzhi:s3cret@db.internal/shuzhi")
    parameters = launch_parameters(year=2014, plan_text=SAMPLE_PLAN, by="admin", now=None)
    assert "s3cret" not in repr(parameters) and set(parameters) == {"year", "plan_text", "by"}


def test_the_database_url_can_come_from_a_prefect_secret_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.blocks import system

    from flows.runtime import flow_settings

    class FakeSecret:
        @staticmethod
        def load(name: str) -> FakeSecret:
            assert name == "shuzhi-db"
            return FakeSecret()

        def get(self) -> str:
            return "postgresql://shuzhi:from-block@db/shuzhi"

    monkeypatch.setattr(system, "Secret", FakeSecret)
    monkeypatch.setenv("SHUZHI_DB", "sqlite:///elsewhere.db")
    monkeypatch.setenv("SHUZHI_DB_SECRET_BLOCK", "shuzhi-db")
    assert flow_settings().db_url == "postgresql://shuzhi:from-block@db/shuzhi"
    monkeypatch.delenv("SHUZHI_DB_SECRET_BLOCK")
    assert flow_settings().db_url == "sqlite:///elsewhere.db"
