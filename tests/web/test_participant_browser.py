"""Issue 9 end to end on phones (390×844, headless Debian chromium): a secretary uploads, sees the pre-check and
submits; a reviewer returns it from the queue; the secretary resubmits; the reviewer approves; the organizer runs the
meeting, three attendees vote by code on their phones, the tally closes; the secretary files the rectification plan.
Every page is screenshotted into test-artifacts/ and checked for sideways scrolling."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from services.app import App
from services.settings import Settings
from tests.review.conftest import REPORTS
from tests.web.conftest import PASSWORD
from tests.web.test_browser import ARTIFACTS, CHROMIUM, browser  # noqa: F401 - the module's browser fixture
from tests.web.test_browser import serving as browser_serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install chromium; `make test` does)"),
]

PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "zh-CN", "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
SETTINGS = {"SHUZHI_ENV": "development", "SHUZHI_SECRET_KEY": "participant-browser-test-key-0123456789abcdef"}


@contextmanager
def serving(app: App) -> Iterator[str]:
    """The console over `app` with its own settings: a server secret (ballot codes are keyed hashes)."""
    with browser_serving(app, app.settings) as base:
        yield base


def sign_in(page: Any, base: str, name: str) -> None:
    """Password sign-in (the reviewer and the organizer)."""
    from playwright.sync_api import expect

    page.goto(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("whoami")).to_contain_text(name)


def sign_in_by_sms(page: Any, base: str, app: App, *, name: str, phone: str, sink: Path) -> None:
    """The secretary's sign-in: phone number, then the one-time code read from the SMS sink (issue 9 item 2)."""
    from playwright.sync_api import expect

    from notifications.channels import SinkChannel
    from services.outbox import dispatch
    from storage.tables.web import web_users

    with app.db.begin() as conn:
        conn.execute(web_users.update().where(web_users.c.name == name).values(phone=phone))
    page.goto(base + "/login")
    page.get_by_test_id("mode-sms").click()
    page.fill("input[name=phone]", phone)
    page.click("form[data-testid=otp-send] button")
    expect(page.get_by_test_id("login-notice")).to_contain_text("验证码已发送")
    dispatch(app.db, now=app.now(), channels={"sms": SinkChannel(sink, "sms")})
    (message,) = [m for m in sink.glob("sms-*.txt") if f"to: {phone}" in m.read_text(encoding="utf-8")]
    found = re.search(r"验证码 (\d{6})", message.read_text(encoding="utf-8"))
    assert found, message.read_text(encoding="utf-8")
    page.fill("input[name=code]", found.group(1))
    page.click("form[data-testid=otp-verify] button")
    expect(page.get_by_test_id("whoami")).to_contain_text(name)


# the tally's card cells whose ::before label reaches into the value beside it, or below the cell
TALLY_LABELS_OVERLAPPING = """() => Array.from(document.querySelectorAll("[data-testid=tally] td[data-label]")).filter((td) => {
  const cell = td.getBoundingClientRect();
  const label = getComputedStyle(td, "::before");
  const range = document.createRange();
  range.selectNodeContents(td);
  const value = range.getBoundingClientRect();
  const labelBottom = cell.top + parseFloat(getComputedStyle(td).paddingTop) + parseFloat(label.height);
  return value.left < cell.left + parseFloat(label.width) || labelBottom > cell.bottom + 0.5;
}).map((td) => td.dataset.label)"""


def shot(page: Any, name: str) -> None:
    """A full-page screenshot, and no sideways scrolling at phone width."""
    page.screenshot(path=str(ARTIFACTS / f"participant-{name}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow}px at 390px"


def test_a_season_on_phones(browser: Any, web_app: App, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    app = App(db=web_app.db, clock=web_app.clock, hooks=web_app.hooks,
              settings=Settings.from_env(SETTINGS, db_url=web_app.db.url))
    with serving(app) as base:
        secretary_ctx, reviewer_ctx = browser.new_context(**PHONE), browser.new_context(**PHONE)
        try:
            me, rev = secretary_ctx.new_page(), reviewer_ctx.new_page()

            # the secretary lands on 我的待办, opens the upward cycle, uploads a .docx and sees the pre-check
            sign_in_by_sms(me, base, app, name="v001_secretary", phone="13900000011", sink=tmp_path / "sink")
            expect(me).to_have_url(base + "/my")
            expect(me.get_by_test_id("task-upward")).to_contain_text("待我：报送述职报告")
            shot(me, "01-my-tasks")
            me.get_by_test_id("task-upward").click()
            me.set_input_files("input[name=file]", str(REPORTS / "good.docx"))
            me.get_by_test_id("upload").click()
            expect(me.get_by_test_id("findings")).to_contain_text("自动预审建议")
            shot(me, "02-uploaded-findings")
            me.get_by_test_id("submit").click()
            expect(me.get_by_test_id("state")).to_have_text("已报送")
            shot(me, "03-submitted")

            # the reviewer's queue; the report beside its findings; returned with a reason
            sign_in(rev, base, "t01_reviewer")
            expect(rev).to_have_url(base + "/review")
            expect(rev.get_by_test_id("waiting")).to_contain_text("东村党支部")
            shot(rev, "04-review-queue")
            rev.get_by_test_id("waiting").locator("a", has_text="东村党支部").click()
            expect(rev.get_by_test_id("report-text")).to_contain_text("第 1 版")
            shot(rev, "05-review-page")
            finding = rev.locator("input[name=finding]").first
            finding.check()  # the chosen finding pre-fills the reason
            note = rev.get_by_test_id("note")
            expect(note).to_have_value(str(finding.get_attribute("value")))
            note.fill(note.input_value() + "\n问题原因分析不足，请补充")
            rev.get_by_test_id("revise").click()
            rev.goto(base + "/review")
            expect(rev.get_by_test_id("returned")).to_contain_text("问题原因分析不足")
            shot(rev, "06-queue-returned")

            # the secretary sees why, uploads again and resubmits
            me.reload()
            expect(me.get_by_test_id("state")).to_have_text("退回修改")
            expect(me.get_by_test_id("return-note")).to_contain_text("问题原因分析不足")
            expect(me.get_by_test_id("submit")).to_have_count(0)  # nothing new attached: no resubmit button
            shot(me, "07-returned")
            me.set_input_files("input[name=file]", str(REPORTS / "good.md"))
            me.get_by_test_id("upload").click()
            me.get_by_test_id("submit").click()
            expect(me.get_by_test_id("state")).to_have_text("已报送")

            # the reviewer approves, after the confirmation
            rev.goto(base + "/review")
            rev.get_by_test_id("waiting").locator("a", has_text="东村党支部").click()
            expect(rev.get_by_test_id("report-text")).to_contain_text("第 2 版")
            rev.get_by_test_id("approve-box").locator("summary").click()
            shot(rev, "08-approve-confirm")
            rev.get_by_test_id("approve").click()
            expect(rev.locator(".flash.ok")).to_contain_text("审核通过")

            # the meeting: open, attendance, present, comment, ballot codes with their QR sheet
            rev.goto(base + "/meetings/2014/T01")
            rev.fill("input[name=presiding]", "马口书记")
            rev.get_by_test_id("open").click()
            expect(rev.get_by_test_id("meeting-state")).to_contain_text("进行中")
            rev.fill("textarea[name=people]", "张三，东村\n李四，西村\n王五，镇直")
            rev.get_by_test_id("attendance").click()
            rev.get_by_test_id("present-V001").click()
            agenda = rev.get_by_test_id("agenda-V001")
            agenda.locator("textarea[name=comment]").fill("抓党建思路清晰，问题找得准。")
            rev.get_by_test_id("comment-V001").click()
            expect(rev.get_by_test_id("agenda-V001")).to_contain_text("抓党建思路清晰")
            shot(rev, "09-meeting-open")
            rev.fill("input[name=count]", "3")
            rev.get_by_test_id("issue").click()
            codes = rev.get_by_test_id("codes").locator("code").all_inner_texts()
            assert len(codes) == 3 and rev.locator(".qr svg").count() == 3
            shot(rev, "10-qr-sheet")

            # three attendees vote on their phones, no account
            for number, (code, rating) in enumerate(zip(codes, (1, 2, 1), strict=True), start=1):
                phone = browser.new_context(**PHONE)
                try:
                    voter = phone.new_page()
                    voter.goto(f"{base}/vote/{code}")
                    voter.locator(f"label:has([data-testid=rate-V001-{rating}])").click()
                    if number == 1:
                        shot(voter, "11-vote-page")
                    voter.get_by_test_id("cast").click()
                    expect(voter.get_by_test_id("voted")).to_be_visible()
                    if number == 1:
                        shot(voter, "12-voted")
                        voter.goto(f"{base}/vote/{code}")  # the code is spent
                        expect(voter.locator("main")).to_contain_text("测评码无效或已使用")
                finally:
                    phone.close()

            rev.goto(base + "/meetings/2014/T01")
            expect(rev.get_by_test_id("received")).to_have_text("3")
            rev.get_by_test_id("close-box").click()
            rev.get_by_test_id("close").click()
            expect(rev.get_by_test_id("tally")).to_contain_text("东村党支部")
            expect(rev.get_by_test_id("tally")).to_contain_text("93.3")  # (100 + 80 + 100) / 3
            shot(rev, "13-tally")
            # on the phone the tally is cards: no label runs into its value, the long 好/较好/一般/差 included
            overlapping = rev.evaluate(TALLY_LABELS_OVERLAPPING)
            assert overlapping == [], f"card labels overlapping their values at 390px: {overlapping}"
            rev.get_by_test_id("feedback-V001").click()

            # the secretary reads the feedback notice and files the plan and the commitment
            me.goto(base + "/my/2014/V001?kind=upward")
            expect(me.get_by_test_id("feedback")).to_be_visible()
            plan = me.get_by_test_id("plan")
            plan.locator("input[name=item]").fill("后备干部不足")
            plan.locator("textarea[name=measure]").fill("每村储备2名后备干部")
            plan.locator("input[name=responsible]").fill("组织委员")
            me.get_by_test_id("add-item").click()  # no deadline: refused, nothing saved
            expect(me.locator(".flash.bad")).to_contain_text("完成时限不能为空")
            plan = me.get_by_test_id("plan")
            plan.locator("input[name=item]").fill("后备干部不足")
            plan.locator("textarea[name=measure]").fill("每村储备2名后备干部")
            plan.locator("input[name=responsible]").fill("组织委员")
            plan.locator("input[name=deadline]").fill("2015-01-05")
            me.get_by_test_id("add-item").click()
            expect(me.get_by_test_id("plan")).to_contain_text("每村储备2名后备干部")
            me.get_by_test_id("plan").locator("textarea[name=commitment]").fill("我承诺2015年底前配齐后备干部。")
            me.get_by_test_id("save-commitment").click()
            me.get_by_test_id("file").click()
            expect(me.get_by_test_id("state")).to_have_text("承诺已备案")
            expect(me.get_by_test_id("commitment")).to_contain_text("已备案")
            shot(me, "14-filed")
        finally:
            secretary_ctx.close()
            reviewer_ctx.close()
