"""Issue 10 L4, L6, L7, L8, M3, M6 and issue 12 item 7 in the console: refusals that say so, in Chinese, never a 500
with data in it, and an event loop that keeps answering while an import runs."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import httpx
import pytest

from tests.conftest import SAMPLE_PLAN
from tests.web.conftest import PASSWORD, csrf_of


def test_l6_huge_offsets_and_years_are_422_or_404_never_500(client_for: Any) -> None:
    client = client_for("zzb")
    for url in ("/outbox?offset=99999999999999999999", "/tree?offset=99999999999999999999",
                "/cycles/99999999999999999999/T01", "/tree?year=99999999999999999999",
                "/outbox?year=99999999999999999999", "/api/outbox?offset=99999999999999999999",
                "/api/cycles/99999999999999999999/T01", "/cycles/-1/T01"):
        response = client.get(url)
        assert response.status_code in (404, 422), (url, response.status_code)
        assert "Traceback" not in response.text


def test_l6_validation_errors_in_chinese_name_the_field(client_for: Any) -> None:
    page = client_for("zzb").get("/outbox?offset=99999999999999999999")
    assert page.status_code == 422 and "输入有误" in page.text and "起始位置：数值过大" in page.text
    english = client_for("zzb").get("/outbox?offset=99999999999999999999&lang=en")
    assert "bad input" in english.text and "输入有误" not in english.text and "offset:" in english.text


def test_l4_plan_upload_over_the_limit_is_413_not_cut(client_for: Any) -> None:
    client = client_for("admin")
    token = csrf_of(client.get("/admin").text)
    big = (SAMPLE_PLAN.replace("year = 2014", "year = 2015").replace("2014-", "2015-")
           + "\n# " + "x" * (1024 * 1024) + "\n[meetings.by_organizer]\n")
    response = client.post("/admin/years/launch", data={"year": "2015", "csrf_token": token},
                           files={"plan_file": ("plan.toml", big.encode(), "text/plain")})
    assert response.status_code == 413 and "1 MB" in response.text
    assert client.get("/api/years").json() == [2014]  # nothing launched


def test_l7_page_return_note_capped_like_the_api(client_for: Any, web_app: Any) -> None:
    from services.cycles import fire_event

    for event in ("finish_research", "submit"):
        fire_event(web_app.db, year=2014, org="V001", event=event, now=web_app.now())
    client = client_for("t01_reviewer")
    token = csrf_of(client.get("/cycles/2014/V001").text)
    refused = client.post("/cycles/2014/V001/fire", data={"event": "revise", "note": "理" * 70_000, "csrf_token": token})
    assert refused.status_code == 200 and "2000" in refused.text, refused.text[-3000:]
    api = client.post("/api/cycles/2014/V001/events", json={"event": "revise", "note": "理" * 2001})
    assert api.status_code == 422
    assert client.get("/api/cycles/2014/V001").json()["state"] == "submitted"


def test_l8_flash_never_comes_from_the_url(client_for: Any) -> None:
    client = client_for("zzb")
    for url in ("/lagging?msg=请拨打4008123123领取奖金&err=系统已被接管", "/cycles/2014/V001?msg=伪造消息",
                "/admin/users?msg=伪造消息"):
        page = client.get(url)
        assert "4008123123" not in page.text and "系统已被接管" not in page.text and "伪造消息" not in page.text


def test_l8_flash_shows_once_from_the_session(client_for: Any, web_app: Any) -> None:
    client = client_for("admin")
    token = csrf_of(client.get("/cycles/2014/V001").text)
    done = client.post("/cycles/2014/V001/fire", data={"event": "finish_research", "csrf_token": token},
                       follow_redirects=False)
    assert done.status_code == 303 and "msg=" not in done.headers["location"]
    first = client.get(done.headers["location"]).text
    assert "调研 → 撰写" in first  # Chinese state labels, not keys
    assert "researching → " not in first and "→ drafting" not in first
    assert "flash ok" not in client.get(done.headers["location"]).text  # shown once


def test_item7_no_mixed_language_on_the_cycle_page(client_for: Any) -> None:
    page = client_for("viewer").get("/cycles/2014/V001").text
    assert "nothing you may do" not in page and "您当前没有可执行的操作" in page
    english = client_for("viewer").get("/cycles/2014/V001?lang=en").text
    assert "Nothing you may do here now" in english


def test_item7_language_switch_keeps_the_page_and_its_filters(client_for: Any) -> None:
    page = client_for("zzb").get("/tree?year=2014&code=T01").text
    assert 'href="/tree?year=2014&amp;code=T01&amp;lang=en"' in page


def test_item7_service_errors_render_in_the_chosen_language(client_for: Any) -> None:
    client = client_for("zzb")
    zh = client.get("/api/cycles/2014/NOPE")
    assert zh.status_code == 404 and zh.json()["code"] in ("org.not_found", "cycle.not_found")
    assert "没有" in zh.json()["error"]
    client.get("/overview?lang=en")
    en = client.get("/api/cycles/2014/NOPE")
    assert en.status_code == 404 and "没有" not in en.json()["error"] and "NOPE" in en.json()["error"]


def test_item7_import_error_names_the_file_not_a_server_path(client_for: Any) -> None:
    client = client_for("admin")
    token = csrf_of(client.get("/admin").text)
    response = client.post("/admin/orgs/import", data={"csrf_token": token},
                           files={"file": ("我的组织.csv", b"code,name\n", "text/csv")})
    assert response.status_code == 400
    assert "/tmp" not in response.text and "upload.csv" not in response.text and "表头缺少列" in response.text


def test_m3_unexpected_error_is_a_500_with_an_id_and_no_data(client_for: Any, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    from services import dashboard

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret 13800138000 boss@example.cn")

    monkeypatch.setattr(dashboard, "overview", broken)
    monkeypatch.delenv("SHUZHI_DEBUG", raising=False)
    client = client_for("zzb")
    with caplog.at_level(logging.ERROR, logger="shuzhi.web"):
        page = client.get("/overview?year=2014")
    assert page.status_code == 500 and "错误编号" in page.text
    assert "13800138000" not in page.text and "Traceback" not in page.text
    ident = page.text.split("错误编号 ")[1][:12]
    assert ident in caplog.text and "RuntimeError" in caplog.text and "13800138000" not in caplog.text
    monkeypatch.setattr(dashboard, "overview", broken)
    api = client.get("/api/overview?year=2014")
    assert api.status_code == 500 and api.json()["code"] == "internal" and len(api.json()["error_id"]) == 12


def test_m3_engines_hide_sql_parameters() -> None:
    from storage.db import make_engine

    assert make_engine("sqlite://").hide_parameters is True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_m6_healthz_answers_while_an_import_is_still_running(asgi: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The import is held inside the service until /healthz has answered: if the route blocked the event loop,
    /healthz could not answer at all (it would time out), whatever the machine's speed."""
    import uvicorn

    import web.actions

    started, release = threading.Event(), threading.Event()
    real_import = web.actions.import_orgs

    def held_import(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(60)
        return real_import(*args, **kwargs)

    monkeypatch.setattr(web.actions, "import_orgs", held_import)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        results: dict[str, Any] = {}
        with httpx.Client(base_url=base) as admin:
            token = csrf_of(admin.get("/login").text)
            admin.post("/login", data={"name": "admin", "password": PASSWORD, "csrf_token": token})
            token = csrf_of(admin.get("/admin").text)

            for path in ("/admin/orgs/import", "/api/orgs/import"):
                started.clear()
                release.clear()

                def upload(path: str = path) -> None:
                    headers = {"X-CSRF-Token": admin.get("/api/me").json()["csrf_token"]} if path.startswith("/api") else {}
                    results[path] = admin.post(path, data={"csrf_token": token}, headers=headers, timeout=60,
                                               files={"file": ("orgs.csv", "code,name,kind,parent\nT09,新镇,town,HC\n".encode(),
                                                               "text/csv")})

                worker = threading.Thread(target=upload)
                worker.start()
                assert started.wait(30), "the import never started"
                health = httpx.get(f"{base}/healthz", timeout=10)  # answered while the import is held
                assert health.status_code == 200 and not release.is_set()
                release.set()
                worker.join(60)
                assert results[path].status_code == 200, results[path].text
    finally:
        release.set()
        server.should_exit = True
        thread.join(10)


def test_l4_the_launch_preview_refuses_a_plan_it_cannot_read_whole(client_for: Any) -> None:
    """The preview read the upload cut at 1 MB and showed a non-UTF-8 plan as "方案为空"; it now refuses both the way
    the launch does, and launches nothing."""
    client = client_for("admin")
    token = csrf_of(client.get("/admin").text)
    big = SAMPLE_PLAN.replace("year = 2014", "year = 2015") + "\n# " + "x" * (1024 * 1024) + "\n"
    response = client.post("/admin/years/preview", data={"year": "2015", "csrf_token": token},
                           files={"plan_file": ("plan.toml", big.encode(), "text/plain")})
    assert response.status_code == 413 and "1 MB" in response.text
    gbk = client.post("/admin/years/preview", data={"year": "2015", "csrf_token": token},
                      files={"plan_file": ("plan.toml", "# 方案\n".encode("gb18030") + b"\xff\xfe", "text/plain")})
    assert gbk.status_code == 400 and "plan.toml" in gbk.text and "UTF-8" in gbk.text
    assert client.get("/api/years").json() == [2014]
