"""Raw baselines for `bench/bench_cli.py`: the same work as each `shuzhi` command, done with the bare driver
(sqlite3 or psycopg) in a fresh process, so process start is counted on both sides.

    python -m bench.raw_cli STEP URL [ARGS…]

Steps: init DDL_FILE · import CSV · launch · sweep DAY · sink N FOLDER · smtp N HOST PORT · lagging CODE DAY ·
pages TOWN VILLAGE. This module imports only the standard library and the driver.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime, timedelta
from typing import Any

YEAR = 2014
OPEN_STATES = ("researching", "drafting", "submitted", "revising", "approved", "presented", "evaluated",
               "feedback_given", "rectifying")
HELD_ON = {"prefecture": date(2014, 12, 15), "city": date(2014, 12, 20)}  # else the villages' date
VILLAGES_HELD_ON = date(2014, 12, 26)
OWN_DEADLINE = date(2015, 1, 31)
STEP_OFFSETS = (-10, -5, 0, 0, 10, 20)  # submit, review, present, evaluate, feedback, commitment


def connect(url: str) -> tuple[Any, str]:
    """(DB-API connection, placeholder)."""
    if url.startswith("sqlite:///"):
        import sqlite3

        conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("BEGIN")
        return conn, "?"
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")), "%s"


def init(url: str, ddl_file: str) -> None:
    conn, _ = connect(url)
    text = open(ddl_file, encoding="utf-8").read()  # noqa: SIM115
    if url.startswith("sqlite"):
        for statement in json.loads(text):
            conn.execute(statement)
    else:
        conn.execute(text)
    conn.commit()


def import_csv(url: str, path: str) -> None:
    """Read the file, give ids, parents and paths from dicts, insert in one transaction, ANALYZE."""
    conn, mark = connect(url)
    codes: dict[str, int] = {}
    rows: list[list[str]] = []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            codes[row[0]] = len(codes) + 1
            rows.append(row)
    paths: dict[str, str] = {}
    for code, _name, _kind, parent, *_ in rows:
        paths[code] = (paths[parent] if parent else "/") + code + "/"  # parents come first in the file
    stamp = datetime(2014, 11, 20).isoformat(sep=" ")
    values = [(codes[c], c, n, k, codes[p] if p else None, paths[c], paths[c].count("/") - 2, s, ph, e, stamp)
              for c, n, k, p, s, ph, e in rows]
    columns = "id, code, name, kind, parent_id, path, depth, secretary, phone, email, updated_at"
    if url.startswith("sqlite"):
        conn.executemany(f"INSERT INTO orgs ({columns}) VALUES ({', '.join([mark] * 11)})", values)
    else:
        with conn.cursor() as cursor, cursor.copy(f"COPY orgs ({columns}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
    conn.execute("ANALYZE orgs")
    conn.commit()


def launch(url: str) -> None:
    """The year row, one meeting per organizer, an upward and an own-level cycle per assessed organization."""
    conn, m = connect(url)
    now = datetime(2014, 11, 20).isoformat(sep=" ")
    conn.execute(f"INSERT INTO years (year, plan, plan_text, launched_at, launched_by) VALUES ({m}, {m}, '', {m}, 'raw')",
                 (YEAR, "{}", now))
    organizers = conn.execute(
        "SELECT id, kind FROM orgs WHERE id IN (SELECT DISTINCT parent_id FROM orgs WHERE parent_id IS NOT NULL)"
    ).fetchall()
    meetings = []
    for org_id, kind in organizers:
        held = HELD_ON.get(kind, VILLAGES_HELD_ON)
        meetings.append((YEAR, org_id, held, *(held + timedelta(days=d) for d in STEP_OFFSETS)))
    if url.startswith("sqlite"):
        meetings = [tuple(v.isoformat() if isinstance(v, date) else v for v in row) for row in meetings]
    due_columns = "submit_due, review_due, present_due, evaluate_due, feedback_due, commitment_due"
    cursor = conn.cursor()
    cursor.executemany(f"INSERT INTO meetings (year, organizer_id, held_on, {due_columns}) VALUES "
                       f"({', '.join([m] * 9)})", meetings)
    conn.execute(
        f"INSERT INTO cycles (year, org_id, kind, organizer_id, meeting_id, meeting_on, state, due, {due_columns}, "
        f"returns, version, updated_at) SELECT {YEAR}, o.id, 'upward', mt.organizer_id, mt.id, mt.held_on, 'researching', "
        f"mt.submit_due, mt.submit_due, mt.review_due, mt.present_due, mt.evaluate_due, mt.feedback_due, "
        f"mt.commitment_due, 0, 1, {m} FROM orgs o JOIN meetings mt ON mt.organizer_id = o.parent_id AND mt.year = {YEAR} "
        f"WHERE o.kind <> 'prefecture'", (now,))
    own = [OWN_DEADLINE + timedelta(days=d) for d in STEP_OFFSETS]
    own_values: list[Any] = [OWN_DEADLINE, own[0], *own, now]
    if url.startswith("sqlite"):
        own_values = [v.isoformat() if isinstance(v, date) else v for v in own_values]
    conn.execute(
        f"INSERT INTO cycles (year, org_id, kind, organizer_id, meeting_id, meeting_on, state, due, {due_columns}, "
        f"returns, version, updated_at) SELECT {YEAR}, o.id, 'own_level', o.id, NULL, {m}, 'researching', {m}, "
        f"{', '.join([m] * 6)}, 0, 1, {m} FROM orgs o WHERE o.kind <> 'prefecture'", own_values)
    conn.execute("ANALYZE cycles")
    conn.commit()


WORK_PLAN_ORGANIZER_KINDS = "'town', 'subdistrict', 'farm', 'city_unit'"


def sweep(url: str, day: str) -> None:
    """The rows `shuzhi sweep` queues, no more and no fewer: one keyed INSERT … SELECT of the lagging cycles'
    notices (SMS and e-mail), one of the work-plan reminders to organizers who filed none (R9), one of the
    escalations; then the counts the command prints (cycles checked, lagging)."""
    conn, m = connect(url)
    today = date.fromisoformat(day)
    horizon = today + timedelta(days=3)
    states = ", ".join(f"'{s}'" for s in OPEN_STATES)
    now = datetime.combine(today, datetime.min.time()).isoformat(sep=" ")
    cast = "CAST(c.org_id AS TEXT)" if url.startswith("sqlite") else "c.org_id::text"

    def day_value(value: date) -> Any:
        return value.isoformat() if url.startswith("sqlite") else value

    for template, recipient, extra in (("reminder", "c.org_id", ""),
                                       ("escalation", "o.parent_id", f"AND c.due <= {m} AND o.parent_id IS NOT NULL")):
        params: list[Any] = [now, YEAR, horizon if not url.startswith("sqlite") else horizon.isoformat()]
        if extra:
            params.append((today - timedelta(days=2)) if not url.startswith("sqlite") else (today - timedelta(days=2)).isoformat())
        conn.execute(
            "INSERT INTO outbox (key, year, org_id, recipient_org_id, cycle_kind, step, template, channel, address, due, "
            "status, attempts, created_at) "
            f"SELECT '{YEAR}:' || {cast} || ':' || c.kind || ':' || c.state || ':{template}:' || ch.channel, {YEAR}, "
            f"c.org_id, r.id, c.kind, c.state, '{template}', ch.channel, "
            "CASE ch.channel WHEN 'sms' THEN r.phone ELSE r.email END, c.due, 'queued', 0, " + m + " "
            "FROM cycles c JOIN orgs o ON o.id = c.org_id JOIN orgs r ON r.id = " + recipient + " "
            "CROSS JOIN (SELECT 'sms' AS channel UNION ALL SELECT 'email') ch "
            f"WHERE c.year = {m} AND c.due <= {m} AND c.state IN ({states}) {extra} "
            "AND CASE ch.channel WHEN 'sms' THEN r.phone ELSE r.email END <> '' ON CONFLICT DO NOTHING", params)
        if template == "reminder":
            conn.execute(
                "INSERT INTO outbox (key, year, org_id, recipient_org_id, cycle_kind, step, template, channel, address, "
                f"due, status, attempts, created_at) SELECT '{YEAR}:' || {cast.replace('c.org_id', 'g.id')} || "
                "':-:work_plan:work_plan:' || CASE WHEN mt.held_on <= " + m + " THEN 'week_before' ELSE 'launched' END "
                f"|| ':' || ch.channel, {YEAR}, g.id, g.id, '-', 'work_plan', 'work_plan', ch.channel, "
                "CASE ch.channel WHEN 'sms' THEN g.phone ELSE g.email END, mt.held_on, 'queued', 0, " + m + " "
                "FROM meetings mt JOIN orgs g ON g.id = mt.organizer_id "
                "CROSS JOIN (SELECT 'sms' AS channel UNION ALL SELECT 'email') ch "
                f"WHERE mt.year = {m} AND g.kind IN ({WORK_PLAN_ORGANIZER_KINDS}) AND mt.held_on >= {m} "
                "AND NOT EXISTS (SELECT 1 FROM work_plans w WHERE w.year = mt.year AND w.organizer_id = mt.organizer_id) "
                "AND CASE ch.channel WHEN 'sms' THEN g.phone ELSE g.email END <> '' ON CONFLICT DO NOTHING",
                (day_value(today + timedelta(days=7)), now, YEAR, day_value(today)))
    conn.execute(f"SELECT count(*), count(CASE WHEN c.due <= {m} THEN 1 END) FROM cycles c WHERE c.year = {m} "
                 f"AND c.state IN ({states})", (day_value(horizon), YEAR)).fetchone()
    conn.commit()


def sink(url: str, count: str, folder: str) -> None:
    """Claim N queued messages, write each to its own file in FOLDER (the sink's contract: one file per message,
    written under a temporary name and renamed — open, write, close, rename, as `shuzhi notify send` does), mark
    them sent."""
    import hashlib
    import os

    conn, m = connect(url)
    rows = conn.execute(f"SELECT id, channel, address, template, due, key FROM outbox WHERE status = 'queued' "
                        f"ORDER BY id LIMIT {int(count)}").fetchall()
    os.makedirs(folder, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    for row in rows:
        path = os.path.join(folder, f"{row[1]}-{hashlib.sha1(row[5].encode()).hexdigest()[:16]}.txt")
        fd = os.open(path + ".tmp", flags, 0o644)
        os.write(fd, f"to: {row[2]}\nkey: {row[5]}\n\n{row[3]} {row[4]}\n".encode())
        os.close(fd)
        os.replace(path + ".tmp", path)
    now = datetime.now().isoformat(sep=" ")
    conn.cursor().executemany(f"UPDATE outbox SET status = 'sent', sent_at = {m} WHERE id = {m}",
                              [(now, row[0]) for row in rows])
    conn.commit()


def smtp(count: str, host: str, port: str) -> None:
    """N messages through one reused SMTP connection."""
    import smtplib
    from email.message import EmailMessage

    with smtplib.SMTP(host, int(port)) as client:
        for number in range(int(count)):
            message = EmailMessage()
            message["From"] = "zzb@example.gov.cn"
            message["To"] = f"s{number}@example.cn"
            message["Subject"] = "述职提醒"
            message.set_content("请于截止日期前提交述职报告。")
            client.send_message(message)


def lagging(url: str, code: str, day: str) -> None:
    conn, m = connect(url)
    horizon = date.fromisoformat(day) + timedelta(days=3)
    path = conn.execute(f"SELECT path FROM orgs WHERE code = {m}", (code,)).fetchone()[0]
    conn.execute(
        "SELECT o.code, o.name, c.kind, c.state, c.due, c.meeting_on, g.code FROM cycles c "
        "JOIN orgs o ON o.id = c.org_id JOIN orgs g ON g.id = c.organizer_id "
        f"WHERE c.year = {m} AND o.path >= {m} AND o.path < {m} AND c.due <= {m} ORDER BY c.due, o.path, c.kind",
        (YEAR, path, path[:-1] + "0", horizon if not url.startswith("sqlite") else horizon.isoformat())).fetchall()


def pages(url: str, town: str, village: str) -> None:
    """The reads behind the overview, a town's drill-down and a cycle page."""
    conn, m = connect(url)
    conn.execute(f"SELECT state, due, count(*) FROM cycles WHERE year = {m} AND kind = 'upward' GROUP BY state, due",
                 (YEAR,)).fetchall()
    conn.execute(
        "SELECT o.code, o.name, c.state, c.due FROM orgs o LEFT JOIN cycles c ON c.org_id = o.id AND c.year = "
        f"{m} AND c.kind = 'upward' WHERE o.parent_id = (SELECT id FROM orgs WHERE code = {m}) ORDER BY o.path LIMIT 50",
        (YEAR, town)).fetchall()
    conn.execute(f"SELECT c.* FROM cycles c JOIN orgs o ON o.id = c.org_id WHERE o.code = {m} AND c.year = {m}",
                 (village, YEAR)).fetchall()


def main(argv: list[str]) -> None:
    step, *args = argv
    functions = {"init": init, "import": import_csv, "launch": launch, "sweep": sweep, "sink": sink,
                 "lagging": lagging, "pages": pages}
    if step == "smtp":
        smtp(*args)
    else:
        functions[step](*args)


if __name__ == "__main__":
    main(sys.argv[1:])
