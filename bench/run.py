"""`make bench`: build national-scale databases, run every bench/bench_*.py, print ratios, write bench/results.md.

Environment: SHUZHI_BENCH_SCALE (default 1.0 = ~40,000 towns and ~600,000 villages; 0.05 for a quick look),
SHUZHI_BENCH_PG (or SHUZHI_TEST_PG) — a PostgreSQL server URL; a database `shuzhi_bench` is (re)created on it
(SHUZHI_BENCH_DBNAME names another, so two benches can share a server).
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import sqlalchemy as sa

from bench.common import BenchContext, BenchRow
from bench.national import load_tree, tree_shape
from services.clock import parse_when
from storage.db import Database, make_engine, normalize_url

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
MODULES = ["bench_core", "bench_notify", "bench_web", "bench_report", "bench_accounts", "bench_participant", "bench_operator",
           "bench_cli"]
SELF_CONTAINED = {"bench_cli"}  # builds its own databases through the CLI: no bulk-loaded tree needed


def _fresh_pg(url: str) -> str:
    name = os.environ.get("SHUZHI_BENCH_DBNAME") or "shuzhi_bench"
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"SHUZHI_BENCH_DBNAME: letters, digits and _ only (got {name!r})")
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return sa.engine.make_url(normalize_url(url)).set(database=name).render_as_string(hide_password=False)


def prepare(scale: float, *, load: bool = True) -> BenchContext:
    OUT.mkdir(parents=True, exist_ok=True)
    sqlite_path = OUT / "national.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(sqlite_path) + suffix).unlink(missing_ok=True)
    sqlite_url = f"sqlite:///{sqlite_path}"
    pg_server = os.environ.get("SHUZHI_BENCH_PG") or os.environ.get("SHUZHI_TEST_PG")
    pg_url = _fresh_pg(pg_server) if pg_server else None
    ctx = BenchContext(work_dir=OUT, sqlite_url=sqlite_url, pg_url=pg_url, scale=scale)
    now = parse_when("2014-11-20")
    for backend, url in ctx.urls if load else []:
        db = Database(url)
        db.upgrade()
        start = time.perf_counter()
        count = load_tree(db, scale, now=now)
        print(f"[{backend}] generated {count:,} organizations in {time.perf_counter() - start:.1f}s", flush=True)
        db.dispose()
    return ctx


def render(rows: list[BenchRow], ctx: BenchContext, seconds: float) -> str:
    shape = tree_shape(ctx.scale)
    lines = [
        "# Benchmark results",
        "",
        f"Scale {ctx.scale} ({', '.join(f'{v:,} {k}' for k, v in shape.items())}); "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores; "
        f"run took {seconds:.0f}s. Ratio = raw time / our time (1.0 = as fast as the raw baseline).",
        "",
        "| benchmark | backend | ours (s) | raw (s) | ratio | target | met | notes |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.name} | {r.backend} | {r.ours:.4f} | {r.raw:.4f} | {r.ratio:.2f} | {r.target} | "
                     f"{'yes' if r.ok else '**no**'} | {r.extra} |")
    lines += ["", *[f"- {n}" for n in ctx.notes]]
    return "\n".join(lines) + "\n"


def main() -> int:
    scale = float(os.environ.get("SHUZHI_BENCH_SCALE", "1.0"))
    only = sys.argv[1:] or MODULES
    start = time.perf_counter()
    ctx = prepare(scale, load=not set(only) <= SELF_CONTAINED)
    rows: list[BenchRow] = []
    failed = False
    for name in only:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError:
            ctx.notes.append(f"{name}: not present")
            continue
        print(f"running {name} …", flush=True)
        try:
            produced = module.run(ctx)
        except Exception:
            failed = True
            ctx.notes.append(f"{name}: failed — see the console output")
            traceback.print_exc()
            continue
        for row in produced:
            print(f"  {row.name:55} {row.backend:10} ours {row.ours:9.4f}s raw {row.raw:9.4f}s ratio {row.ratio:6.2f} "
                  f"{'ok ' if row.ok else 'MISS'} {row.extra}", flush=True)
        rows.extend(produced)
    report = render(rows, ctx, time.perf_counter() - start)
    results = ROOT / "bench" / "results.md"
    if set(only) == set(MODULES) or not results.exists():
        results.write_text(report, encoding="utf-8")
    else:  # a partial run adds its own section: the last full run's table stays
        section = report.replace("# Benchmark results", f"## {', '.join(only)} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", 1)
        with results.open("a", encoding="utf-8") as handle:
            handle.write("\n" + section)
    print()
    print(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
