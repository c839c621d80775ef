"""The participants' pages (issue 9), mobile first: a secretary's 我的待办 and cycle (upload, pre-check, submit,
rectification), the reviewer's queue and review page, the organizer's meeting, and the ballot by code (no account).

Every change goes through web.actions.Console and the helpers of web.participant_api (the API's own path);
flash messages travel in the session, never in the URL."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from services.errors import BadInput, PermissionDenied, ShuzhiError
from services.errors import render as render_message
from states.machine import EVENT_LABELS, STATE_LABELS, STEP_LABELS
from web import participant_api as desk
from web.i18n import language, say
from web.pages import User, render
from web.security import check_csrf

router = APIRouter(include_in_schema=False)

KINDS = ("upward", "own_level")
RETURN_CHOICES = {"revise": "督促修改", "rewrite": "责令重写"}


def markdown_html(text: str | None) -> Markup:
    """Markdown as HTML with raw HTML escaped (markdown-it's `html=False`) and unsafe links refused."""
    from markdown_it import MarkdownIt

    if not text:
        return Markup("")
    return Markup(MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").render(text))


def flash(request: Request, message: str, *, error: bool = False) -> None:
    from web.flash import flash as keep

    keep(message, error=error, scope=request.scope)  # the console's one flash, in the session (L8)


def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    return render(request, template, http_status=status, state_labels=STATE_LABELS, step_labels=STEP_LABELS,
                  event_labels=EVENT_LABELS, md=markdown_html,
                  **context)


def back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise BadInput("kind.bad", value=kind, choices="upward, own_level")
    return kind


def _cycle_url(year: int, org: str, kind: str) -> str:
    return f"/my/{year}/{quote(org)}?kind={quote(kind)}"


# --- the secretary -------------------------------------------------------------------------------------------------

@router.get("/my")
def my_page(request: Request, account: User, year: int | None = None) -> Response:
    from services.my_tasks import my_tasks

    if account.role == "reviewer":
        return back("/review")
    shared = desk.shared_of(request)
    data = my_tasks(shared.db, org=desk.secretary_unit(account), today=shared.app.today(), year=year)
    return page(request, "participant/my.html", data=data)


@router.get("/my/{year}/{org}")
def my_cycle(request: Request, account: User, year: int, org: str, kind: str = "upward") -> Response:
    from web import integrations

    kind = _kind(kind)
    shared = desk.shared_of(request)
    desk.check_cycle_read(shared.db, account.actor, year=year, org=org, kind=kind)
    cycle, extras, _ = integrations.cycle_with_extras(shared.db, year=year, org=org, kind=kind,
                                                      today=shared.app.today())
    versions = extras["reports"]
    attached = versions[-1] if versions and versions[-1]["event"] == "attached" else None
    other_kind = "own_level" if kind == "upward" else "upward"
    from services.my_tasks import my_tasks

    kinds = {t["kind"] for t in my_tasks(shared.db, org=org, today=shared.app.today(), year=year)["tasks"]}
    return page(request, "participant/cycle.html", c=cycle, x=extras, attached=attached, year=year, org=org, kind=kind,
                other_kind=other_kind if other_kind in kinds else None,
                can_upload=cycle["state"] in ("researching", "drafting", "revising"),
                can_plan=cycle["state"] in ("evaluated", "feedback_given", "rectifying"))


@router.post("/my/{year}/{org}/upload")
async def my_upload(request: Request, account: User, year: int, org: str, file: Annotated[UploadFile, File()],
                    kind: Annotated[str, Form()] = "upward", csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    kind = _kind(kind)
    name, content = await desk.read_upload(file)
    try:
        version = await run_in_threadpool(  # parsing a report off the event loop (M6)
            lambda: desk.attach(desk.writer_console(request, account), year=year, org=org, kind=kind, name=name,
                                content=content))
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        flash(request, error.render(language(request)), error=True)
    else:
        flash(request, say(request, f"已上传第 {version['version']} 版（{version['file']}），请查看下方的自动预审意见，修改满意后再报送",
                            f"uploaded version {version['version']} ({version['file']}): read the pre-check below, "
                            "and submit once you are satisfied"))
    return back(_cycle_url(year, org, kind))


@router.post("/my/{year}/{org}/submit")
def my_submit(request: Request, account: User, year: int, org: str, kind: Annotated[str, Form()] = "upward",
              csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    kind = _kind(kind)
    try:
        done = desk.submit_attached(desk.writer_console(request, account), year=year, org=org, kind=kind)
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        flash(request, error.render(language(request)), error=True)
    else:
        said = f"已{EVENT_LABELS.get(done['event'], done['event'])}，状态：{STATE_LABELS.get(done['to'], done['to'])}"
        flash(request, say(request, said,
                            f"{done['event'].replace('_', ' ')}: the state is now {done['to'].replace('_', ' ')}"))
    return back(_cycle_url(year, org, kind))


@router.post("/my/{year}/{org}/plan")
def my_plan(request: Request, account: User, year: int, org: str, kind: Annotated[str, Form()] = "upward",
            item: Annotated[str, Form()] = "", measure: Annotated[str, Form()] = "",
            deadline: Annotated[str, Form()] = "", responsible: Annotated[str, Form()] = "",
            commitment: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    """One rectification item and/or the commitment (the form has both; an empty item part is skipped)."""
    from services.rectification import draw_up_plan

    check_csrf(request, csrf_token)
    kind = _kind(kind)
    console = desk.writer_console(request, account)
    items = [{"item": item, "measure": measure, "deadline": deadline, "responsible": responsible}] \
        if any(v.strip() for v in (item, measure, deadline, responsible)) else []
    try:
        result = console._run("rectification", f"{year} {org} {kind} +{len(items)}", lambda: draw_up_plan(
            console.app.db, year=year, org=org, kind=kind, items=items, commitment=commitment or None,
            now=console.app.now(), by=account.name, actor=account.actor))
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        flash(request, "；".join(error.problems_in(language(request))) or error.render(language(request)), error=True)
    else:
        saved = [(f"整改事项 {result['added']} 项", f"{result['added']} item(s)")] if result["added"] else []
        saved += [("公开承诺", "the public commitment")] if result["commitment"] else []
        flash(request, say(request, "已保存" + "、".join(zh for zh, _ in saved), "saved " + ", ".join(en for _, en in saved)))
    return back(_cycle_url(year, org, kind) + "#plan")


@router.post("/my/{year}/{org}/file")
def my_file(request: Request, account: User, year: int, org: str, kind: Annotated[str, Form()] = "upward",
            csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    kind = _kind(kind)
    try:
        desk.file_plan(desk.writer_console(request, account), year=year, org=org, kind=kind)
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        flash(request, error.render(language(request)), error=True)
    else:
        flash(request, say(request, "整改方案及公开承诺已备案", "the rectification plan and the commitment are filed"))
    return back(_cycle_url(year, org, kind) + "#plan")


# --- the reviewer --------------------------------------------------------------------------------------------------

@router.get("/review")
def queue_page(request: Request, account: User, year: int | None = None) -> Response:
    from services.review_queue import review_queue

    shared = desk.shared_of(request)
    data = review_queue(shared.db, actor=account.actor, today=shared.app.today(), year=year)
    return page(request, "participant/queue.html", q=data)


@router.get("/review/{year}/{org}")
def review_page(request: Request, account: User, year: int, org: str, kind: str = "upward") -> Response:
    from services import dashboard
    from services.reports import get_version
    from services.review_queue import next_in_queue

    kind = _kind(kind)
    shared = desk.shared_of(request)
    desk.check_cycle_read(shared.db, account.actor, year=year, org=org, kind=kind)
    cycle = dashboard.cycle_page(shared.db, year=year, org=org, kind=kind, today=shared.app.today())
    report = None
    if cycle["state"] != "researching":
        try:
            report = get_version(shared.db, year=year, org=org, kind=kind)
        except ShuzhiError:
            report = None
    following = next_in_queue(shared.db, actor=account.actor, today=shared.app.today(), year=year, after=org, kind=kind)
    return page(request, "participant/review.html", c=cycle, report=report, year=year, org=org, kind=kind,
                following=following, returns=RETURN_CHOICES)


@router.post("/review/{year}/{org}")
def review_decide(request: Request, account: User, year: int, org: str, event: Annotated[str, Form()],
                  kind: Annotated[str, Form()] = "upward", note: Annotated[str, Form()] = "",
                  finding: Annotated[list[str] | None, Form()] = None, csrf_token: Annotated[str, Form()] = "") -> Response:
    """approve (after its confirmation) or return with a reason: the chosen findings, then the reviewer's words."""
    from services.review_queue import next_in_queue

    check_csrf(request, csrf_token)
    kind = _kind(kind)
    if event not in ("approve", *RETURN_CHOICES):
        raise BadInput("review.event_bad", value=event)
    written = note.strip()
    chosen = [f.strip() for f in finding or [] if f.strip() and f.strip() not in written]  # the page's script may have
    reason = "；".join(chosen + ([written] if written else []))  # copied them into the note already
    if len(reason) > 2000:
        raise BadInput("review.note_too_long", limit=2000)
    shared = desk.shared_of(request)
    try:
        desk.writer_console(request, account).fire(year=year, org=org, event=event, kind=kind,
                                                   note=reason or None if event != "approve" else None)
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        flash(request, error.render(language(request)), error=True)
        return back(f"/review/{year}/{quote(org)}?kind={quote(kind)}")
    flash(request, say(request, f"{org}：{EVENT_LABELS[event]}" + (f"（理由：{reason}）" if event != "approve" else ""),
                        f"{org}: {event}" + (f" (reason: {reason})" if event != "approve" else "")))
    following = next_in_queue(shared.db, actor=account.actor, today=shared.app.today(), year=year, after=org, kind=kind)
    if following is None:
        return back("/review")
    return back(f"/review/{year}/{quote(following['org'])}?kind={quote(following['kind'])}")


# --- the organizer's meeting ---------------------------------------------------------------------------------------

def _meeting_url(year: int, organizer: str) -> str:
    return f"/meetings/{year}/{quote(organizer)}"


@router.get("/meetings/{year}/{organizer}")
def meeting_page(request: Request, account: User, year: int, organizer: str) -> Response:
    db = desk.shared_of(request).db
    desk.check_organizer(db, account.actor, organizer)
    return page(request, "participant/meeting.html", m=desk.meeting_view(db, year=year, organizer=organizer), year=year,
                organizer=organizer)



def _meeting_action(request: Request, account: User, year: int, organizer: str, csrf: str, done: tuple[str, str],
                    call: Any) -> Response:
    """`call` on the organizer's console; `done` is what to say after, (Chinese, English)."""
    check_csrf(request, csrf)
    desk.check_organizer(desk.shared_of(request).db, account.actor, organizer)
    try:
        call(desk.writer_console(request, account))
    except PermissionDenied:
        raise
    except ShuzhiError as error:
        flash(request, "；".join(error.problems_in(language(request))) or error.render(language(request)), error=True)
    else:
        flash(request, say(request, *done))
    return back(_meeting_url(year, organizer))


@router.post("/meetings/{year}/{organizer}/open")
def meeting_open(request: Request, account: User, year: int, organizer: str, presiding: Annotated[str, Form()] = "",
                 venue: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    from services.meetings import open_meeting

    return _meeting_action(request, account, year, organizer, csrf_token, ("述职评议会已开始", "the meeting is open"), lambda c: c._run(
        "open_meeting", f"{year} {organizer}", lambda: open_meeting(
            c.app.db, year=year, organizer=organizer, now=c.app.now(), by=account.name,
            presiding=presiding.strip() or None, venue=venue.strip() or None)))


@router.post("/meetings/{year}/{organizer}/attendance")
def meeting_attendance(request: Request, account: User, year: int, organizer: str, people: Annotated[str, Form()] = "",
                       csrf_token: Annotated[str, Form()] = "") -> Response:
    """One attendee a line: name, unit, role (separated by a comma, 、 or a space)."""
    import re

    from services.meetings import add_attendees

    attendees = []
    for line in people.splitlines():
        parts = [p.strip() for p in re.split(r"[,，、\t]", line.strip(), maxsplit=2)]
        if parts and parts[0]:
            attendees.append({"name": parts[0], "unit": parts[1] if len(parts) > 1 else "",
                              "role": parts[2] if len(parts) > 2 else ""})
    return _meeting_action(request, account, year, organizer, csrf_token,
                           (f"已登记参会人员 {len(attendees)} 名", f"{len(attendees)} attendee(s) registered"), lambda c: c._run(
        "attendance", f"{year} {organizer} +{len(attendees)}", lambda: add_attendees(
            c.app.db, year=year, organizer=organizer, attendees=attendees)))


@router.post("/meetings/{year}/{organizer}/present")
def meeting_present(request: Request, account: User, year: int, organizer: str, org: Annotated[str, Form()],
                    csrf_token: Annotated[str, Form()] = "") -> Response:
    return _meeting_action(request, account, year, organizer, csrf_token, (f"{org} 已述职", f"{org} has presented"),
                           lambda c: c.fire(year=year, org=org, event="present", kind="upward"))


@router.post("/meetings/{year}/{organizer}/comment")
def meeting_comment(request: Request, account: User, year: int, organizer: str, org: Annotated[str, Form()],
                    comment: Annotated[str, Form()] = "", question: Annotated[str, Form()] = "",
                    asked_by: Annotated[str, Form()] = "", answer: Annotated[str, Form()] = "",
                    csrf_token: Annotated[str, Form()] = "") -> Response:
    from services.meetings import record_comment, record_question

    def call(c: Any) -> None:
        if not comment.strip() and not question.strip():
            raise BadInput("meeting.comment_empty")

        def write() -> None:
            if question.strip():
                record_question(c.app.db, year=year, organizer=organizer, org=org, question=question,
                                asked_by=asked_by, answer=answer)
            if comment.strip():
                record_comment(c.app.db, year=year, organizer=organizer, org=org, now=c.app.now(), comment=comment,
                               by=account.name)

        c._run("comment", f"{year} {organizer} {org}", write)

    return _meeting_action(request, account, year, organizer, csrf_token,
                           (f"已记录对 {org} 的点评/提问", f"comment/questions for {org} recorded"), call)


@router.post("/meetings/{year}/{organizer}/feedback")
def meeting_feedback(request: Request, account: User, year: int, organizer: str, org: Annotated[str, Form()],
                     csrf_token: Annotated[str, Form()] = "") -> Response:
    return _meeting_action(request, account, year, organizer, csrf_token, (f"已向 {org} 通报反馈", f"feedback given to {org}"),
                           lambda c: c.fire(year=year, org=org, event="give_feedback", kind="upward"))


@router.post("/meetings/{year}/{organizer}/close")
def meeting_close(request: Request, account: User, year: int, organizer: str, csrf_token: Annotated[str, Form()] = "") -> Response:
    return _meeting_action(request, account, year, organizer, csrf_token,
                           ("测评已结束，票数已锁定", "the evaluation is closed: the counts are frozen"),
                           lambda c: desk.close_meeting_evaluation(c, year=year, organizer=organizer))


@router.post("/meetings/{year}/{organizer}/ballots")
def meeting_codes(request: Request, account: User, year: int, organizer: str, count: Annotated[int, Form()],
                  csrf_token: Annotated[str, Form()] = "") -> Response:
    """The printable sheet: one QR code per ballot code (shown this once), and the same sheet as an SVG file."""
    import base64

    from services.ballots import qr_sheet_svg, qr_svg

    check_csrf(request, csrf_token)
    desk.check_organizer(desk.shared_of(request).db, account.actor, organizer)
    if not 1 <= count <= 1000:
        raise BadInput("ballots.count", count=count, limit=1000)
    data = desk.issue_codes_for(desk.writer_console(request, account), request, year=year, organizer=organizer, count=count)
    base = desk.base_url_of(request)
    cards = [{"code": code, "url": url, "svg": Markup(qr_svg(url))}
             for code, url in zip(data["codes"], data["urls"], strict=True)]
    sheet = qr_sheet_svg(data["codes"], base, title=f"{year} {organizer} 述职评议测评码")
    response = page(request, "participant/codes.html", cards=cards, year=year, organizer=organizer,
                    sheet_href="data:image/svg+xml;base64," + base64.b64encode(sheet.encode("utf-8")).decode("ascii"))
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the ballot by code (no account) -------------------------------------------------------------------------------

@router.get("/vote/{code}")
def vote_page(request: Request, code: str) -> Response:
    from services.ballots import ballot_of_code

    ballot = ballot_of_code(desk.shared_of(request).db, code=code[:20], key=desk.ballot_key_of(request))
    return page(request, "participant/vote.html", ballot=ballot, code=code, done=None)


@router.post("/vote/{code}")
async def vote_cast(request: Request, code: str) -> Response:
    from services.ballots import ballot_of_code, vote_with_code

    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    db, key = desk.shared_of(request).db, desk.ballot_key_of(request)
    ballot = await run_in_threadpool(lambda: ballot_of_code(db, code=code[:20], key=key))
    ratings = {p["org"]: str(form.get(f"r_{p['org']}") or "") for p in ballot["presenters"] if p["votable"]}
    missing = [p["name"] for p in ballot["presenters"] if p["votable"] and not ratings.get(p["org"])]
    if missing:
        return page(request, "participant/vote.html", 400, ballot=ballot, code=code, done=None,
                    problem=render_message("ballots.unrated", {"names": "、".join(missing)}, language(request)),
                    chosen=ratings)
    try:
        await run_in_threadpool(lambda: vote_with_code(db, code=code[:20], ratings=ratings, key=key))
    except BadInput as error:
        return page(request, "participant/vote.html", 400, ballot=ballot, code=code, done=None, problem=error.render(language(request)),
                    chosen=ratings)
    return page(request, "participant/vote.html", ballot=ballot, code=code, done=True)
