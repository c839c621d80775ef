"""The console's pages and API in-process: sign-in, CSRF, pages render, actions change state, errors are named."""

from __future__ import annotations

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
    assert refused.status_code == 303 and "err=" in refused.headers["location"]
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


def test_import_tree_upload_shows_row_errors_and_imports_nothing(client_for: Any, web_app: Any) -> None:
    client = client_for("admin")
    token = csrf_of(client.get("/admin").text)
    bad = "code,name,kind,parent\nT09,新镇,town,HC\nV900,村,hamlet,T09\n"
    response = client.post("/admin/orgs/import", data={"csrf_token": token},
                           files={"file": ("orgs.csv", bad.encode(), "text/csv")})
    assert response.status_code == 400 and "row 3: unknown kind &#39;hamlet&#39;" in response.text
    good = "code,name,kind,parent\nT09,新镇,town,HC\n"
    ok = client.post("/admin/orgs/import", data={"csrf_token": token}, files={"file": ("orgs.csv", good.encode(), "text/csv")})
    assert ok.status_code == 200 and "imported" in ok.text
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
