"""End to end in headless Debian chromium: sign in, launch a year, see the funnel, return a report, the lagging list."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.settings import Settings
from tests.conftest import SAMPLE_ORGS, SAMPLE_PLAN
from tests.web.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install chromium; `make test` does)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(sqlite_db: Any, web_clock: Any) -> Iterator[tuple[str, Any]]:
    """The console on a real 127.0.0.1 port (uvicorn in a thread) over an empty database with one admin."""
    import uvicorn

    from services.accounts import create_user
    from tests.conftest import make_app
    from web.app import create_app

    app = make_app(sqlite_db, web_clock)
    create_user(sqlite_db, "admin", "admin", PASSWORD)
    asgi = create_app(Settings.from_env({"SHUZHI_ENV": "development"}, db_url=sqlite_db.url), app=app)
    port = _free_port()
    uv = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        uv.should_exit = True
        thread.join(10)


def test_admin_launches_a_year_and_a_reviewer_returns_a_report(server: tuple[str, Any], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, app = server
    ARTIFACTS.mkdir(exist_ok=True)
    orgs_file = tmp_path / "orgs.csv"
    orgs_file.write_text(SAMPLE_ORGS, encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(base + "/overview")
            expect(page).to_have_url(base + "/login?next=/overview")
            page.fill("input[name=name]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.get_by_test_id("whoami")).to_contain_text("admin")
            page.screenshot(path=str(ARTIFACTS / "web-01-empty-overview.png"), full_page=True)

            page.goto(base + "/admin")
            page.set_input_files("input[name=file]", str(orgs_file))
            page.click("form[action='/admin/orgs/import'] button")
            expect(page.get_by_test_id("admin-result")).to_contain_text("imported")
            # a plan with a bad organizer code: the errors are shown in the page, nothing is launched
            page.fill("input[name=year]", "2014")
            page.fill("textarea[name=plan_text]", SAMPLE_PLAN.replace('T02 = "2014-12-27"', 'T99 = "2014-12-27"'))
            page.click("form[action='/admin/years/launch'] button")
            expect(page.get_by_test_id("admin-result")).to_contain_text("T99")
            page.screenshot(path=str(ARTIFACTS / "web-02-plan-errors.png"), full_page=True)
            page.fill("textarea[name=plan_text]", SAMPLE_PLAN)
            page.click("form[action='/admin/years/launch'] button")
            expect(page.get_by_test_id("admin-result")).to_contain_text("launched")

            page.goto(base + "/overview")
            expect(page.get_by_test_id("total")).to_have_text("8")
            expect(page.locator("svg.funnel rect")).not_to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "web-03-overview.png"), full_page=True)

            # the village drafts and submits (as its secretary would), then the admin returns it with a reason
            from services.cycles import fire_event

            for event in ("finish_research", "submit"):
                fire_event(app.db, year=2014, org="V001", event=event, now=app.now())
            page.goto(base + "/tree?code=T01")
            page.click("a[href^='/cycles/2014/V001']")
            expect(page.get_by_test_id("state")).to_contain_text("已报送")
            page.fill("input[name=note][aria-label*='督促修改']", "只罗列成绩，问题原因分析不足")
            page.click("button[data-event=revise]")
            expect(page.get_by_test_id("state")).to_contain_text("退回修改")
            expect(page.locator("ol.timeline")).to_contain_text("问题原因分析不足")
            page.screenshot(path=str(ARTIFACTS / "web-04-cycle-returned.png"), full_page=True)

            page.goto(base + "/lagging")
            table = page.get_by_test_id("lagging-table")
            expect(table).to_contain_text("汉川市委")  # the city secretary's submission was due 2014-12-05
            expect(table).to_contain_text("已逾期")
            page.screenshot(path=str(ARTIFACTS / "web-05-lagging.png"), full_page=True)
            page.goto(base + "/tree?code=HC")
            page.screenshot(path=str(ARTIFACTS / "web-06-tree.png"), full_page=True)
        finally:
            browser.close()
