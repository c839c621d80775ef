"""Every console page at phone (390 px) and desktop (1366 px) width in headless chromium: axe-core (the
axe-playwright-python wheel carries axe.js, no network) reports no serious or critical violation, and no page is
wider than the screen. Screenshots go to test-artifacts/ (a11y-390-*.png, a11y-1366-*.png) for a person to look at."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.test_browser import ARTIFACTS, CHROMIUM, _sign_in, browser, serving  # noqa: F401  (browser: fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing"),
]

PAGES = [
    ("overview", "/overview"),
    ("tree", "/tree"),
    ("tree-town", "/tree?code=T01"),
    ("cycle", "/cycles/2014/V001"),
    ("cycle-behalf", "/cycles/2014/T01"),
    ("lagging", "/lagging"),
    ("lagging-filtered", "/lagging?year=2014&level=2&overdue=&under=mkz"),
    ("bulk-confirm", "/lagging/remind-bulk?year=2014"),
    ("search", "/search?q=党"),
    ("outbox", "/outbox"),
    ("results", "/results"),
    ("flows", "/flows"),
    ("admin", "/admin"),
    ("admin-template", "/admin/years/template?year=2015"),
    ("users", "/admin/users"),
    ("not-found", "/cycles/2014/NOPE"),
]
BLOCKING = ("serious", "critical")


def _season(app: Any) -> None:
    from services.results import compute_results
    from services.sweep import sweep_deadlines
    from tests.review.conftest import REPORTS, fire

    fire(app, "V001", "finish_research")
    fire(app, "V001", "submit", report=REPORTS / "good.md")
    fire(app, "V001", "revise", note="问题原因分析不足")
    sweep_deadlines(app.db, now=app.now(), year=2014)
    compute_results(app.db, year=2014, now=app.now())


@pytest.mark.parametrize("width", [390, 1366])
def test_every_page_passes_axe_and_fits_the_screen(browser: Any, web_app: Any, width: int) -> None:  # noqa: F811
    from axe_playwright_python.sync_playwright import Axe

    _season(web_app)
    axe = Axe()
    problems: list[str] = []
    with serving(web_app) as base:
        context = browser.new_context(viewport={"width": width, "height": 860}, locale="zh-CN")
        try:
            page = context.new_page()
            _sign_in(page, base, "admin")
            for name, path in PAGES:
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(ARTIFACTS / f"a11y-{width}-{name}.png"), full_page=True)
                results = axe.run(page)
                for violation in results.response["violations"]:
                    if violation["impact"] in BLOCKING:
                        targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
                        problems.append(f"{path} @ {width}px: {violation['id']} ({violation['impact']}): "
                                        f"{violation['help']} — {targets}")
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                if overflow > 0:
                    problems.append(f"{path} @ {width}px: {overflow}px wider than the screen")
            if width < 600:
                # the menu collapses behind one button, which opens it
                page.goto(base + "/overview")
                nav = page.locator("nav[aria-label=主菜单]")
                assert not nav.is_visible()
                page.click("button.menu-toggle")
                assert nav.is_visible()
                page.screenshot(path=str(ARTIFACTS / f"a11y-{width}-menu-open.png"), full_page=True)
            # the skip link is the first stop of the keyboard, and it shows when focused
            page.goto(base + "/overview")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip"
            assert page.locator("a.skip").is_visible()
        finally:
            context.close()
    assert not problems, "\n".join(problems)


def test_api_docs_render_offline_under_the_csp(browser: Any, web_app: Any) -> None:  # noqa: F811
    """Swagger UI from the packaged assets: the operations render, with no console error (a CSP block would log)."""
    with serving(web_app) as base:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        try:
            page.goto(base + "/api/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            assert page.locator(".opblock").count() > 10
            page.screenshot(path=str(ARTIFACTS / "a11y-api-docs.png"))
        finally:
            page.close()
    assert errors == []
