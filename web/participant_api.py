"""The participants' JSON API (issue 9): my tasks, report upload and pre-check, the review queue, rectification
plans, the meeting on the web and mobile ballots by code. The pages of web.participant call the same helpers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from services.accounts import Account
from services.actors import Actor
from services.errors import BadInput, PermissionDenied, TooLarge
from services.permissions import check_action, is_within
from services.reports import MAX_BYTES
from web.actions import Console
from web.api import Code, CycleKind, Reader, Writer, Year

router = APIRouter(prefix="/api", tags=["participants"])

Rating = Literal["好", "较好", "一般", "差"]


# --- shared with the pages -----------------------------------------------------------------------------------------

def shared_of(request: Request) -> Any:
    return request.app.state.shuzhi


def ballot_key_of(request: Request) -> bytes | None:
    from services.ballots import ballot_key

    return ballot_key(shared_of(request).app.settings)


def base_url_of(request: Request) -> str:
    configured = shared_of(request).app.settings.extra.get("SHUZHI_BASE_URL", "")
    return (configured or str(request.base_url)).rstrip("/")


def secretary_unit(account: Account) -> str:
    """The unit whose tasks an account sees: a secretary's own unit (the account's scope)."""
    if account.role != "secretary" or not account.scope:
        raise PermissionDenied("my.not_secretary", name=account.name)
    return account.scope


def check_cycle_read(db: Any, actor: Actor, *, year: int, org: str, kind: str) -> None:
    """A secretary reads only their own unit; a reviewer the cycles whose organizer (or unit) lies in their scope."""
    if actor.role == "secretary":
        if actor.scope != org:
            raise PermissionDenied("my.own_unit_only", name=actor.name, scope=actor.scope)
        return
    if actor.role != "reviewer":
        return
    from services.cycles import find_cycle
    from storage.tables.core import orgs

    with db.connect() as conn:
        cycle = find_cycle(conn, year=year, org=org, kind=kind)
        scope_path = conn.execute(sa.select(orgs.c.path).where(orgs.c.code == (actor.scope or ""))).scalar()
        organizer_path = conn.execute(sa.select(orgs.c.path).where(orgs.c.id == cycle.organizer_id)).scalar()
        if not (is_within(organizer_path, scope_path) or is_within(cycle.org_path, scope_path)):
            raise PermissionDenied("review.out_of_scope", name=actor.name, org=org, scope=actor.scope)


def check_organizer(db: Any, actor: Actor, organizer: str) -> None:
    """Who runs an organizer's meeting: admin, the organization department, a reviewer whose scope holds it."""
    with db.connect() as conn:
        try:
            check_action(conn, actor, "issue_ballots", org=organizer)
        except PermissionDenied:
            raise PermissionDenied("meeting.not_host", name=actor.name, organizer=organizer) from None


async def read_upload(file: UploadFile) -> tuple[str, bytes]:
    """The uploaded report, refused (413) above the CLI's size limit instead of being cut."""
    content = await file.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        raise TooLarge("report.too_large", name=file.filename or "", limit=MAX_BYTES // (1024 * 1024))
    return file.filename or "", content


def check_upload(name: str, content: bytes) -> dict[str, Any]:
    """results.md's check JSON of an uploaded report (nothing stored)."""
    from services.reports import read_report_bytes
    from states.report_check import check_report

    return check_report(read_report_bytes(name, content).text).as_dict()


def attach(console: Console, *, year: int, org: str, kind: str, name: str, content: bytes) -> dict[str, Any]:
    from services.reports import attach_report

    return dict(console._run("attach_report", f"{year} {org} {kind} {name}", lambda: attach_report(
        console.app.db, year=year, org=org, kind=kind, name=name, raw=content, now=console.app.now(),
        actor=console.actor, by=console.account.name)))


def submit_attached(console: Console, *, year: int, org: str, kind: str) -> dict[str, Any]:
    """Submit (or resubmit after a return) the uploaded version; a cycle still in research is moved on first."""
    from services.cycles import find_cycle

    with console.app.db.connect() as conn:
        state = find_cycle(conn, year=year, org=org, kind=kind).state
    if state == "researching":
        console.fire(year=year, org=org, event="finish_research", kind=kind)
        state = "drafting"
    event = "resubmit" if state == "revising" else "submit"
    return console.fire(year=year, org=org, event=event, kind=kind)


def file_plan(console: Console, *, year: int, org: str, kind: str) -> dict[str, Any]:
    """File the rectification plan and commitment; after the feedback the rectification is started first."""
    from services.cycles import find_cycle
    from services.errors import Refused
    from services.rectification import commitment_of
    from storage.tables.review import rectification_items

    with console.app.db.connect() as conn:
        cycle = find_cycle(conn, year=year, org=org, kind=kind)
        items = conn.execute(sa.select(sa.func.count()).select_from(rectification_items)
                             .where(rectification_items.c.cycle_id == cycle.id)).scalar_one()
        commitment = commitment_of(conn, cycle.id)
    missing = [(zh, en) for zh, en, ok in (("公开承诺", "public commitment", commitment),
                                           ("整改事项", "rectification item", items)) if not ok]
    if missing and cycle.state in ("feedback_given", "rectifying"):  # refused before anything moves
        raise Refused("rectification.incomplete", org=org, missing="、".join(zh for zh, _ in missing),
                      missing_en=", ".join(en for _, en in missing))
    if cycle.state == "feedback_given":
        console.fire(year=year, org=org, event="start_rectification", kind=kind)
    return console.fire(year=year, org=org, event="file_commitment", kind=kind)


def meeting_view(db: Any, *, year: int, organizer: str) -> dict[str, Any]:
    from services.ballots import ballots_received, tally
    from services.meetings import show_meeting

    data = show_meeting(db, year=year, organizer=organizer)
    data["ballots"] = ballots_received(db, year=year, organizer=organizer)
    data["tally"] = tally(db, year=year, organizer=organizer)
    data["closed"] = data["closed_at"] is not None
    return data


def close_meeting_evaluation(console: Console, *, year: int, organizer: str) -> dict[str, Any]:
    """Close the evaluation of every presenter who presented (their tallies freeze); the meeting record closes once
    nobody on the agenda is still waiting to present."""
    from services.ballots import close_evaluation
    from services.meetings import close_meeting

    app = console.app

    def call() -> dict[str, Any]:
        result = close_evaluation(app.db, year=year, organizer=organizer, now=app.now(), by=console.account.name,
                                  hooks=app.hooks)
        if not result["skipped"]:
            close_meeting(app.db, year=year, organizer=organizer, now=app.now())
        return dict(result)

    return dict(console._run("close_evaluation", f"{year} {organizer}", call))


def issue_codes_for(console: Console, request: Request, *, year: int, organizer: str, count: int) -> dict[str, Any]:
    from services.ballots import issue_codes

    key = ballot_key_of(request)
    data = console._run("issue_ballots", f"{year} {organizer} ×{count}", lambda: issue_codes(
        console.app.db, year=year, organizer=organizer, count=count, now=console.app.now(), by=console.account.name,
        key=key))
    base = base_url_of(request)
    return {**data, "urls": [f"{base}/vote/{code}" for code in data["codes"]]}


def writer_console(request: Request, account: Account) -> Console:
    shared = shared_of(request)
    from web.security import client_of

    return Console(shared.app, account, client_of(request), on_change=shared.funnel.clear)


# --- bodies --------------------------------------------------------------------------------------------------------

class PlanItem(BaseModel):
    item: Annotated[str, Field(max_length=500)] = ""
    measure: Annotated[str, Field(max_length=2000)] = ""
    deadline: Annotated[str, Field(max_length=10, description="YYYY-MM-DD")] = ""
    responsible: Annotated[str, Field(max_length=100)] = ""


class PlanBody(BaseModel):
    items: Annotated[list[PlanItem], Field(max_length=100)] = []
    commitment: Annotated[str | None, Field(max_length=5000)] = None
    file: bool = Field(False, description="also file the plan and commitment (整改方案及公开承诺备案)")


class OpenBody(BaseModel):
    presiding: Annotated[str | None, Field(max_length=100)] = None
    venue: Annotated[str | None, Field(max_length=200)] = None


class Question(BaseModel):
    question: Annotated[str, Field(min_length=1, max_length=2000)]
    asked_by: Annotated[str, Field(max_length=100)] = ""
    answer: Annotated[str, Field(max_length=2000)] = ""


class CommentBody(BaseModel):
    org: Code
    comment: Annotated[str | None, Field(max_length=5000)] = None
    strengths: Annotated[str | None, Field(max_length=2000)] = None
    problems: Annotated[str | None, Field(max_length=2000)] = None
    direction: Annotated[str | None, Field(max_length=2000)] = None
    questions: Annotated[list[Question], Field(max_length=50)] = []


class Attendee(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    unit: Annotated[str, Field(max_length=200)] = ""
    role: Annotated[str, Field(max_length=100)] = ""


class AttendanceBody(BaseModel):
    attendees: Annotated[list[Attendee], Field(min_length=1, max_length=2000)]


class PresentBody(BaseModel):
    org: Code


class CodesBody(BaseModel):
    count: Annotated[int, Field(ge=1, le=1000)]


class VoteBody(BaseModel):
    ratings: Annotated[dict[Annotated[str, Field(max_length=64)], Rating], Field(min_length=1, max_length=500)]


# --- secretary -----------------------------------------------------------------------------------------------------

@router.get("/my/tasks", summary="我的待办: each of my unit's cycles with the step owed, due date and days left")
def my_tasks(request: Request, account: Reader, year: Year | None = None) -> dict[str, Any]:
    from services.my_tasks import my_tasks as tasks

    shared = shared_of(request)
    return tasks(shared.db, org=secretary_unit(account), today=shared.app.today(), year=year)


@router.post("/report-check", summary="pre-check a report (.docx/.md/.txt) without storing it: results.md's check JSON")
async def report_check(account: Reader, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    name, content = await read_upload(file)
    return await run_in_threadpool(check_upload, name, content)  # parsing off the event loop (M6)


@router.post("/cycles/{year}/{org}/report", summary="upload the report to submit next: the new version with its findings")
async def upload_report(request: Request, year: Year, org: Code, console: Writer, file: Annotated[UploadFile, File()],
                        kind: CycleKind = "upward") -> dict[str, Any]:
    name, content = await read_upload(file)
    return await run_in_threadpool(lambda: attach(console, year=year, org=org, kind=kind, name=name, content=content))


@router.get("/cycles/{year}/{org}/report", summary="one report version (the latest by default): its text and findings")
def report_version(request: Request, account: Reader, year: Year, org: Code, kind: CycleKind = "upward",
                   version: Annotated[int | None, Query(ge=1, le=10_000)] = None) -> dict[str, Any]:
    from services.reports import get_version

    db = shared_of(request).db
    check_cycle_read(db, account.actor, year=year, org=org, kind=kind)
    return {"year": year, "org": org, "kind": kind, **get_version(db, year=year, org=org, kind=kind, version=version)}


@router.post("/cycles/{year}/{org}/rectification", summary="add rectification items and/or the commitment; file=true files")
def rectification(year: Year, org: Code, body: PlanBody, console: Writer, kind: CycleKind = "upward") -> dict[str, Any]:
    from services.rectification import draw_up_plan

    app = console.app
    result: dict[str, Any] = {}
    if body.items or body.commitment:
        result = dict(console._run("rectification", f"{year} {org} {kind} +{len(body.items)}", lambda: draw_up_plan(
            app.db, year=year, org=org, kind=kind, items=[i.model_dump() for i in body.items], commitment=body.commitment,
            now=app.now(), by=console.account.name, actor=console.actor)))
    elif not body.file:
        raise BadInput("rectification.empty")
    if body.file:
        result["filed"] = file_plan(console, year=year, org=org, kind=kind)
    return result


# --- reviewer ------------------------------------------------------------------------------------------------------

@router.get("/review-queue", summary="reports waiting for review in my scope (oldest due first) and those returned, not back")
def review_queue(request: Request, account: Reader, year: Year | None = None) -> dict[str, Any]:
    from services.review_queue import review_queue as queue

    shared = shared_of(request)
    return queue(shared.db, actor=account.actor, today=shared.app.today(), year=year)


# --- the meeting ---------------------------------------------------------------------------------------------------

@router.get("/meetings/{year}/{organizer}", summary="the meeting: agenda, attendees, ballots received, the tally")
def meeting(request: Request, account: Reader, year: Year, organizer: Code) -> dict[str, Any]:
    db = shared_of(request).db
    check_organizer(db, account.actor, organizer)
    return meeting_view(db, year=year, organizer=organizer)


@router.post("/meetings/{year}/{organizer}/open", summary="open the meeting (presiding secretary, venue)")
def open_(year: Year, organizer: Code, body: OpenBody, console: Writer) -> dict[str, Any]:
    from services.meetings import open_meeting

    check_organizer(console.app.db, console.actor, organizer)
    return dict(console._run("open_meeting", f"{year} {organizer}", lambda: open_meeting(
        console.app.db, year=year, organizer=organizer, now=console.app.now(), by=console.account.name,
        presiding=body.presiding, venue=body.venue)))


@router.post("/meetings/{year}/{organizer}/attendance", summary="register attendees; returns how many the meeting has")
def attendance(year: Year, organizer: Code, body: AttendanceBody, console: Writer) -> dict[str, Any]:
    from services.meetings import add_attendees

    check_organizer(console.app.db, console.actor, organizer)
    count = console._run("attendance", f"{year} {organizer} +{len(body.attendees)}", lambda: add_attendees(
        console.app.db, year=year, organizer=organizer, attendees=[a.model_dump() for a in body.attendees]))
    return {"meeting": organizer, "attendees": count}


@router.post("/meetings/{year}/{organizer}/comment", summary="the presiding secretary's comment and questions on one presenter")
def comment(year: Year, organizer: Code, body: CommentBody, console: Writer) -> dict[str, Any]:
    from services.meetings import record_comment, record_question

    check_organizer(console.app.db, console.actor, organizer)
    if not (body.comment or "").strip() and not body.questions:
        raise BadInput("meeting.comment_empty")
    app = console.app

    def call() -> dict[str, Any]:
        for q in body.questions:
            record_question(app.db, year=year, organizer=organizer, org=body.org, question=q.question,
                            asked_by=q.asked_by, answer=q.answer)
        if (body.comment or "").strip():
            return dict(record_comment(app.db, year=year, organizer=organizer, org=body.org, now=app.now(),
                                       comment=body.comment or "", strengths=body.strengths, problems=body.problems,
                                       direction=body.direction, by=console.account.name))
        return meeting_view(app.db, year=year, organizer=organizer)

    return dict(console._run("comment", f"{year} {organizer} {body.org}", call))


@router.post("/meetings/{year}/{organizer}/present", summary="mark one presenter `present` (the meeting must be open)")
def present(year: Year, organizer: Code, body: PresentBody, console: Writer) -> dict[str, Any]:
    return console.fire(year=year, org=body.org, event="present", kind="upward")


@router.post("/meetings/{year}/{organizer}/close", summary="close the evaluation: tallies freeze; returns the tally")
def close(year: Year, organizer: Code, console: Writer) -> dict[str, Any]:
    check_organizer(console.app.db, console.actor, organizer)
    result = close_meeting_evaluation(console, year=year, organizer=organizer)
    from services.ballots import tally

    return {**result, "tally": tally(console.app.db, year=year, organizer=organizer)}


@router.get("/meetings/{year}/{organizer}/ballots", summary="the live count of ballots received")
def ballots_count(request: Request, account: Reader, year: Year, organizer: Code) -> dict[str, Any]:
    from services.ballots import ballots_received

    db = shared_of(request).db
    check_organizer(db, account.actor, organizer)
    return ballots_received(db, year=year, organizer=organizer)


@router.post("/meetings/{year}/{organizer}/ballots", summary="issue ballot codes (shown once) with their vote links; "
             "format=svg answers a printable sheet of QR codes")
def issue(request: Request, year: Year, organizer: Code, body: CodesBody, console: Writer,
          format: Literal["json", "svg"] = "json") -> Any:
    from services.ballots import qr_sheet_svg

    check_organizer(console.app.db, console.actor, organizer)
    data = issue_codes_for(console, request, year=year, organizer=organizer, count=body.count)
    if format == "svg":
        return Response(qr_sheet_svg(data["codes"], base_url_of(request), title=f"{year} {organizer} 述职评议测评码"),
                        media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
    return data


# --- the ballot by code (no account) -------------------------------------------------------------------------------

@router.get("/vote/{code}", summary="the ballot of a code (no account): the meeting and its presenters; 404 unknown or spent")
def ballot(request: Request, code: Annotated[str, Path(max_length=20)]) -> dict[str, Any]:
    from services.ballots import ballot_of_code

    return ballot_of_code(shared_of(request).db, code=code, key=ballot_key_of(request))


@router.post("/vote/{code}", summary="cast the ballot of a code once (no account); 404 for an unknown or spent code")
def vote(request: Request, code: Annotated[str, Path(max_length=20)], body: VoteBody) -> dict[str, Any]:
    from services.ballots import vote_with_code

    return vote_with_code(shared_of(request).db, code=code, ratings=dict(body.ratings), key=ballot_key_of(request))
