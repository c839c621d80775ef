"""Issue 12 item 7, the English side: under ?lang=en every page a role uses shows no Chinese of its own.

The main pages of each role (secretary, reviewer, meeting attendee, operator, admin, the sign-in and error pages)
are crawled with ?lang=en; their visible text (tags, scripts and styles stripped; titles, placeholders and
aria-labels kept) may hold Chinese only in data: the sample city's names, the ratings 好/较好/一般/差, what users
typed, and the blocks a template marks `translate="no"` (the report's own text and the checker's findings)."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from html.parser import HTMLParser
from typing import Any

from tests.conftest import SAMPLE_ORGS
from tests.review.conftest import REPORTS
from tests.web.conftest import csrf_of

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff5e]+")
SKIPPED = {"script", "style", "template"}
ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

# data, not the console's words: the sample city's names and secretaries, what the test types, the fixed ratings,
# and the language switch's own "中" (a link to the Chinese console, in Chinese on purpose)
TYPED = ("马口书记", "会议室", "甲", "乙", "思路清晰", "后备干部？", "问题原因分析不足")
RATINGS = ("较好", "一般", "好", "差")
SWITCH = ("中文", "中")


def _data_strings() -> list[str]:
    rows = [line.split(",") for line in SAMPLE_ORGS.strip().splitlines()[1:]]
    names = [value for row in rows for value in (row[1], row[4]) if value]
    return sorted({*names, *TYPED, *RATINGS, *SWITCH}, key=len, reverse=True)


class _Visible(HTMLParser):
    """The text a reader sees (or hears: aria-labels), without script, style and `translate="no"` subtrees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._stack: list[bool] = []  # per open element: is it skipped?

    @property
    def _skipping(self) -> bool:
        return any(self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        shown = dict(attrs)
        skip = tag in SKIPPED or shown.get("translate") == "no"
        if not self._skipping and not skip:
            self.parts.extend(value for key in ATTRIBUTES if (value := shown.get(key)))
        if tag not in VOID:
            self._stack.append(skip)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._skipping:
            shown = dict(attrs)
            self.parts.extend(value for key in ATTRIBUTES if (value := shown.get(key)))

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.parts.append(data)


def chinese_left(html: str) -> list[str]:
    """The Chinese of a page that is not data."""
    parser = _Visible()
    parser.feed(html)
    text = unescape(" | ".join(parser.parts))
    for value in _data_strings():
        text = text.replace(value, " ")
    return HAN.findall(text)


def _season(client_for: Callable[[str | None], Any]) -> dict[str, Any]:
    """V001's report submitted, T01's meeting open with attendees, a comment and ballot codes."""
    secretary, reviewer = client_for("v001_secretary"), client_for("t01_reviewer")
    secretary.post("/api/cycles/2014/V001/events", json={"event": "finish_research"}).raise_for_status()
    report = REPORTS / "good.md"
    secretary.post("/api/cycles/2014/V001/report", files={"file": (report.name, report.read_bytes(), "text/markdown")}
                   ).raise_for_status()
    secretary.post("/api/cycles/2014/V001/events", json={"event": "submit"}).raise_for_status()
    base = "/api/meetings/2014/T01"
    reviewer.post(base + "/open", json={"presiding": "马口书记", "venue": "会议室"}).raise_for_status()
    reviewer.post(base + "/attendance", json={"attendees": [{"name": "甲"}, {"name": "乙"}]}).raise_for_status()
    codes = reviewer.post(base + "/ballots", json={"count": 1}).json()["codes"]
    return {"secretary": secretary, "reviewer": reviewer, "code": codes[0]}


def test_every_main_page_of_every_role_is_english_under_lang_en(client_for: Callable[[str | None], Any]) -> None:
    season = _season(client_for)
    operator, admin, anonymous = client_for("zzb"), client_for("admin"), client_for(None)
    pages: list[tuple[str, Any, str]] = [
        ("anonymous", anonymous, "/login"),
        ("anonymous", anonymous, "/login?mode=sms"),
        ("secretary", season["secretary"], "/my"),
        ("secretary", season["secretary"], "/my/2014/V001"),
        ("reviewer", season["reviewer"], "/review"),
        ("reviewer", season["reviewer"], "/review/2014/V001"),
        ("reviewer", season["reviewer"], "/meetings/2014/T01"),
        ("attendee", anonymous, f"/vote/{season['code']}"),
        ("operator", operator, "/overview"),
        ("operator", operator, "/tree"),
        ("operator", operator, "/tree?code=T01"),
        ("operator", operator, "/meetings/2014/T02"),
        ("operator", operator, "/lagging"),
        ("operator", operator, "/lagging?overdue=1"),
        ("operator", operator, "/lagging/remind-bulk?year=2014&kind=upward"),
        ("operator", operator, "/results"),
        ("operator", operator, "/outbox"),
        ("operator", operator, "/flows"),
        ("operator", operator, "/cycles/2014/V001"),
        ("operator", operator, "/cycles/2014/T01"),
        ("operator", operator, "/search?q=T0"),
        ("admin", admin, "/admin"),
        ("admin", admin, "/admin/users"),
        ("admin", admin, "/admin/years/template?year=2015"),
        ("reviewer", season["reviewer"], "/cycles/2014/V001"),
        ("admin", admin, "/no-such-page"),
    ]
    found: dict[str, list[str]] = {}
    for role, client, path in pages:
        response = client.get(path + ("&" if "?" in path else "?") + "lang=en")
        assert response.status_code == (404 if path == "/no-such-page" else 200), (role, path, response.status_code)
        if left := chinese_left(response.text):
            found[f"{role} {path}"] = left
    # the admin's launch preview of a plan with a mistake: the page and the plan's problems in English
    token = csrf_of(admin.get("/admin", params={"lang": "en"}).text)
    from tests.conftest import SAMPLE_PLAN

    preview = admin.post("/admin/years/preview?lang=en", data={
        "year": "2014", "plan_text": SAMPLE_PLAN.replace("[reminders]", "[reminder]"), "csrf_token": token})
    assert "unknown key 'reminder'" in unescape(preview.text)
    bad_plan = {"year": 2015, "plan": SAMPLE_PLAN.replace("2014", "2015").replace('timezone = "Asia/Shanghai"',
                                                                                  'timezone = "Mars/Base"')}
    for lang, expected in (("en", "timezone: 'Mars/Base' is not a valid time zone"), ("zh", "timezone：'Mars/Base' 不是有效的时区名称")):
        refused = admin.post(f"/api/years?lang={lang}", json=bad_plan)
        assert refused.status_code == 400 and any(p.startswith(expected) for p in refused.json()["problems"]), refused.json()
        assert (lang == "zh") == bool(HAN.search(refused.json()["error"]))
    if left := chinese_left(preview.text):
        found["admin preview"] = left
    assert not found, "\n".join(f"{page}: {' '.join(words)}" for page, words in found.items())


def _get(client: Any, path: str) -> Any:
    return client.get(path + ("&" if "?" in path else "?") + "lang=en")


def test_later_in_the_season_and_after_actions_the_pages_stay_english(client_for: Callable[[str | None], Any]) -> None:
    """A return, the approval, the meeting run and closed, the feedback: the pages each role then sees, and what
    the console says after an action (flash messages, results, the contact page, a refusal)."""
    season = _season(client_for)
    secretary, reviewer = season["secretary"], season["reviewer"]
    operator, admin, anonymous = client_for("zzb"), client_for("admin"), client_for(None)
    found: dict[str, list[str]] = {}

    def check(label: str, response: Any) -> None:
        assert response.status_code < 500, (label, response.status_code)
        if left := chinese_left(response.text):
            found[label] = left

    def post(client: Any, path: str, data: dict[str, Any], page: str, **extra: Any) -> Any:
        token = csrf_of(_get(client, page).text)
        return client.post(path + "?lang=en", data={**data, "csrf_token": token}, follow_redirects=True, **extra)

    check("vote done", post(anonymous, f"/vote/{season['code']}", {"r_V001": "好"}, f"/vote/{season['code']}"))
    check("review returned", post(reviewer, "/review/2014/V001", {"kind": "upward", "event": "revise",
                                                                   "note": "问题原因分析不足"}, "/review/2014/V001"))
    check("reviewer /review with a return", _get(reviewer, "/review"))
    check("secretary /my/2014/V001 revising", _get(secretary, "/my/2014/V001"))
    report = REPORTS / "good.md"
    secretary.post("/api/cycles/2014/V001/report", files={"file": (report.name, report.read_bytes(), "text/markdown")}
                   ).raise_for_status()
    check("secretary resubmits", post(secretary, "/my/2014/V001/submit", {"kind": "upward"}, "/my/2014/V001"))
    check("reviewer approves", post(reviewer, "/review/2014/V001", {"kind": "upward", "event": "approve"},
                                    "/review/2014/V001"))
    meeting = "/meetings/2014/T01"
    check("meeting present", post(reviewer, meeting + "/present", {"org": "V001"}, meeting))
    check("meeting comment", post(reviewer, meeting + "/comment", {"org": "V001", "comment": "思路清晰",
                                                                     "question": "后备干部？"}, meeting))
    check("meeting codes", post(reviewer, meeting + "/ballots", {"count": "2"}, meeting))
    check("meeting closed", post(reviewer, meeting + "/close", {}, meeting))
    check("meeting feedback", post(reviewer, meeting + "/feedback", {"org": "V001"}, meeting))
    check("secretary /my/2014/V001 plan", _get(secretary, "/my/2014/V001"))
    check("secretary /my", _get(secretary, "/my"))
    check("secretary refused /lagging", _get(secretary, "/lagging"))
    check("operator /cycles/2014/V001 late", _get(operator, "/cycles/2014/V001"))
    check("operator remind", post(operator, "/lagging/remind", {"year": "2014", "org": "T01", "kind": "upward"},
                                  "/lagging"))
    check("operator bulk remind", post(operator, "/lagging/remind-bulk", {"year": "2014", "kind": "upward"},
                                       "/lagging"))
    check("operator /lagging by initials", _get(operator, "/lagging?year=2014&under=mkz"))
    check("operator /outbox with messages", _get(operator, "/outbox"))
    check("operator contact", post(operator, "/orgs/T01/contact", {"back": "/lagging"}, "/lagging"))
    check("operator on behalf", post(operator, "/cycles/2014/T01/behalf", {"kind": "upward", "event": "finish_research",
                                                                          "note": ""}, "/cycles/2014/T01"))
    check("admin import", post(admin, "/admin/orgs/import", {}, "/admin",
                               files={"file": ("orgs.csv", SAMPLE_ORGS.encode(), "text/csv")}))
    from tests.conftest import SAMPLE_PLAN

    check("admin preview 2015", post(admin, "/admin/years/preview", {
        "year": "2015", "plan_text": SAMPLE_PLAN.replace("2014", "2015").replace("2015-01-31", "2016-01-31")}, "/admin"))
    check("admin preview empty", post(admin, "/admin/years/preview", {"year": "2015", "plan_text": " "}, "/admin"))
    check("admin ballots", post(admin, "/admin/ballots/issue", {"year": "2014", "organizer": "T02", "count": "2"},
                                "/admin"))
    check("admin move", post(admin, "/admin/meetings/move", {"year": "2014", "organizer": "T02", "date": "2014-12-28"},
                             "/admin"))
    check("admin reset", post(admin, "/admin/users/viewer/reset", {"mode": "password"}, "/admin/users"))
    check("admin /admin/users after", _get(admin, "/admin/users"))
    assert not found, "\n".join(f"{page}: {' '.join(words)}" for page, words in found.items())


def test_the_check_itself_sees_chinese_and_lets_data_through() -> None:
    assert chinese_left("<p>Unit <b>东村党支部</b> · 好</p><script>var a='中文'</script>") == []
    assert chinese_left('<p>Due <span title="截止日期">12-16</span></p>') == ["截止日期"]
    assert chinese_left('<div translate="no"><p>报告正文</p></div><p>尚未</p>') == ["尚未"]
    assert chinese_left('<input placeholder="搜索"><p>ok</p>') == ["搜索"]
