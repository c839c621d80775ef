"""In headless chromium at phone size: a secretary signs in with an SMS code read from the sink and lands on "/my"."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from notifications.channels import SinkChannel
from services.outbox import dispatch
from storage.tables.web import web_users
from tests.web.test_browser import ARTIFACTS, browser, pytestmark, serving

__all__ = ["browser", "pytestmark"]


def test_secretary_signs_in_by_sms_code_on_a_phone(browser: Any, web_app: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with web_app.db.begin() as conn:
        conn.execute(web_users.update().where(web_users.c.name == "v001_secretary").values(phone="13900000011"))
    sink = tmp_path / "sink"
    with serving(web_app) as base:
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
        try:
            page = context.new_page()
            page.goto(base + "/login")
            page.get_by_test_id("mode-sms").click()
            page.fill("input[name=phone]", "139 0000 0011")
            page.click("form[data-testid=otp-send] button")
            expect(page.get_by_test_id("login-notice")).to_contain_text("验证码已发送")
            page.screenshot(path=str(ARTIFACTS / "access-01-sms-code-sent.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390

            dispatch(web_app.db, now=web_app.now(), channels={"sms": SinkChannel(sink, "sms")})
            (message,) = sink.glob("sms-*.txt")
            text = message.read_text(encoding="utf-8")
            assert "to: 13900000011" in text
            found = re.search(r"验证码 (\d{6})", text)
            assert found, text
            page.fill("input[name=code]", "000000" if found.group(1) != "000000" else "111111")
            page.click("form[data-testid=otp-verify] button")
            expect(page.get_by_test_id("login-error")).to_contain_text("验证码错误或已过期")
            page.fill("input[name=code]", found.group(1))
            page.click("form[data-testid=otp-verify] button")
            expect(page).to_have_url(re.compile(r"/my$"))
            page.screenshot(path=str(ARTIFACTS / "access-02-landed.png"), full_page=True)
            with web_app.db.connect() as conn:  # the code left the outbox once used
                assert found.group(1) not in str(conn.execute(sa.text("select note, body from outbox where template='otp'")).all())
        finally:
            context.close()
