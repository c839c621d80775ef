"""Benchmarks of issue 3: the sweep against a raw indexed select-and-insert, dispatch against a raw smtplib loop."""

from __future__ import annotations

import smtplib
import socket
from datetime import date, timedelta

import sqlalchemy as sa

from bench.common import BenchContext, BenchRow, timed
from notifications.channels import OutgoingMessage, SmtpEmail, build_email
from services.clock import parse_when
from services.outbox import dispatch
from services.sweep import REMINDED_STATES, sweep_deadlines
from storage.db import Database
from storage.tables.notify import outbox

DISPATCH_MESSAGES = 2_000


def _raw_sweep(db: Database, *, year: int, today: date) -> int:
    """The same rows by hand-written SQL: reminders, due-today, overdue and escalations, both channels, one statement each."""
    horizon, b1, esc = today + timedelta(days=3), today + timedelta(days=1), today - timedelta(days=2)
    states = ", ".join(f"'{s}'" for s in REMINDED_STATES)
    organizer_states = "('submitted', 'presented', 'evaluated')"
    step = ("CASE c.state WHEN 'researching' THEN 'submit' WHEN 'drafting' THEN 'submit' WHEN 'submitted' THEN 'review' "
            "WHEN 'revising' THEN 'resubmit' WHEN 'approved' THEN 'present' WHEN 'presented' THEN 'evaluate' "
            "WHEN 'evaluated' THEN 'feedback' ELSE 'commitment' END")
    owner = f"CASE WHEN c.state IN {organizer_states} THEN c.organizer_id ELSE c.org_id END"
    inserted = 0
    with db.begin() as conn:
        for channel, column in (("sms", "phone"), ("email", "email")):
            for kind, recipient, condition, template, marker in (
                ("direct", "o.id", f"c.due <= '{horizon}'",
                 f"CASE WHEN c.due > '{today}' THEN 'reminder' WHEN c.due = '{today}' THEN 'due_today' ELSE 'overdue' END",
                 f"CASE WHEN c.due > '{b1}' THEN 'b3' WHEN c.due > '{today}' THEN 'b1' ELSE '{today}' END"),
                ("escalation", "o.parent_id", f"c.due <= '{esc}' AND o.parent_id IS NOT NULL", "'escalation'", "'e'"),
            ):
                target = "r" if kind == "escalation" else "o"
                join_r = "JOIN orgs r ON r.id = o.parent_id" if kind == "escalation" else ""
                sql = (
                    "INSERT INTO outbox_raw (key, year, org_id, recipient_org_id, cycle_kind, step, template, channel, "
                    "address, due, status, attempts, created_at) "
                    f"SELECT {year} || ':' || c.org_id || ':' || c.kind || ':' || {step} || ':' || {template} || ':' "
                    f"|| CAST(c.due AS VARCHAR(10)) || {marker} || ':{channel}', {year}, c.org_id, {recipient}, c.kind, "
                    f"{step}, {template}, '{channel}', {target}.{column}, c.due, 'queued', 0, '2014-12-10 01:00:00' "
                    f"FROM cycles c JOIN orgs o ON o.id = {owner} {join_r} "
                    f"WHERE c.year = {year} AND c.due IS NOT NULL AND c.state IN ({states}) AND {condition} "
                    f"AND {target}.{column} <> '' ON CONFLICT DO NOTHING"
                )
                inserted += conn.exec_driver_sql(sql).rowcount or 0
        for channel, column in (("sms", "phone"), ("email", "email")):  # R9: organizers with no work plan
            inserted += conn.exec_driver_sql(
                "INSERT INTO outbox_raw (key, year, org_id, recipient_org_id, cycle_kind, step, template, channel, address, due, "
                f"status, attempts, created_at) SELECT {year} || ':' || m.organizer_id || ':-:work_plan:work_plan:' || "
                f"CASE WHEN m.held_on <= '{today + timedelta(days=7)}' THEN 'week_before' ELSE 'launched' END || ':{channel}', "
                f"{year}, m.organizer_id, m.organizer_id, '-', 'work_plan', 'work_plan', '{channel}', o.{column}, m.held_on, "
                "'queued', 0, '2014-12-10 01:00:00' FROM meetings m JOIN orgs o ON o.id = m.organizer_id "
                f"WHERE m.year = {year} AND o.kind IN ('town', 'subdistrict', 'farm', 'city_unit') AND m.held_on >= '{today}' "
                f"AND o.{column} <> '' AND NOT EXISTS (SELECT 1 FROM work_plans w WHERE w.year = {year} "
                "AND w.organizer_id = m.organizer_id) ON CONFLICT DO NOTHING"
            ).rowcount or 0
    return inserted


def _copy_outbox_table(db: Database) -> None:
    with db.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS outbox_raw"))
        if db.is_postgresql:
            conn.execute(sa.text("CREATE TABLE outbox_raw (LIKE outbox INCLUDING ALL)"))
        else:
            ddl = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE tbl_name = 'outbox' AND sql IS NOT NULL")).scalars()
            for statement in list(ddl):
                conn.execute(sa.text(statement.replace("outbox", "outbox_raw").replace("ix_outbox_raw", "ix_raw_outbox")
                                     .replace("uq_outbox_raw", "uq_raw_outbox").replace("pk_outbox_raw", "pk_raw_outbox")))


def _clear(db: Database) -> None:
    with db.begin() as conn:
        conn.execute(outbox.delete())
        conn.execute(sa.text("DROP TABLE IF EXISTS outbox_raw"))


def _bench_sweep(ctx: BenchContext, backend: str, url: str) -> BenchRow:
    db = Database(url)
    today = date.fromisoformat(ctx.today)
    now = parse_when(ctx.today)
    try:
        _clear(db)
        with db.connect() as conn:
            open_cycles = conn.execute(sa.text(f"SELECT count(*) FROM cycles WHERE year = {ctx.year}")).scalar_one()
        _copy_outbox_table(db)
        with timed() as raw_time:
            raw_rows = _raw_sweep(db, year=ctx.year, today=today)
        with timed() as ours_time:
            ours = sweep_deadlines(db, now=now, year=ctx.year)
        with timed() as rerun_time:
            again = sweep_deadlines(db, now=now, year=ctx.year)
        ratio = ours_time() / raw_time() if raw_time() else float("inf")
        return BenchRow(
            name=f"sweep {open_cycles:,} cycles → {ours.queued:,} messages", backend=backend, ours=ours_time(), raw=raw_time(),
            target="≤ 2× raw time", ok=ratio <= 2.0,
            extra=f"raw rows {raw_rows:,}; lagging {ours.lagging:,}; re-sweep {rerun_time():.2f}s queued {again.queued}",
        )
    finally:
        _clear(db)
        db.dispose()


class _SmtpServer:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Sink

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.controller = Controller(Sink(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def _bench_dispatch(ctx: BenchContext) -> BenchRow:
    db = Database(ctx.sqlite_url)
    server = _SmtpServer()
    now = parse_when(ctx.today)
    try:
        _clear(db)
        sweep_deadlines(db, now=now, year=ctx.year)
        with db.begin() as conn:  # the generated tree has few e-mail addresses: give SMS recipients one each
            columns = ["key", "year", "org_id", "recipient_org_id", "cycle_kind", "step", "template", "channel", "address",
                       "due", "days", "status", "attempts", "created_at"]
            conn.execute(outbox.insert().from_select(columns, sa.select(
                outbox.c.key + ":bench", outbox.c.year, outbox.c.org_id, outbox.c.recipient_org_id, outbox.c.cycle_kind,
                outbox.c.step, outbox.c.template, sa.literal("email"), sa.literal("u") + sa.cast(outbox.c.id, sa.String) + "@example.cn",
                outbox.c.due, outbox.c.days, outbox.c.status, outbox.c.attempts, outbox.c.created_at,
            ).where(outbox.c.channel == "sms").limit(DISPATCH_MESSAGES)))
        with db.connect() as conn:
            queued_email = conn.execute(
                sa.select(sa.func.count()).where(outbox.c.channel == "email", outbox.c.status == "queued")
            ).scalar_one()
        count = min(DISPATCH_MESSAGES, queued_email)
        with timed() as ours_time:
            result = dispatch(db, now=now, channels={"email": SmtpEmail(f"smtp://127.0.0.1:{server.port}", mail_from="zzb@example.gov.cn")},
                              batch=500, max_rounds=max(count // 500, 1), digest=False)
        with db.connect() as conn:
            sent = list(conn.execute(sa.select(outbox.c.key, outbox.c.address, outbox.c.subject, outbox.c.body)
                                     .where(outbox.c.status == "sent").limit(count)))
        with timed() as raw_time:  # the same messages built (text and HTML parts) and sent on one connection
            smtp = smtplib.SMTP("127.0.0.1", server.port)
            for r in sent:
                body = r.body or ""
                smtp.send_message(build_email(OutgoingMessage(
                    key=r.key, channel="email", to=r.address, text=body, subject=r.subject or "",
                    html="<html><body>" + "".join(f"<p>{line}</p>" for line in body.splitlines()) + "</body></html>",
                ), mail_from="zzb@example.gov.cn"))
            smtp.quit()
        ours_rate = result.sent / ours_time() if ours_time() else 0.0
        raw_rate = len(sent) / raw_time() if raw_time() else 0.0
        return BenchRow(
            name=f"dispatch {result.sent:,} e-mails to local SMTP", backend="sqlite", ours=ours_time(),
            raw=raw_time() * (result.sent / len(sent) if sent else 1.0), target="≥ 0.5× raw rate",
            ok=ours_rate >= 0.5 * raw_rate, unit="s",
            extra=f"ours {ours_rate:,.0f}/s (claim, render, send, record); raw smtplib loop {raw_rate:,.0f}/s",
        )
    finally:
        server.stop()
        _clear(db)
        db.dispose()


def run(ctx: BenchContext) -> list[BenchRow]:
    rows = [_bench_sweep(ctx, backend, url) for backend, url in ctx.urls]
    rows.append(_bench_dispatch(ctx))
    return rows
