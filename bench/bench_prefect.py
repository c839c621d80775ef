"""`make bench-prefect` (`python -m bench.bench_prefect`): the launch through Prefect with two workers against the
plain CLI on an equal fresh database, and the time from a worker's death to the launch's recovery.

Both sides are what an operator types: `shuzhi year start YEAR --plan FILE --direct` (plain) and
`shuzhi year start YEAR --plan FILE` with PREFECT_API_URL set (the `launch-year` deployment, its batches on two
process workers). Then a second launch (next year) on the same tree, and the machine of the worker running it is
lost (kill -9 of the worker and everything under it): death → the run re-queued and running again → completed,
with the shipped automations (heartbeats every 30 s, zombie after 90 s).

Between them, a launch of the next year forced into 2 batches (the launch's run does one, a `launch-batch` run on
a worker the other), timed from its creation to its end. The report splits each Prefect launch with Prefect's
own timestamps — the worker's poll (Scheduled → Pending), the flow-run process's start (Pending → Running: the
interpreter, Prefect's engine, the flow's module), the time before each task and each task, the end — and the
`shuzhi` process's own time before the run was created and after it ended; with the load average next to the
figures (the machine may be shared).

Every process it starts (the CLI, Prefect's server, the workers and so each flow run) runs byte-compiled, as after
a `pip install` (`bench.common.compiled_env`): in an environment with PYTHONDONTWRITEBYTECODE and a virtualenv
without bytecode each of them would first compile Prefect from source, 10-20 s that no installation pays.

Environment: SHUZHI_BENCH_SCALE (default 0.1; 1.0 = the national tree, ~671,000 organizations),
SHUZHI_BENCH_PG or SHUZHI_TEST_PG (Shuzhi's and Prefect's databases on that PostgreSQL server; else SQLite),
SHUZHI_E2E_DB_PREFIX (the prefix of those throw-away databases' names, default `e2e_`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import compiled_env
from bench.national import PLAN, load_tree
from services.clock import parse_when
from storage.db import Database
from tests.flows.mode2 import ROOT, Mode2, databases

OUT = ROOT / "bench" / "out"
SHUZHI = Path(sys.executable).with_name("shuzhi")
BATCHES = 3  # one in the launch's own run, one flow run per worker
LAUNCH_TASKS = {"count-organizations", "launch-whole-tree", "prepare-launch", "launch-subtrees", "finalize-launch"}


def _tree(url: str, scale: float) -> Database:
    db = Database(url)
    db.upgrade()
    load_tree(db, scale, now=parse_when("2014-11-20"))
    return db


def _timed_cli(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(SHUZHI), *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"shuzhi {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def _plan_of(year: int) -> str:
    return PLAN.replace("2015-", f"{year + 1}-").replace("2014", str(year))


def _seconds(run: dict[str, Any], start: str, end: str, *, later: dict[str, Any] | None = None) -> float:
    """Seconds from `run[start]` to `run[end]` (or to `later[end]`), from Prefect's timestamps."""
    other = run if later is None else later
    if not run.get(start) or not other.get(end):
        return float("nan")
    return (datetime.fromisoformat(other[end]) - datetime.fromisoformat(run[start])).total_seconds()


def _state_times(mode2: Mode2, run_id: str) -> dict[str, str]:
    """The first time the run entered each state type (SCHEDULED, PENDING, RUNNING, …), from its state history."""
    found: dict[str, str] = {}
    for state in sorted(mode2.get(f"/flow_run_states/?flow_run_id={run_id}"), key=lambda s: s["timestamp"]):
        found.setdefault(state["type"], state["timestamp"])
    return found


def _task_runs(mode2: Mode2, run_id: str) -> list[dict[str, Any]]:
    """The launch's own task runs (not the placeholders `run_deployment` adds for its batch runs), by start."""
    runs = mode2.post("/task_runs/filter", {"flow_runs": {"id": {"any_": [run_id]}}, "limit": 200})
    return sorted((r for r in runs if r.get("start_time") and r["name"].rsplit("-", 1)[0] in LAUNCH_TASKS),
                  key=lambda r: r["start_time"])


def _phases(mode2: Mode2, run: dict[str, Any]) -> str:
    """One flow run's time by phase, from Prefect's timestamps: created → taken by a worker (its poll) → running
    (the flow-run process started and imported Prefect) → each task → ended."""
    states = _state_times(mode2, run["id"])
    parts = [f"worker poll {_seconds(states, 'SCHEDULED', 'PENDING'):.1f}",
             f"process start {_seconds(states, 'PENDING', 'RUNNING'):.1f}"]
    mark = run["start_time"]
    for task_run in _task_runs(mode2, run["id"]):
        gap = _seconds({"a": mark}, "a", "start_time", later=task_run)
        if gap >= 0.1:
            parts.append(f"between {gap:.1f}")
        parts.append(f"{task_run['name'].rsplit('-', 1)[0]} {_seconds(task_run, 'start_time', 'end_time'):.1f}")
        mark = task_run["end_time"] or mark
    parts.append(f"to the end {_seconds({'a': mark}, 'a', 'end_time', later=run):.1f}")
    return ", ".join(parts)


def _split(mode2: Mode2, launch: dict[str, Any], prefix: str) -> str:
    """The launch run's phases, and its batch runs' (created → started → ended), from Prefect's records."""
    parts = [f"launch run (s): {_phases(mode2, launch)}"]
    for run in sorted(mode2.flow_runs("launch-batch/launch-batch"), key=lambda r: r["name"]):
        if run["name"].startswith(prefix):
            parts.append(f"{run['name']}: created {_seconds(launch, 'start_time', 'created', later=run):.1f} s after the launch "
                         f"started, {_seconds(run, 'created', 'start_time'):.1f} s to start, "
                         f"{_seconds(run, 'start_time', 'end_time'):.1f} s running")
    return "; ".join(parts)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> int:
    scale = float(os.environ.get("SHUZHI_BENCH_SCALE", "0.1"))
    pg = os.environ.get("SHUZHI_BENCH_PG") or os.environ.get("SHUZHI_TEST_PG")
    work = Path(tempfile.mkdtemp(prefix="bench-prefect-"))
    (work / "plain").mkdir()
    plan = work / "plan-2014.toml"
    plan.write_text(PLAN, encoding="utf-8")
    figures: dict[str, Any] = {"scale": scale, "backend": "postgresql" if pg else "sqlite", "load_start": _load()}
    # every process (the CLI, Prefect's server, the workers, the flow runs) byte-compiled, as after a pip install
    compiled = compiled_env(work / "pycache")
    base_env = {k: v for k, v in compiled.items() if not k.startswith(("PREFECT_", "SHUZHI_"))}
    with databases(work / "plain", pg) as (plain_url, _), databases(work, pg) as (prefect_db_url, prefect_url):
        plain_db, db = _tree(plain_url, scale), _tree(prefect_db_url, scale)
        with plain_db.connect() as conn:
            figures["organizations"] = conn.exec_driver_sql("SELECT count(*) FROM orgs").scalar()
        figures["plain_s"] = _timed_cli(["year", "start", "2014", "--plan", str(plan), "--direct"],
                                        {**base_env, "SHUZHI_DB": plain_url})
        mode2 = Mode2(work, db, prefect_url, base_env=compiled)
        try:
            mode2.start_server()
            mode2.cli("work-pool", "create", "shuzhi", "--type", "process")
            mode2.cli("deploy", "--all", "--prefect-file", "deploy/prefect.yaml")
            subprocess.run([sys.executable, "-m", "flows.automations", "deploy/automations.yaml"], env=mode2.client_env,
                           cwd=ROOT, check=True, capture_output=True)
            for name in ("w1", "w2"):
                mode2.start_worker(name)  # as the shipped worker unit starts them (--limit 2)
            time.sleep(10)  # the workers have polled once
            env = {**mode2.client_env, "SHUZHI_DB": prefect_db_url}
            typed = datetime.now(UTC).isoformat()
            figures["prefect_s"] = _timed_cli(["year", "start", "2014", "--plan", str(plan)], env)
            figures["ratio"] = figures["prefect_s"] / figures["plain_s"]
            first = mode2.flow_runs("launch-year/launch-year")[0]
            figures["cli_before_s"] = _seconds({"typed": typed}, "typed", "created", later=first)
            figures["cli_after_s"] = figures["prefect_s"] - _seconds({"typed": typed}, "typed", "end_time", later=first)
            # what the plain launch does too (its SQL); the rest of the command's time is Prefect's fixed cost
            work = sum(_seconds(r, "start_time", "end_time") for r in _task_runs(mode2, first["id"])
                       if r["name"].rsplit("-", 1)[0] in LAUNCH_TASKS - {"count-organizations"})
            figures["fixed_s"] = figures["prefect_s"] - work
            figures["split_2014"] = _split(mode2, first, "launch-2014")
            figures["launch_2014_s"] = _seconds(first, "created", "end_time")

            two = mode2.run("launch-year/launch-year", {"year": 2015, "plan_text": _plan_of(2015),
                                                        "now": "2015-11-25T09:00+08:00", "batches": 2})
            mode2.finished(two, timeout=1800)
            two_run = mode2.get(f"/flow_runs/{two}")
            figures["two_batches_s"] = _seconds(two_run, "created", "end_time")
            figures["split_2015"] = _split(mode2, two_run, "launch-2015")
            figures["workers_used"] = sorted(set(mode2.worker_of().values()))

            launch = mode2.run("launch-year/launch-year", {"year": 2016, "plan_text": _plan_of(2016),
                                                           "now": "2016-11-25T09:00+08:00", "batches": BATCHES})

            def launcher() -> str | None:
                owner = mode2.worker_of()
                batches = [r["id"] for r in mode2.flow_runs("launch-batch/launch-batch") if r["name"].startswith("launch-2016")]
                return owner.get(launch) if batches and launch in owner and mode2.state(launch) == "RUNNING" else None

            victim = mode2.wait("the 2015 launch running with its batches", launcher, 600)
            mode2.kill_machine(victim)
            killed = time.perf_counter()

            def running_again() -> bool:
                run = mode2.get(f"/flow_runs/{launch}")
                return bool(run["run_count"] >= 2 and run["state_type"] in ("RUNNING", "COMPLETED"))

            mode2.wait("the launch running again", running_again, 900)
            figures["death_to_running_s"] = time.perf_counter() - killed
            mode2.finished(launch, timeout=1800)
            figures["death_to_completed_s"] = time.perf_counter() - killed
            figures["load_end"] = _load()
            with db.connect() as conn:
                figures["cycles"] = dict(conn.exec_driver_sql("SELECT year, count(*) FROM cycles GROUP BY year").all())
                figures["duplicates"] = conn.exec_driver_sql(
                    "SELECT count(*) FROM (SELECT year, org_id, kind FROM cycles GROUP BY year, org_id, kind "
                    "HAVING count(*) > 1) d").scalar()
        finally:
            mode2.stop_all()
            plain_db.dispose()
            db.dispose()
    report = "\n".join([
        f"# Launch through Prefect (scale {scale}, {figures['backend']}, {figures['organizations']} organizations)", "",
        f"Load average (1/5/15 min) at the start {figures['load_start']}, at the end {figures['load_end']}.", "",
        "| what | seconds |", "|---|---|",
        f"| plain CLI `shuzhi year start --direct` (2014) | {figures['plain_s']:.1f} |",
        f"| through Prefect, 2 workers, batches sized by the tree (`shuzhi year start` with PREFECT_API_URL, 2014) "
        f"| {figures['prefect_s']:.1f} |",
        f"| ratio Prefect / plain (target ≤ 1.2) | {figures['ratio']:.2f} |",
        f"| the same launch in Prefect's records, created → ended | {figures['launch_2014_s']:.1f} |",
        f"| the `shuzhi` process before the run was created / after it ended | {figures['cli_before_s']:.1f} / "
        f"{figures['cli_after_s']:.1f} |",
        f"| Prefect's fixed cost: the command's time less the launch's own steps (its SQL) | {figures['fixed_s']:.1f} |",
        f"| 2015 forced into 2 batches (one a `launch-batch` run), created → ended | {figures['two_batches_s']:.1f} |",
        f"| 2016 ({BATCHES} batches): worker's machine lost → the launch running again | {figures['death_to_running_s']:.1f} |",
        f"| 2016: worker's machine lost → the launch completed | {figures['death_to_completed_s']:.1f} |", "",
        f"- 2014: {figures['split_2014']}.",
        f"- 2015: {figures['split_2015']}.",
        f"- Workers used: {', '.join(figures['workers_used'])}; cycles per year: {figures['cycles']}, "
        f"duplicated: {figures['duplicates']}.", ""])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "prefect.md").write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
