"""The console's pages and API in-process: sign-in, CSRF, pages render, actions change state, errors are named."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape
from typing import Any

import sqlalchemy as sa

from services.settings import Settings
from storage.tables.core import cycles, history, orgs
from storage.tables.web import web_audit
from tests.conftest import SAMPLE_PLAN
from tests.web.conftest import csrf_of, sign_in


def _state(app: Any, org: str, kind: str = "upward") -> str:
    with app.db.connect() as conn:
        return conn.execute(
            sa.select(cycles.c.state).select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id))
            .where(orgs.c.code == org, cycles.c.kind == kind)
        ).scalar_one()


def test_pages_need_a_session_and_the_api_says_401(client_for: Any) -> None:
    anonymous = client_for(None)
    page = anonymous.get("/overview", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert anonymous.get("/api/overview?year=2014").status_code == 401


def test_wrong_password_is_refused_and_audited(client_for: Any, web_app: Any) -> None:
    client = client_for(None)
    response = sign_in(client, "admin", "wrong-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    with web_app.db.connect() as conn:
        rows = conn.execute(sa.select(web_audit.c.username, web_audit.c.outcome).where(web_audit.c.action == "login")).all()
    assert ("admin", "failed") in rows


def test_login_without_csrf_token_is_refused(client_for: Any) -> None:
    client = client_for(None)
    client.get("/login")
    response = client.post("/login", data={"name": "admin", "password": "correct-horse-1"}, follow_redirects=False)
    assert response.status_code == 403


def test_session_cookie_is_httponly_and_samesite_lax(client_for: Any) -> None:
    client = client_for(None)
    response = sign_in(client, "admin")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_every_page_renders_for_an_operator(client_for: Any) -> None:
    client = client_for("zzb")
    for path in ["/overview", "/tree", "/tree?code=HC", "/tree?code=T01", "/cycles/2014/V001", "/cycles/2014/T01?kind=own_level",
                 "/lagging", "/outbox", "/results", "/flows", "/admin", "/overview?lang=en"]:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
    overview = client.get("/overview?lang=zh").text
    assert "各层级进度" in overview and "<svg" in overview
    assert "Progress by level" in client.get("/overview?lang=en").text
    assert "未配置 Prefect" in client.get("/flows?lang=zh").text


def test_overview_counts_what_the_database_holds(client_for: Any) -> None:
    data = client_for("viewer").get("/api/overview?year=2014").json()
    assert data["total"] == 8  # the sample city's 8 assessed organizations, upward cycles
    assert sum(row["total"] for row in data["funnel"]) == 8
    # 2014-12-08: towns must submit by 12-10 (window 3 days) → the 3 town-level units lag; nothing overdue yet
    assert data["lagging"] >= 3 and data["overdue"] == 1  # the city secretary's submit_due was 12-05


def test_reviewer_returns_a_report_with_a_reason_through_the_page(client_for: Any, web_app: Any) -> None:
    from services.cycles import fire_event

    for event in ("finish_research", "submit"):
        fire_event(web_app.db, year=2014, org="V001", event=event, now=web_app.now())
    client = client_for("t01_reviewer")
    page = client.get("/cycles/2014/V001")
    assert 'data-event="revise"' in page.text and 'data-event="approve"' in page.text
    token = csrf_of(page.text)
    refused = client.post("/cycles/2014/V001/fire", data={"event": "revise", "note": "", "csrf_token": token},
                          follow_redirects=False)
    assert refused.status_code == 303 and "err=" not in refused.headers["location"]  # flash in the session (L8)
    assert "须注明理由" in client.get(refused.headers["location"]).text
    assert _state(web_app, "V001") == "submitted"
    done = client.post("/cycles/2014/V001/fire", data={"event": "revise", "note": "只罗列成绩，未查找问题", "csrf_token": token},
                       follow_redirects=True)
    assert done.status_code == 200 and "只罗列成绩" in done.text
    assert _state(web_app, "V001") == "revising"


def test_a_form_post_without_csrf_changes_nothing(client_for: Any, web_app: Any) -> None:
    client = client_for("admin")
    response = client.post("/cycles/2014/V001/fire", data={"event": "finish_research"}, follow_redirects=False)
    assert response.status_code == 403
    assert _state(web_app, "V001") == "researching"


def test_launch_with_a_bad_plan_shows_the_errors_in_the_page(client_for: Any, web_app: Any) -> None:
    client = client_for("admin")
    token = csrf_of(client.get("/admin").text)
    bad = SAMPLE_PLAN.replace("year = 2014", "year = 2015").replace('T02 = "2014-12-27"', 'NOPE = "2015-12-27"')
    response = client.post("/admin/years/launch", data={"year": "2015", "plan_text": bad, "csrf_token": token})
    assert response.status_code == 400
    assert "NOPE" in response.text
    assert client.get("/api/years").json() == [2014]


def _problems_of(page: str) -> list[str]:
    """The items of a page's list of problems, as a reader sees them."""
    listing = re.search(r'<ul class="problems"[^>]*>(.*?)</ul>', page, re.S)
    assert listing is not None, "the page shows no problems"
    return [unescape(item) for item in re.findall(r"<li>(.*?)</li>", listing.group(1), re.S)]


def test_a_file_with_hundreds_of_bad_rows_lists_the_first_and_counts_the_rest(client_for: Any) -> None:
    """A page lists the first 200 problems and says how many more there are; the API keeps them all."""
    client = client_for("admin")
    token = csrf_of(client.get("/admin").text)
    bad = "code,name,kind,parent\n" + "".join(f"V9{i:03d},村{i},village,T77\n" for i in range(250))
    response = client.post("/admin/orgs/import", data={"csrf_token": token},
                           files={"file": ("orgs.csv", bad.encode(), "text/csv")})
    assert response.status_code == 400
    listed = _problems_of(response.text)
    assert len(listed) == 200 and listed[0] == "第 2 行：上级 'T77' 不存在" and listed[-1] == "第 201 行：上级 'T77' 不存在"
    assert "另有 50 条问题未列出" in response.text and "文件 orgs.csv 有 250 处问题" in response.text
    english = client.post("/admin/orgs/import?lang=en", data={"csrf_token": token},
                          files={"file": ("orgs.csv", bad.encode(), "text/csv")})
    assert "50 more problems not listed" in english.text
    api = client.post("/api/orgs/import", files={"file": ("orgs.csv", bad.encode(), "text/csv")})
    assert api.status_code == 400 and len(api.json()["problems"]) == 250


def test_import_tree_upload_shows_row_errors_and_imports_nothing(client_for: Any, web_app: Any) -> None:
    client = client_for("admin")
    token = csrf_of(client.get("/admin").text)
    bad = "code,name,kind,parent\nT09,新镇,town,HC\nV900,村,hamlet,T09\nV901,村二,village,T77\nV902,,village,T09\n"
    response = client.post("/admin/orgs/import", data={"csrf_token": token},
                           files={"file": ("orgs.csv", bad.encode(), "text/csv")})
    assert response.status_code == 400
    assert _problems_of(response.text) == [
        "第 3 行：类型 'hamlet' 无效，应为以下英文代码之一：prefecture（地市委）、city（市委）、town（乡镇）、subdistrict（街道）、"
        "farm（场）、city_unit（市直单位）、village（村）、community（社区）、enterprise（非公企业）、other（其他基层组织）",
        "第 4 行：上级 'T77' 不存在", "第 5 行：名称为空"]
    assert "文件 orgs.csv 有 3 处问题，未导入任何数据" in response.text
    english = client.post("/admin/orgs/import?lang=en", data={"csrf_token": token},
                          files={"file": ("orgs.csv", bad.encode(), "text/csv")})
    assert english.status_code == 400 and _problems_of(english.text) == [
        "row 3: unknown kind 'hamlet' (one of prefecture city town subdistrict farm city_unit village community "
        "enterprise other)", "row 4: unknown parent 'T77'", "row 5: empty name"]
    assert "orgs.csv: 3 problem(s); nothing was imported" in english.text
    api = client.post("/api/orgs/import?lang=zh", files={"file": ("orgs.csv", bad.encode(), "text/csv")})
    assert api.status_code == 400 and api.json()["code"] == "file.rows"
    assert api.json()["problems"][1] == "第 4 行：上级 'T77' 不存在"
    api_en = client.post("/api/orgs/import?lang=en", files={"file": ("orgs.csv", bad.encode(), "text/csv")})
    assert api_en.json()["problems"][1] == "row 4: unknown parent 'T77'"
    client.get("/admin?lang=zh")
    with web_app.db.connect() as conn:  # nothing of the bad file was imported, not even its good row
        assert conn.execute(sa.select(orgs.c.code).where(orgs.c.code.in_(["T09", "V900", "V901"]))).all() == []
    good = "code,name,kind,parent\nT09,新镇,town,HC\n"
    ok = client.post("/admin/orgs/import", data={"csrf_token": token}, files={"file": ("orgs.csv", good.encode(), "text/csv")})
    assert ok.status_code == 200 and "导入完成" in ok.text and "新导入" in ok.text
    with web_app.db.connect() as conn:
        assert conn.execute(sa.select(orgs.c.code).where(orgs.c.code == "T09")).scalar() == "T09"


def test_api_fire_with_bearer_token_and_openapi(client_for: Any, web_app: Any) -> None:
    from services.accounts import issue_token

    token = issue_token(web_app.db, "v001_secretary")
    client = client_for(None)
    response = client.post("/api/cycles/2014/V001/events", json={"event": "finish_research"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json() == {"org": "V001", "kind": "upward", "from": "researching", "to": "drafting", "event": "finish_research"}
    schema = client.get("/openapi.json").json()
    assert "/api/cycles/{year}/{org}/events" in schema["paths"]


def test_api_cookie_post_needs_the_csrf_header(client_for: Any, web_app: Any) -> None:
    client = client_for("admin")
    del client.headers["X-CSRF-Token"]
    response = client.post("/api/cycles/2014/V001/events", json={"event": "finish_research"})
    assert response.status_code == 403
    assert _state(web_app, "V001") == "researching"


def test_funnel_cache_follows_transitions(client_for: Any, web_app: Any) -> None:
    client = client_for("admin")
    before = client.get("/api/overview?year=2014").json()["states"]
    client.post("/api/cycles/2014/V002/events", json={"event": "finish_research"})
    from services.cycles import fire_event

    fire_event(web_app.db, year=2014, org="V001", event="finish_research", now=web_app.now())  # outside the console
    after = client.get("/api/overview?year=2014").json()["states"]
    assert after["drafting"] == before["drafting"] + 2 and after["researching"] == before["researching"] - 2
    with web_app.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(history)).scalar_one() == 2


def test_default_secret_key_is_refused_outside_development(web_app: Any) -> None:
    import pytest

    from services.errors import BadInput
    from web.app import create_app
    from web.security import DEV_SECRET

    with pytest.raises(BadInput, match="SHUZHI_SECRET_KEY"):
        create_app(Settings.from_env({"SHUZHI_SECRET_KEY": DEV_SECRET}, db_url=web_app.db.url), app=web_app)
    strong = create_app(Settings.from_env({"SHUZHI_SECRET_KEY": "k" * 40, "SHUZHI_COOKIE_SECURE": "1"}, db_url=web_app.db.url),
                        app=web_app)
    assert strong.state.shuzhi.config.secure_cookies


def test_cycle_page_shows_versions_findings_comment_tally_feedback_and_rectification(client_for: Any, web_app: Any) -> None:
    from services.ballots import cast_ballot, issue_codes
    from services.meetings import open_meeting, record_comment
    from services.rectification import add_item, set_commitment
    from tests.review.conftest import REPORTS, fire

    client = client_for("viewer")
    empty = client.get("/cycles/2014/V001").text
    assert "尚未报送述职报告" in empty and "尚无测评票" in empty and "尚无整改事项" in empty

    fire(web_app, "V001", "finish_research")
    fire(web_app, "V001", "submit", report=REPORTS / "achievements_only.md")
    fire(web_app, "V001", "rewrite", note="只讲成绩不讲问题，责令重写")
    fire(web_app, "V001", "resubmit", report=REPORTS / "good.md")
    fire(web_app, "V001", "approve")
    open_meeting(web_app.db, year=2014, organizer="T01", now=web_app.now(), presiding="马口书记", venue="镇党委会议室")
    fire(web_app, "V001", "present")
    record_comment(web_app.db, year=2014, organizer="T01", org="V001", now=web_app.now(), comment="抓党建思路清晰，问题找得准。",
                   strengths="软弱涣散村整顿有力", problems="后备干部不足", direction="抓班子带队伍")
    codes = issue_codes(web_app.db, year=2014, organizer="T01", count=2, now=web_app.now())["codes"]
    cast_ballot(web_app.db, year=2014, code=codes[0], ratings={"V001": "好"})
    cast_ballot(web_app.db, year=2014, code=codes[1], ratings={"V001": "一般"})
    fire(web_app, "V001", "close_evaluation")
    fire(web_app, "V001", "give_feedback")
    fire(web_app, "V001", "start_rectification")
    add_item(web_app.db, year=2014, org="V001", problem="后备干部不足", measure="每村储备2名后备干部",
             responsible="组织委员", due="2015-01-05", now=web_app.now())
    set_commitment(web_app.db, year=2014, org="V001", text="我承诺2015年底前配齐后备干部。", now=web_app.now())

    page = client.get("/cycles/2014/V001")
    assert page.status_code == 200
    html = page.text
    # both versions, the checker's suggestion and findings of the first, the reviewer's reason
    assert "第 1 版" in html and "第 2 版" in html and "建议重写" in html
    assert "只讲成绩、不讲问题" in html and "只讲成绩不讲问题，责令重写" in html
    assert "抓党建思路清晰" in html and "软弱涣散村整顿有力" in html  # the meeting's comment
    assert "已封存" in html and "50.0" in html  # frozen tally: 好 + 一般 → satisfaction 50 %
    assert "反馈通知全文" in html
    assert "每村储备2名后备干部" in html and "我承诺2015年底前配齐后备干部" in html and "整改中" in html

    extras = client.get("/api/cycles/2014/V001").json()["extras"]
    assert [v["suggestion"] for v in extras["reports"]] == ["rewrite", "approve"]
    assert extras["tally"]["ballots"] == 2 and extras["tally"]["frozen"]
    assert extras["rectification"][0]["responsible"] == "组织委员"
    assert extras["feedback"]["markdown"] and extras["agenda"]["comment"].startswith("抓党建")


def test_outbox_page_names_statuses_channels_and_kinds_in_the_chosen_language(client_for: Any, web_app: Any) -> None:
    from services.sweep import remind_now

    remind_now(web_app.db, year=2014, org="T01", kind="upward", now=web_app.now(), by="test")
    client = client_for("admin")
    page = client.get("/outbox?year=2014").text
    for label in ("待发送", "发送失败", "已取消", "短信", "到期提醒"):
        assert label in page, label
    assert ">queued<" not in page and ">sms<" not in page
    english = client.get("/outbox?year=2014&lang=en").text
    for label in (">queued<", ">cancelled<", ">SMS<", ">reminder<"):
        assert label in english, label
    assert "待发送" not in english


def test_outbox_and_results_pages_show_real_data(client_for: Any, web_app: Any) -> None:
    client = client_for("admin")
    page = client.get("/lagging")
    done = client.post("/lagging/remind", data={"year": "2014", "org": "T01", "csrf_token": csrf_of(page.text)},
                       follow_redirects=True)
    assert done.status_code == 200 and "已向马口镇党委（T01）发送 T01“报送述职报告”到期提醒：新入队 2 条" in done.text
    outbox = client.get("/api/outbox?year=2014").json()
    assert outbox["counts"]["queued"] >= 1 and outbox["messages"]
    assert all("*" in m["to"] for m in outbox["messages"])  # contacts masked
    ids = [m["id"] for m in outbox["messages"]]
    assert ids == sorted(ids, reverse=True) and outbox["total"] == sum(outbox["counts"].values())  # newest first
    page = client.get("/api/outbox?year=2014&limit=2&offset=2").json()
    assert [m["id"] for m in page["messages"]] == ids[2:4]
    assert "待发送" in client.get("/outbox").text
    assert "尚无考核结果" in client.get("/results").text
    assert client.get("/api/results?year=2014").json() == []
    from services.results import compute_results

    compute_results(web_app.db, year=2014, now=web_app.now())
    towns = client.get("/results?category=towns").text
    assert "马口镇党委" in towns and "东村党支部" not in towns  # one category at a time
    assert "东村党支部" in client.get("/results?category=all").text


def test_funnel_cache_counts_once_when_many_pages_miss_it_together(web_app: Any, monkeypatch: Any) -> None:
    """Overview requests arriving together on an empty cache wait for one national count, not one each; and a
    transition through the console does not throw the counts away (the history row updates them)."""
    import threading
    import time

    from services import dashboard

    calls: list[int] = []
    real = dashboard.count_cycles

    def slow_count(conn: Any, year: int, kind: str) -> Any:
        calls.append(year)
        time.sleep(0.2)
        return real(conn, year, kind)

    monkeypatch.setattr(dashboard, "count_cycles", slow_count)
    cache = dashboard.FunnelCache()
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(cache.counts(web_app.db, 2014, "upward"))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 5 and all(r == results[0] for r in results)

    from web.actions import RECOUNT_AFTER

    assert "fire" not in RECOUNT_AFTER and "start_year" in RECOUNT_AFTER


def test_funnel_cache_recounts_after_a_meeting_moved_by_another_process(web_app: Any) -> None:
    """A meeting moved outside this console (the CLI, another worker) changes due dates without a transition: the
    cache's counts by due date must match a fresh count at the next read, not two minutes later."""
    from services import dashboard
    from services.cycles import fire_event
    from services.meetings_move import move_meeting

    cache = dashboard.FunnelCache()
    cache.counts(web_app.db, 2014, "upward")
    fire_event(web_app.db, year=2014, org="V001", event="finish_research", now=web_app.now())
    with web_app.db.connect() as conn:
        old_held = conn.execute(sa.text("SELECT held_on FROM meetings m JOIN orgs o ON o.id = m.organizer_id "
                                        "WHERE o.code = 'T01' AND m.year = 2014")).scalar_one()
    moved_to = (date.fromisoformat(str(old_held)) + timedelta(days=1)).isoformat()
    move_meeting(web_app.db, year=2014, organizer="T01", date_text=moved_to, now=web_app.now(), by="cli")
    with web_app.db.connect() as conn:
        fresh = dashboard.count_cycles(conn, 2014, "upward")
    assert cache.counts(web_app.db, 2014, "upward") == dict(fresh)
