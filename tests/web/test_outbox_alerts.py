"""Issue 10 H2 and M2 in the console: a paused channel's alert on /outbox, `last_error` masked on /outbox and
/api/outbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from services.app import App
from services.outbox import dispatch
from storage.db import to_db_time
from storage.tables.notify import outbox
from tests.notify.test_hardening import NOW, Smtp, email, queue, smtp, smtp_auth  # noqa: F401  (fixtures)


def test_h2_paused_channel_banner_and_m2_masked_errors_on_outbox_page_and_api(
        web_app: App, client_for: Callable[[str | None], Any], smtp_auth: Smtp) -> None:  # noqa: F811
    db = web_app.db
    queue(db, 3)
    with db.begin() as conn:  # a refusal recorded by an older version, the address in clear
        conn.execute(outbox.insert().values(
            key="old", year=2014, org_id=1, recipient_org_id=1, template="returned", channel="email",
            address="zhang.san@example.cn", status="failed", attempts=1, created_at=to_db_time(NOW),
            last_error="recipient refused: {'zhang.san@example.cn': (550, b'User unknown')}"))
        conn.execute(sa.text("SELECT 1"))
    dispatch(db, now=NOW, channels=email(smtp_auth.url("wrong-pass")))
    client = client_for("admin")
    page = client.get("/outbox?year=2014").text
    assert 'data-channel-alert="email"' in page and "邮件渠道已暂停发送" in page and "wrong-pass" not in page
    failed = client.get("/outbox?year=2014&status=failed").text
    assert "zhang.san@example.cn" not in failed and "z***@example.cn" in failed
    api = client.get("/api/outbox", params={"year": 2014, "status": "failed"})
    assert api.status_code == 200 and "zhang.san@example.cn" not in api.text and "z***@example.cn" in api.text
