"""Mode 2 end to end: a real Prefect server, a process work pool, two workers as separate processes, the deployments
of deploy/prefect.yaml and the automations of deploy/automations.yaml.

The launch's batches are shared by both workers; the worker running the launch is killed with its flow-run
processes (a lost machine) while the batches run, and nobody touches anything: the heartbeats stop, the automation
marks the run Crashed, the other puts it back in the queue, the surviving worker finishes it. Every cycle exists
once; then the sweep, two overlapping dispatch runs and the results run as deployments, each effect once, and no
flow run's parameters hold a credential."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.clock import parse_when
from storage.db import Database
from storage.tables.core import cycles, meetings, years
from storage.tables.notify import outbox
from tests.conftest import PG_URL, SAMPLE_PLAN
from tests.flows.mode2 import PREFECT, ROOT, Mode2, databases

CITIES, TOWNS, VILLAGES = 4, 2, 3  # 4 subtrees → 4 launch batches
PLAN = SAMPLE_PLAN.replace('[meetings.by_organizer]\nT02 = "2014-12-27"\n', "")
CREDENTIAL = re.compile(r"://[^/\s:@]+:[^@\s]+@|password|secret", re.IGNORECASE)

pytestmark = pytest.mark.slow


def _tree_csv() -> str:
    lines = ["code,name,kind,parent,secretary,phone,email", "P,地委,prefecture,,地委书记,13900000000,p@example.cn"]
    phone = 13900001000
    for c in range(CITIES):
        city = f"C{c}"
        lines.append(f"{city},市委{c},city,P,书记{city},{phone},{city.lower()}@example.cn")
        phone += 1
        for t in range(TOWNS):
            town = f"{city}T{t}"
            lines.append(f"{town},镇党委{town},town,{city},书记{town},{phone},")
            phone += 1
            for v in range(VILLAGES):
                village = f"{town}V{v}"
                lines.append(f"{village},村支部{village},village,{town},书记{village},{phone},")
                phone += 1
    return "\n".join(lines) + "\n"


ASSESSED = CITIES * (1 + TOWNS * (1 + VILLAGES))


@pytest.fixture
def mode2(tmp_path: Path) -> Iterator[Mode2]:
    if not PREFECT.exists():
        pytest.skip(f"no prefect executable next to {sys.executable}")
    from services.orgs import import_orgs

    with databases(tmp_path, PG_URL) as (shuzhi_url, prefect_url):
        db = Database(shuzhi_url)
        db.upgrade()
        (tmp_path / "orgs.csv").write_text(_tree_csv(), encoding="utf-8")
        import_orgs(db, tmp_path / "orgs.csv", now=parse_when("2014-11-20"))
        setup = Mode2(tmp_path, db, prefect_url)
        try:
            setup.start_server()
            yield setup
        finally:
            setup.stop_all()
            db.dispose()


def test_mode2_shares_the_work_survives_a_lost_worker_and_keeps_secrets_out(mode2: Mode2) -> None:
    mode2.cli("work-pool", "create", "shuzhi", "--type", "process")
    mode2.cli("deploy", "--all", "--prefect-file", "deploy/prefect.yaml")
    deployments = {d["name"]: d for d in mode2.post("/deployments/filter", {})}
    assert set(deployments) == {"launch-year", "launch-batch", "check-deadlines", "send-notifications", "compute-results"}
    assert deployments["check-deadlines"]["schedules"][0]["schedule"]["cron"] == "0 8 * * *"
    assert deployments["launch-year"]["global_concurrency_limit"]["limit"] == 1
    assert deployments["send-notifications"]["global_concurrency_limit"]["limit"] == 2
    # the shipped automations, one quicker: a silent run is a zombie after 45 s instead of 90 (heartbeats every
    # 30 s); a run taken but never started is re-queued after the shipped 120 s
    shorter = {"shuzhi-crash-zombie-runs": {"within": 45}}
    installed = subprocess.run(
        [sys.executable, "-c", "from pathlib import Path; from flows.automations import install; "
                               f"print(install(Path('deploy/automations.yaml'), overrides={shorter!r}))"],
        env=mode2.client_env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert installed.returncode == 0, installed.stderr[-3000:]
    mode2.start_worker("w1")
    mode2.start_worker("w2")

    launch = mode2.run("launch-year/launch-year", {"year": 2014, "plan_text": PLAN, "now": "2014-11-25T09:00+08:00",
                                                   "batches": 4})

    def both_workers_took_work() -> str | None:
        owner = mode2.worker_of()
        batches = {r["id"] for r in mode2.flow_runs("launch-batch/launch-batch")}
        if launch in owner and {owner[b] for b in batches if b in owner} == {"w1", "w2"}:
            return owner[launch]
        return None

    launcher = mode2.wait("batches on both workers", both_workers_took_work, 300)
    mode2.kill_machine(launcher)  # the launch's machine is lost mid-launch; nobody does anything after this

    mode2.finished(launch, timeout=400)
    run = mode2.get(f"/flow_runs/{launch}")
    assert run["run_count"] >= 2  # the same flow run, re-queued after the crash and finished by the survivor
    survivor = "w2" if launcher == "w1" else "w1"
    assert mode2.worker_of()[launch] == survivor
    batch_runs = mode2.flow_runs("launch-batch/launch-batch")
    assert len(batch_runs) == 3 and {r["state_type"] for r in batch_runs} == {"COMPLETED"}  # the 4th: in the launch

    with mode2.db.connect() as conn:
        per_org = conn.execute(sa.select(cycles.c.org_id, cycles.c.kind, sa.func.count()).group_by(cycles.c.org_id, cycles.c.kind)).all()
        assert len(per_org) == 2 * ASSESSED and {n for *_, n in per_org} == {1}
        assert conn.execute(sa.select(sa.func.count()).select_from(years)).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(meetings)).scalar_one() == 1 + CITIES + CITIES * TOWNS

    # the rest of a season as deployments, on the surviving worker
    sweep = mode2.run("check-deadlines/check-deadlines", {"now": "2014-12-09T08:00+08:00"})
    mode2.finished(sweep, timeout=200)
    with mode2.db.connect() as conn:
        queued = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
    assert queued > 0
    dispatches = [mode2.run("send-notifications/send-notifications", {"now": "2014-12-09T10:00+08:00"}) for _ in range(2)]
    results = mode2.run("compute-results/compute-results", {"year": 2014, "now": "2014-12-31T12:00+08:00"})
    mode2.finished(*dispatches, results, timeout=300)
    with mode2.db.connect() as conn:
        statuses = dict(conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)).all())
        assert statuses == {"sent": queued}
        providers = conn.execute(sa.select(outbox.c.provider_ref).where(outbox.c.provider_ref.is_not(None))).scalars().all()
    sink = list((mode2.tmp / "sink").iterdir())
    assert len(sink) == len(set(providers))  # one delivery per file, none twice

    artifacts = {a["key"]: a for a in mode2.post("/artifacts/filter", {}) if a.get("key")}
    assert {"launch-2014", "deadline-sweep", "notifications", "results-2014"} <= set(artifacts)
    assert all(len(str(a["data"]).encode()) <= 64 * 1024 for a in artifacts.values())

    for flow_run in mode2.flow_runs():
        text = repr(flow_run["parameters"])
        assert mode2.db.url not in text and not CREDENTIAL.search(text), flow_run["parameters"]
