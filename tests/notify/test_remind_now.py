""""Remind now" for one unit: its current step's notice to whoever owes it, once a minute however often clicked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from notifications.channels import SinkChannel
from services.app import App
from services.clock import parse_when
from services.cycles import fire_event
from services.errors import BadInput, NotFound, Refused
from services.outbox import dispatch
from services.sweep import remind_now, sweep_deadlines
from storage.db import Database
from storage.tables.core import cycles, orgs
from storage.tables.notify import outbox
from tests.conftest import launch_sample


def messages(db: Database) -> list[dict[str, Any]]:
    subject, recipient = orgs.alias("subject"), orgs.alias("recipient")
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(subject.c.code.label("org"), recipient.c.code.label("to_org"), outbox.c.template, outbox.c.step,
                      outbox.c.channel, outbox.c.address, outbox.c.days, outbox.c.note, outbox.c.key)
            .select_from(outbox.join(subject, subject.c.id == outbox.c.org_id)
                         .join(recipient, recipient.c.id == outbox.c.recipient_org_id))
            .order_by(outbox.c.id))]


def put_state(db: Database, org: str, state: str) -> None:
    with db.begin() as conn:
        org_id = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == org)).scalar_one()
        conn.execute(cycles.update().where(cycles.c.org_id == org_id, cycles.c.kind == "upward").values(state=state))


def test_one_unit_reminded_after_the_sweep_gets_its_owner_messages_once_a_minute(any_db: Database, tmp_path: Path) -> None:
    db = any_db
    launch_sample(db, now=parse_when("2014-11-25"), tmp_path=tmp_path)
    sweep_deadlines(db, now=parse_when("2014-12-07T08:00"))  # the day's sweep already reminded T01 (due 12-10)
    before = len(messages(db))
    assert sweep_deadlines(db, now=parse_when("2014-12-07T09:05")).queued == 0  # what the old button did: nothing

    result = remind_now(db, year=2014, org="T01", now=parse_when("2014-12-07T09:05"), by="zzb")
    assert {k: result[k] for k in ("org", "kind", "step", "template", "recipient", "queued")} == {
        "org": "T01", "kind": "upward", "step": "submit", "template": "reminder", "recipient": "T01", "queued": 2}
    new = messages(db)[before:]
    assert sorted((m["org"], m["to_org"], m["channel"], m["address"]) for m in new) == [
        ("T01", "T01", "email", "t01@example.cn"), ("T01", "T01", "sms", "13900000002")]
    assert all(m["template"] == "reminder" and m["days"] == 3 and m["note"] == "立即提醒：zzb" for m in new)
    assert all(":manual:2014-12-07T09:05:" in m["key"] for m in new)

    # a double click within the same minute queues nothing; a click a minute later queues again
    assert remind_now(db, year=2014, org="T01", now=parse_when("2014-12-07T09:05:50"), by="zzb")["queued"] == 0
    assert len(messages(db)) == before + 2
    assert remind_now(db, year=2014, org="T01", now=parse_when("2014-12-07T09:06"), by="zzb")["queued"] == 2
    assert len(messages(db)) == before + 4
    assert not any(m["org"] != "T01" for m in messages(db)[before:])  # no other unit touched


def test_a_unit_without_an_email_address_gets_the_sms_only(launched: App) -> None:
    result = remind_now(launched.db, year=2014, org="T02", now=parse_when("2014-12-07T09:00"), by="admin")
    assert result["queued"] == 1 and result["channels"] == ["sms"]
    assert [(m["channel"], m["address"]) for m in messages(launched.db)] == [("sms", "13900000003")]


def test_a_unit_without_any_contact_queues_nothing_and_says_so(launched: App) -> None:
    # E001 (enterprise under T02) has neither phone nor e-mail
    result = remind_now(launched.db, year=2014, org="E001", now=parse_when("2014-12-20T09:00"), by="admin")
    assert result["queued"] == 0 and result["channels"] == [] and result["recipient"] == "E001"
    assert messages(launched.db) == []


def test_a_report_under_review_reminds_the_reviewer_not_the_secretary(launched: App) -> None:
    db, now = launched.db, parse_when("2014-12-08")
    for event in ("finish_research", "submit"):
        fire_event(db, year=2014, org="V001", event=event, now=now, hooks=launched.hooks,
                   options={"report_text": "# 述职报告"} if event == "submit" else None)
    result = remind_now(db, year=2014, org="V001", now=parse_when("2014-12-08T10:00"), by="admin")
    assert (result["step"], result["recipient"], result["queued"]) == ("review", "T01", 2)
    assert sorted((m["org"], m["to_org"], m["step"], m["address"]) for m in messages(db)) == [
        ("V001", "T01", "review", "13900000002"), ("V001", "T01", "review", "t01@example.cn")]


def test_an_overdue_step_gets_the_overdue_text(launched: App, tmp_path: Path) -> None:
    db = launched.db
    result = remind_now(db, year=2014, org="HC", now=parse_when("2014-12-08T09:00"), by="admin")  # due 12-05
    assert (result["template"], result["queued"]) == ("overdue", 2)
    channels = {"sms": SinkChannel(tmp_path / "sink", "sms"), "email": SinkChannel(tmp_path / "sink", "email")}
    assert dispatch(db, now=parse_when("2014-12-08T09:01"), channels=channels, digest=False).sent == 2
    with db.connect() as conn:
        bodies = conn.execute(sa.select(outbox.c.channel, outbox.c.body).order_by(outbox.c.channel)).all()
    assert all("已逾期3天" in body for _, body in bodies), bodies
    assert not any("admin" in body for _, body in bodies)  # who asked is recorded, not shown to the recipient


@pytest.mark.parametrize("state", ["committed", "closed"])
def test_a_cycle_that_owes_no_step_is_refused_and_nothing_changes(launched: App, state: str) -> None:
    db = launched.db
    put_state(db, "V002", state)
    with pytest.raises(Refused) as refused:
        remind_now(db, year=2014, org="V002", now=parse_when("2014-12-08T09:00"), by="admin")
    assert refused.value.exit_code == 3 and refused.value.params["state"] == state and "没有待办环节" in refused.value.message
    assert messages(db) == []


def test_unknown_organization_cycle_year_or_kind(launched: App) -> None:
    db, now = launched.db, parse_when("2014-12-08T09:00")
    with pytest.raises(NotFound, match="NOPE"):
        remind_now(db, year=2014, org="NOPE", now=now, by="admin")
    with pytest.raises(NotFound, match="2013"):
        remind_now(db, year=2013, org="T01", now=now, by="admin")
    with pytest.raises(NotFound, match="XG"):  # the prefecture reports nowhere: it has no cycle
        remind_now(db, year=2014, org="XG", now=now, by="admin")
    with pytest.raises(BadInput, match="--kind"):
        remind_now(db, year=2014, org="T01", kind="sideways", now=now, by="admin")
    assert messages(db) == []


def test_cli_remind_json_twice_in_a_minute_and_refused(cli, orgs_csv: Path, plan_file: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("init")[0] == 0
    assert cli("orgs", "import", str(orgs_csv))[0] == 0
    assert cli("--now", "2014-11-25", "year", "start", "2014", "--plan", str(plan_file))[0] == 0
    code, out, _ = cli("--now", "2014-12-07T09:05", "--json", "remind", "--year", "2014", "T01")
    assert code == 0 and json.loads(out) == {"org": "T01", "kind": "upward", "step": "submit", "queued": 2}
    code, out, _ = cli("--now", "2014-12-07T09:05", "--json", "remind", "--year", "2014", "T01", "--kind", "upward")
    assert code == 0 and json.loads(out)["queued"] == 0
    code, out, _ = cli("--now", "2014-12-07T09:06", "remind", "--year", "2014", "T01")
    assert code == 0 and "新排队消息 2 条" in out and "13900000002" not in out
    code, out, _ = cli("--json", "outbox", "list", "--org", "T01")
    assert len(json.loads(out)) == 4
    code, _, err = cli("--now", "2014-12-07T09:07", "remind", "--year", "2014", "NOPE")
    assert code == 4 and "NOPE" in err
    code, _, err = cli("--now", "2014-12-07T09:07", "remind", "--year", "2014", "T01", "--kind", "sideways")
    assert code == 2 and "--kind" in err
