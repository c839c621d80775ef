"""Issue 10 regressions for the outbox: H2 (sender-side failures pause the channel), M1 (leases and fencing: no
duplicates past the lease), M2 (masked last_error), L5 (no password in SMTP URL errors), H1 (one bad stored plan
never stops the other years), and issue 11's exact shared SMS rate limit with dispatchers racing on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from notifications.channels import SinkChannel, SmtpConfig, SmtpEmail
from services.app import App
from services.clock import parse_when
from services.outbox import (
    MAX_ATTEMPTS,
    PLAN_TZ,
    RECLAIM_GRACE,
    RateOverride,
    channel_alerts,
    dispatch,
    list_outbox,
    outbox_counts,
)
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import orgs, years
from storage.tables.notify import outbox, sms_slots
from tests.conftest import launch_sample
from tests.notify.conftest import free_port

NOW = parse_when("2014-12-07T09:00")


def queue(db: Database, n: int, *, channel: str = "email", start: int = 0, prefix: str = "u",
          to: str | None = None) -> list[str]:
    """n queued messages about T01, each to its own address or all `to` one (a `returned` notice: never cancelled as
    obsolete)."""
    with db.begin() as conn:
        org_id = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == "T01")).scalar_one()
        rows = [{
            "key": f"test:{channel}:{i}", "year": 2014, "org_id": org_id, "recipient_org_id": org_id,
            "cycle_kind": "upward", "step": "submit", "template": "returned", "channel": channel,
            "address": to or (f"{prefix}{i:03d}@example.cn" if channel == "email" else f"1390100{i:04d}"),
            "due": date(2014, 12, 10), "note": "请补充材料", "status": "queued", "attempts": 0,
            "created_at": to_db_time(NOW - timedelta(hours=1)),
        } for i in range(start, start + n)]
        conn.execute(outbox.insert(), rows)
    return [r["key"] for r in rows]


@dataclass
class Smtp:
    """aiosmtpd on loopback: optional AUTH (a password it accepts), a delay per message, refused recipients."""

    port: int
    password: str = "right-pass"
    delay: float = 0.0
    refuse_prefix: str = "bad"
    temporary_prefix: str = "busy"
    keys: list[str] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)

    def url(self, password: str | None = None) -> str:
        user = f"mailer:{password}@" if password is not None else ""
        return f"smtp://{user}127.0.0.1:{self.port}"


class _Handler:
    def __init__(self, state: Smtp) -> None:
        self.state = state

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith(self.state.refuse_prefix):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.state.delay:
            await asyncio.sleep(self.state.delay)
        if envelope.rcpt_tos[0].startswith(self.state.temporary_prefix):
            return "451 4.3.0 try again later"
        message = message_from_bytes(envelope.original_content, policy=policy.default)  # type: ignore[arg-type]
        self.state.keys.append(str(message["X-Shuzhi-Key"]))
        self.state.received.set()
        return "250 OK"


def _start(state: Smtp, *, auth: bool) -> Any:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        password = data.password.decode() if isinstance(data.password, bytes) else data.password
        return AuthResult(success=password == state.password, handled=False)

    kwargs: dict[str, Any] = {"authenticator": authenticator, "auth_require_tls": False} if auth else {}
    controller = Controller(_Handler(state), hostname="127.0.0.1", port=state.port, **kwargs)
    controller.start()
    return controller


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    state = Smtp(free_port())
    controller = _start(state, auth=False)
    yield state
    controller.stop()


@pytest.fixture
def smtp_auth() -> Iterator[Smtp]:
    state = Smtp(free_port())
    controller = _start(state, auth=True)
    yield state
    controller.stop()


def email(url: str) -> dict[str, Any]:
    return {"email": SmtpEmail(url, mail_from="zzb@example.gov.cn")}


# --- H2 ---------------------------------------------------------------------------------------------------

def test_h2_smtp_535_pauses_the_channel_keeps_messages_queued_and_resumes_when_fixed(launched: App, smtp_auth: Smtp) -> None:
    db = launched.db
    keys = queue(db, 30)
    refused = dispatch(db, now=NOW, channels=email(smtp_auth.url("wrong-pass")), digest=False)
    assert refused.sent == 0 and refused.failed == 0 and refused.retried == 0
    assert "535" in refused.paused["email"] and "wrong-pass" not in refused.paused["email"]
    assert outbox_counts(db)["queued"] == 30 and all(r["attempts"] == 0 for r in list_outbox(db))
    alerts = channel_alerts(db)
    assert [(a["channel"], a["queued"]) for a in alerts] == [("email", 30)] and "wrong-pass" not in alerts[0]["reason"]
    # while paused the dispatcher leaves the channel alone; the password is fixed; at the retry time it goes
    assert dispatch(db, now=NOW + timedelta(seconds=30), channels=email(smtp_auth.url("right-pass"))).claimed == 0
    fixed = dispatch(db, now=NOW + timedelta(minutes=2), channels=email(smtp_auth.url("right-pass")), digest=False)
    assert fixed.sent == 30 and sorted(smtp_auth.keys) == sorted(keys) and channel_alerts(db) == []


def test_h2_a_refused_recipient_fails_only_its_message_on_one_connection(launched: App, smtp: Smtp) -> None:
    db = launched.db
    queue(db, 5)
    queue(db, 1, start=5, prefix="bad")
    queue(db, 4, start=6)
    channels = email(smtp.url())
    result = dispatch(db, now=NOW, channels=channels, digest=False)
    assert result.sent == 9 and result.failed == 1 and not result.paused
    assert channels["email"].connections == 1  # one SMTP connection for the whole batch (RSET after the refusal)
    failed = list_outbox(db, status="failed")
    assert len(failed) == 1 and "550" in failed[0]["last_error"]


def test_h2_a_4xx_is_retried_per_message_then_failed_after_six_attempts(launched: App, smtp: Smtp) -> None:
    db = launched.db
    queue(db, 1, prefix="busy")
    queue(db, 1, start=1)
    for hours in range(0, 12):
        dispatch(db, now=NOW + timedelta(hours=hours), channels=email(smtp.url()), digest=False)
    rows = {r["key"]: r for r in list_outbox(db)}
    assert rows["test:email:0"]["status"] == "failed" and rows["test:email:0"]["attempts"] == MAX_ATTEMPTS
    assert "451" in rows["test:email:0"]["last_error"] and rows["test:email:1"]["status"] == "sent"


def test_h2_outbox_retry_requeues_failed_messages_with_counts(cli, orgs_csv: Path, plan_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("init")[0] == 0
    assert cli("orgs", "import", str(orgs_csv))[0] == 0
    assert cli("--now", "2014-11-25", "year", "start", "2014", "--plan", str(plan_file))[0] == 0
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    queue(db, 4)
    queue(db, 2, channel="sms", start=4)
    with db.begin() as conn:  # what the old dispatcher left after a 535: everything failed
        conn.execute(outbox.update().values(status="failed", attempts=1, last_error="SMTP 535: auth failed"))
        conn.execute(outbox.update().where(outbox.c.key == "test:email:0").values(created_at=to_db_time(NOW - timedelta(days=3))))
    code, out, _ = cli("--now", "2014-12-07T10:00", "--json", "outbox", "retry", "--status", "failed", "--channel", "email",
                       "--since", "2014-12-06")
    assert code == 0 and json.loads(out) == {"requeued": 3, "by_channel": {"sms": 0, "email": 3}, "resumed_channels": 0}
    code, out, _ = cli("--now", "2014-12-07T10:00", "outbox", "retry")
    assert code == 0 and "已重新排队 3 条" in out  # the old e-mail and the two SMS
    code, _, err = cli("outbox", "retry", "--channel", "fax")
    assert code == 2 and "--channel" in err
    code, out, _ = cli("--now", "2014-12-07T10:00", "--json", "notify", "send", "--no-digest")
    assert code == 0 and json.loads(out)["sent"] == 6
    db.dispose()


def test_h2_the_alert_shows_in_outbox_list(cli, orgs_csv: Path, plan_file: Path, tmp_path: Path, smtp_auth: Smtp) -> None:  # type: ignore[no-untyped-def]
    assert cli("init")[0] == 0
    assert cli("orgs", "import", str(orgs_csv))[0] == 0
    assert cli("--now", "2014-11-25", "year", "start", "2014", "--plan", str(plan_file))[0] == 0
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    queue(db, 3)
    dispatch(db, now=NOW, channels=email(smtp_auth.url("wrong-pass")))
    code, out, err = cli("outbox", "list")
    assert code == 0 and "邮件渠道" in err and "暂停" in err and "3 条消息在队列中" in err and "wrong-pass" not in err
    code, out, err = cli("--json", "outbox", "list")
    assert code == 0 and len(json.loads(out)) == 3 and "暂停" in err  # stdout keeps its JSON shape
    db.dispose()


# --- M2 and L5 ----------------------------------------------------------------------------------------------

def test_m2_last_error_masked_in_outbox_list_api_and_cli(launched: App, smtp: Smtp) -> None:
    from web.integrations import outbox as outbox_page_data

    db = launched.db
    queue(db, 1, prefix="bad")
    with db.begin() as conn:  # a row an older version recorded with the address in clear
        conn.execute(outbox.insert().values(
            key="old", year=2014, org_id=1, recipient_org_id=1, template="returned", channel="sms", address="13900000002",
            status="failed", attempts=1, created_at=to_db_time(NOW),
            last_error="recipient refused: {'zhang.san@example.cn': (550, b'no')} 13900000002"))
    dispatch(db, now=NOW, channels=email(smtp.url()), digest=False)
    listed = [r["last_error"] for r in list_outbox(db, status="failed")]
    page = [m["last_error"] for m in outbox_page_data(db, year=None, org=None, status="failed")["messages"]]
    for text in listed + page:
        assert "bad000@" not in text and "zhang.san@" not in text and "13900000002" not in text
    assert any("b***@example.cn" in t for t in listed) and any("139****0002" in t for t in page)
    with db.connect() as conn:  # stored masked, too
        stored = conn.execute(sa.select(outbox.c.last_error).where(outbox.c.key == "test:email:0")).scalar_one()
    assert "bad000@" not in stored


def test_l5_smtp_url_errors_never_echo_the_password(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for url in ("smtp://mailer:Sup3rS/ecret@h:25", "smtp://mailer:Sup3r#S3cret@h:25", "smtp://mailer:pa:ss@h:2x5",
                "smtps://mailer:Sup3rS/ecret@h:25?timeout=Sup3r"):
        with pytest.raises(ValueError) as caught:
            SmtpConfig.from_url(url)
        assert "Sup3r" not in str(caught.value) and "ecret" not in str(caught.value) and "pa:ss" not in str(caught.value)
    assert cli("init")[0] == 0
    monkeypatch.setenv("SHUZHI_SMTP_URL", "smtp://mailer:Sup3rS/ecret@h:25")
    code, out, err = cli("notify", "send")
    assert code == 2 and "SHUZHI_SMTP_URL" in err and "Sup3r" not in err + out and "ecret" not in err + out


# --- M1: leases and fencing -----------------------------------------------------------------------------

class SharedClock:
    """One simulated clock read by every dispatcher of a test (thread-safe), moved by the test."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


def _wait(condition: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def test_m1_slow_smtp_second_dispatcher_past_the_lease_sends_no_duplicate(launched: App, smtp: Smtp) -> None:
    """A works through a batch on a slow server and keeps extending its lease; B starts 11 minutes later on the
    clock (past the original lease): it finds nothing to reclaim. 0 duplicates received."""
    db = launched.db
    keys = queue(db, 12)
    smtp.delay = 0.15
    clock = SharedClock(NOW)
    results: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: results.update(a=dispatch(
        db, now=clock.now(), clock=clock.now, channels=email(smtp.url()), digest=False)))
    worker.start()
    _wait(lambda: len(smtp.keys) >= 3)
    clock.advance(RECLAIM_GRACE + timedelta(minutes=1))
    moved = to_db_time(clock.now())

    def extended() -> bool:  # A's next fencing check extends the lease of everything it still holds
        with db.connect() as conn:
            oldest = conn.execute(sa.select(sa.func.min(outbox.c.claimed_at)).where(outbox.c.status == "sending")).scalar()
        return oldest is None or oldest >= moved
    _wait(extended)
    second = dispatch(db, now=clock.now(), clock=clock.now, channels=email(smtp.url()), digest=False)
    worker.join(60)
    assert second.reclaimed == 0 and second.sent == 0
    assert results["a"].sent == 12 and results["a"].fenced == 0
    assert sorted(smtp.keys) == sorted(keys)  # each received exactly once


def test_m1_a_stalled_holder_is_fenced_off_and_neither_sends_nor_records(launched: App, smtp: Smtp) -> None:
    """A stalls past its lease (a pause, a hung host); B reclaims and sends the rest; when A wakes its fencing
    check finds the rows gone: it sends nothing more and records nothing. 0 duplicates received."""
    db = launched.db
    keys = queue(db, 12)
    smtp.delay = 0.02
    clock = SharedClock(NOW)
    stalled, resume = threading.Event(), threading.Event()
    checks = {"n": 0}

    def stall(groups: list[Any]) -> None:
        checks["n"] += 1
        if checks["n"] == 3:
            stalled.set()
            resume.wait(60)

    results: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: results.update(a=dispatch(
        db, now=clock.now(), clock=clock.now, channels=email(smtp.url()), digest=False, chunk=1, before_check=stall)))
    worker.start()
    assert stalled.wait(30)
    clock.advance(RECLAIM_GRACE + timedelta(minutes=1))
    second = dispatch(db, now=clock.now(), clock=clock.now, channels=email(smtp.url()), digest=False)
    resume.set()
    worker.join(60)
    first = results["a"]
    assert first.sent == 2 and second.reclaimed == 10 and second.sent == 10 and first.fenced == 10
    assert sorted(smtp.keys) == sorted(keys)  # 12 received, none twice
    assert outbox_counts(db)["sent"] == 12


def test_m1_kill_9_mid_batch_then_a_second_dispatcher_past_the_lease(tmp_path: Path, smtp: Smtp) -> None:
    """Fault injection: `shuzhi notify send` SIGKILLed mid-batch on a real (slow) SMTP server, then a second one
    past the lease. Every row is sent; at most the message in flight is received twice (docs/operations.md)."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import SAMPLE_ORGS, SAMPLE_PLAN

    db_path = tmp_path / "kill.db"
    env = {**os.environ, "SHUZHI_DB": f"sqlite:///{db_path}", "SHUZHI_SMTP_URL": smtp.url(),
           "SHUZHI_SINK_DIR": str(tmp_path / "sink"), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("SHUZHI_NOW", None)
    (tmp_path / "orgs.csv").write_text(SAMPLE_ORGS, encoding="utf-8")
    (tmp_path / "plan.toml").write_text(SAMPLE_PLAN, encoding="utf-8")

    def shuzhi(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shuzhi_cli.main", *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False)

    for args in (["init"], ["orgs", "import", str(tmp_path / "orgs.csv")],
                 ["--now", "2014-11-25", "year", "start", "2014", "--plan", str(tmp_path / "plan.toml")]):
        assert shuzhi(*args).returncode == 0
    db = Database(f"sqlite:///{db_path}")
    keys = queue(db, 40)
    smtp.delay = 0.1  # slower than the chunk target: one message per fencing check and record
    victim = subprocess.Popen([sys.executable, "-m", "shuzhi_cli.main", "--now", "2014-12-07T09:00", "notify", "send",
                               "--no-digest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(lambda: len(smtp.keys) >= 10, 60)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(30)
    time.sleep(0.2)  # the message in flight, if any, finishes on the server side
    before = len(smtp.keys)
    assert before < 40, "the victim finished before it was killed"
    early = json.loads(shuzhi("--now", "2014-12-07T09:05", "--json", "notify", "send").stdout)
    assert early["sent"] == 0 and early["reclaimed"] == 0  # within the lease: left alone
    late = json.loads(shuzhi("--now", "2014-12-07T09:20", "--json", "notify", "send", "--no-digest").stdout)
    with db.connect() as conn:
        sent_rows = conn.execute(sa.select(sa.func.count()).where(outbox.c.status == "sent")).scalar_one()
    db.dispose()
    duplicates = len(smtp.keys) - len(set(smtp.keys))
    assert set(smtp.keys) == set(keys) and sent_rows == 40
    assert late["reclaimed"] >= 1 and duplicates <= 1  # the bound: the one message in flight when killed


# --- issue 11: the shared SMS rate limit stays exact when dispatchers race --------------------------------

def test_sms_rate_limit_exact_when_two_dispatchers_race_for_the_last_slots_on_postgresql(pg_db: Database, tmp_path: Path) -> None:
    launch_sample(pg_db, now=NOW, tmp_path=tmp_path)
    queue(pg_db, 60, channel="sms")
    sink = {"sms": SinkChannel(tmp_path / "sink", "sms")}
    first = dispatch(pg_db, now=NOW, channels=sink, digest=False, rates=RateOverride(per_minute=4))
    assert first.sent == 4
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def racer() -> None:
        channels = {"sms": SinkChannel(tmp_path / "sink", "sms")}
        barrier.wait()
        results.append(dispatch(pg_db, now=NOW + timedelta(seconds=20), channels=channels, digest=False, batch=5,
                                rates=RateOverride(per_minute=11)))

    threads = [threading.Thread(target=racer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.sent for r in results) == 7  # 11 a minute, 4 already taken: exactly the 7 last slots
    later = dispatch(pg_db, now=NOW + timedelta(seconds=61), channels=sink, digest=False, rates=RateOverride(per_minute=11))
    assert later.sent == 11 - 7  # the first 4 left the window, the 7 are still in it
    assert len(list((tmp_path / "sink").iterdir())) == 15


def test_sms_per_phone_daily_cap_exact_when_a_rival_takes_the_phones_slots_after_our_count_on_postgresql(
        pg_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a claim counts the phone's slots of the day before it takes the SMS lock, and under it adds
    only the slots taken since. Here a rival takes the phone's whole day (three slots) in between: after the first
    dispatcher counted zero and before it got the lock. It must then send nothing: three in all, three held."""
    import services.outbox as outbox_service

    launch_sample(pg_db, now=NOW, tmp_path=tmp_path)
    queue(pg_db, 6, channel="sms", to="13901008888")
    counted, rival_done = threading.Event(), threading.Event()
    first_thread: list[int] = []
    real_lock = outbox_service._lock_claims

    def lock_after_the_rival(conn: sa.Connection, *, sms: bool) -> None:
        if threading.get_ident() in first_thread and not counted.is_set():
            counted.set()  # the first dispatcher has counted the phone's day (0) and wants the lock
            assert rival_done.wait(60)
        real_lock(conn, sms=sms)

    monkeypatch.setattr(outbox_service, "_lock_claims", lock_after_the_rival)
    cap = RateOverride(per_minute=100, per_phone_per_day=3)
    results: dict[str, Any] = {}

    def first() -> None:
        first_thread.append(threading.get_ident())
        results["first"] = dispatch(pg_db, now=NOW, channels={"sms": SinkChannel(tmp_path / "sink", "sms")},
                                    digest=False, batch=3, max_rounds=1, rates=cap)

    thread = threading.Thread(target=first)
    thread.start()
    assert counted.wait(60)
    results["rival"] = dispatch(pg_db, now=NOW, channels={"sms": SinkChannel(tmp_path / "sink", "sms")},
                                digest=False, batch=3, max_rounds=1, rates=cap)
    rival_done.set()
    thread.join(60)
    assert results["rival"].sent == 3 and results["first"].sent == 0
    assert len(list((tmp_path / "sink").iterdir())) == 3
    # the three the exact count refused are back in the queue, untouched
    assert {k: v for k, v in outbox_counts(pg_db).items() if v} == {"queued": 3, "sent": 3}
    with pg_db.connect() as conn:
        assert set(conn.execute(sa.select(outbox.c.attempts).where(outbox.c.status == "queued")).scalars()) == {0}
        assert conn.execute(sa.select(sa.func.count()).select_from(sms_slots)).scalar_one() == 3


def test_sms_per_phone_daily_cap_holds_the_rest_on_both_backends(any_db: Database, tmp_path: Path) -> None:
    """Five reminders to one phone, no digest, a cap of two a day: two go today, three wait (held), and the
    next morning two more go. On PostgreSQL the cap is counted under the SMS lock after the rows are marked:
    the three it refuses must be back in the queue, not left `sending`."""
    launch_sample(any_db, now=NOW, tmp_path=tmp_path)
    queue(any_db, 5, channel="sms", to="13901009999")
    sink = {"sms": SinkChannel(tmp_path / "sink", "sms")}
    cap = RateOverride(per_minute=100, per_phone_per_day=2)
    first = dispatch(any_db, now=NOW, channels=sink, digest=False, rates=cap)
    assert first.sent == 2 and first.held == 3
    assert {k: v for k, v in outbox_counts(any_db).items() if v} == {"queued": 3, "sent": 2}
    with any_db.connect() as conn:
        assert set(conn.execute(sa.select(outbox.c.attempts).where(outbox.c.status == "queued")).scalars()) == {0}
    again = dispatch(any_db, now=NOW + timedelta(hours=1), channels=sink, digest=False, rates=cap)
    assert again.sent == 0
    tomorrow = dispatch(any_db, now=NOW + timedelta(days=1), channels=sink, digest=False, rates=cap)
    assert tomorrow.sent == 2 and len(list((tmp_path / "sink").iterdir())) == 4

    def slot_days() -> list[date]:
        with any_db.connect() as conn:
            return sorted(from_db_time(t).astimezone(NOW.tzinfo).date() for t in conn.execute(sa.select(sms_slots.c.taken_at)).scalars())

    assert slot_days() == [NOW.date()] * 2 + [(NOW + timedelta(days=1)).date()] * 2
    last = dispatch(any_db, now=NOW + timedelta(days=2, hours=1), channels=sink, digest=False, rates=cap)
    assert last.sent == 1  # the fifth
    # a slot is kept two days, not forever: the first day's are gone, the next day's still count
    assert slot_days() == [(NOW + timedelta(days=1)).date()] * 2 + [(NOW + timedelta(days=2)).date()]



def test_sms_per_phone_daily_cap_counts_the_new_day_when_midnight_passes_before_the_lock_on_postgresql(
        pg_db: Database, tmp_path: Path) -> None:
    """On PostgreSQL a claim counts the phone's day before it takes the SMS lock. If midnight passes in between, the
    day it counted is over: the count is made again for the new day, whose cap is fresh. A phone that used its three
    slots on Monday gets its fourth message at 00:00:01 on Tuesday, stamped on Tuesday."""
    from services.orgs import import_orgs
    from services.years import start_year
    from tests.conftest import SAMPLE_ORGS, SAMPLE_PLAN

    (tmp_path / "orgs.csv").write_text(SAMPLE_ORGS, encoding="utf-8")
    import_orgs(pg_db, tmp_path / "orgs.csv", now=NOW)
    assert "[reminders]\n" in SAMPLE_PLAN
    # quiet hours away from midnight, so that SMS go either side of it
    start_year(pg_db, plan_text=SAMPLE_PLAN.replace("[reminders]\n", '[reminders]\nquiet_hours = "03:00-04:00"\n'),
               year=2014, now=NOW)
    queue(pg_db, 4, channel="sms", to="13901007777")
    sink = {"sms": SinkChannel(tmp_path / "sink", "sms")}
    cap = RateOverride(per_minute=100, per_phone_per_day=3)
    monday = dispatch(pg_db, now=NOW, channels=sink, digest=False, rates=cap)
    assert monday.sent == 3 and monday.held == 1

    before = NOW.replace(hour=23, minute=59, second=59)
    after = before + timedelta(seconds=2)  # Tuesday 00:00:01
    readings: list[datetime] = []

    def clock() -> datetime:  # the claim reads Monday; from the SMS lock on, it is Tuesday
        readings.append(before if not readings else after)
        return readings[-1]

    tuesday = dispatch(pg_db, now=before, clock=clock, channels=sink, digest=False, rates=cap, max_rounds=1)
    assert tuesday.sent == 1
    assert len(list((tmp_path / "sink").iterdir())) == 4
    with pg_db.connect() as conn:
        stamps = sorted(from_db_time(t).astimezone(PLAN_TZ) for t in conn.execute(sa.select(sms_slots.c.taken_at)).scalars())
    assert [t.date() for t in stamps] == [NOW.date()] * 3 + [after.date()]


# --- H1 ---------------------------------------------------------------------------------------------------

def _add_bad_year(db: Database, zone: str) -> None:
    """A year launched by an older version with a plan that names no real zone, with open cycles (inserted as is)."""
    from storage.tables.core import cycles

    with db.begin() as conn:
        plan = dict(conn.execute(sa.select(years.c.plan).where(years.c.year == 2014)).scalar_one())
        conn.execute(years.insert().values(year=2013, plan={**plan, "year": 2013, "timezone": zone}, plan_text="",
                                           launched_at=to_db_time(NOW), launched_by="old-version"))
        rows = [dict(r._mapping) for r in conn.execute(sa.select(cycles).where(cycles.c.year == 2014))]
        for r in rows:
            r.pop("id")
            r["year"] = 2013
            r["meeting_id"] = None
        conn.execute(cycles.insert(), rows)


@pytest.mark.parametrize("zone", ["Nowhere/Zone", "../../../../etc/passwd"])
def test_h1_one_bad_stored_plan_never_stops_the_other_years(cli, orgs_csv: Path, plan_file: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            zone: str) -> None:
    assert cli("init")[0] == 0
    assert cli("orgs", "import", str(orgs_csv))[0] == 0
    assert cli("--now", "2014-11-25", "year", "start", "2014", "--plan", str(plan_file))[0] == 0
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    _add_bad_year(db, zone)
    code, out, err = cli("--now", "2014-12-07", "--json", "sweep")
    swept = json.loads(out)
    assert code == 1 and swept["queued"] == 11 and [f["year"] for f in swept["failed_years"]] == [2013]
    assert "2013" in err
    assert "不是有效的时区名称" in err and "plan." not in err  # the plan's problem read out, not its catalogue code
    code, out, err = cli("--now", "2014-12-07T12:00", "--json", "notify", "send")
    sent = json.loads(out)
    assert code == 1 and sent["sent"] == 11 and sent["failed_years"][0]["year"] == 2013 and "2013" in err
    queue(db, 2, channel="sms", start=50)
    code, out, err = cli("--now", "2014-12-08T12:00", "--json", "scheduler", "--once")
    outcome = json.loads(out)
    assert code == 1 and outcome["ran"] == ["sweep", "dispatch"] and outcome["dispatch"]["sent"] >= 2
    assert [f["year"] for f in outcome["failed_years"]] == [2013]
    db.dispose()


# --- issue 11 item 4 / issue 14: a simulated clock, and the sign-in code ------------------------------------------

def test_the_rate_window_ends_at_now_so_live_sends_never_starve_a_simulated_run(launched: App, tmp_path: Path) -> None:
    """A run whose `now` is in 2014 counts only the slots of [now − 1 min, now]: today's live sends (years later)
    fill their own minute, not the simulated one — and the simulated run's slots do not count against live sends."""
    db = launched.db
    live = datetime.combine(datetime.now(PLAN_TZ).date(), clock_time(10), tzinfo=PLAN_TZ)  # today, 10:00 in the plan's zone
    queue(db, 30, channel="sms")
    sink = {"sms": SinkChannel(tmp_path / "sink", "sms")}
    today = dispatch(db, now=live, channels=sink, digest=False, rates=RateOverride(per_minute=10))
    assert today.sent == 10  # the live minute is full
    simulated = dispatch(db, now=NOW, channels=sink, digest=False, rates=RateOverride(per_minute=10))
    assert simulated.sent == 10  # 2014's minute is empty: not starved by 2026's sends
    again = dispatch(db, now=live + timedelta(seconds=30), channels=sink, digest=False, rates=RateOverride(per_minute=10))
    assert again.sent == 0 and again.held == 10  # the live minute still holds its 10, 2014's ten are not in it


def _otp_row(db: Database, at: datetime, phone: str = "13900000099") -> str:
    """A sign-in code queued the way the console queues it (services.otp.request_code) for an SMS-only account."""
    from services.accounts import create_user
    from services.otp import request_code

    create_user(db, "sec-otp", "secretary", None, "T01", phone=phone)
    request_code(db, phone, now=at, secret="s" * 32)
    with db.connect() as conn:
        return str(conn.execute(sa.select(outbox.c.key).where(outbox.c.template == "otp")).scalar_one())


def test_the_sign_in_code_is_not_held_by_quiet_hours(launched: App, tmp_path: Path) -> None:
    db = launched.db
    queue(db, 2, channel="sms")
    key = _otp_row(db, parse_when("2014-12-07T23:29"))
    night = dispatch(db, now=parse_when("2014-12-07T23:30"), channels={"sms": SinkChannel(tmp_path / "sink", "sms")})
    with db.connect() as conn:
        status = dict(conn.execute(sa.select(outbox.c.key, outbox.c.status).where(outbox.c.channel == "sms")).all())
    assert status[key] == "sent" and night.sent == 1  # the code goes at 23:30
    assert night.held == 2 and [k for k, s in status.items() if s == "queued"] == ["test:sms:0", "test:sms:1"]


def test_the_sign_in_code_is_never_folded_into_a_digest(launched: App, tmp_path: Path) -> None:
    db = launched.db
    phone = "13900000099"
    with db.begin() as conn:  # two reminders queued for the same phone as the code
        conn.execute(outbox.update().where(outbox.c.key.in_(queue(db, 2, channel="sms"))).values(address=phone))
    _otp_row(db, parse_when("2014-12-07T09:59"), phone)
    result = dispatch(db, now=parse_when("2014-12-07T10:00"), channels={"sms": SinkChannel(tmp_path / "sink", "sms")})
    texts = [p.read_text(encoding="utf-8") for p in (tmp_path / "sink").iterdir()]
    assert result.sent == 3 and result.deliveries == 2  # the two reminders as one digest, the code on its own
    code_texts = [t for t in texts if "key: otp:" in t]
    assert len(code_texts) == 1 and "验证码" in code_texts[0]


def test_a_sign_in_code_goes_ahead_of_the_morning_backlog(launched: App, tmp_path: Path) -> None:
    """A code queued after thousands of reminders is claimed first: with the minute's SMS slots nearly used up by the
    backlog, the secretary still gets the code now, not hours later (it expires after 5 minutes)."""
    db = launched.db
    queue(db, 60, channel="sms")
    key = _otp_row(db, parse_when("2014-12-07T09:59"))
    result = dispatch(db, now=parse_when("2014-12-07T10:00"), channels={"sms": SinkChannel(tmp_path / "sink", "sms")},
                      digest=False, batch=20, rates=RateOverride(per_minute=5))
    with db.connect() as conn:
        status = dict(conn.execute(sa.select(outbox.c.key, outbox.c.status).where(outbox.c.channel == "sms")).all())
    assert status[key] == "sent"  # the code took one of the minute's 5 slots although 60 reminders were queued first
    assert result.sent == 5 and sum(s == "sent" for s in status.values()) == 5
    assert result.held == 56  # 56 reminders wait for the next minute, each counted once; the code is not among them
