"""The user's path through the CLI, each command a separate process (start included), on SQLite and PostgreSQL:
`init`, `orgs import` of a generated national CSV, `year start`, `sweep`, `notify send` to the sink and to a local
SMTP server, `cycles list --lagging --under`, and the console's pages fetched over HTTP from `shuzhi web`.

Each figure is set against `bench/raw_cli.py` doing the same work with the bare driver in its own process, in the
same run, on a second database with the same schema. Peak RSS is the child's high-water mark (ru_maxrss of
wait4, the VmHWM of /proc for the web server). Targets (issue 11): import < 30 s, launch ≥ 0.5× raw, sweep ≤ 2×
raw, every command < 1 GB. On PostgreSQL the bench drops and recreates two databases, SHUZHI_BENCH_CLI_DB
(default `shuzhi_bench_cli`) and the same name with `_raw`: set it when another run owns those.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import BenchContext, BenchRow, compiled_env, settle_outbox
from bench.national import PLAN, write_csv
from storage.db import make_engine, normalize_url

ROOT = Path(__file__).resolve().parents[1]
SHUZHI = str(Path(sys.executable).with_name("shuzhi"))
DAY = "2014-12-12"
NOW = "2014-12-12T10:00:00+08:00"  # inside the season, outside quiet hours
# `notify send` to the sink gets this many queued messages (the rest are set aside for the run): one process, then
# two in parallel on the same messages queued again (issue 11: ≥ 5,000 messages/s with one dispatcher, ≥ 1.6× that
# with two). The sink folder is on tmpfs when there is one: the contract is one file per message, and this disk's
# file creation rate varies several-fold between runs (bench_notify's on-disk rows measure it).
SINK_MESSAGES = 100_000
# `notify send` to a local SMTP server: 1,000 e-mails (the figure is mostly the command's start, ~1 s of imports,
# typer and its pydantic coercion, SQLAlchemy, Jinja) and 10,000, the honest measure of dispatch at national volume
# (a national morning queues ~780,000 messages, a province's e-mails run to the tens of thousands): there the
# start is a few per cent and the row measures claim, render, fencing check, send and record per e-mail.
SMTP_MESSAGES = 1_000
SMTP_MESSAGES_STEADY = 10_000
BENCH_PLAN = PLAN + "sms_per_minute = 1000000\nsms_per_phone_per_day = 100\n"
GB = 1024 * 1024 * 1024
# The PostgreSQL databases this bench drops and recreates: NAME and NAME_raw (another run may own the default)
PG_DATABASE = os.environ.get("SHUZHI_BENCH_CLI_DB", "shuzhi_bench_cli")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str], *, stdin: str | None = None) -> tuple[float, int, str]:
    """Wall seconds (process start included), the child's peak RSS in bytes (GNU time's %M: its ru_maxrss), stdout."""
    start = time.perf_counter()
    process = subprocess.run(["/usr/bin/time", "-f", "%M", *args], env=env, cwd=ROOT, input=stdin,
                             capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}… exited {process.returncode}: {process.stderr[-2000:]}")
    peak = int(process.stderr.strip().splitlines()[-1]) * 1024
    return seconds, peak, process.stdout


def _raw(step: str, url: str, *args: str, env: dict[str, str]) -> tuple[float, int]:
    seconds, peak, _ = _run([sys.executable, "-m", "bench.raw_cli", step, url, *args], env)
    return seconds, peak


def _row(name: str, backend: str, ours: tuple[float, int], raw: tuple[float, int], target: str, ok: bool,
         extra: str = "") -> BenchRow:
    note = f"peak RSS {ours[1] / 1e6:.0f} MB (raw {raw[1] / 1e6:.0f} MB)"
    return BenchRow(name, backend, ours[0], raw[0], target, ok and ours[1] < GB, extra=f"{note}; {extra}".strip("; "))


def _fresh_databases(ctx: BenchContext, backend: str) -> tuple[str, str]:
    if backend == "sqlite":
        urls = []
        for name in ("cli.db", "cli-raw.db"):
            path = ctx.work_dir / name
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            urls.append(f"sqlite:///{path}")
        return urls[0], urls[1]
    assert ctx.pg_url
    server = sa.engine.make_url(normalize_url(ctx.pg_url))
    admin = make_engine(server.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in (PG_DATABASE, f"{PG_DATABASE}_raw"):
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    plain = server.set(drivername="postgresql")
    return (plain.set(database=PG_DATABASE).render_as_string(hide_password=False),
            plain.set(database=f"{PG_DATABASE}_raw").render_as_string(hide_password=False))


def _schema_ddl(url: str, out: Path) -> None:
    """The schema `shuzhi init` made, as DDL for the raw init."""
    if url.startswith("sqlite"):
        engine = make_engine(url)
        with engine.connect() as conn:
            ddl = [r[0] for r in conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
        engine.dispose()
        out.write_text(json.dumps(ddl), encoding="utf-8")
    else:
        dumped = subprocess.run(["pg_dump", "--schema-only", "--no-owner", "--no-privileges", url],
                                capture_output=True, text=True, check=True).stdout
        lines = [line for line in dumped.splitlines() if not line.startswith("\\")]
        out.write_text("\n".join(lines), encoding="utf-8")


def _set_aside(url: str, keep_sms_email: tuple[int, int]) -> int:
    """Leave only the first N queued messages queued (the rest marked failed with a note), for a bounded send."""
    engine = make_engine(url)
    with engine.begin() as conn:
        total = conn.exec_driver_sql("SELECT count(*) FROM outbox WHERE status = 'queued'").scalar_one()
        keep = keep_sms_email[0]
        conn.exec_driver_sql(
            "UPDATE outbox SET status = 'failed', last_error = 'bench: set aside' WHERE status = 'queued' AND id NOT IN "
            f"(SELECT id FROM outbox WHERE status = 'queued' ORDER BY id LIMIT {keep})")
    engine.dispose()
    return int(total)


def _requeue_emails(url: str, count: int) -> int:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE outbox SET status = 'queued', attempts = 0, sent_at = NULL, claim_token = NULL, claimed_at = NULL, "
            "next_attempt_at = NULL, last_error = NULL WHERE id IN (SELECT id FROM outbox WHERE channel = 'email' "
            f"AND address <> '' ORDER BY id LIMIT {count})")
        queued = conn.exec_driver_sql("SELECT count(*) FROM outbox WHERE status = 'queued'").scalar_one()
    engine.dispose()
    return int(queued)


class _Smtp:
    """A local SMTP server (aiosmtpd) on a free loopback port, counting messages."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.received = 0
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outer.received += 1
                return "250 OK"

        self.port = _free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> _Smtp:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def _pages(ctx: BenchContext, url: str, env: dict[str, str], town: str, village: str) -> tuple[float, float, int, float]:
    """Start `shuzhi web`, log in, fetch the overview, a town's drill-down and a cycle page: (cold seconds for the
    three, warm seconds for the three, server peak RSS, server start seconds)."""
    import httpx

    port = _free_port()
    server_env = {**env, "SHUZHI_ENV": "development"}
    _run([SHUZHI, "users", "add", "bench", "--role", "viewer", "--password-stdin"], server_env, stdin="bench-password-1\n")
    started = time.perf_counter()
    server = subprocess.Popen([SHUZHI, "web", "--port", str(port)], env=server_env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            for _ in range(600):
                try:
                    if client.get("/login").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            start_seconds = time.perf_counter() - started
            page = client.get("/login").text
            token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            client.post("/login", data={"name": "bench", "password": "bench-password-1", "csrf_token": token})
            paths = ["/overview?year=2014", f"/tree?year=2014&code={town}", f"/cycles/2014/{village}"]
            timings = []
            for _ in range(2):
                begin = time.perf_counter()
                for path in paths:
                    response = client.get(path)
                    if response.status_code != 200:
                        raise RuntimeError(f"GET {path}: {response.status_code}")
                timings.append(time.perf_counter() - begin)
        status = Path(f"/proc/{server.pid}/status").read_text()
        peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) * 1024
    finally:
        server.terminate()
        server.wait(timeout=30)
    return timings[0], timings[1], peak, start_seconds


def _backend(ctx: BenchContext, backend: str, csv_path: Path, rows_in_file: int) -> list[BenchRow]:
    ours_url, raw_url = _fresh_databases(ctx, backend)
    sink = ctx.work_dir / f"sink-{backend}"
    env = {**compiled_env(ctx.work_dir / "pycache"), "SHUZHI_DB": ours_url, "SHUZHI_NOW": NOW, "SHUZHI_SINK_DIR": str(sink),
           "PYTHONPATH": str(ROOT)}
    env.pop("SHUZHI_SMTP_URL", None)
    plan = ctx.work_dir / "bench-plan.toml"
    plan.write_text(BENCH_PLAN, encoding="utf-8")
    rows: list[BenchRow] = []

    def step(name: str, args: list[str], raw_step: str, *raw_args: str, target: str = "-",
             check: Any = None, extra: str = "") -> tuple[float, int, str]:
        seconds, peak, out = _run([SHUZHI, *args], env)
        raw = _raw(raw_step, raw_url, *raw_args, env=env)
        ok = check(seconds, raw[0], peak) if check else True
        rows.append(_row(name, backend, (seconds, peak), raw, target, ok, extra))
        print(f"  [{backend}] {name}: {seconds:.2f}s (raw {raw[0]:.2f}s), peak {peak / 1e6:.0f} MB", flush=True)
        return seconds, peak, out

    ddl = ctx.work_dir / f"schema-{backend}.ddl"
    seconds, peak, _ = _run([SHUZHI, "init"], env)
    _schema_ddl(ours_url, ddl)
    raw = _raw("init", raw_url, str(ddl), env=env)
    rows.append(_row("cli: init", backend, (seconds, peak), raw, "-", True))

    _, _, out = step(f"cli: orgs import ({rows_in_file:,} rows)", ["--json", "orgs", "import", str(csv_path)],
                     "import", str(csv_path), target="< 30 s, < 300 MB", check=lambda s, r, p: s < 30 and p < 300e6)
    _, _, out = step("cli: year start (launch)", ["--json", "year", "start", "2014", "--plan", str(plan)], "launch",
                     target="≥ 0.5× raw rate", check=lambda s, r, p: r / s >= 0.5)
    rows[-1].extra += f"; {json.loads(out)['created']:,} cycles"
    _, _, out = step("cli: sweep", ["--json", "sweep"], "sweep", DAY, target="≤ 2× raw time",
                     check=lambda s, r, p: s <= 2 * r)
    rows[-1].extra += f"; queued {json.loads(out).get('queued', '?'):,}"

    queued = _set_aside(ours_url, (SINK_MESSAGES, 0))
    _set_aside(raw_url, (SINK_MESSAGES, 0))
    rows.extend(_sink_rows(ctx, backend, ours_url, raw_url, env, queued))

    for count in (SMTP_MESSAGES, SMTP_MESSAGES_STEADY):
        queued_emails = _requeue_emails(ours_url, count)
        if count > SMTP_MESSAGES and queued_emails < count:  # a small scale has fewer e-mails: the row above said it
            ctx.notes.append(f"bench_cli [{backend}]: {queued_emails:,} e-mails in the outbox, no {count:,}-e-mail row")
            continue
        with _Smtp() as smtp_server:
            smtp_env = {**env, "SHUZHI_SMTP_URL": f"smtp://127.0.0.1:{smtp_server.port}"}
            seconds, peak, out = _run([SHUZHI, "--json", "notify", "send", "--no-digest"], smtp_env)
            ours_received = smtp_server.received
            raw_seconds, raw_peak, _ = _run([sys.executable, "-m", "bench.raw_cli", "smtp", str(ours_received),
                                             "127.0.0.1", str(smtp_server.port)], env)  # the same number of e-mails
        rows.append(_row(f"cli: notify send → local SMTP ({ours_received:,} e-mails)", backend, (seconds, peak),
                         (raw_seconds, raw_peak), "≥ 0.8× raw smtplib", raw_seconds / seconds >= 0.8,
                         f"received {ours_received:,}; {out.strip()[:100]}"))
        print(f"  [{backend}] smtp: {seconds:.2f}s (raw {raw_seconds:.2f}s) received {ours_received}", flush=True)

    town, village = _town_and_village(ours_url)
    step(f"cli: cycles list --lagging --under {town}",
         ["--json", "cycles", "list", "--year", "2014", "--lagging", "--under", town], "lagging", town, DAY)
    cold, warm, peak, start = _pages(ctx, ours_url, env, town, village)
    raw = _raw("pages", raw_url, town, village, env=env)
    rows.append(_row("console: overview + town drill-down + cycle page over HTTP (cold)", backend, (cold, peak),
                     raw, "-", True, f"server up in {start:.1f}s"))
    rows.append(_row("console: the same three pages (warm)", backend, (warm, peak), raw, "< 600 ms", warm < 0.6))
    return rows


def _requeue_sent(url: str) -> int:
    """The messages the previous `notify send` sent, queued again as new (and its SMS slots forgotten): the same
    work for the next run."""
    engine = make_engine(url)
    with engine.begin() as conn:
        again = conn.exec_driver_sql(
            "UPDATE outbox SET status = 'queued', attempts = 0, sent_at = NULL, claim_token = NULL, claimed_at = NULL, "
            "next_attempt_at = NULL, last_error = NULL, provider_ref = NULL, subject = NULL, body = NULL "
            "WHERE status = 'sent'").rowcount
        conn.exec_driver_sql("DELETE FROM sms_slots")
    engine.dispose()
    return int(again or 0)


def _sink_rows(ctx: BenchContext, backend: str, ours_url: str, raw_url: str, env: dict[str, str],
               queued: int) -> list[BenchRow]:
    """`notify send --no-digest` to the sink: one process against the raw loop, then two processes at once on
    the same messages queued again, against the one."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="shuzhi-bench-sink-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    where = "tmpfs" if str(base).startswith("/dev/shm") else "disk"
    command = [SHUZHI, "--json", "notify", "send", "--no-digest"]
    rows: list[BenchRow] = []
    try:
        settle_outbox(ours_url)
        one_env = {**env, "SHUZHI_SINK_DIR": str(base / "one")}
        one, one_peak, out = _run(command, one_env)
        sent = len(list((base / "one").iterdir()))
        raw = _raw("sink", raw_url, str(SINK_MESSAGES), str(base / "raw"), env=env)
        one_rate = sent / one
        rows.append(_row(f"cli: notify send → sink on {where} ({sent:,} of {queued:,} queued), 1 process", backend,
                         (one, one_peak), raw, "≥ 5,000 msg/s", one_rate >= 5_000,
                         f"{one_rate:,.0f} msg/s, process start included; {out.strip()[:90]}"))
        print(f"  [{backend}] sink, 1 process: {sent} in {one:.2f}s (raw {raw[0]:.2f}s)", flush=True)
        again = _requeue_sent(ours_url)
        settle_outbox(ours_url)
        two_env = {**env, "SHUZHI_SINK_DIR": str(base / "two")}
        started = time.perf_counter()
        processes = [subprocess.Popen(["/usr/bin/time", "-f", "%M", *command], env=two_env, cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [process.communicate() for process in processes]
        two = time.perf_counter() - started
        if any(process.returncode for process in processes):
            raise RuntimeError(f"notify send (two at once) failed: {outputs[0][1][-1000:]} {outputs[1][1][-1000:]}")
        two_peak = max(int(err.strip().splitlines()[-1]) * 1024 for _, err in outputs)
        files = len(list((base / "two").iterdir()))
        counts = [json.loads(out)["sent"] for out, _ in outputs]
        two_rate = files / two
        rows.append(BenchRow(
            f"cli: notify send → sink on {where} ({again:,} queued again), 2 processes at once", backend, two,
            one * files / max(sent, 1), "≥ 1.6× one process" if backend == "postgresql" else "-",
            (two_rate >= 1.6 * one_rate or backend != "postgresql") and two_peak < GB and sum(counts) == files == again,
            extra=f"{two_rate:,.0f} msg/s = {two_rate / one_rate:.2f}× one; sent {counts[0]:,} + {counts[1]:,}, "
                  f"{files:,} files (none twice); peak RSS {two_peak / 1e6:.0f} MB each at most"))
        print(f"  [{backend}] sink, 2 processes: {files} in {two:.2f}s ({two_rate / one_rate:.2f}× one)", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return rows


def _town_and_village(url: str) -> tuple[str, str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        towns = conn.exec_driver_sql("SELECT code FROM orgs WHERE kind = 'town' ORDER BY code").scalars().all()
        town = towns[len(towns) // 2]
        village = conn.exec_driver_sql(
            "SELECT o.code FROM orgs o JOIN orgs t ON t.id = o.parent_id WHERE t.code = ? ORDER BY o.code"
            if url.startswith("sqlite") else
            "SELECT o.code FROM orgs o JOIN orgs t ON t.id = o.parent_id WHERE t.code = %s ORDER BY o.code", (town,)
        ).scalars().first()
    engine.dispose()
    return str(town), str(village)


def run(ctx: BenchContext) -> list[BenchRow]:
    csv_path = ctx.work_dir / f"national-{ctx.scale}.csv"
    count = write_csv(csv_path, ctx.scale)
    ctx.notes.append(f"bench_cli: the CLI path on a generated file of {count:,} organizations "
                     f"({csv_path.stat().st_size / 1e6:.0f} MB); raw = bench/raw_cli.py in its own process")
    rows: list[BenchRow] = []
    for backend, _url in ctx.urls:
        rows.extend(_backend(ctx, backend, csv_path, count))
    return rows
