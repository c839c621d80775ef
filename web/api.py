"""The JSON API under /api: the console's reads and actions, by session cookie (+ X-CSRF-Token) or bearer token."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from pydantic import BaseModel, Field

from services import dashboard
from services.accounts import Account
from services.cycles import list_cycles
from services.errors import TooLarge
from web import integrations
from web.actions import MAX_UPLOAD, Console
from web.security import bearer_token, by_cookie, check_csrf, client_of, current_account, guard_read

router = APIRouter(prefix="/api", tags=["api"])

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Year = Annotated[int, Field(ge=1990, le=2100)]
CycleKind = Literal["upward", "own_level"]


def api_account(request: Request) -> Account:
    account = current_account(request)
    if account is None:
        raise HTTPException(status_code=401, detail="http.sign_in_or_token",
                            headers={"WWW-Authenticate": "Bearer"})
    guard_read(request, account)
    return account


def api_writer(request: Request, account: Annotated[Account, Depends(api_account)]) -> Console:
    """A changing request: cookie sessions must send the CSRF token in X-CSRF-Token; bearer tokens need none."""
    if by_cookie(request):
        check_csrf(request, request.headers.get("x-csrf-token"))
    shared = request.app.state.shuzhi
    return Console(shared.app, account, client_of(request), on_change=shared.funnel.clear)


Reader = Annotated[Account, Depends(api_account)]
Writer = Annotated[Console, Depends(api_writer)]


class FireBody(BaseModel):
    event: Literal["finish_research", "submit", "approve", "revise", "rewrite", "resubmit", "present",
                   "close_evaluation", "give_feedback", "start_rectification", "file_commitment", "close"]
    kind: CycleKind = "upward"
    note: Annotated[str | None, Field(max_length=2000)] = None


class LaunchBody(BaseModel):
    year: Year
    plan: Annotated[str, Field(min_length=1, max_length=200_000, description="the year plan, TOML")]


class RemindBody(BaseModel):
    year: Year
    org: Code
    kind: CycleKind = "upward"


class MoveBody(BaseModel):
    year: Year
    organizer: Code
    date: Annotated[str, Field(min_length=8, max_length=10, description="YYYY-MM-DD")]


class BallotsBody(BaseModel):
    year: Year
    organizer: Code
    count: Annotated[int, Field(ge=1, le=1000)]


def _state(request: Request) -> Any:
    return request.app.state.shuzhi


@router.get("/me", summary="the signed-in account")
def me(request: Request, account: Reader) -> dict[str, Any]:
    from web.security import csrf_token

    return {**account.as_dict(), "csrf_token": csrf_token(request) if bearer_token(request) is None else None}


@router.get("/years", summary="launched years, newest first")
def years(request: Request, account: Reader) -> list[int]:
    return dashboard.launched_years(_state(request).db)


@router.get("/overview", summary="funnel by level, lagging and overdue counts, coming deadlines")
def overview(request: Request, account: Reader, year: Year, kind: CycleKind = "upward") -> dict[str, Any]:
    shared = _state(request)
    return dashboard.overview(shared.db, year=year, today=shared.app.today(), kind=kind, cache=shared.funnel)


@router.get("/tree", summary="one node of the tree and a page of its children with states and due dates")
def tree(request: Request, account: Reader, year: Year, code: Code | None = None, kind: CycleKind = "upward",
         offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
         limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    shared = _state(request)
    return dashboard.drill(shared.db, year=year, today=shared.app.today(), code=code, kind=kind, offset=offset, limit=limit)


@router.get("/cycles", summary="cycles of a year (cli.md `cycles list`)")
def cycles(request: Request, account: Reader, year: Year, state: str | None = None, org: Code | None = None,
           under: Code | None = None, kind: CycleKind | None = None, lagging: bool = False,
           limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    shared = _state(request)
    return list_cycles(shared.db, year=year, today=shared.app.today(), state=state, org=org, under=under, kind=kind,
                       lagging=lagging, limit=limit)


@router.get("/cycles/{year}/{org}", summary="one cycle: state, deadlines, history, extras from other features")
def cycle(request: Request, account: Reader, year: Year, org: Code, kind: CycleKind = "upward") -> dict[str, Any]:
    shared = _state(request)
    data, extras, _ = integrations.cycle_with_extras(shared.db, year=year, org=org, kind=kind, today=shared.app.today())
    return {**data, "extras": extras}


@router.post("/cycles/{year}/{org}/events", summary="fire one event (returns need a note: the reason)")
def fire(year: Year, org: Code, body: FireBody, console: Writer) -> dict[str, Any]:
    return console.fire(year=year, org=org, event=body.event, kind=body.kind, note=body.note)


@router.post("/remind", summary="remind now: queue the cycle's current step notice to whoever owes it (once a minute)")
def remind(body: RemindBody, console: Writer) -> dict[str, Any]:
    return console.remind(year=body.year, org=body.org, kind=body.kind)


@router.get("/flows", summary="recent Prefect flow runs (when PREFECT_API_URL is configured)")
def flows(request: Request, account: Reader) -> dict[str, Any]:
    config = _state(request).config
    return integrations.flow_runs(config.prefect_api_url, config.prefect_ui_url)


@router.post("/orgs/import", summary="import the tree from a CSV or XLSX upload (all or nothing)")
def import_orgs(console: Writer, file: Annotated[UploadFile, File()]) -> dict[str, int]:
    # a plain `def`: the import runs in a worker thread, the event loop keeps answering (M6)
    content = file.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise TooLarge("upload.too_large", limit=f"{MAX_UPLOAD // (1024 * 1024)} MB")
    return console.import_orgs(file.filename or "", content)


@router.post("/years", summary="launch a year from a plan (idempotent)")
def launch(body: LaunchBody, console: Writer) -> dict[str, Any]:
    return console.start_year(year=body.year, plan_text=body.plan)


@router.post("/meetings/move", summary="reschedule an organizer's meeting; deadlines follow")
def move_meeting(body: MoveBody, console: Writer) -> dict[str, Any]:
    return console.move_meeting(year=body.year, organizer=body.organizer, when=body.date)


@router.post("/ballots/issue", summary="single-use ballot codes for an organizer's meeting (shown once)")
def issue_ballots(body: BallotsBody, console: Writer) -> dict[str, Any]:
    return console.issue_ballots(year=body.year, organizer=body.organizer, count=body.count)
