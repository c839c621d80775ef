"""The dispatcher against real servers: exactly once, outages ridden out, quiet hours, rate limits, digests."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from notifications.channels import AliyunSms, SinkChannel, SmtpEmail, WebhookSms
from services.app import App
from services.clock import parse_when
from services.cycles import fire_event
from services.outbox import dispatch, list_outbox, outbox_counts
from services.sweep import sweep_deadlines
from storage.db import Database, to_db_time
from storage.tables.notify import outbox
from tests.conftest import launch_sample
from tests.notify.conftest import AliyunState, SmtpSink, WebhookState

SEASON = ["2014-12-05", "2014-12-07", "2014-12-09", "2014-12-10", "2014-12-12"]


def sink_channels(tmp_path: Path) -> dict[str, Any]:
    return {"sms": SinkChannel(tmp_path / "sink", "sms"), "email": SinkChannel(tmp_path / "sink", "email")}


def statuses(db: Database) -> dict[str, int]:
    return {k: v for k, v in outbox_counts(db).items() if v}


def test_a_season_reaches_smtp_and_the_webhook_exactly_once(launched: App, smtp_server: SmtpSink,
                                                           sms_webhook: WebhookState) -> None:
    db = launched.db
    for day in SEASON:
        now = parse_when(day)
        sweep_deadlines(db, now=now)
        channels = {"sms": WebhookSms(sms_webhook.url), "email": SmtpEmail(smtp_server.url, mail_from="组织部 <zzb@example.gov.cn>")}
        dispatch(db, now=now, channels=channels, digest=False)
        dispatch(db, now=now + timedelta(minutes=5), channels={"sms": WebhookSms(sms_webhook.url),
                                                               "email": SmtpEmail(smtp_server.url, mail_from="zzb@example.gov.cn")})
    rows = list_outbox(db)
    assert rows and {r["status"] for r in rows} <= {"sent", "cancelled"}
    sent_sms = [r for r in rows if r["channel"] == "sms" and r["status"] == "sent"]
    sent_email = [r for r in rows if r["channel"] == "email" and r["status"] == "sent"]
    assert len(sms_webhook.received) == len(sms_webhook.delivered) == len(sent_sms)  # no retry, no duplicate
    assert len(smtp_server.messages) == len(sent_email)
    assert len({m["X-Shuzhi-Key"] for m in smtp_server.messages}) == len(smtp_server.messages)
    assert all(r["provider_ref"] for r in sent_sms + sent_email)


def test_email_is_real_mime_with_a_chinese_subject(launched: App, smtp_server: SmtpSink) -> None:
    db, now = launched.db, parse_when("2014-12-07")
    sweep_deadlines(db, now=now, year=2014)
    dispatch(db, now=now, channels={"email": SmtpEmail(smtp_server.url, mail_from="组织部 <zzb@example.gov.cn>")})
    message: EmailMessage = next(m for m in smtp_server.messages if m["To"] == "u01@example.cn")
    assert message["Subject"] == "【述职提醒】2014年度向上级述职“报送述职报告”还有3天截止"
    assert "=?utf-8?" in message.as_string().split("\n\n", 1)[0].lower()  # the header went encoded on the wire
    assert str(message["From"].addresses[0].display_name) == "组织部"  # type: ignore[attr-defined]
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "市教育局党组2014年度向上级述职的“报送述职报告”将于2014年12月10日截止" in text.get_content()
    assert "<p>" in html.get_content() and "市教育局党组" in html.get_content()


@pytest.mark.parametrize("mail_from", ["组织部 <zzb@example.gov.cn>", "zzb@example.gov.cn"])
def test_the_wire_bytes_and_the_emailmessage_builder_say_the_same(mail_from: str) -> None:
    """SmtpEmail writes ASCII-addressed e-mail out directly and keeps `build_email` for addresses that need
    SMTPUTF8: both must read the same to the recipient's mail program."""
    from email import message_from_bytes, policy

    from notifications.channels import OutgoingMessage, build_email, email_bytes

    message = OutgoingMessage(key="2014:7:upward:submit:returned:x:email", channel="email", to="u01@example.cn",
                              text="马口镇党委：\n东村党支部“报送述职报告”已退回修改。\n" * 3,
                              subject="【述职提醒】东村党支部“报送述职报告”已退回修改，请于2014年12月20日前重新报送",
                              html="<p>马口镇党委：</p><p>东村党支部</p>")
    data, message_id = email_bytes(message, mail_from=mail_from)
    wire = message_from_bytes(data, policy=policy.default)
    built = message_from_bytes(build_email(message, mail_from=mail_from).as_bytes(), policy=policy.default)
    for header in ("From", "To", "Subject", "X-Shuzhi-Key"):
        assert str(wire[header]) == str(built[header])
    assert str(wire["Message-ID"]).strip() == message_id
    for kind in ("plain", "html"):
        ours, theirs = wire.get_body((kind,)), built.get_body((kind,))
        assert ours is not None and theirs is not None
        assert ours.get_content().strip() == theirs.get_content().replace("\r\n", "\n").strip()
    assert all(len(line) <= 998 for line in data.split(b"\r\n")) and b"\n" not in data.replace(b"\r\n", b"")
    with pytest.raises(ValueError, match="linefeed"):
        email_bytes(OutgoingMessage(key="k", channel="email", to="u01@example.cn\r\nBcc: x@example.cn", text="t"),
                    mail_from=mail_from)


def test_smtp_down_then_back_delivers_everything_once(launched: App, smtp_server: SmtpSink) -> None:
    db, now = launched.db, parse_when("2014-12-07")
    sweep_deadlines(db, now=now)
    down = {"email": SmtpEmail("smtp://127.0.0.1:9", mail_from="zzb@example.gov.cn")}  # nothing listens on port 9
    first = dispatch(db, now=now, channels=down)
    # the server being down is the sender's problem: the channel pauses, the messages stay queued untouched
    assert first.sent == 0 and first.retried == 0 and first.released == first.claimed > 0 and "email" in first.paused
    assert dispatch(db, now=now + timedelta(seconds=30), channels=down).claimed == 0  # paused: backing off
    back = dispatch(db, now=now + timedelta(minutes=2), channels={"email": SmtpEmail(smtp_server.url, mail_from="zzb@example.gov.cn")})
    assert back.sent == first.claimed
    assert len(smtp_server.messages) == back.deliveries  # T01's reminder and work-plan notice went as one digest
    assert all(r["attempts"] == 1 for r in list_outbox(db) if r["channel"] == "email")


def test_webhook_5xx_pauses_the_channel_keeps_messages_queued_4xx_fails_at_once(launched: App, sms_webhook: WebhookState) -> None:
    db, now = launched.db, parse_when("2014-12-07")
    sweep_deadlines(db, now=now)
    sms_webhook.fail_with = 503
    for minutes in range(0, 60 * 24, 30):
        result = dispatch(db, now=now + timedelta(minutes=minutes), channels={"sms": WebhookSms(sms_webhook.url)})
        assert result.failed == 0
    sms = [r for r in list_outbox(db) if r["channel"] == "sms"]
    assert sms and all(r["status"] == "queued" and r["attempts"] == 0 for r in sms)  # gateway down: nothing lost
    assert "HTTP 503" in result.paused["sms"] and "s3cr3t" not in result.paused["sms"]  # the URL's token never leaks
    sms_webhook.fail_with = None
    back = dispatch(db, now=now + timedelta(days=1), channels={"sms": WebhookSms(sms_webhook.url)})
    assert back.sent == len(sms) and not back.paused

    fire_event(db, year=2014, org="T01", event="finish_research", now=now)
    fire_event(db, year=2014, org="T01", event="submit", now=now)
    fire_event(db, year=2014, org="T01", event="rewrite", note="重写", now=now, hooks=launched.hooks)
    sms_webhook.fail_with = 400
    dispatch(db, now=now + timedelta(days=2), channels={"sms": WebhookSms(sms_webhook.url)})
    returned = [r for r in list_outbox(db) if r["template"] == "returned" and r["channel"] == "sms"]
    assert [(r["status"], r["attempts"]) for r in returned] == [("failed", 1)]


def test_aliyun_sendsms_is_signed_as_documented(launched: App, aliyun_server: AliyunState) -> None:
    db, now = launched.db, parse_when("2014-12-07")
    sweep_deadlines(db, now=now)
    channel = AliyunSms(access_key_id="LTAI-test", access_key_secret=aliyun_server.secret, sign_name="汉川组织部",
                        template_codes={"default": "SMS_0001", "escalation": "SMS_0002"}, endpoint=aliyun_server.url)
    result = dispatch(db, now=now, channels={"sms": channel}, digest=False, chunk=100)
    assert aliyun_server.bad_signatures == 0
    numbers = [n for r in aliyun_server.requests
               for n in (json.loads(r["PhoneNumberJson"]) if r["Action"] == "SendBatchSms" else [r["PhoneNumbers"]])]
    assert result.sent == len(numbers) > len(aliyun_server.requests)  # runs of one template went as SendBatchSms
    single = [r for r in aliyun_server.requests if r["Action"] == "SendSms"]
    batch = [r for r in aliyun_server.requests if r["Action"] == "SendBatchSms"]
    assert batch and all(r["Version"] == "2017-05-25" for r in aliyun_server.requests)
    assert all(r["SignName"] == "汉川组织部" and r["OutId"].startswith("2014:") for r in single)
    assert all(json.loads(r["SignNameJson"]) == ["汉川组织部"] * len(json.loads(r["PhoneNumberJson"]))
               and len(json.loads(r["TemplateParamJson"])) == len(json.loads(r["PhoneNumberJson"])) for r in batch)
    assert {r["TemplateCode"] for r in aliyun_server.requests} == {"SMS_0001", "SMS_0002"}
    assert next(r["provider_ref"] for r in list_outbox(db) if r["status"] == "sent").startswith("biz-")
    assert aliyun_server.secret not in repr(channel)

    wrong = AliyunSms(access_key_id="LTAI-test", access_key_secret="not-the-secret", sign_name="x",
                      template_codes={"default": "SMS_0001"}, endpoint=aliyun_server.url)
    sweep_deadlines(db, now=parse_when("2014-12-09"))
    bad = dispatch(db, now=parse_when("2014-12-09"), channels={"sms": wrong})
    # a wrong secret is the sender's fault: the channel pauses, nothing is marked failed
    assert aliyun_server.bad_signatures > 0 and bad.failed == 0 and bad.sent == 0 and "SignatureDoesNotMatch" in bad.paused["sms"]


def test_quiet_hours_hold_sms_not_email(launched: App, tmp_path: Path) -> None:
    db = launched.db
    sweep_deadlines(db, now=parse_when("2014-12-07"))
    night = dispatch(db, now=parse_when("2014-12-07T23:30"), channels=sink_channels(tmp_path))
    assert night.held > 0
    assert {r["channel"] for r in list_outbox(db, status="queued")} == {"sms"}
    assert {r["channel"] for r in list_outbox(db, status="sent")} == {"email"}
    dawn = dispatch(db, now=parse_when("2014-12-08T07:59"), channels=sink_channels(tmp_path))
    assert dawn.sent == 0
    morning = dispatch(db, now=parse_when("2014-12-08T08:00"), channels=sink_channels(tmp_path))
    assert morning.sent == night.held and not list_outbox(db, status="queued")


def test_five_sms_a_day_to_one_phone_and_a_minute_budget(launched: App, tmp_path: Path) -> None:
    db = launched.db
    with db.begin() as conn:  # every town and unit shares one phone for this test
        conn.execute(sa.text("update orgs set phone = '13911111111'"))
    base = parse_when("2014-12-01")
    for day in range(12):
        sweep_deadlines(db, now=base + timedelta(days=day))
    for hour in range(12):
        dispatch(db, now=base + timedelta(days=11, hours=hour - 1), channels=sink_channels(tmp_path), digest=False)
    with db.connect() as conn:
        sent_that_day = conn.execute(
            sa.select(sa.func.count()).where(outbox.c.channel == "sms", outbox.c.status == "sent")
        ).scalar_one()
    assert sent_that_day == 5
    assert list_outbox(db, status="queued")  # the rest waits for tomorrow


def test_several_reminders_to_one_recipient_go_as_one_digest(launched: App, tmp_path: Path) -> None:
    db, now = launched.db, parse_when("2014-12-08")
    for event in ("finish_research", "submit"):
        fire_event(db, year=2014, org="T01", event=event, now=now)
    fire_event(db, year=2014, org="T01", event="revise", note="材料不全", now=now, hooks=launched.hooks)
    sweep_deadlines(db, now=now)
    result = dispatch(db, now=now, channels=sink_channels(tmp_path))
    t01 = [r for r in list_outbox(db, org="T01") if r["channel"] == "email"]
    assert len(t01) >= 1
    files = [p.read_text(encoding="utf-8") for p in (tmp_path / "sink").glob("email-*.txt")]
    texts = [text for text in files if "t01@example.cn" in text]
    assert len(texts) == 1
    assert result.deliveries < result.sent or len(t01) == 1


def test_crash_leftovers_are_reclaimed_after_the_grace_period(launched: App, tmp_path: Path) -> None:
    db, now = launched.db, parse_when("2014-12-07")
    sweep_deadlines(db, now=now)
    with db.begin() as conn:  # a dispatcher claimed and died
        conn.execute(outbox.update().values(status="sending", claim_token="dead", claimed_at=to_db_time(now - timedelta(minutes=1))))
    n = outbox_counts(db)["sending"]
    assert dispatch(db, now=now, channels=sink_channels(tmp_path), grace=timedelta(days=365 * 20)).sent == 0
    later = dispatch(db, now=now, channels=sink_channels(tmp_path), grace=timedelta(0))
    assert later.reclaimed == n and later.sent == n


@pytest.mark.pg
def test_dispatch_on_postgresql(pg_db: Database, tmp_path: Path) -> None:
    launch_sample(pg_db, now=parse_when("2014-11-25"), tmp_path=tmp_path)
    now = parse_when("2014-12-09")
    queued = sweep_deadlines(pg_db, now=now).queued
    result = dispatch(pg_db, now=now, channels=sink_channels(tmp_path), digest=False)
    assert result.sent == queued and statuses(pg_db) == {"sent": queued}
    assert dispatch(pg_db, now=now, channels=sink_channels(tmp_path)).claimed == 0
