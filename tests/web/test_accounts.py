"""Sign-in (password, SMS code), landing by role, what a secretary may read, and account management (issues 9, 10, 12)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from storage.tables.notify import outbox
from storage.tables.web import web_audit, web_users
from tests.web.conftest import PASSWORD, csrf_of, sign_in


def _code_for(app: Any, phone: str) -> str:
    with app.db.connect() as conn:
        note = conn.execute(sa.select(outbox.c.note).where(outbox.c.template == "otp", outbox.c.address == phone)
                            .order_by(outbox.c.id.desc())).scalars().first()
    assert note
    return str(note)


def _give_phone(app: Any, name: str, phone: str) -> None:
    with app.db.begin() as conn:
        conn.execute(web_users.update().where(web_users.c.name == name).values(phone=phone))


def _audit(app: Any) -> list[Any]:
    with app.db.connect() as conn:
        return list(conn.execute(sa.select(web_audit).order_by(web_audit.c.id)))


# --- landing --------------------------------------------------------------------------------------------------------

def test_after_login_each_role_lands_on_its_page(client_for: Any) -> None:
    for name, target in (("v001_secretary", "/my"), ("t01_reviewer", "/review"), ("admin", "/overview"), ("zzb", "/overview")):
        client = client_for(None)
        response = sign_in(client, name)
        assert response.status_code == 303 and response.headers["location"] == target, name
        assert client.get("/", follow_redirects=False).headers["location"] == target


def test_login_keeps_a_local_next_and_refuses_another_site(client_for: Any) -> None:
    client = client_for(None)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": "admin", "password": PASSWORD, "csrf_token": token,
                                           "next": "//evil.example/x"}, follow_redirects=False)
    assert response.headers["location"] == "/overview"
    client = client_for(None)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": "admin", "password": PASSWORD, "csrf_token": token,
                                           "next": "/lagging"}, follow_redirects=False)
    assert response.headers["location"] == "/lagging"


# --- a secretary reads only their own unit (issue 9 item 3) ----------------------------------------------------

def test_secretary_reads_only_their_own_unit(client_for: Any, web_app: Any) -> None:
    client = client_for("v001_secretary")
    assert client.get("/cycles/2014/V001").status_code == 200
    assert client.get("/api/cycles/2014/V001").status_code == 200
    for path in ("/cycles/2014/V002", "/api/cycles/2014/V002", "/overview", "/tree", "/lagging", "/outbox", "/results",
                 "/api/overview?year=2014", "/api/outbox", "/api/lagging?year=2014", "/api/cycles?year=2014",
                 "/api/tree?year=2014"):
        assert client.get(path, follow_redirects=False).status_code == 403, path
    assert any(a.action == "read" and a.outcome == "denied" for a in _audit(web_app))
    # other roles still read the city
    assert client_for("t01_reviewer").get("/cycles/2014/V002").status_code == 200
    assert client_for("viewer").get("/api/outbox").status_code == 200


# --- issue 10 -------------------------------------------------------------------------------------------------------

def test_L1_blank_bearer_header_with_the_session_cookie_does_not_skip_csrf(client_for: Any) -> None:
    client = client_for("zzb")
    del client.headers["X-CSRF-Token"]
    for blank in (b"Bearer \xa0", b"Bearer  ", b"Bearer"):
        response = client.post("/api/remind", json={"year": 2014, "org": "V001"}, headers={"Authorization": blank})  # type: ignore[dict-item]
        assert response.status_code in (401, 403), blank
    assert client.post("/api/remind", json={"year": 2014, "org": "V001"}).status_code == 403  # cookie, no CSRF


def test_L2_reviewer_cannot_remind_its_own_towns_upward_cycle(client_for: Any, web_app: Any) -> None:
    client = client_for("t01_reviewer")
    assert client.post("/api/remind", json={"year": 2014, "org": "T01"}).status_code == 403
    assert client.post("/api/remind", json={"year": 2014, "org": "V001"}).status_code == 200
    with web_app.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(outbox.c.org_id == sa.select(sa.text("id")).select_from(
            sa.text("orgs")).where(sa.text("code = 'T01'")).scalar_subquery())).scalar() == 0


def test_L3_lagging_remind_refuses_a_secretary_with_403(client_for: Any) -> None:
    client = client_for("v001_secretary")
    token = csrf_of(client.get("/cycles/2014/V001").text)
    response = client.post("/lagging/remind", data={"year": "2014", "org": "V001", "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 403


def test_M7_login_rate_limited_per_name_and_locked_with_audit(client_for: Any, web_app: Any) -> None:
    client = client_for(None)
    statuses = [sign_in(client, "admin", "wrong-password-x").status_code for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429  # the fifth failure locked the name
    assert sign_in(client, "admin").status_code == 429  # even the right password, while locked
    outcomes = [a.outcome for a in _audit(web_app) if a.action == "login"]
    assert outcomes.count("failed") == 5 and "locked" in outcomes
    other = client_for(None)
    for _ in range(11):
        last = sign_in(other, "nobody-at-all", "wrong-password-x")
    assert last.status_code == 429  # the per-name window
    assert any(a.outcome == "rate_limited" for a in _audit(web_app))


def test_L10_a_password_in_the_name_field_is_not_shown_in_the_audit(client_for: Any, web_app: Any) -> None:
    client = client_for(None)
    sign_in(client, PASSWORD, PASSWORD)
    assert all(PASSWORD not in (a.username + a.detail) for a in _audit(web_app))
    admin = client_for("admin")
    assert PASSWORD not in admin.get("/admin/users").text.replace(f'value="{PASSWORD}"', "")


def test_L9_password_policy_on_the_api(client_for: Any) -> None:
    admin = client_for("admin")
    response = admin.post("/api/users", json={"name": "weak", "role": "viewer", "password": "12345678"})
    assert response.status_code == 400 and "10" in response.json()["error"]
    response = admin.post("/api/users", json={"name": "weak", "role": "viewer", "password": "qwertyuiop"})
    assert response.status_code == 400


# --- SMS sign-in ----------------------------------------------------------------------------------------------------

def test_otp_api_answers_the_same_for_any_phone_and_gives_a_token(client_for: Any, web_app: Any) -> None:
    _give_phone(web_app, "v001_secretary", "13900000011")
    client = client_for(None)
    known = client.post("/api/auth/otp", json={"phone": "13900000011"})
    unknown = client.post("/api/auth/otp", json={"phone": "13700000000"})
    assert known.status_code == unknown.status_code == 202 and known.json() == unknown.json()
    assert client.post("/api/auth/otp", json={"phone": "13700000000"}).status_code == 429
    assert client.post("/api/auth/otp", json={"phone": "13900000011"}).status_code == 429  # the same for both
    wrong = client.post("/api/auth/otp/verify", json={"phone": "13700000000", "code": "123456"})
    assert wrong.status_code == 400
    code = _code_for(web_app, "13900000011")
    response = client.post("/api/auth/otp/verify", json={"phone": "13900000011", "code": code})
    assert response.status_code == 200
    token = response.json()["token"]
    me = client_for(None).get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["name"] == "v001_secretary"
    again = client.post("/api/auth/otp/verify", json={"phone": "13900000011", "code": code})
    assert again.status_code == 400 and again.json()["error"] == wrong.json()["error"]


def test_otp_login_page_signs_a_secretary_in_to_my(client_for: Any, web_app: Any) -> None:
    _give_phone(web_app, "v001_secretary", "13900000011")
    client = client_for(None)
    page = client.get("/login?mode=sms")
    assert "短信验证码登录" in page.text
    sent = client.post("/login/otp/send", data={"phone": "139 0000 0011", "csrf_token": csrf_of(page.text)})
    assert sent.status_code == 200 and "验证码已发送" in sent.text
    wrong = client.post("/login/otp", data={"phone": "13900000011", "code": "000000", "csrf_token": csrf_of(sent.text)})
    assert wrong.status_code == 400 and "验证码错误或已过期" in wrong.text
    code = _code_for(web_app, "13900000011")
    response = client.post("/login/otp", data={"phone": "13900000011", "code": code, "csrf_token": csrf_of(wrong.text)},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/my"
    assert client.get("/api/me").json()["name"] == "v001_secretary"


# --- account management (issue 12 item 5) -------------------------------------------------------------------------

def test_users_api_list_create_patch_reset_revoke_all_audited(client_for: Any, web_app: Any) -> None:
    admin = client_for("admin")
    listing = admin.get("/api/users?role=secretary").json()
    assert listing["total"] == 1 and listing["users"][0]["name"] == "v001_secretary"
    created = admin.post("/api/users", json={"name": "t02_reviewer", "role": "reviewer", "scope": "T02", "password": "a-long-passphrase"})
    assert created.status_code == 201 and created.json()["scope"] == "T02"
    assert admin.post("/api/users", json={"name": "t02_reviewer", "role": "viewer", "password": "a-long-passphrase"}).status_code == 409
    assert admin.patch("/api/users/t02_reviewer", json={"scope": "NOPE"}).status_code == 400
    patched = admin.patch("/api/users/t02_reviewer", json={"role": "viewer", "active": False})
    assert patched.status_code == 200 and patched.json() == {"name": "t02_reviewer", "role": "viewer", "scope": None, "active": False}
    assert sign_in(client_for(None), "t02_reviewer", "a-long-passphrase").status_code == 401
    admin.patch("/api/users/t02_reviewer", json={"active": True})
    reset = admin.post("/api/users/t02_reviewer/reset", json={})
    new_password = reset.json()["password"]
    assert sign_in(client_for(None), "t02_reviewer", new_password).status_code == 303
    assert admin.post("/api/users/t02_reviewer/reset", json={"mode": "sms"}).status_code == 400  # no phone
    assert admin.post("/api/users/t02_reviewer/revoke").json()["revoked"] == 0
    assert admin.patch("/api/users/admin", json={"role": "viewer"}).status_code == 409  # the last admin
    assert admin.patch("/api/users/ghost", json={"active": False}).status_code == 404
    actions = {(a.action, a.outcome) for a in _audit(web_app)}
    assert {("add_user", "ok"), ("edit_user", "ok"), ("reset_password", "ok"), ("revoke_tokens", "ok")} <= actions
    assert all(new_password not in a.detail for a in _audit(web_app))
    for name in ("zzb", "t01_reviewer", "v001_secretary", "viewer"):
        assert client_for(name).get("/api/users").status_code == 403


def test_users_page_has_no_default_role_and_keeps_input_after_an_error(client_for: Any) -> None:
    admin = client_for("admin")
    page = admin.get("/admin/users")
    assert '<option value="" selected disabled>请选择角色</option>' in page.text
    response = admin.post("/admin/users", data={"name": "new_one", "role": "", "scope": "T01", "phone": "13900000099",
                                                "password": "a-long-passphrase", "csrf_token": csrf_of(page.text)})
    assert response.status_code == 400 and "请选择角色" in response.text
    assert 'value="new_one"' in response.text and 'value="T01"' in response.text and 'value="13900000099"' in response.text
    response = admin.post("/admin/users", data={"name": "new_one", "role": "reviewer", "scope": "", "password": "a-long-passphrase",
                                                "csrf_token": csrf_of(page.text)})
    assert response.status_code == 400 and 'value="new_one"' in response.text and "范围" in response.text
    done = admin.post("/admin/users", data={"name": "new_one", "role": "reviewer", "scope": "T01", "password": "a-long-passphrase",
                                            "csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "已创建账户 new_one" in done.text
    reset = admin.post("/admin/users/new_one/reset", data={"mode": "password", "csrf_token": csrf_of(page.text)})
    assert "仅显示一次" in reset.text and 'data-testid="secret-once"' in reset.text
    assert 'data-testid="secret-once"' not in admin.get("/admin/users").text  # shown once
    refused = admin.post("/admin/users/admin/edit", data={"role": "viewer", "scope": "", "active": "1",
                                                          "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 409 and "最后一个" in refused.text
    assert admin.get("/admin/users?role=reviewer&q=new").text.count('data-user="') == 1


def test_account_form_problems_speak_the_console_language(client_for: Any) -> None:
    """Each problem of a refused form is in the console's language (issue 12 item 7), not Chinese only."""
    admin = client_for("admin")
    form = {"name": "new one", "role": "reviewer", "scope": "NOPE", "phone": "123", "password": "short"}
    page = admin.get("/admin/users")
    chinese = admin.post("/admin/users", data={**form, "csrf_token": csrf_of(page.text)})
    assert chinese.status_code == 400
    for text in ("用户名：1–100 个字符，不含空格", "范围：没有代码为 &#39;NOPE&#39; 的组织", "手机号：不是有效的手机号码",
                 "密码：至少 10 个字符"):
        assert text in chinese.text
    page = admin.get("/admin/users?lang=en")
    english = admin.post("/admin/users", data={**form, "csrf_token": csrf_of(page.text)})
    assert english.status_code == 400
    for text in ("name: 1–100 characters, no spaces", "scope: no organization with code &#39;NOPE&#39;",
                 "phone: not a valid mobile number", "password: at least 10 characters"):
        assert text in english.text
    assert "密码" not in english.text.split('data-testid="form-problems"', 1)[1].split("</ul>", 1)[0]
