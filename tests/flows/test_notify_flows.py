"""The launch-year, check-deadlines and send-notifications flows: thin wrappers that leave an artifact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from services.clock import parse_when
from storage.db import Database
from storage.tables.core import cycles
from tests.conftest import SAMPLE_ORGS, SAMPLE_PLAN

ROOT = Path(__file__).resolve().parents[2]


def imported_db(tmp_path: Path) -> Database:
    from services.orgs import import_orgs

    db = Database(f"sqlite:///{tmp_path / 'flows.db'}")
    db.upgrade()
    (tmp_path / "orgs.csv").write_text(SAMPLE_ORGS, encoding="utf-8")
    import_orgs(db, tmp_path / "orgs.csv", now=parse_when("2014-11-20"))
    return db


def test_plain_functions_without_prefect(tmp_path: Path) -> None:
    from flows.check_deadlines import run_sweep, sweep_markdown
    from flows.launch_year import combine, launch_batch, subtree_batches

    db = imported_db(tmp_path)
    batches = subtree_batches(db.url, per_task=1)
    assert batches == [["/XG/HC/"]]
    results = [launch_batch(db.url, 2014, SAMPLE_PLAN, "2014-11-25T09:00+08:00", "admin", paths) for paths in batches]
    assert combine(results)["created"] == 16
    summary = run_sweep(db.url, "2014-12-09", None)
    assert summary["queued"] == 11 and "| 2014 | HC | 汉川市委 | 3 | 0 |" in sweep_markdown(summary)


@pytest.mark.prefect
def test_flows_run_under_prefect_and_leave_artifacts(tmp_path: Path) -> None:
    from prefect.artifacts import Artifact

    from flows.check_deadlines import check_deadlines_flow
    from flows.launch_year import launch_year_flow
    from flows.send_notifications import send_notifications_flow

    db = imported_db(tmp_path)
    launched = launch_year_flow(db_url=db.url, year=2014, plan_text=SAMPLE_PLAN, now="2014-11-25", by="flow")
    assert launched["created"] == 16 and launched["year"] == 2014
    assert launch_year_flow(db_url=db.url, year=2014, plan_text=SAMPLE_PLAN, now="2014-11-25")["created"] == 0
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(cycles)).scalar_one() == 16

    swept = check_deadlines_flow(db_url=db.url, now="2014-12-09")
    assert swept["queued"] == 11 and swept["escalated"] == 2
    os.environ["SHUZHI_SINK_DIR"] = str(tmp_path / "sink")
    try:
        sent = send_notifications_flow(db_url=db.url, now="2014-12-09T10:00")
    finally:
        del os.environ["SHUZHI_SINK_DIR"]
    assert sent["sent"] == 11 and len(list((tmp_path / "sink").iterdir())) == sent["deliveries"]

    sweep_artifact = Artifact.get("deadline-sweep")
    assert sweep_artifact is not None and "汉川市委" in str(sweep_artifact.data)
    notify_artifact = Artifact.get("notifications")
    assert notify_artifact is not None and "sent: **11**" in str(notify_artifact.data)
    launch_artifact = Artifact.get("launch-2014")
    assert launch_artifact is not None

    from services.errors import BadInput

    with pytest.raises(BadInput):
        launch_year_flow(db_url=db.url, year=2014, plan_text="year = 2014\n", now="2014-11-25")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_deployments_register_on_a_real_prefect_server_and_a_sweep_run_completes(tmp_path: Path) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    db = imported_db(tmp_path)
    from services.years import start_year

    start_year(db, plan_text=SAMPLE_PLAN, year=2014, now=parse_when("2014-11-25"))
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update({"PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1", "PREFECT_UI_ENABLED": "false", "SHUZHI_DB": db.url, "PWD": str(ROOT),
                "PYTHONPATH": str(ROOT)})
    prefect = str(Path(sys.executable).with_name("prefect"))
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the Prefect server did not become healthy: " + (tmp_path / "server.log").read_text()[-2000:])
        client_env = {**env, "PREFECT_API_URL": api}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([prefect, "--no-prompt", *args], env=client_env, cwd=ROOT, capture_output=True,
                                  text=True, timeout=180, check=False)

        created = run("work-pool", "create", "shuzhi", "--type", "process")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = run("deploy", "--all", "--prefect-file", "deploy/prefect.yaml")
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        names = {d["name"] for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()}
        assert names == {"launch-year", "check-deadlines", "send-notifications", "compute-results"}
        schedules = {
            d["name"]: [s["schedule"] for s in d["schedules"]]
            for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
        }
        assert schedules["check-deadlines"][0]["cron"] == "0 8 * * *"
        assert schedules["check-deadlines"][0]["timezone"] == "Asia/Shanghai"
        assert schedules["send-notifications"][0]["interval"] == 60

        code = ("import json; from flows.check_deadlines import check_deadlines_flow; "
                f"print(json.dumps(check_deadlines_flow(db_url={db.url!r}, now='2014-12-09')))")
        flow_run = subprocess.run([sys.executable, "-c", code], env=client_env, cwd=ROOT, capture_output=True, text=True,
                                  timeout=180, check=False)
        assert flow_run.returncode == 0, flow_run.stderr[-3000:]
        assert json.loads(flow_run.stdout.strip().splitlines()[-1])["queued"] == 11
        runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=10).json()
        ad_hoc = [r for r in runs if r["deployment_id"] is None]
        assert [r["state_type"] for r in ad_hoc] == ["COMPLETED"]
        assert {r["state_type"] for r in runs if r["deployment_id"]} <= {"SCHEDULED"}  # the schedules are live
        artifacts = httpx.post(f"{api}/artifacts/filter", json={}, timeout=10).json()
        assert any(a["key"] == "deadline-sweep" for a in artifacts)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
