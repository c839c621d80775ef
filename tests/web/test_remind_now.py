""""Remind now" from the console: one unit's notice to whoever owes its step, by whoever may ask, once a minute."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.clock import FixedClock
from storage.tables.core import cycles, orgs
from storage.tables.notify import outbox
from storage.tables.web import web_audit
from tests.web.conftest import csrf_of


def queued(app: Any) -> list[tuple[str, str, str, str]]:
    subject, recipient = orgs.alias("subject"), orgs.alias("recipient")
    with app.db.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(subject.c.code, recipient.c.code, outbox.c.channel, outbox.c.note)
            .select_from(outbox.join(subject, subject.c.id == outbox.c.org_id)
                         .join(recipient, recipient.c.id == outbox.c.recipient_org_id))
            .order_by(outbox.c.id))]


def test_lagging_page_button_queues_the_unit_once_a_minute(client_for: Any, web_app: Any, web_clock: FixedClock) -> None:
    client = client_for("zzb")
    page = client.get("/lagging?year=2014")
    assert 'name="kind" value="upward"' in page.text

    def click() -> str:
        done = client.post("/lagging/remind", data={"year": "2014", "org": "T02", "kind": "upward",
                                                    "csrf_token": csrf_of(page.text)}, follow_redirects=True)
        assert done.status_code == 200
        return str(done.text)

    first = click()
    assert "已向城隍镇党委（T02）发送 T02“报送述职报告”到期提醒" in first and "新入队 1 条（短信）" in first  # T02 has no e-mail
    assert queued(web_app) == [("T02", "T02", "sms", "立即提醒：zzb")]
    assert "本分钟内已入队，未重复发送" in click()
    assert len(queued(web_app)) == 1
    web_clock.advance(minutes=1)
    assert "新入队 1 条" in click()
    assert len(queued(web_app)) == 2
    client.get("/lagging?year=2014&lang=en")  # the operator switches to English: the notice follows
    assert "reminder was queued within this minute already: not sent twice" in click()


def test_api_reviewer_in_scope_reminds_the_reviewer_owned_step(client_for: Any, web_app: Any) -> None:
    with web_app.db.begin() as conn:  # V001's report is under review: T01 (the reviewer) owes the step
        v001 = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == "V001")).scalar_one()
        conn.execute(cycles.update().where(cycles.c.org_id == v001, cycles.c.kind == "upward").values(state="submitted"))
    response = client_for("t01_reviewer").post("/api/remind", json={"year": 2014, "org": "V001"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["step"], body["recipient"], body["queued"], body["channels"]) == ("review", "T01", 2, ["sms", "email"])
    assert "13900000002" not in response.text  # the answer names channels, not contacts
    assert sorted(queued(web_app)) == [("V001", "T01", "email", "立即提醒：t01_reviewer"),
                                       ("V001", "T01", "sms", "立即提醒：t01_reviewer")]


def test_api_reviewer_out_of_scope_is_refused_and_audited(client_for: Any, web_app: Any) -> None:
    response = client_for("t01_reviewer").post("/api/remind", json={"year": 2014, "org": "C001"})  # C001 is under T02
    assert response.status_code == 403, response.text
    assert queued(web_app) == []
    with web_app.db.connect() as conn:
        audited = conn.execute(sa.select(web_audit.c.action, web_audit.c.outcome)
                               .where(web_audit.c.username == "t01_reviewer")).all()
    assert ("remind", "denied") in audited


def test_api_closed_cycle_is_refused_and_nothing_is_queued(client_for: Any, web_app: Any) -> None:
    with web_app.db.begin() as conn:
        v002 = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == "V002")).scalar_one()
        conn.execute(cycles.update().where(cycles.c.org_id == v002).values(state="closed"))
    client = client_for("admin")
    response = client.post("/api/remind", json={"year": 2014, "org": "V002"})
    assert response.status_code == 409, response.text
    assert "没有待办环节" in response.text
    assert client.post("/api/remind", json={"year": 2014, "org": "NOPE"}).status_code == 404
    assert queued(web_app) == []
