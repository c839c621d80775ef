"""End to end through `shuzhi`: a dispatcher SIGKILLed between claim and send, then restarted; the CLI contract."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import SAMPLE_ORGS, SAMPLE_PLAN


def shuzhi(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shuzhi_cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_dispatcher_killed_between_claim_and_send_delivers_everything_exactly_once(tmp_path: Path) -> None:
    sink = tmp_path / "sink"
    env = {**os.environ, "SHUZHI_DB": f"sqlite:///{tmp_path / 'crash.db'}", "SHUZHI_SINK_DIR": str(sink),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("SHUZHI_NOW", None)
    (tmp_path / "orgs.csv").write_text(SAMPLE_ORGS, encoding="utf-8")
    (tmp_path / "plan.toml").write_text(SAMPLE_PLAN, encoding="utf-8")
    for args in (["init"], ["orgs", "import", str(tmp_path / "orgs.csv")],
                 ["--now", "2014-11-25", "year", "start", "2014", "--plan", str(tmp_path / "plan.toml")]):
        assert shuzhi(env, *args).returncode == 0
    swept = json.loads(shuzhi(env, "--now", "2014-12-07", "--json", "sweep").stdout)
    assert swept["queued"] == 11  # 8 deadline notices, 3 work-plan reminders (R9) to T01 and T02

    marker = tmp_path / "claimed"
    victim = subprocess.Popen([sys.executable, "-m", "shuzhi_cli.main", "--now", "2014-12-07T09:00", "notify", "send",
                               "--no-digest"], env={**env, "SHUZHI_TEST_PAUSE_AFTER_CLAIM": str(marker)})
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the dispatcher never claimed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert not sink.exists() or not list(sink.iterdir())  # claimed, never sent

    # restarted within the grace period: the claim is left alone
    early = json.loads(shuzhi(env, "--now", "2014-12-07T09:05", "--json", "notify", "send").stdout)
    assert early["sent"] == 0
    # after the grace period: reclaimed and sent, once
    late = json.loads(shuzhi(env, "--now", "2014-12-07T09:20", "--json", "notify", "send", "--no-digest").stdout)
    assert late["reclaimed"] == 11 and late["sent"] == 11
    again = json.loads(shuzhi(env, "--now", "2014-12-07T10:00", "--json", "notify", "send").stdout)
    assert again["sent"] == 0
    assert len(list(sink.iterdir())) == 11
    listed = json.loads(shuzhi(env, "--json", "outbox", "list", "--status", "sent").stdout)
    assert len(listed) == 11 and {m["channel"] for m in listed} == {"sms", "email"}


def test_cli_sweep_outbox_list_masked_and_json(cli, orgs_csv: Path, plan_file: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("init")[0] == 0
    assert cli("orgs", "import", str(orgs_csv))[0] == 0
    assert cli("--now", "2014-11-25", "year", "start", "2014", "--plan", str(plan_file))[0] == 0
    code, out, _ = cli("--now", "2014-12-07", "--json", "sweep", "--year", "2014")
    assert code == 0 and json.loads(out) == {"checked": 16, "lagging": 4, "queued": 11, "escalated": 2}
    code, out, _ = cli("--now", "2014-12-07", "--json", "sweep")
    assert json.loads(out)["queued"] == 0
    code, out, _ = cli("--json", "outbox", "list", "--org", "T01")
    rows = json.loads(out)
    assert {r["to"] for r in rows} == {"13900000002", "t01@example.cn"}
    assert set(rows[0]) >= {"id", "org", "channel", "to", "template", "step", "status", "created_at"}
    code, out, _ = cli("outbox", "list")
    assert code == 0 and "139****0002" in out and "13900000002" not in out and "t***@example.cn" in out
    code, out, _ = cli("--now", "2014-12-07T12:00", "--json", "notify", "send")
    assert json.loads(out)["sent"] == 11
    code, _, err = cli("outbox", "list", "--status", "bogus")
    assert code == 2 and "--status" in err
    code, _, err = cli("--now", "2014-12-07", "sweep", "--year", "2013")
    assert code == 4


def test_cli_meetings_move_and_calendar(cli, orgs_csv: Path, plan_file: Path) -> None:  # type: ignore[no-untyped-def]
    cli("init")
    cli("orgs", "import", str(orgs_csv))
    cli("--now", "2014-11-25", "year", "start", "2014", "--plan", str(plan_file))
    code, out, _ = cli("--now", "2014-11-26", "--json", "meetings", "move", "--year", "2014", "--organizer", "T01",
                       "--date", "2014-12-29")
    assert code == 0
    moved = json.loads(out)
    assert moved["from"] == "2014-12-26" and moved["cycles"] == 2
    code, out, _ = cli("--json", "cycles", "show", "--year", "2014", "V001")
    shown = json.loads(out)
    assert shown["meeting"] == "2014-12-29" and shown["deadlines"]["submit"] == "2014-12-19"
    assert shown["history"][-1]["event"] == "move_meeting" and "2014-12-29" in shown["history"][-1]["note"]
    code, _, err = cli("meetings", "move", "--year", "2014", "--organizer", "T01", "--date", "2014-12-18")
    assert code == 2 and "自上而下" in err  # T01 itself reports on 12-20
    code, _, err = cli("meetings", "move", "--year", "2014", "--organizer", "T01", "--date", "2014-13-01")
    assert code == 2 and "--date" in err
    code, out, _ = cli("--json", "calendar", "set", "2027-02-06", "holiday", "--note", "春节")
    assert code == 0
    code, _, err = cli("calendar", "show", "2028-01")
    assert code == 2 and "2028" in err and "calendar set" in err
    code, out, _ = cli("--json", "calendar", "show", "2027-02")
    days = {d["day"]: d for d in json.loads(out)}
    assert days["2027-02-06"]["workday"] is False and days["2027-02-06"]["override"] is True
    assert days["2027-02-08"]["workday"] is True  # a Monday, by the weekday rule once the notice is entered
