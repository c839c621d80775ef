"""End to end in headless Debian chromium: sign in, launch a year, see the funnel, return a report, the lagging list."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the whole module: each test opens a fresh context (its own cookies)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    pw = sync_playwright().start()
    launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
    try:
        yield launched
    finally:
        launched.close()
        pw.stop()


@contextmanager
def serving(app: Any, settings: Settings | None = None) -> Iterator[str]:
    """The console on a real 127.0.0.1 port (uvicorn in a thread) over the app's database (and `settings`)."""
    import uvicorn

    from web.app import create_app

    asgi = create_app(settings or Settings.from_env({"SHUZHI_ENV": "development"}, db_url=app.db.url), app=app)
    port = _free_port()
    uv = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(10)


@pytest.fixture
def server(sqlite_db: Any, web_clock: Any) -> Iterator[tuple[str, Any]]:
    """An empty database with one admin."""
    from services.accounts import create_user
    from tests.conftest import make_app

    app = make_app(sqlite_db, web_clock)
    create_user(sqlite_db, "admin", "admin", PASSWORD)
    with serving(app) as base:
        yield base, app


def _sign_in(page: Any, base: str, name: str) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("whoami")).to_contain_text(name)


def test_admin_launches_a_year_and_a_reviewer_returns_a_report(browser: Any, server: tuple[str, Any], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    base, app = server
    orgs_file = tmp_path / "orgs.csv"
    orgs_file.write_text(SAMPLE_ORGS, encoding="utf-8")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        page = context.new_page()
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
        expect(page.get_by_test_id("admin-result")).to_contain_text("新导入")
        # a plan with a bad organizer code: the errors are shown in the page, nothing is launched
        page.fill("input[name=year]", "2014")
        page.fill("textarea[name=plan_text]", SAMPLE_PLAN.replace('T02 = "2014-12-27"', 'T99 = "2014-12-27"'))
        page.click("[data-testid=preview-launch]")
        expect(page.get_by_test_id("launch-preview")).to_contain_text("T99")
        expect(page.get_by_test_id("confirm-launch")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "web-02-plan-errors.png"), full_page=True)
        # a good plan: the preview says what will be created, and only the confirmation launches
        page.fill("textarea[name=plan_text]", SAMPLE_PLAN)
        page.click("[data-testid=preview-launch]")
        expect(page.get_by_test_id("preview-create")).to_have_text("16")
        page.screenshot(path=str(ARTIFACTS / "web-02b-launch-preview.png"), full_page=True)
        page.click("[data-testid=confirm-launch]")
        expect(page.get_by_test_id("admin-result")).to_contain_text("年度已启动")

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
        context.close()


def test_every_main_page_with_a_season_in_it(browser: Any, web_app: Any) -> None:
    """Screenshots of each main page over the sample city part-way through the season, read by a person."""
    from playwright.sync_api import expect

    from services.ballots import cast_ballot, issue_codes
    from services.meetings import open_meeting, record_comment
    from services.rectification import add_item, set_commitment
    from services.results import compute_results
    from services.sweep import sweep_deadlines
    from tests.review.conftest import REPORTS, fire

    app = web_app
    fire(app, "V001", "finish_research")
    fire(app, "V001", "submit", report=REPORTS / "achievements_only.md")
    fire(app, "V001", "rewrite", note="只讲成绩不讲问题，责令重写")
    fire(app, "V001", "resubmit", report=REPORTS / "good.md")
    fire(app, "V001", "approve")
    fire(app, "V002", "finish_research")
    fire(app, "V002", "submit", report=REPORTS / "empty_measures.md")
    open_meeting(app.db, year=2014, organizer="T01", now=app.now(), presiding="马口书记", venue="镇党委会议室")
    fire(app, "V001", "present")
    record_comment(app.db, year=2014, organizer="T01", org="V001", now=app.now(), comment="抓党建思路清晰，问题找得准。",
                   strengths="软弱涣散村整顿有力", problems="一是后备干部不足；二是流动党员管理松散", direction="抓班子带队伍")
    codes = issue_codes(app.db, year=2014, organizer="T01", count=3, now=app.now())["codes"]
    for code, rating in zip(codes, ["好", "较好", "一般"], strict=True):
        cast_ballot(app.db, year=2014, code=code, ratings={"V001": rating})
    fire(app, "V001", "close_evaluation")
    fire(app, "V001", "give_feedback")
    fire(app, "V001", "start_rectification")
    add_item(app.db, year=2014, org="V001", problem="后备干部不足", measure="每村储备2名后备干部", responsible="组织委员",
             due="2015-01-05", now=app.now())
    set_commitment(app.db, year=2014, org="V001", text="我承诺2015年底前配齐后备干部。", now=app.now())
    sweep_deadlines(app.db, now=app.now(), year=2014)
    compute_results(app.db, year=2014, now=app.now())

    with serving(app) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        try:
            page = context.new_page()
            _sign_in(page, base, "zzb")
            shots = [
                ("/overview", "web-10-overview.png", page.get_by_test_id("total"), "8"),
                ("/tree?code=T01", "web-11-tree-town.png", page.locator("table.tree"), "V001"),
                ("/cycles/2014/V001", "web-12-cycle.png", page.get_by_test_id("rectification"), "每村储备2名后备干部"),
                ("/lagging", "web-13-lagging.png", page.get_by_test_id("lagging-table"), "已逾期"),
                ("/outbox", "web-14-outbox.png", page.locator("main table"), "待发送"),
                ("/results", "web-15-results.png", page.locator("main table"), "综合得分"),
                ("/admin", "web-16-admin.png", page.locator("main"), "调整会议日期"),
            ]
            for path, name, where, text in shots:
                page.goto(base + path)
                expect(where).to_contain_text(text)
                page.screenshot(path=str(ARTIFACTS / name), full_page=True)
            page.goto(base + "/cycles/2014/V001")
            expect(page.get_by_test_id("reports")).to_contain_text("只讲成绩、不讲问题")
            expect(page.get_by_test_id("tally")).to_contain_text("66.7")
            expect(page.get_by_test_id("comment")).to_contain_text("抓党建思路清晰")
        finally:
            context.close()
