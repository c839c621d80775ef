"""`make load`: the console under load on PostgreSQL with several worker processes (issue 11 item 5).

Builds (or reuses) a national-scale database `shuzhi_bench_load` (SHUZHI_BENCH_SCALE, default 1.0: 671,130
organizations, 1,341,600 cycles), starts `uvicorn --factory web.asgi:create --workers W` on a free loopback port,
runs locust headless (SHUZHI_LOAD_USERS=500 users, SHUZHI_LOAD_SECONDS=120, spawn rate 25/s) and appends
p50/p95/p99 and errors per request type to bench/results.md. Not part of `make test`.

Environment: SHUZHI_BENCH_PG (or SHUZHI_TEST_PG) — the PostgreSQL server; SHUZHI_LOAD_WORKERS (default: cores);
SHUZHI_LOAD_REBUILD=1 to rebuild the database; SHUZHI_LOAD_DATABASE to use another one (the national
database `make bench` leaves, `shuzhi_bench_cli`, saves the build); SHUZHI_LOAD_MIX, SHUZHI_LOAD_WAIT as in bench/load.py.
"""

from __future__ import annotations

import csv
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.common import compiled_env
from bench.national import PLAN, load_tree, tree_shape
from services.clock import parse_when
from storage.db import Database, make_engine, normalize_url

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
BIN = Path(sys.executable).parent
NOW = "2014-12-12T10:00:00+08:00"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database(server: str, scale: float, rebuild: bool) -> str:
    name = os.environ.get("SHUZHI_LOAD_DATABASE", "shuzhi_bench_load")  # e.g. shuzhi_bench_cli after `make bench`
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"SHUZHI_LOAD_DATABASE: '{name}' is not a plain database name")
    url = sa.engine.make_url(normalize_url(server))
    admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    target = url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists and rebuild:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    db = Database(target)
    with db.connect() as conn:
        has_year = conn.execute(sa.text(
            "SELECT to_regclass('years') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_class WHERE relname = 'years')")).scalar()
        launched = has_year and conn.execute(sa.text("SELECT count(*) FROM years")).scalar()
    if not launched:
        from services.years import start_year

        db.upgrade()
        started = time.perf_counter()
        count = load_tree(db, scale, now=parse_when("2014-11-20"))
        result = start_year(db, plan_text=PLAN, year=2014, now=parse_when("2014-11-20"))
        print(f"built {count:,} organizations, {result.created:,} cycles in {time.perf_counter() - started:.0f}s",
              flush=True)
    db.dispose()
    return target


def _accounts(env: dict[str, str], url: str, units: list[str]) -> tuple[str, list[str]]:
    """The viewer and the office account (and the office's API token), and a secretary account for each of `units`
    (their "我的待办"), made once: 500 sign-ins would measure argon2 and the sign-in rate limit, not the console."""
    from services.accounts import create_user
    from services.errors import Conflict

    shuzhi = str(BIN / "shuzhi")
    for name, role in (("load-viewer", "viewer"), ("load-office", "org_department")):
        subprocess.run([shuzhi, "users", "add", name, "--role", role, "--password-stdin"], env=env, cwd=ROOT,
                       input="load-password-1\n", capture_output=True, text=True, check=False)
    token = subprocess.run([shuzhi, "users", "token", "load-office"], env=env, cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.strip().split()[-1]
    db = Database(url)
    secretaries = []
    for unit in units:
        name = f"load-sec-{unit}"
        try:
            create_user(db, name, "secretary", "load-password-1", scope=unit)
        except Conflict:
            pass
        secretaries.append(name)
    db.dispose()
    return token, secretaries


def _sign_in(client: httpx.Client, name: str) -> str:
    """The session cookie ("name=value") of `name`, signed in through the login form as a user does."""
    client.cookies.clear()
    page = client.get("/login").text
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/login", data={"name": name, "password": "load-password-1", "csrf_token": csrf})
    if answer.status_code >= 400:
        raise SystemExit(f"sign-in of {name} refused: {answer.status_code}")
    return next(f"{c.name}={c.value}" for c in client.cookies.jar)


def _sample(url: str) -> tuple[list[str], list[str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        towns = conn.execute(sa.text("SELECT code FROM orgs WHERE kind = 'town' ORDER BY random() LIMIT 200")).scalars().all()
        villages = conn.execute(sa.text(
            "SELECT o.code FROM orgs o JOIN cycles c ON c.org_id = o.id AND c.kind = 'upward' AND c.year = 2014 "
            "WHERE o.kind = 'village' AND c.state = 'researching' ORDER BY random() LIMIT 4000")).scalars().all()
    engine.dispose()
    return list(towns), list(villages)


def main() -> int:
    server = os.environ.get("SHUZHI_BENCH_PG") or os.environ.get("SHUZHI_TEST_PG")
    if not server:
        print("make load needs SHUZHI_BENCH_PG (a PostgreSQL server URL)")
        return 2
    scale = float(os.environ.get("SHUZHI_BENCH_SCALE", "1.0"))
    users = int(os.environ.get("SHUZHI_LOAD_USERS", "500"))
    seconds = int(os.environ.get("SHUZHI_LOAD_SECONDS", "120"))
    workers = int(os.environ.get("SHUZHI_LOAD_WORKERS", str(os.cpu_count() or 2)))
    OUT.mkdir(parents=True, exist_ok=True)
    url = _database(server, scale, os.environ.get("SHUZHI_LOAD_REBUILD") == "1")
    # byte-compiled, as after a pip install (this environment may set PYTHONDONTWRITEBYTECODE: each worker then
    # compiled every module it imported from source during the measured minutes)
    env = {**compiled_env(OUT / "pycache"), "SHUZHI_DB": url, "SHUZHI_NOW": NOW,
           "SHUZHI_SECRET_KEY": secrets.token_hex(32), "SHUZHI_ENV": "production", "PYTHONPATH": str(ROOT)}
    towns, villages = _sample(url)
    # 20 secretaries (20 sign-ins stay under the per-client sign-in limit of each worker) of villages whose cycle pages
    # are read, not fired on
    token, secretaries = _accounts(env, url, villages[:20])
    port = _free_port()
    web = subprocess.Popen([str(BIN / "uvicorn"), "--factory", "web.asgi:create", "--host", "127.0.0.1",
                            "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
                           env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            for _ in range(900):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            secretary_cookies = [_sign_in(client, name) for name in secretaries]
            client.cookies.clear()
            cookie = _sign_in(client, "load-viewer")
            # warm every worker as a server in service is warm: its lazy imports done, its templates compiled,
            # its pool filled; a fresh connection per request lands on either worker
            for _ in range(10 * workers):
                with httpx.Client(base_url=base, timeout=60, cookies={c.name: c.value for c in client.cookies.jar}) as one:
                    one.get("/overview?year=2014")
                    one.get(f"/tree?year=2014&code={towns[0]}")
                    one.get(f"/cycles/2014/{villages[-1]}")
        mix = os.environ.get("SHUZHI_LOAD_MIX", "overview=3,tree=3,cycle=3,my=2,fire=1")
        load_env = {**env, "SHUZHI_LOAD_COOKIE": cookie, "SHUZHI_LOAD_TOKEN": token, "SHUZHI_LOAD_MIX": mix,
                    "SHUZHI_LOAD_SECRETARY_COOKIES": ",".join(secretary_cookies),
                    "SHUZHI_LOAD_TOWNS": ",".join(towns), "SHUZHI_LOAD_VILLAGES": ",".join(villages)}
        prefix = OUT / "load"
        subprocess.run([str(BIN / "locust"), "-f", str(ROOT / "bench" / "load.py"), "--headless", "-u", str(users),
                        "-r", "25", "-t", f"{seconds}s", "--host", base, "--csv", str(prefix), "--only-summary",
                        "--stop-timeout", "10"], env=load_env, cwd=ROOT, check=False)
    finally:
        web.terminate()
        web.wait(timeout=60)
    return _report(prefix, users=users, seconds=seconds, workers=workers, scale=scale, mix=mix)


def _report(prefix: Path, *, users: int, seconds: int, workers: int, scale: float, mix: str) -> int:
    with (prefix.parent / (prefix.name + "_stats.csv")).open(encoding="utf-8") as handle:
        stats = list(csv.DictReader(handle))
    shape = tree_shape(scale)
    organizations = sum(shape.values())
    lines = [
        "",
        f"## Console under load ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"`make load`: PostgreSQL, {organizations:,} organizations ({2 * (organizations - shape['prefectures']):,} "
        f"cycles), `uvicorn --factory web.asgi:create --workers {workers}`, locust headless on loopback, {users} users "
        f"for {seconds}s, each waiting {os.environ.get('SHUZHI_LOAD_WAIT', '5,15')} s between requests"
        f"; mix {mix} (\"我的待办\" /my as one of 20 signed-in secretaries). Target: p95 < 300 ms, 0 errors.",
        "",
        "| request | count | errors | p50 (ms) | p95 (ms) | p99 (ms) | req/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    ok = True
    for row in stats:
        lines.append(f"| {row['Name']} | {row['Request Count']} | {row['Failure Count']} | {row['50%']} | {row['95%']} | "
                     f"{row['99%']} | {float(row['Requests/s']):.1f} |")
        if row["Name"] == "Aggregated":
            ok = int(row["Failure Count"]) == 0 and float(row["95%"]) < 300
    lines.append("")
    lines.append(f"Target met: {'yes' if ok else '**no**'}.")
    text = "\n".join(lines) + "\n"
    print(text)
    with (ROOT / "bench" / "results.md").open("a", encoding="utf-8") as handle:
        handle.write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
