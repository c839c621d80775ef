"""Issue 12, the operators' console: search, filtered lagging list, exports, bulk remind, acting on behalf, phone
reveal, launch preview, ballot codes as a file, offline API docs — each action with its refusals, and the role ×
action matrix for the new actions."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.orgs import import_orgs
from storage.tables.core import cycles, history, orgs
from storage.tables.notify import outbox
from storage.tables.web import web_audit
from tests.conftest import SAMPLE_PLAN


def _audit(app: Any, action: str) -> list[Any]:
    with app.db.connect() as conn:
        return conn.execute(sa.select(web_audit.c.username, web_audit.c.outcome, web_audit.c.detail)
                            .where(web_audit.c.action == action)).all()


def _add_chengguan(app: Any, tmp_path: Path) -> None:
    path = tmp_path / "more.csv"
    path.write_text("code,name,kind,parent\nT03,城关镇党委,town,HC\n", encoding="utf-8")
    import_orgs(app.db, path, now=app.now())


# --- search ------------------------------------------------------------------------------------------------------

def test_search_by_initials_code_prefix_and_name(client_for: Any, web_app: Any, tmp_path: Path) -> None:
    _add_chengguan(web_app, tmp_path)
    client = client_for("viewer")
    hits = client.get("/api/search", params={"q": "cgz"}).json()
    assert hits[0]["code"] == "T03" and hits[0]["name"] == "城关镇党委"
    assert set(hits[0]) >= {"code", "name", "kind", "path"} and hits[0]["path"] == "/XG/HC/T03/"
    assert [h["code"] for h in client.get("/api/search", params={"q": "t0"}).json()][:3] == ["T01", "T02", "T03"]
    assert client.get("/api/search", params={"q": "T01"}).json()[0]["code"] == "T01"  # the exact code first
    assert [h["code"] for h in client.get("/api/search", params={"q": "马口"}).json()] == ["T01"]
    assert client.get("/api/search", params={"q": "回龙"}).json() == []


def test_search_one_character_and_200_characters_are_answered_plainly(client_for: Any) -> None:
    client = client_for("viewer")
    one = client.get("/api/search", params={"q": "党"})
    assert one.status_code == 200 and 1 <= len(one.json()) <= 20
    assert {h["code"] for h in one.json()} >= {"T01", "T02", "U01"}
    assert [h["code"] for h in client.get("/api/search", params={"q": "东"}).json()] == ["V001"]  # a village by its start
    assert client.get("/api/search", params={"q": "x" * 200}).json() == []
    too_long = client.get("/api/search", params={"q": "x" * 201})
    assert too_long.status_code == 422
    assert client.get("/api/search", params={"q": ""}).json() == []
    assert client_for(None).get("/api/search", params={"q": "T01"}).status_code == 401


def test_search_page_jumps_to_the_cycle(client_for: Any) -> None:
    client = client_for("zzb")
    jump = client.get("/search", params={"q": "mkz"}, follow_redirects=False)
    assert jump.status_code == 303 and jump.headers["location"] == "/cycles/2014/T01"
    # the prefecture has no cycle: its place in the tree
    assert client.get("/search", params={"q": "XG"}, follow_redirects=False).headers["location"].startswith("/tree?code=XG")
    many = client.get("/search", params={"q": "党"})
    assert many.status_code == 200 and "/cycles/2014/T01" in many.text
    assert 'id="site-search"' in client.get("/overview").text  # the box on every page


def test_tree_starts_at_the_top_assessed_unit(client_for: Any) -> None:
    data = client_for("viewer").get("/api/tree", params={"year": 2014}).json()
    assert data["node"]["code"] == "HC"  # not the prefecture XG, which has no cycle
    assert [c["code"] for c in data["children"]] == ["T01", "T02", "U01"]


# --- the lagging list --------------------------------------------------------------------------------------------

def _codes(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["org"] for r in response.json()]


def test_lagging_filters(client_for: Any, web_app: Any) -> None:
    client = client_for("zzb")
    every = client.get("/api/lagging", params={"year": 2014})
    assert every.headers["x-total-count"] == "4" and set(_codes(every)) == {"HC", "T01", "T02", "U01"}
    assert _codes(client.get("/api/lagging", params={"year": 2014, "overdue": True})) == ["HC"]
    assert _codes(client.get("/api/lagging", params={"year": 2014, "days_late": 3})) == ["HC"]
    assert _codes(client.get("/api/lagging", params={"year": 2014, "days_late": 4})) == []
    assert set(_codes(client.get("/api/lagging", params={"year": 2014, "level": 2}))) == {"T01", "T02", "U01"}
    assert _codes(client.get("/api/lagging", params={"year": 2014, "step": "review"})) == []
    assert _codes(client.get("/api/lagging", params={"year": 2014, "under": "马口镇"})) == ["T01"]  # by name
    assert _codes(client.get("/api/lagging", params={"year": 2014, "under": "T02"})) == ["T02"]
    assert _codes(client.get("/api/lagging", params={"year": 2014, "returned": True})) == []
    with web_app.db.begin() as conn:
        t01 = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == "T01")).scalar_one()
        conn.execute(cycles.update().where(cycles.c.org_id == t01, cycles.c.kind == "upward").values(state="revising"))
    assert _codes(client.get("/api/lagging", params={"year": 2014, "returned": True})) == ["T01"]
    missing = client.get("/api/lagging", params={"year": 2014, "under": "回龙"})
    assert missing.status_code == 404 and "回龙" in missing.json()["error"]
    assert client.get("/api/lagging", params={"year": 2014, "step": "nope"}).status_code == 400
    assert client.get("/api/lagging", params={"year": 2014, "level": 7}).status_code == 422


def test_lagging_page_filters_and_links(client_for: Any) -> None:
    client = client_for("zzb")
    page = client.get("/lagging", params={"year": 2014, "under": "mkz"})
    assert page.status_code == 200 and "匹配到 马口镇党委（T01）" in page.text
    # the bulk button reminds every unit of the filter, not just the rows shown: its label says so
    assert "提醒筛选结果全部（1 个单位）" in page.text and "最近提醒" in page.text and "代为办理" in page.text
    assert "提醒本页全部" not in page.text
    english = client.get("/lagging", params={"year": 2014, "under": "mkz", "lang": "en"}).text
    assert "Remind all matching the filter (1 unit)" in english and "提醒筛选结果全部" not in english
    bad = client.get("/lagging", params={"year": 2014, "under": "回龙"})
    assert bad.status_code == 404 and "回龙" in bad.text
    overview = client.get("/overview").text
    assert 'href="/lagging?year=2014&kind=upward&overdue=1"' in overview
    assert "level=2" in overview  # the bars link to the level's list
    reviewer = client_for("t01_reviewer").get("/lagging", params={"year": 2014}).text
    assert "/lagging/remind-bulk?year=2014&amp;kind=upward&under=T01" in reviewer  # a reviewer reminds within scope
    viewer = client_for("viewer").get("/lagging", params={"year": 2014}).text
    assert "提醒筛选结果全部" not in viewer and "显示号码" not in viewer and "139****0001" in viewer


# --- exports -----------------------------------------------------------------------------------------------------

def test_lagging_export_xlsx_reads_back_with_the_filter_applied(client_for: Any, web_app: Any) -> None:
    from openpyxl import load_workbook

    with web_app.db.begin() as conn:
        conn.execute(orgs.update().where(orgs.c.code == "T02").values(name='=HYPERLINK("http://evil.example","x")'))
    response = client_for("viewer").get("/api/lagging", params={"year": 2014, "level": 2, "format": "xlsx"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("编码", "单位", "状态")
    assert sorted(r[0] for r in rows[1:]) == ["T01", "T02", "U01"]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert '=HYPERLINK("http://evil.example","x")' in [r[1] for r in rows]
    phones = [r[10] for r in rows[1:] if r[10]]
    assert phones and all("****" in p for p in phones)  # a viewer's export is masked


def test_lagging_csv_for_an_operator_has_phones_and_is_audited(client_for: Any, web_app: Any) -> None:
    response = client_for("zzb").get("/api/lagging", params={"year": 2014, "overdue": 1, "format": "csv"})
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "编码" and [r[0] for r in rows[1:]] == ["HC"]
    assert rows[1][10] == "13900000001"
    assert any(r.username == "zzb" for r in _audit(web_app, "reveal_phone"))
    assert client_for("zzb").get("/api/lagging", params={"year": 2014, "format": "pdf"}).status_code == 422


def test_results_and_outbox_exports(client_for: Any, web_app: Any) -> None:
    from openpyxl import load_workbook

    from services.sweep import sweep_deadlines

    sweep_deadlines(web_app.db, now=web_app.now(), year=2014)
    client = client_for("viewer")
    results = client.get("/api/results", params={"year": 2014, "format": "xlsx"})
    assert results.status_code == 200
    sheet = load_workbook(io.BytesIO(results.content)).active
    assert sheet is not None and next(sheet.iter_rows(values_only=True))[:3] == ("类别", "名次", "编码")
    messages = client.get("/api/outbox", params={"year": 2014, "format": "csv"})
    rows = list(csv.reader(io.StringIO(messages.content.decode("utf-8-sig"))))
    assert rows[0][3] == "收件（已遮蔽）" and len(rows) > 1
    assert "13900000001" not in messages.text and "hc@example.cn" not in messages.text
    assert client.get("/api/outbox", params={"year": 2014}).json()["total"] == len(rows) - 1


# --- bulk remind -------------------------------------------------------------------------------------------------

def _outbox_count(app: Any) -> int:
    with app.db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one())


def test_bulk_remind_confirms_counts_then_queues_once(client_for: Any, web_app: Any) -> None:
    client = client_for("zzb")
    dry = client.post("/api/remind/bulk", json={"year": 2014, "dry_run": True}).json()
    # HC, T01, T02 have a phone and an e-mail or a phone; U01 only an e-mail: 4 units
    assert dry["units"] == 4 and dry["messages"] == 6 and dry["dry_run"] is True
    assert _outbox_count(web_app) == 0
    done = client.post("/api/remind/bulk", json={"year": 2014}).json()
    assert done["units"] == 4 and done["messages"] == 6 and _outbox_count(web_app) == 6
    again = client.post("/api/remind/bulk", json={"year": 2014}).json()
    assert again["messages"] == 0  # the same minute: nothing twice
    overdue_only = client.post("/api/remind/bulk", json={"year": 2014, "overdue": True, "dry_run": True}).json()
    assert overdue_only["units"] == 1
    assert [r.outcome for r in _audit(web_app, "remind_bulk")] == ["ok", "ok"]
    page = client.get("/lagging", params={"year": 2014})
    assert page.text.count("2014-12-08 09:00") >= 4  # the last-reminded column


def test_bulk_remind_page_shows_the_confirmation(client_for: Any, web_app: Any) -> None:
    client = client_for("zzb")
    confirm = client.get("/lagging/remind-bulk", params={"year": 2014, "level": 2})
    assert confirm.status_code == 200 and 'data-testid="bulk-units">3<' in confirm.text
    assert _outbox_count(web_app) == 0
    from tests.web.conftest import csrf_of

    done = client.post("/lagging/remind-bulk", data={"csrf_token": csrf_of(confirm.text), "year": "2014", "level": "2"},
                       follow_redirects=False)
    assert done.status_code == 303 and "msg=" not in done.headers["location"] and "level=2" in done.headers["location"]
    assert _outbox_count(web_app) == 4  # T01: sms + email, T02: sms, U01: email
    assert "已批量提醒 3 个单位" in client.get(done.headers["location"]).text  # the message travels in the session (L8)
    assert client.post("/lagging/remind-bulk", data={"csrf_token": "wrong", "year": "2014"}).status_code == 403


def test_bulk_remind_over_the_cap_is_refused_whole(client_for: Any, web_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import services.lagging

    monkeypatch.setattr(services.lagging, "BULK_REMIND_CAP", 3)
    refused = client_for("zzb").post("/api/remind/bulk", json={"year": 2014})
    assert refused.status_code == 409 and "上限" in refused.json()["error"]
    assert _outbox_count(web_app) == 0
    assert [r.outcome for r in _audit(web_app, "remind_bulk")] == ["refused"]


# --- acting on behalf, phones ------------------------------------------------------------------------------------

REPORT = ("report.md", "# 述职报告\n\n一、履行职责情况\n抓党建工作取得成效，发展党员3名。\n\n二、存在问题\n问题一：组织生活不规范。\n\n"
          "三、原因分析\n主要原因是重视不够。\n\n四、整改措施\n措施一：建立台账。\n".encode())


def test_operator_submits_a_report_on_behalf(client_for: Any, web_app: Any) -> None:
    client = client_for("zzb")
    page = client.get("/cycles/2014/T01").text
    assert "代为办理：" in page and 'action="/cycles/2014/T01/behalf"' in page
    assert 'action="/cycles/2014/T01/fire"' not in page.split("代为办理")[0].split("<h2>操作")[-1]
    first = client.post("/api/cycles/2014/T01/behalf", data={"event": "finish_research", "note": "书记住院"})
    assert first.status_code == 200, first.text
    done = client.post("/api/cycles/2014/T01/behalf", data={"event": "submit"}, files={"report": REPORT})
    assert done.status_code == 200, done.text
    assert done.json()["to"] == "submitted" and done.json()["on_behalf"] == "代为办理 by zzb for T01"
    with web_app.db.connect() as conn:
        notes = conn.execute(sa.select(history.c.note, history.c.by).join_from(history, cycles).join(orgs, orgs.c.id == cycles.c.org_id)
                             .where(orgs.c.code == "T01", history.c.event.in_(["finish_research", "submit"]))).all()
    assert [n.note for n in notes] == ["代为办理 by zzb for T01：书记住院", "代为办理 by zzb for T01"]
    assert all(n.by == "zzb" for n in notes)
    assert [a.detail for a in _audit(web_app, "act_on_behalf")][-1].startswith("代为办理 by zzb for T01")
    assert "代为办理 by zzb for T01" in client.get("/cycles/2014/T01").text


def test_on_behalf_refusals(client_for: Any, web_app: Any) -> None:
    for name in ("viewer", "v001_secretary", "t01_reviewer"):
        refused = client_for(name).post("/api/cycles/2014/V001/behalf", data={"event": "finish_research"})
        assert refused.status_code == 403, (name, refused.text)
    assert {a.outcome for a in _audit(web_app, "act_on_behalf")} == {"denied"}
    client = client_for("admin")
    assert client.post("/api/cycles/2014/V001/behalf", data={"event": "approve"}).status_code == 400
    client.post("/api/cycles/2014/T01/behalf", data={"event": "finish_research"})
    bad = client.post("/api/cycles/2014/T01/behalf", data={"event": "submit"}, files={"report": ("r.pdf", b"%PDF", "application/pdf")})
    assert bad.status_code == 400
    with web_app.db.connect() as conn:
        state = conn.execute(sa.select(cycles.c.state).join(orgs, orgs.c.id == cycles.c.org_id)
                             .where(orgs.c.code == "T01", cycles.c.kind == "upward")).scalar_one()
    assert state == "drafting"  # nothing changed by the refused upload


def test_phone_reveal_is_for_operators_and_audited(client_for: Any, web_app: Any) -> None:
    shown = client_for("zzb").get("/api/orgs/V001/contact")
    assert shown.status_code == 200 and shown.json()["phone"] == "13900000011"
    assert [(a.username, a.outcome) for a in _audit(web_app, "reveal_phone")] == [("zzb", "ok")]
    assert "139****0011" in _audit(web_app, "reveal_phone")[0].detail  # the audit itself stays masked
    for name in ("viewer", "t01_reviewer", "v001_secretary"):
        assert client_for(name).get("/api/orgs/V001/contact").status_code == 403
    assert "13900000011" not in client_for("viewer").get("/cycles/2014/V001").text


# --- launch preview, plan template, ballots ------------------------------------------------------------------------

def test_launch_preview_counts_and_problems(client_for: Any, web_app: Any) -> None:
    client = client_for("admin")
    plan = SAMPLE_PLAN.replace("2014", "2015").replace("2015-01-31", "2016-01-31")
    preview = client.post("/api/years/preview", json={"year": 2015, "plan": plan}).json()
    assert preview["ok"] and preview["totals"]["to_create"] == 16 and preview["totals"]["meetings"] == 4
    assert preview["earliest"] and preview["latest"] == "2016-01-31"
    assert client.get("/api/years").json() == [2014]  # nothing launched
    bad = client.post("/api/years/preview", json={"year": 2015, "plan": plan.replace("T02 =", "T99 =")}).json()
    assert not bad["ok"] and any("T99" in p for p in bad["problems"])
    assert client_for("zzb").post("/api/years/preview", json={"year": 2015, "plan": plan}).status_code == 403
    template = client.get("/api/years/2015/plan-template").text
    assert "汉川市委" in template and 'villages = "2015-12-26"' in template
    from services.years import load_plan_text

    assert load_plan_text(template, year=2015).year == 2015
    page = client.get("/admin/years/template", params={"year": 2015})
    assert page.status_code == 200 and "汉川市委" in page.text


def test_ballot_codes_by_organizer_name_as_a_csv(client_for: Any) -> None:
    client = client_for("zzb")
    from tests.web.conftest import csrf_of

    token = csrf_of(client.get("/admin").text)
    response = client.post("/admin/ballots/issue.csv", data={"csrf_token": token, "year": "2014", "organizer": "马口镇党委",
                                                             "count": "3"})
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["序号", "测评码"] and len(rows) == 4
    printable = client.post("/admin/ballots/issue", data={"csrf_token": token, "year": "2014", "organizer": "mkz", "count": "2"})
    assert printable.status_code == 200 and 'data-testid="ballot-codes"' in printable.text and "data-print" in printable.text
    assert client_for("viewer").post("/admin/ballots/issue.csv", data={"csrf_token": csrf_of(client_for("viewer").get("/admin").text),
                                                                       "year": "2014", "organizer": "T01", "count": "3"}).status_code == 403


def test_api_docs_are_served_offline(client_for: Any) -> None:
    client = client_for(None)
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower() and "<script>" not in docs.text  # CSP: no inline script
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/swagger-init.js").status_code == 200
    assert client.get("/openapi.json").json()["paths"]["/api/search"]
    assert 'href="/api/docs"' in client_for("viewer").get("/admin").text


# --- the role × action matrix, extended with issue 12's actions ----------------------------------------------------

NEW_CASES = ("bulk_remind", "bulk_remind_dry_out_of_scope", "act_on_behalf", "reveal_phone", "launch_preview")
NEW_ALLOWED: dict[str, set[str]] = {
    "admin": set(NEW_CASES),
    "zzb": {"bulk_remind", "bulk_remind_dry_out_of_scope", "act_on_behalf", "reveal_phone"},
    "t01_reviewer": {"bulk_remind"},
    "v001_secretary": set(),
    "viewer": set(),
}


def _new_request(client: Any, case: str) -> Any:
    if case == "bulk_remind":
        return client.post("/api/remind/bulk", json={"year": 2014, "under": "T01"})
    if case == "bulk_remind_dry_out_of_scope":
        return client.post("/api/remind/bulk", json={"year": 2014, "under": "T02", "dry_run": True})
    if case == "act_on_behalf":
        return client.post("/api/cycles/2014/V001/behalf", data={"event": "finish_research"})
    if case == "reveal_phone":
        return client.get("/api/orgs/V001/contact")
    if case == "launch_preview":
        return client.post("/api/years/preview", json={"year": 2015, "plan": SAMPLE_PLAN.replace("2014", "2015")})
    raise AssertionError(case)


@pytest.mark.parametrize("case", NEW_CASES)
@pytest.mark.parametrize("name", list(NEW_ALLOWED))
def test_role_may_exactly_what_it_may_issue_12(name: str, case: str, client_for: Any, web_app: Any) -> None:
    response = _new_request(client_for(name), case)
    if case in NEW_ALLOWED[name]:
        assert response.status_code == 200, (name, case, response.status_code, response.text)
    else:
        assert response.status_code == 403, (name, case, response.status_code, response.text)
        action = {"bulk_remind": "remind", "bulk_remind_dry_out_of_scope": "remind", "act_on_behalf": "act_on_behalf",
                  "reveal_phone": "reveal_phone", "launch_preview": "start_year"}[case]
        # a secretary is stopped earlier, at the read guard (issue 9: their own unit only), and audited as a read
        audited = _audit(web_app, action) + (_audit(web_app, "read") if name.endswith("secretary") else [])
        assert "denied" in {a.outcome for a in audited}


def test_a_service_refusal_is_chinese_in_the_console_and_english_under_lang_en(client_for: Any) -> None:
    client = client_for("zzb")
    chinese = client.get("/api/lagging", params={"year": 2014, "step": "nope"})
    assert chinese.status_code == 400 and chinese.json()["error"].startswith("未知环节 'nope'")
    assert chinese.json()["code"] == "step.bad"
    english = client.get("/api/lagging", params={"year": 2014, "step": "nope", "lang": "en"})
    assert english.status_code == 400 and english.json()["error"].startswith("unknown step 'nope'; steps: ")
    page = client.get("/lagging", params={"year": 2013, "lang": "zh"})  # the API call above chose English
    assert page.status_code == 404 and "2013 年度尚未启动述职" in page.text and "has not been launched" not in page.text
    english_page = client.get("/lagging", params={"year": 2013, "lang": "en"})
    assert english_page.status_code == 404 and "year 2013 has not been launched" in english_page.text
