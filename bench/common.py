"""What every benchmark module shares: the context it is handed and the row it reports.

`bench/run.py` builds a national-scale database (one on SQLite, one on PostgreSQL where
SHUZHI_BENCH_PG or SHUZHI_TEST_PG is set), launches a year on it, then calls `run(ctx)` of every
`bench/bench_*.py` module and writes `bench/results.md`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUR_PACKAGES = ("bench", "flows", "notifications", "services", "shuzhi_cli", "states", "storage", "web")


@dataclass
class BenchContext:
    work_dir: Path  # a scratch folder for files a benchmark writes
    sqlite_url: str  # the national-scale SQLite database, year `year` launched
    pg_url: str | None  # the same on PostgreSQL, or None when no server is configured
    year: int = 2014
    scale: float = 1.0  # 1.0 = national scale (~40,000 towns, ~600,000 villages); smaller for a quick run
    today: str = "2014-12-10"  # a date inside the season, for lagging queries and sweeps
    notes: list[str] = field(default_factory=list)

    @property
    def urls(self) -> list[tuple[str, str]]:
        out = [("sqlite", self.sqlite_url)]
        if self.pg_url:
            out.append(("postgresql", self.pg_url))
        return out


@dataclass
class BenchRow:
    name: str  # what is measured, e.g. "cascade 640k cycles"
    backend: str  # sqlite | postgresql | -
    ours: float  # seconds (or per-op seconds) for our code
    raw: float  # seconds for the raw baseline doing the same work
    target: str  # e.g. "≥ 0.5× raw rate" or "≤ 2× raw time"
    ok: bool  # whether the target is met
    unit: str = "s"
    extra: str = ""  # peak memory, counts, …

    @property
    def ratio(self) -> float:
        """raw time / our time: 1.0 is as fast as raw, 0.5 is half the raw rate."""
        return self.raw / self.ours if self.ours else float("inf")


@contextmanager
def timed() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def best_of(runs: int, fn: Callable[[], object]) -> float:
    """Best wall time of `runs` calls (noise on a shared 2-core machine only ever adds time)."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def compiled_env(cache: Path, env: Mapping[str, str] | None = None, *, ahead: bool = True) -> dict[str, str]:
    """`env` (default: this process's) as for an installed package: Python reads and writes bytecode.

    Without it (PYTHONDONTWRITEBYTECODE=1 and a virtualenv installed without bytecode, e.g. by uv) every process
    compiles what it imports from source: ~500 modules and 3-6 s for a `shuzhi` command, thousands and 10-20 s for
    a process importing Prefect (its server, a worker, each flow run), a cost a `pip install` never pays. The
    bytecode goes to `cache` (PYTHONPYCACHEPREFIX), so neither the virtualenv nor the sources are written to.
    `ahead`: compile the virtualenv and our packages now (a timed process must not pay it); otherwise each module
    is compiled once, by the first process that imports it."""
    import site

    compiled = {key: value for key, value in (os.environ if env is None else env).items()
                if key != "PYTHONDONTWRITEBYTECODE"}
    compiled["PYTHONPYCACHEPREFIX"] = str(cache)
    if ahead:
        folders = [*site.getsitepackages(), *(str(ROOT / name) for name in OUR_PACKAGES)]
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *folders], env=compiled, cwd=ROOT,
                       capture_output=True, check=False)  # a file that does not compile is reported when imported
    return compiled


def settle_outbox(url: str) -> None:
    """PostgreSQL: what autovacuum and the checkpointer do between two mornings, done before a timed dispatch: the
    outbox and the SMS ledger vacuumed and analysed after the bench's own bulk writes (setting the rest of the queue
    aside, queuing again, clearing the previous run), which no user's morning inherits, and their writes flushed,
    not left to a checkpoint inside the timed run. Measured without it: earlier runs' dead slots visited by every
    per-phone count (29 per phone after a few runs), and the sweep's ~1 GB of WAL checkpointed during the first
    dispatch (4,182 msg/s, then 10,447 right after in the same run). SQLite: nothing."""
    if url.startswith("sqlite"):
        return
    from storage.db import make_engine

    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE outbox")
            conn.exec_driver_sql("VACUUM ANALYZE sms_slots")
            conn.exec_driver_sql("CHECKPOINT")
    finally:
        engine.dispose()
