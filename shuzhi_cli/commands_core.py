"""Core commands: init, orgs, year, cycles, states (cli.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shuzhi_cli.context import console, emit_json, err_console, state
from shuzhi_cli.groups import report_app

orgs_app = typer.Typer(help="组织架构 the organization tree", no_args_is_help=True)
year_app = typer.Typer(help="年度 launching a year's cascade", no_args_is_help=True)
cycles_app = typer.Typer(help="述职流程 one secretary's cycle", no_args_is_help=True)
states_app = typer.Typer(help="状态机 the cycle machine", no_args_is_help=True)

YearOpt = Annotated[int, typer.Option("--year", help="the year, e.g. 2014")]
KindOpt = Annotated[str, typer.Option("--kind", help="upward (向上级述职) or own_level (向本级述职)")]


def register(app: typer.Typer) -> None:
    app.command("init", help="create or upgrade the schema (safe to repeat)")(init)
    app.add_typer(orgs_app, name="orgs")
    app.add_typer(year_app, name="year")
    app.add_typer(cycles_app, name="cycles")
    app.add_typer(states_app, name="states")
    app.add_typer(report_app, name="report")


def init(ctx: typer.Context) -> None:
    st = state(ctx)
    head = st.app.db.upgrade()
    if st.json:
        emit_json({"schema": head, "db": _safe_url(st.app.db.url)})
    else:
        console().print(f"数据库已就绪 schema at revision {head}: {_safe_url(st.app.db.url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@orgs_app.command("import", help="import the tree from CSV or XLSX (code,name,kind,parent,secretary,phone,email)")
def orgs_import(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="CSV (UTF-8/GB18030) or XLSX")]) -> None:
    from services.orgs import import_orgs

    st = state(ctx)
    if st.json:
        result = import_orgs(st.app.db, file, now=st.app.now())
    else:
        with err_console().status(f"正在导入 importing {file.name}…", spinner="dots"):
            result = import_orgs(st.app.db, file, now=st.app.now())
    if st.json:
        emit_json(result.as_dict())
    else:
        console().print(f"导入完成：新增 {result.imported}，更新 {result.updated}，未变 {result.unchanged}")


@orgs_app.command("list", help="list organizations")
def orgs_list(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option("--kind", help="only this kind")] = None,
    parent: Annotated[str | None, typer.Option("--parent", help="only the children of this code")] = None,
) -> None:
    from services.orgs import list_orgs
    from states.orgs import KIND_LABELS

    st = state(ctx)
    rows = list_orgs(st.app.db, kind=kind, parent=parent)
    if st.json:
        emit_json(rows)
        return
    from rich.table import Table

    table = Table("编码", "名称", "类型", "上级", "书记", title=f"组织 {len(rows)} 个")
    for r in rows:
        table.add_row(r["code"], r["name"], KIND_LABELS.get(r["kind"], r["kind"]), r["parent"], r["secretary"])
    console().print(table)


@year_app.command("start", help="launch a year: create every secretary's two cycles, top-down (idempotent)")
def year_start(
    ctx: typer.Context,
    year: Annotated[int, typer.Argument(help="the year, e.g. 2014")],
    plan: Annotated[Path, typer.Option("--plan", help="the year plan, TOML")],
    by: Annotated[str, typer.Option("--by", help="who launches")] = "admin",
    direct: Annotated[bool, typer.Option("--direct", help="run here even when PREFECT_API_URL is set")] = False,
) -> None:
    from services.errors import BadInput
    from services.plan_files import MAX_PLAN_CHARS, plan_text_from_bytes

    st = state(ctx)
    if not plan.is_file():
        raise BadInput("file.missing", name=str(plan))
    with plan.open("rb") as handle:
        plan_text = plan_text_from_bytes(handle.read(MAX_PLAN_CHARS + 1), name=plan.name)
    result = _launch(st, year=year, plan_text=plan_text, by=by, direct=direct)
    if st.json:
        emit_json(result)
    elif "flow_run" in result:
        console().print(f"{year} 年度已由 Prefect 运行 {result['flow_run']} 启动（{result['state']}）："
                        f"述职流程共 {result['cycles']} 个；述职评议会 {result['meetings']} 场")
    else:
        verb = "重新启动" if result["relaunch"] else "启动"
        console().print(
            f"{year} 年度已{verb}：新建述职流程 {result['created']} 个，已有 {result['existing']} 个；"
            f"述职评议会 {result['meetings_created'] + result['meetings_existing']} 场"
        )


def _launch(st: Any, *, year: int, plan_text: str, by: str, direct: bool) -> dict[str, Any]:
    """With a Prefect server configured the launch runs as the `launch-year` deployment on the workers (the
    database URL stays on the workers); otherwise directly, in this process."""
    if st.settings.prefect_api_url and not direct:
        from flows.trigger import run_launch_deployment

        def meanwhile() -> None:  # the counts' imports and connection, while the workers launch
            with st.app.db.connect():
                pass

        run = run_launch_deployment(api_url=st.settings.prefect_api_url, year=year, plan_text=plan_text, by=by,
                                    now=st.settings.now, meanwhile=meanwhile)
        from services.years import year_counts

        return {**run, **year_counts(st.app.db, year)}
    from services.years import start_year

    if st.json:
        return start_year(st.app.db, plan_text=plan_text, year=year, now=st.app.now(), by=by).as_dict()
    # the cascade is two set-based statements (cutting it per subtree for a progress bar measured 10× slower)
    with err_console().status("正在生成述职流程 creating the cycles…", spinner="dots"):
        return start_year(st.app.db, plan_text=plan_text, year=year, now=st.app.now(), by=by).as_dict()


@year_app.command("list", help="years launched so far")
def year_list(ctx: typer.Context) -> None:
    from services.years import list_years

    st = state(ctx)
    rows = list_years(st.app.db)
    if st.json:
        emit_json(rows)
    else:
        for r in rows:
            console().print(f"{r['year']}  启动于 {r['launched_at']}  by {r['launched_by']}")


@cycles_app.command("list", help="cycles with the step they owe, its due date and whether overdue")
def cycles_list(
    ctx: typer.Context,
    year: YearOpt,
    state_: Annotated[str | None, typer.Option("--state", help="only cycles in this state")] = None,
    org: Annotated[str | None, typer.Option("--org", help="only this organization")] = None,
    under: Annotated[str | None, typer.Option("--under", help="the whole subtree under this code")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="upward or own_level")] = None,
    lagging: Annotated[bool, typer.Option("--lagging", help="only past due or due within the reminder window")] = False,
) -> None:
    from services.cycles import list_cycles

    st = state(ctx)
    rows = list_cycles(st.app.db, year=year, today=st.app.today(), state=state_, org=org, under=under, kind=kind,
                       lagging=lagging)
    if st.json:
        emit_json([{k: r[k] for k in ("org", "kind", "state", "step", "due", "overdue", "meeting", "name",
                                      "organizer", "returns")} for r in rows])
        return
    _print_cycles(rows, title=f"{year} 年度述职流程 {len(rows)} 个" + ("（滞后）" if lagging else ""))


def _print_cycles(rows: list[dict[str, Any]], *, title: str, limit: int = 200) -> None:
    from rich.table import Table

    from states.machine import STATE_LABELS, STEP_LABELS

    table = Table("编码", "名称", "类型", "状态", "待办", "截止", "逾期", "述职会", title=title)
    for r in rows[:limit]:
        table.add_row(
            r["org"], r["name"], "向上级" if r["kind"] == "upward" else "向本级",
            STATE_LABELS.get(r["state"], r["state"]), STEP_LABELS.get(r["step"] or "", "—"), r["due"] or "—",
            "[red]是[/red]" if r["overdue"] else "", r["meeting"],
        )
    out = console()
    out.print(table)
    if len(rows) > limit:
        out.print(f"…另有 {len(rows) - limit} 个未显示 (use --json for all)")


@cycles_app.command("show", help="one cycle: state, deadlines and its full history")
def cycles_show(
    ctx: typer.Context,
    org: Annotated[str, typer.Argument(help="organization code")],
    year: YearOpt,
    kind: KindOpt = "upward",
) -> None:
    from services.cycles import show_cycle
    from states.machine import EVENT_LABELS, STATE_LABELS, STEP_LABELS

    st = state(ctx)
    data = show_cycle(st.app.db, year=year, org=org, kind=kind, today=st.app.today())
    if st.json:
        emit_json(data)
        return
    out = console()
    out.print(f"[bold]{org}[/bold] {year} {'向上级述职' if kind == 'upward' else '向本级述职'}：{STATE_LABELS[data['state']]}"
              f"，述职会 {data['meeting']}，退回 {data['returns']} 次")
    if data["step"]:
        out.print(f"待办：{STEP_LABELS[data['step']]}，截止 {data['due'] or '—'}" + ("  [red]已逾期[/red]" if data["overdue"] else ""))
    out.print("截止日期：" + "，".join(f"{STEP_LABELS[s]} {d}" for s, d in data["deadlines"].items()))
    for h in data["history"]:
        out.print(f"  {h['at']}  {EVENT_LABELS.get(h['event'], h['event'])}  {h['from'] or ''} → {h['to'] or ''}  "
                  f"by {h['by']}" + (f"  「{h['note']}」" if h["note"] else ""))


@cycles_app.command("fire", help="one transition, e.g. submit, approve, revise --note REASON")
def cycles_fire(
    ctx: typer.Context,
    org: Annotated[str, typer.Argument(help="organization code")],
    event: Annotated[str, typer.Argument(help="the event, e.g. submit")],
    year: YearOpt,
    kind: KindOpt = "upward",
    by: Annotated[str | None, typer.Option("--by", help="who acts")] = None,
    note: Annotated[str | None, typer.Option("--note", help="a note; the reason for revise/rewrite")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="with submit/resubmit: the report (.docx, .md, .txt)")] = None,
) -> None:
    from services.cycles import fire_event

    st = state(ctx)
    options: dict[str, Any] = {}
    if report is not None:
        options["report"] = report
    fired = fire_event(st.app.db, year=year, org=org, event=event, kind=kind, now=st.app.now(), by=by or "cli",
                       note=note, hooks=st.app.hooks, options=options)
    if st.json:
        emit_json(fired.as_dict())
    else:
        from states.machine import STATE_LABELS

        console().print(f"{org}：{STATE_LABELS[fired.from_state]} → {STATE_LABELS[fired.to_state]} ({event})")


@states_app.command("diagram", help="the cycle machine as a Mermaid diagram, generated from the code")
def states_diagram() -> None:
    from states.machine import mermaid_diagram

    typer.echo(mermaid_diagram(), nl=False)


@states_app.command("list", help="states, events and the step owed in each state")
def states_list(ctx: typer.Context) -> None:
    from states.machine import OWNER_OF_STEP, STATE_LABELS, STATES, STEP_OF_STATE, TRANSITIONS

    st = state(ctx)
    data: dict[str, list[dict[str, Any]]] = {
        "states": [{"state": s, "label": STATE_LABELS[s], "step": STEP_OF_STATE.get(s),
                    "owed_by": OWNER_OF_STEP.get(STEP_OF_STATE.get(s, ""), None)} for s in STATES],
        "transitions": [{"event": e, "from": a, "to": b} for e, a, b in TRANSITIONS],
    }
    if st.json:
        emit_json(data)
    else:
        for s in data["states"]:
            console().print(f"{s['state']:15} {s['label']:8} step={s['step'] or '—'} owed_by={s['owed_by'] or '—'}")


__all__ = ["err_console", "register"]
