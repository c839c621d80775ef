"""Issue 9's JSON API over the sample city: a report uploaded, pre-checked, submitted, returned, resubmitted and
approved; the meeting run on the web; ballots cast by code; the rectification plan filed. Bad input changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from storage.tables.review import ballot_codes, ballot_counts, rectification_items, report_versions
from tests.review.conftest import REPORTS

DOCX = REPORTS / "good.docx"
CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _state(app: Any, org: str = "V001") -> str:
    from services.cycles import show_cycle

    return str(show_cycle(app.db, year=2014, org=org)["state"])


def _count(app: Any, table: sa.Table) -> int:
    with app.db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _upload(client: Any, org: str = "V001", path: Any = DOCX, name: str | None = None) -> Any:
    return client.post(f"/api/cycles/2014/{org}/report", files={"file": (name or path.name, path.read_bytes(), CT)})


def test_the_season_of_one_village_through_the_api(client_for: Callable[[str | None], Any], web_app: Any) -> None:
    secretary, reviewer = client_for("v001_secretary"), client_for("t01_reviewer")

    tasks = secretary.get("/api/my/tasks").json()
    assert tasks["org"] == "V001" and tasks["owed"] >= 1
    upward = next(t for t in tasks["tasks"] if t["kind"] == "upward")
    assert (upward["step"], upward["mine"], upward["due"]) == ("submit", True, "2014-12-16")
    assert upward["days_left"] == 8

    # the rule: no report attached → 409, nothing changed
    secretary.post("/api/cycles/2014/V001/events", json={"event": "finish_research"}).raise_for_status()
    refused = secretary.post("/api/cycles/2014/V001/events", json={"event": "submit"})
    assert refused.status_code == 409 and "尚未上传" in refused.json()["error"]
    assert _state(web_app) == "drafting"

    # pre-check without storing, then bad uploads refused, then the upload
    checked = secretary.post("/api/report-check", files={"file": ("good.docx", DOCX.read_bytes(), CT)}).json()
    assert set(checked) == {"areas", "achievements_share", "problems", "causes_analysed", "measures", "figures",
                            "findings", "suggestion"}
    assert _count(web_app, report_versions) == 0
    bad = secretary.post("/api/cycles/2014/V001/report", files={"file": ("report.exe", b"MZ\x90\x00", "application/octet-stream")})
    assert bad.status_code == 400 and "report.exe" in bad.json()["error"]
    big = secretary.post("/api/cycles/2014/V001/report", files={"file": ("big.txt", b"x" * (20 * 1024 * 1024 + 1), "text/plain")})
    assert big.status_code == 413
    fake = secretary.post("/api/cycles/2014/V001/report", files={"file": ("fake.docx", b"not a zip", CT)})
    assert fake.status_code == 400 and "docx" in fake.json()["error"]
    assert secretary.post("/api/cycles/2014/V002/report", files={"file": ("good.docx", DOCX.read_bytes(), CT)}).status_code == 403
    assert _count(web_app, report_versions) == 0
    version = _upload(secretary).json()
    assert (version["version"], version["event"], version["file"]) == (1, "attached", "good.docx")
    assert version["suggestion"] in ("approve", "revise", "rewrite") and isinstance(version["findings"], list)
    secretary.post("/api/cycles/2014/V001/events", json={"event": "submit"}).raise_for_status()

    # the reviewer's queue and the report's text; a secretary cannot read another unit's report
    queue = reviewer.get("/api/review-queue").json()
    assert queue["counts"]["waiting"] >= 1 and queue["waiting"][0]["org"] == "V001"
    report = reviewer.get("/api/cycles/2014/V001/report").json()
    assert report["version"] == 1 and report["text"] and "findings" in report
    assert secretary.get("/api/cycles/2014/V002/report").status_code in (403, 404)
    assert secretary.get("/api/cycles/2014/V002/report").json()["error"]
    assert secretary.get("/api/review-queue").status_code == 403

    reviewer.post("/api/cycles/2014/V001/events", json={"event": "revise", "note": "问题原因分析不足"}).raise_for_status()
    queue = reviewer.get("/api/review-queue").json()
    assert [r["org"] for r in queue["returned"]] == ["V001"] and queue["returned"][0]["return_note"] == "问题原因分析不足"
    # resubmitting the returned version is refused; a new upload is needed
    again = secretary.post("/api/cycles/2014/V001/events", json={"event": "resubmit"})
    assert again.status_code == 409 and _state(web_app) == "revising"
    assert _upload(secretary, path=REPORTS / "good.md").json()["version"] == 2
    secretary.post("/api/cycles/2014/V001/events", json={"event": "resubmit"}).raise_for_status()
    reviewer.post("/api/cycles/2014/V001/events", json={"event": "approve"}).raise_for_status()
    assert _state(web_app) == "approved"

    # the meeting at T01
    base = "/api/meetings/2014/T01"
    assert secretary.post(base + "/open", json={}).status_code == 403
    reviewer.post(base + "/open", json={"presiding": "马口书记", "venue": "会议室"}).raise_for_status()
    people = {"attendees": [{"name": "甲"}, {"name": "乙"}, {"name": "丙"}]}
    assert reviewer.post(base + "/attendance", json=people).json()["attendees"] == 3
    reviewer.post(base + "/present", json={"org": "V001"}).raise_for_status()
    shown = reviewer.post(base + "/comment", json={"org": "V001", "comment": "思路清晰", "questions": [{"question": "后备干部？"}]}).json()
    assert next(a for a in shown["agenda"] if a["org"] == "V001")["comment"] == "思路清晰"
    codes = reviewer.post(base + "/ballots", json={"count": 3}).json()
    assert len(codes["codes"]) == 3 and codes["urls"][0].endswith("/vote/" + codes["codes"][0])
    sheet = reviewer.post(base + "/ballots?format=svg", json={"count": 2})
    assert sheet.headers["content-type"].startswith("image/svg+xml") and sheet.text.count("<path") == 2

    anonymous = client_for(None)
    ballot = anonymous.get(f"/api/vote/{codes['codes'][0]}").json()
    assert "V001" in [p["org"] for p in ballot["presenters"]]
    counts_before = _counts(web_app)
    wrong = anonymous.post(f"/api/vote/{codes['codes'][0]}", json={"ratings": {"T02": "好"}})
    assert wrong.status_code == 400 and "T02" in wrong.json()["error"]
    assert _counts(web_app) == counts_before and not _used(web_app)
    for code, rating in zip(codes["codes"], ["好", "较好", "一般"], strict=True):
        anonymous.post(f"/api/vote/{code}", json={"ratings": {"V001": rating}}).raise_for_status()
    spent = anonymous.post(f"/api/vote/{codes['codes'][0]}", json={"ratings": {"V001": "差"}})
    unknown = anonymous.post("/api/vote/ABCDE-FGHJK", json={"ratings": {"V001": "差"}})
    assert spent.status_code == unknown.status_code == 404 and spent.json() == unknown.json()
    assert anonymous.get(f"/api/vote/{codes['codes'][0]}").status_code == 404
    assert reviewer.get(base + "/ballots").json()["received"] == 3
    closed = reviewer.post(base + "/close").json()
    assert closed["closed"] == ["V001"]
    assert next(t for t in closed["tally"] if t["org"] == "V001")["ballots"] == 3

    # feedback, then the rectification plan: a missing deadline names the row and changes nothing
    reviewer.post("/api/cycles/2014/V001/events", json={"event": "give_feedback"}).raise_for_status()
    missing = secretary.post("/api/cycles/2014/V001/rectification", json={
        "items": [{"item": "后备干部不足", "measure": "储备2名", "responsible": "组织委员", "deadline": "2015-01-05"},
                  {"item": "流动党员", "measure": "建台账", "responsible": "支委", "deadline": ""}],
        "commitment": "我承诺……"})
    assert missing.status_code == 400 and "第2项" in missing.json()["error"] and "完成时限" in missing.json()["error"]
    assert _count(web_app, rectification_items) == 0
    filing = secretary.post("/api/cycles/2014/V001/rectification", json={"file": True})
    assert filing.status_code == 409 and "公开承诺" in filing.json()["error"] and _state(web_app) == "feedback_given"
    done = secretary.post("/api/cycles/2014/V001/rectification", json={
        "items": [{"item": "后备干部不足", "measure": "储备2名", "responsible": "组织委员", "deadline": "2015-01-05"}],
        "commitment": "我承诺2015年底前配齐后备干部。", "file": True}).json()
    assert done["added"] == 1 and done["filed"]["to"] == "committed"


def _counts(app: Any) -> list[tuple[int, str, int]]:
    with app.db.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.select(ballot_counts.c.cycle_id, ballot_counts.c.rating, ballot_counts.c.n)))


def _used(app: Any) -> int:
    with app.db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(ballot_codes).where(ballot_codes.c.used.is_(True))).scalar_one())


def test_ballot_codes_are_stored_as_a_keyed_hash_and_old_codes_still_work(web_app: Any) -> None:
    import hashlib

    from services.ballots import cast_ballot, hash_code, issue_codes
    from services.meetings import open_meeting
    from tests.review.conftest import fire, walk_to_approved

    walk_to_approved(web_app, "V001")
    open_meeting(web_app.db, year=2014, organizer="T01", now=web_app.now())
    fire(web_app, "V001", "present")
    key = b"k" * 40
    new = issue_codes(web_app.db, year=2014, organizer="T01", count=1, now=web_app.now(), key=key)["codes"][0]
    old = issue_codes(web_app.db, year=2014, organizer="T01", count=1, now=web_app.now())["codes"][0]  # before the key
    with web_app.db.connect() as conn:
        stored = set(conn.execute(sa.select(ballot_codes.c.code_hash)).scalars())
    plain = hashlib.sha256(new.replace("-", "").encode()).hexdigest()
    assert hash_code(new, key) in stored and plain not in stored  # not brute-forceable from the database alone
    cast_ballot(web_app.db, year=2014, code=new, ratings={"V001": "好"}, key=key)
    cast_ballot(web_app.db, year=2014, code=old, ratings={"V001": "好"}, key=key)  # legacy codes verify
    assert _used(web_app) == 2


def test_report_text_is_rendered_as_escaped_html_and_only_in_scope(client_for: Callable[[str | None], Any], web_app: Any) -> None:
    from services.accounts import create_user
    from tests.web.conftest import PASSWORD

    secretary, reviewer = client_for("v001_secretary"), client_for("t01_reviewer")
    hostile = ("# 述职报告\n<script>alert(1)</script>\n\n[点我](javascript:alert(2))\n\n"
               "## 存在的问题\n一是<img src=x onerror=alert(3)>\n")
    secretary.post("/api/cycles/2014/V001/events", json={"event": "finish_research"}).raise_for_status()
    secretary.post("/api/cycles/2014/V001/report", files={"file": ("r.md", hostile.encode(), "text/markdown")}).raise_for_status()
    secretary.post("/api/cycles/2014/V001/events", json={"event": "submit"}).raise_for_status()
    page = reviewer.get("/review/2014/V001").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x" not in page and 'href="javascript:' not in page
    create_user(web_app.db, "t02_reviewer", "reviewer", PASSWORD, scope="T02")
    outsider = client_for("t02_reviewer")
    assert outsider.get("/review/2014/V001").status_code == 403
    assert outsider.get("/api/cycles/2014/V001/report").status_code == 403
    assert client_for("v001_secretary").get("/my/2014/V002").status_code == 403


def test_an_upload_over_20_mb_is_one_catalogue_message_in_both_consoles(client_for: Callable[[str | None], Any],
                                                                       web_app: Any) -> None:
    big = ("big.txt", b"x" * (20 * 1024 * 1024 + 1), "text/plain")
    secretary = client_for("v001_secretary")
    refused = secretary.post("/api/cycles/2014/V001/report", files={"file": big})
    assert refused.status_code == 413 and refused.json()["error"] == "述职报告 big.txt 超过 20 MB"
    english = secretary.post("/api/cycles/2014/V001/report?lang=en", files={"file": big})
    assert english.status_code == 413 and english.json()["error"] == "big.txt: larger than 20 MB"
    operator = client_for("zzb")
    operator.post("/api/cycles/2014/T01/behalf", data={"event": "finish_research"}).raise_for_status()
    behalf = operator.post("/api/cycles/2014/T01/behalf", data={"event": "submit"}, files={"report": big})
    assert behalf.status_code == 413 and behalf.json()["error"] == "述职报告 big.txt 超过 20 MB"
    assert _count(web_app, report_versions) == 0 and _state(web_app, "T01") == "drafting"


def test_the_participant_pages_in_english_under_lang_en(client_for: Callable[[str | None], Any], web_app: Any) -> None:
    import re

    secretary, reviewer = client_for("v001_secretary"), client_for("t01_reviewer")
    secretary.post("/api/cycles/2014/V001/events", json={"event": "finish_research"}).raise_for_status()
    _upload(secretary, path=REPORTS / "good.md").raise_for_status()
    secretary.post("/api/cycles/2014/V001/events", json={"event": "submit"}).raise_for_status()
    reviewer.post("/api/meetings/2014/T01/open", json={"presiding": "马口书记"}).raise_for_status()
    code = reviewer.post("/api/meetings/2014/T01/ballots", json={"count": 1}).json()["codes"][0]
    pages = {
        "/my": (secretary, "My tasks", "我的待办"),
        "/my/2014/V001": (secretary, "My report versions", "我的报告版本"),
        "/review": (reviewer, "Review queue", "审核队列"),
        "/review/2014/V001": (reviewer, "Automatic pre-check", "自动预审"),
        "/meetings/2014/T01": (reviewer, "Evaluation meeting", "述职评议会"),
        f"/vote/{code}": (client_for(None), "Evaluation ballot", "民主测评"),
    }
    for path, (client, english, chinese) in pages.items():
        zh = client.get(path, params={"lang": "zh"})
        assert zh.status_code == 200 and chinese in zh.text, path
        en = client.get(path, params={"lang": "en"})
        assert en.status_code == 200 and english in en.text, path
        main = en.text.split("<main", 1)[-1].split("</main>")[0]
        # the page's own words are English; what remains Chinese is data (names, the report, findings)
        for word in ("我的待办", "审核队列", "自动预审", "述职评议会", "民主测评", "截止", "状态：", "提交测评", "参会人员"):
            assert word not in re.sub(r"<[^>]+>", " ", main), (path, word)
    # what the pages say after an action follows the language too (the choice is kept in the session)
    from tests.web.conftest import csrf_of

    token = csrf_of(reviewer.get("/meetings/2014/T01", params={"lang": "en"}).text)
    done = reviewer.post("/meetings/2014/T01/attendance", data={"people": "甲\n乙", "csrf_token": token}, follow_redirects=True)
    assert "2 attendee(s) registered" in done.text and "已登记参会人员" not in done.text
    empty = reviewer.post("/meetings/2014/T01/comment", data={"org": "V001", "question": "", "comment": "", "csrf_token": token},
                          follow_redirects=True)
    assert "the comment and the questions are all empty" in empty.text
