"""Issue 12 item 7: what the Chinese console shows is Chinese — refusals by role, bare HTTP errors, the audit log —
and English under ?lang=en; the API answers in the request's language too."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import sqlalchemy as sa

from storage.tables.core import cycles, orgs
from tests.web.conftest import csrf_of


def _message_of(page: str) -> str:
    found = re.search(r'<p class="error-message">(.*?)</p>', page, re.S)
    assert found is not None, "the page shows no error message"
    return unescape(found.group(1)).strip()


def _state_of_v001(web_app: Any) -> str:
    with web_app.db.connect() as conn:
        return str(conn.execute(sa.select(cycles.c.state).select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id))
                                .where(orgs.c.code == "V001", cycles.c.kind == "upward")).scalar_one())


def test_a_refusal_by_role_names_who_and_what_in_the_readers_language(client_for: Any, web_app: Any) -> None:
    reviewer = client_for("t01_reviewer")
    token = csrf_of(reviewer.get("/cycles/2014/V001").text)
    refused = reviewer.post("/cycles/2014/V001/fire", data={"event": "finish_research", "csrf_token": token})
    assert refused.status_code == 403
    assert _message_of(refused.text) == "无权操作：t01_reviewer（审核（党委），范围 T01）不能对 V001 执行“完成调研”"
    english = reviewer.post("/cycles/2014/V001/fire?lang=en", data={"event": "finish_research", "csrf_token": token})
    assert english.status_code == 403
    assert _message_of(english.text) == "not allowed: t01_reviewer (reviewer, scope T01) may not fire 'finish_research' on V001"
    api = reviewer.post("/api/cycles/2014/V001/events?lang=zh", json={"event": "finish_research"})
    assert api.status_code == 403 and api.json()["error"].startswith("无权操作：t01_reviewer")
    assert _state_of_v001(web_app) == "researching"  # nothing changed


def test_bare_http_errors_are_in_the_readers_language(client_for: Any, web_app: Any) -> None:
    client = client_for("admin")
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and _message_of(missing.text) == "没有这个页面或记录"
    assert "Not Found" not in missing.text
    assert _message_of(client.get("/no-such-page?lang=en").text) == "not found"
    client.get("/overview?lang=zh")
    no_csrf = client.post("/cycles/2014/V001/fire", data={"event": "finish_research"})
    assert no_csrf.status_code == 403 and _message_of(no_csrf.text) == "页面已过期（表单校验码缺失或不符）：请刷新页面后重试"
    assert _state_of_v001(web_app) == "researching"
    anonymous = client_for(None).get("/api/years?lang=en")
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "sign in or send Authorization: Bearer TOKEN"


def test_the_audit_log_reads_in_chinese(client_for: Any) -> None:
    zzb = client_for("zzb")
    token = csrf_of(zzb.get("/lagging?year=2014").text)
    zzb.post("/lagging/remind-bulk", data={"year": "2014", "kind": "upward", "csrf_token": token})
    client_for("v001_secretary").get("/lagging")
    page = client_for("admin").get("/admin/users").text
    audit = unescape(re.sub(r"<[^>]+>", " ", page[page.index(">审计日志<"):]))
    assert "批量提醒" in audit and re.search(r"述职类型=向上级述职： \d+ 个单位，\d+ 条消息", audit)
    assert "无权操作：v001_secretary（书记，范围 V001）不能查看全市列表" in audit
    for english in ("remind bulk", "units,", "messages", "kind=upward", "may not"):
        assert english not in audit
