"""Mode 2 on one machine, for the end-to-end test and bench/bench_prefect.py: a real Prefect server (SQLite, or
PostgreSQL with pg_trgm), the process work pool `shuzhi`, workers as separate processes, the deployments of
deploy/prefect.yaml; and a way to lose a worker's machine (kill -9 of the worker and every process under it)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.common import compiled_env
from storage.db import Database

ROOT = Path(__file__).resolve().parents[2]
PREFECT = Path(sys.executable).with_name("prefect")
WORKER_UNIT = ROOT / "deploy" / "systemd" / "prefect-worker.service"


def worker_unit_args() -> list[str]:
    """The arguments the shipped worker unit gives `prefect` (its ExecStart= without the program): the test's
    workers run as an operator's do."""
    lines = [line for line in WORKER_UNIT.read_text(encoding="utf-8").splitlines() if line.startswith("ExecStart=")]
    assert len(lines) == 1, f"{WORKER_UNIT.name}: one ExecStart= expected"
    program, *args = shlex.split(lines[0].removeprefix("ExecStart="))
    assert Path(program).name == "prefect", f"{WORKER_UNIT.name} starts {program}, not prefect"
    return args


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(what: str, predicate: Callable[[], Any], timeout: float, logs: Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"timed out waiting for {what}\n{logs()}")


def descendants(pid: int) -> list[int]:
    """Every process under `pid` (walking /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Mode2:
    """The server, the pool, the workers: everything a test started, stopped at the end.

    Every process runs byte-compiled as after a `pip install` (`base_env`, default: this process's environment
    with bytecode cached under `tmp`): otherwise the server, each worker and each flow-run process compile Prefect
    from source."""

    def __init__(self, tmp: Path, db: Database, prefect_db: str | None, *,
                 base_env: Mapping[str, str] | None = None) -> None:
        self.tmp = tmp
        self.db = db
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        base = compiled_env(tmp / "pycache", ahead=False) if base_env is None else base_env
        self.env = {k: v for k, v in base.items() if not k.startswith(("PREFECT_", "SHUZHI_"))}
        self.env.update({
            "PREFECT_HOME": str(tmp / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
            "PREFECT_UI_ENABLED": "false", "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",  # no live schedules
            "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false", "PYTHONPATH": str(ROOT), "PWD": str(ROOT),
        })
        if prefect_db:  # Prefect's own database on PostgreSQL (with pg_trgm), as in production
            self.env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = prefect_db
        self.client_env = {**self.env, "PREFECT_API_URL": self.api}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.tmp.glob("*.log")))

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = (self.tmp / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)

    def start_server(self) -> None:
        self.start("server", [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)], self.env)
        self.wait("a healthy Prefect server", lambda: httpx.get(f"{self.api}/health", timeout=2).status_code == 200, 150)

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(PREFECT), "--no-prompt", *args], env=self.client_env, cwd=ROOT, capture_output=True,
                              text=True, timeout=180, check=False)
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def start_worker(self, name: str, *, limit: int | None = None) -> None:
        env = {**self.client_env, "SHUZHI_DB": self.db.url, "SHUZHI_SINK_DIR": str(self.tmp / "sink"),
               "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30", "PREFECT_WORKER_QUERY_SECONDS": "1",
               "PREFECT_WORKER_PREFETCH_SECONDS": "1"}
        # the unit's arguments (--limit 2: the launch and one batch on the first worker, the other batches on the
        # second); `limit` overrides its --limit (the bench)
        args = worker_unit_args()
        if limit is not None:
            args[args.index("--limit") + 1] = str(limit)
        self.start(name, [str(PREFECT), *args, "--name", name], env)

    def kill_machine(self, name: str) -> None:
        """kill -9 the worker and every process under it, as a machine that loses power."""
        worker = self.processes[name]
        for pid in [worker.pid, *descendants(worker.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        worker.wait(timeout=10)

    def stop_all(self) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                for pid in descendants(process.pid):
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()

    def wait(self, what: str, predicate: Callable[[], Any], timeout: float) -> Any:
        return wait_until(what, predicate, timeout, self.logs)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call; a 503 (Prefect's SQLite database locked under a burst) is tried again, as Prefect's own
        client does."""
        for attempt in range(10):
            response = httpx.request(method, f"{self.api}{path}", json=body, timeout=20)
            if response.status_code != 503:
                break
            time.sleep(0.5 * (attempt + 1))
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, body)

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def run(self, deployment: str, parameters: dict[str, Any]) -> str:
        found = self.get(f"/deployments/name/{deployment}")
        return str(self.post(f"/deployments/{found['id']}/create_flow_run", {"parameters": parameters})["id"])

    def state(self, run_id: str) -> str:
        return str(self.get(f"/flow_runs/{run_id}")["state_type"])

    def finished(self, *run_ids: str, timeout: float) -> None:
        def done() -> bool:
            states = [self.state(r) for r in run_ids]
            assert not {"FAILED", "CANCELLED"} & set(states), f"{states}\n{self.logs()}"
            return all(s == "COMPLETED" for s in states)

        self.wait(f"runs {run_ids} to complete", done, timeout)

    def flow_runs(self, deployment: str | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"limit": 200}
        if deployment:
            found = self.get(f"/deployments/name/{deployment}")
            body["deployments"] = {"id": {"any_": [found["id"]]}}
        return list(self.post("/flow_runs/filter", body))

    def worker_of(self) -> dict[str, str]:
        """flow run id → the worker that started it last (the label a worker gives the runs it takes)."""
        return {r["id"]: r["labels"]["prefect.worker.name"] for r in self.flow_runs()
                if "prefect.worker.name" in (r.get("labels") or {})}


@contextmanager
def databases(tmp: Path, pg_url: str | None) -> Iterator[tuple[str, str | None]]:
    """Shuzhi's and Prefect's databases: on PostgreSQL (two throw-away databases, named SHUZHI_E2E_DB_PREFIX
    (default `e2e_`) + shuzhi/prefect + a random suffix) when SHUZHI_TEST_PG is set, else a SQLite file for Shuzhi
    and Prefect's default SQLite."""
    if not pg_url:
        yield f"sqlite:///{tmp / 'shuzhi.db'}", None
        return
    from storage.db import make_engine

    suffix = uuid.uuid4().hex[:10]
    prefix = os.environ.get("SHUZHI_E2E_DB_PREFIX", "e2e_")  # a shared server: each user's own name space
    names = {"shuzhi": f"{prefix}shuzhi_{suffix}", "prefect": f"{prefix}prefect_{suffix}"}
    admin = make_engine(pg_url, isolation_level="AUTOCOMMIT")
    base = sa.engine.make_url(pg_url)
    try:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        prefect = make_engine(base.set(database=names["prefect"]).render_as_string(hide_password=False))
        with prefect.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        prefect.dispose()
        yield (base.set(database=names["shuzhi"]).render_as_string(hide_password=False),
               base.set(drivername="postgresql+asyncpg", database=names["prefect"]).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
