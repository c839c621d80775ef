"""Commands of the review feature: report check/versions, meeting, ballots, work plans, feedback, rectification, publication."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from shuzhi_cli.context import console, emit_json, state
from shuzhi_cli.groups import meeting_app, report_app

ballots_app = typer.Typer(help="测评 anonymous ballots: codes, casting, paper forms, tally", no_args_is_help=True)
workplan_app = typer.Typer(help="工作方案 organizers' work plans (R9)", no_args_is_help=True)
feedback_app = typer.Typer(help="通报反馈 feedback notices (R17)", no_args_is_help=True)
rectification_app = typer.Typer(help="整改 rectification items and public commitments (R18)", no_args_is_help=True)
publish_app = typer.Typer(help="公开 publication within the set scope (R17, R18, R33)", no_args_is_help=True)

YearOpt = Annotated[int, typer.Option("--year", help="the year, e.g. 2014")]
MeetingOpt = Annotated[str | None, typer.Option("--meeting", help="the organizer whose evaluation meeting it is")]
OwnOpt = Annotated[str | None, typer.Option("--own", help="an organization: its own committee's meeting (own_level)")]
KindOpt = Annotated[str, typer.Option("--kind", help="upward (向上级述职) or own_level (向本级述职)")]
OrgArg = Annotated[str, typer.Argument(help="organization code")]
SUGGESTION_LABELS = {"approve": "建议通过", "revise": "建议督促修改", "rewrite": "建议责令重写"}


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the root app (`report` is shared with the results feature)."""
    app.add_typer(ballots_app, name="ballots")
    app.add_typer(workplan_app, name="workplan")
    app.add_typer(feedback_app, name="feedback")
    app.add_typer(rectification_app, name="rectification")
    app.add_typer(publish_app, name="publish")


# ---- reports -------------------------------------------------------------------------------------------------

@report_app.command("check", help="automatic pre-review of a report (R14/R15): areas, achievements share, problems…")
def report_check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="the report: .docx, .md or .txt")],
    details: Annotated[bool, typer.Option("--details", help="with --json: add the detail counts")] = False,
    explain: Annotated[bool, typer.Option(
        "--explain", help="per paragraph: the category given and why; what was set aside; what covered each area")] = False,
) -> None:
    from services.reports import check_file
    from states.report_check import AREAS

    st = state(ctx)
    result = check_file(file)
    if st.json:
        emit_json(result.explain() if explain else result.details() if details else result.as_dict())
        return
    out = console()
    out.print(f"[bold]{file.name}[/bold]：{SUGGESTION_LABELS[result.suggestion]}（{result.suggestion}）")
    out.print("重点内容：" + "  ".join(f"{k}.{AREAS[k][0][:8]}{'✓' if v else '✗'}" for k, v in result.areas.items()))
    out.print(f"成绩占比 {result.achievements_share:.0%}；问题 {result.problems} 条；原因分析 "
              f"{'有' if result.causes_analysed else '无'}（主观 {'有' if result.subjective_causes else '无'}）；"
              f"措施 {result.measures} 条（具体 {result.specific_measures}）；数据 {result.figures} 处；实例 {result.examples} 个")
    for finding in result.findings:
        out.print(f"  • {finding}")
    if explain:
        _print_explanation(result)


def _print_explanation(result: Any) -> None:
    """`report check --explain`: what the checker read, paragraph by paragraph, and why."""
    from rich.markup import escape

    out = console()
    out.print()
    out.print(f"[bold]逐段说明[/bold]（标题：{escape(result.title) or '未找到'}）")
    for text, why in result.set_aside:
        out.print(f"  [dim]略去[/dim] {escape(text[:40])}  ← {why}")
    for n, paragraph in enumerate(result.paragraphs, 1):
        items = f"；计{paragraph.items}条" if paragraph.items else ""
        items += f"（{paragraph.detail}）" if paragraph.detail else ""
        out.print(f"  {n:>3}. [{paragraph.label}] {escape(paragraph.text[:36])}{'…' if len(paragraph.text) > 36 else ''}")
        out.print(f"       ← {escape(paragraph.reason)}{items}")
    out.print("[bold]重点内容依据[/bold]")
    for key, hits in result.area_hits.items():
        out.print(f"  {key}. {'✓' if result.areas[key] else '✗'} {escape('、'.join(hits) or '无')}")
    out.print(f"[bold]实例[/bold]：{escape('、'.join(result.example_names) or '无')}")
    evidence = f"“{result.subjective_evidence}”" if result.subjective_evidence else "未找到把自己摆进去的话"
    out.print(f"[bold]原因分析中的主观依据[/bold]：{escape(evidence)}")


@report_app.command("versions", help="every submitted version of a secretary's report, with findings and returns")
def report_versions(ctx: typer.Context, org: OrgArg, year: YearOpt, kind: KindOpt = "upward") -> None:
    from services.reports import list_versions

    st = state(ctx)
    rows = list_versions(st.app.db, year=year, org=org, kind=kind)
    if st.json:
        emit_json([{k: v for k, v in r.items() if k != "check"} for r in rows])
        return
    out = console()
    if not rows:
        out.print(f"{org} {year} 尚无报送的述职报告")
    for r in rows:
        returned = f"  退回（{r['returned']}）：{r['return_note']}" if r["returned"] else ""
        out.print(f"第{r['version']}稿 {r['submitted_at']} {r['file']} {SUGGESTION_LABELS[r['suggestion']]}{returned}")
        for finding in r["findings"]:
            out.print(f"    • {finding}")


@report_app.command("show", help="a submitted report's text beside the checker's findings (latest version by default)")
def report_show(
    ctx: typer.Context, org: OrgArg, year: YearOpt, kind: KindOpt = "upward",
    version: Annotated[int | None, typer.Option("--version", help="version number")] = None,
) -> None:
    from services.reports import get_version

    st = state(ctx)
    data = get_version(st.app.db, year=year, org=org, kind=kind, version=version)
    if st.json:
        emit_json(data)
        return
    out = console()
    out.print(f"[bold]{org} 第{data['version']}稿[/bold] {data['file']}  {SUGGESTION_LABELS[data['suggestion']]}")
    for finding in data["findings"]:
        out.print(f"  • {finding}")
    for item in data["open_items"]:
        out.print(f"  ◦ 上年未完成整改事项：{item['problem']}")
    out.print()
    out.print(data["text"], markup=False)


# ---- meeting -------------------------------------------------------------------------------------------------

def _print_meeting(data: dict[str, Any]) -> None:
    from states.machine import STATE_LABELS

    out = console()
    status = "进行中" if data["open"] else ("已结束" if data["closed_at"] else "未召开")
    out.print(f"[bold]{data['meeting']}[/bold] {data['year']} {'述职评议会' if data['kind'] == 'upward' else '本级党组织述职会'}"
              f"（{status}）{data['held_on'] or ''} 主持：{data['presiding'] or '—'} 地点：{data['venue'] or '—'}"
              f" 参会 {len(data['attendees'])} 人")
    for item in data["agenda"]:
        out.print(f"  {item['org']} {item['name']}  {STATE_LABELS.get(item['state'], item['state'])}"
                  f"  {'已述职' if item['presented_at'] else '未述职'}  提问 {len(item['questions'])}"
                  + (f"  点评：{item['comment']}" if item["comment"] else ""))


@meeting_app.command("open", help="open the meeting: `present` needs it open")
def meeting_open(
    ctx: typer.Context, year: YearOpt, meeting: MeetingOpt = None, own: OwnOpt = None,
    presiding: Annotated[str | None, typer.Option("--presiding", help="who presides")] = None,
    venue: Annotated[str | None, typer.Option("--venue", help="where")] = None,
    by: Annotated[str, typer.Option("--by", help="who acts")] = "cli",
) -> None:
    from services.meetings import open_meeting

    st = state(ctx)
    data = open_meeting(st.app.db, year=year, organizer=meeting, own=own, now=st.app.now(), by=by, presiding=presiding,
                        venue=venue)
    emit_json(data) if st.json else _print_meeting(data)


@meeting_app.command("close", help="close the meeting")
def meeting_close(ctx: typer.Context, year: YearOpt, meeting: MeetingOpt = None, own: OwnOpt = None) -> None:
    from services.meetings import close_meeting

    st = state(ctx)
    data = close_meeting(st.app.db, year=year, organizer=meeting, own=own, now=st.app.now())
    emit_json(data) if st.json else _print_meeting(data)


@meeting_app.command("attendees", help="register attendees: --name (repeatable) or a CSV/XLSX of name,unit,role")
def meeting_attendees(
    ctx: typer.Context, year: YearOpt, meeting: MeetingOpt = None, own: OwnOpt = None,
    name: Annotated[list[str] | None, typer.Option("--name", help="an attendee's name")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="CSV/XLSX with columns name,unit,role (姓名,单位,身份)")] = None,
) -> None:
    from services.errors import BadInput
    from services.meetings import add_attendees

    st = state(ctx)
    people: list[dict[str, str]] = [{"name": n} for n in name or []]
    if file is not None:
        from services.tabular import map_header, read_rows

        rows = list(read_rows(file))
        if not rows:
            raise BadInput("ballots.file_empty", name=file.name)
        aliases = {"name": "name", "姓名": "name", "unit": "unit", "单位": "unit", "role": "role", "身份": "role",
                   "职务": "role"}
        index = map_header(rows[0][1], aliases, ("name",))
        for _, cells in rows[1:]:
            people.append({k: cells[i] if i < len(cells) else "" for k, i in index.items()})
    total = add_attendees(st.app.db, year=year, organizer=meeting, own=own, attendees=people)
    if st.json:
        emit_json({"added": len(people), "attendees": total})
    else:
        console().print(f"登记参会人员 {len(people)} 人，共 {total} 人")


@meeting_app.command("comment", help="the presiding secretary's comment on one secretary (R16)")
def meeting_comment(
    ctx: typer.Context, year: YearOpt,
    org: Annotated[str, typer.Option("--org", help="the secretary's organization")],
    text: Annotated[str, typer.Option("--text", help="the comment")],
    meeting: MeetingOpt = None, own: OwnOpt = None,
    strengths: Annotated[str | None, typer.Option("--strengths", help="值得肯定的经验做法")] = None,
    problems: Annotated[str | None, typer.Option("--problems", help="存在的突出问题 (one per line or 一是…二是…)")] = None,
    direction: Annotated[str | None, typer.Option("--direction", help="下步努力方向")] = None,
    by: Annotated[str, typer.Option("--by", help="who comments")] = "cli",
) -> None:
    from services.meetings import record_comment

    st = state(ctx)
    data = record_comment(st.app.db, year=year, organizer=meeting, own=own, org=org, now=st.app.now(), comment=text,
                          strengths=strengths, problems=problems, direction=direction, by=by)
    emit_json(data) if st.json else _print_meeting(data)


@meeting_app.command("question", help="a question put to a secretary at the meeting, and the answer")
def meeting_question(
    ctx: typer.Context, year: YearOpt,
    org: Annotated[str, typer.Option("--org", help="the secretary's organization")],
    text: Annotated[str, typer.Option("--text", help="the question")],
    meeting: MeetingOpt = None, own: OwnOpt = None,
    asked_by: Annotated[str, typer.Option("--asked-by", help="who asked")] = "",
    answer: Annotated[str, typer.Option("--answer", help="the answer")] = "",
) -> None:
    from services.meetings import record_question, show_meeting

    st = state(ctx)
    record_question(st.app.db, year=year, organizer=meeting, own=own, org=org, question=text, asked_by=asked_by,
                    answer=answer)
    data = show_meeting(st.app.db, year=year, organizer=meeting, own=own)
    emit_json(data) if st.json else _print_meeting(data)


@meeting_app.command("show", help="the meeting record: status, attendees, agenda with comments")
def meeting_show(ctx: typer.Context, year: YearOpt, meeting: MeetingOpt = None, own: OwnOpt = None) -> None:
    from services.meetings import show_meeting

    st = state(ctx)
    data = show_meeting(st.app.db, year=year, organizer=meeting, own=own)
    emit_json(data) if st.json else _print_meeting(data)


# ---- ballots -------------------------------------------------------------------------------------------------

TALLY_KEYS = ("org", "ballots", "counts", "satisfaction", "score")


@ballots_app.command("issue", help="N single-use ballot codes for the meeting (shown once: only hashes are kept)")
def ballots_issue(
    ctx: typer.Context, year: YearOpt,
    count: Annotated[int, typer.Option("--count", help="how many codes")],
    meeting: MeetingOpt = None, own: OwnOpt = None,
    by: Annotated[str, typer.Option("--by", help="who issues")] = "cli",
) -> None:
    from services.ballots import ballot_key, issue_codes

    st = state(ctx)
    data = issue_codes(st.app.db, year=year, organizer=meeting, own=own, count=count, now=st.app.now(), by=by,
                       key=ballot_key(st.app.settings))
    if st.json:
        emit_json(data)
        return
    out = console()
    out.print(f"{data['meeting']} 测评码 {len(data['codes'])} 个（仅显示这一次，请当场分发）：")
    for code in data["codes"]:
        out.print(f"  {code}")


@ballots_app.command("cast", help='cast one ballot: --ratings \'{"V001": "好", "V002": "较好"}\'')
def ballots_cast(
    ctx: typer.Context, year: YearOpt,
    code: Annotated[str, typer.Option("--code", help="a ballot code")],
    ratings: Annotated[str, typer.Option("--ratings", help="JSON: org code → 好/较好/一般/差 (excellent/good/fair/poor)")],
) -> None:
    from services.ballots import ballot_key, cast_ballot

    st = state(ctx)
    data = cast_ballot(st.app.db, year=year, code=code, ratings=ratings, key=ballot_key(st.app.settings))
    if st.json:
        emit_json(data)
    else:
        console().print(f"测评票已投出（{data['meeting']}，评价 {data['rated']} 人）")


@ballots_app.command("enter", help="paper ballots in bulk: CSV/XLSX, one column per presenting org code, one row per form")
def ballots_enter(
    ctx: typer.Context, year: YearOpt,
    file: Annotated[Path, typer.Argument(help="CSV or XLSX of paper forms")],
    meeting: MeetingOpt = None, own: OwnOpt = None,
    by: Annotated[str, typer.Option("--by", help="who enters")] = "cli",
) -> None:
    from services.ballots import enter_paper_ballots

    st = state(ctx)
    data = enter_paper_ballots(st.app.db, year=year, organizer=meeting, own=own, file=file, now=st.app.now(), by=by)
    if st.json:
        emit_json(data)
    else:
        console().print(f"{data['meeting']} 录入纸质测评票 {data['entered']} 张")


def _warn_quorum(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        if not r["quorum_met"]:
            sys.stderr.write(f"quorum not met: {r['org']} has {r['ballots']} ballots of {r['quorum']} required\n")


@ballots_app.command("tally", help="the tally: ballots, counts, satisfaction and score per presenting secretary")
def ballots_tally(
    ctx: typer.Context, year: YearOpt, meeting: MeetingOpt = None, own: OwnOpt = None,
    details: Annotated[bool, typer.Option("--details", help="with --json: add name, quorum, quorum_met, frozen")] = False,
) -> None:
    from services.ballots import tally

    st = state(ctx)
    rows = tally(st.app.db, year=year, organizer=meeting, own=own)
    _warn_quorum(rows)
    if st.json:
        emit_json(rows if details else [{k: r[k] for k in TALLY_KEYS} for r in rows])
        return
    from rich.table import Table

    table = Table("编码", "名称", "票数", "好", "较好", "一般", "差", "满意率", "得分", "法定票数", "状态",
                  title=f"{year} {meeting or own} 测评结果")
    for r in rows:
        c = r["counts"]
        table.add_row(
            r["org"], r["name"], str(r["ballots"]), str(c["好"]), str(c["较好"]), str(c["一般"]), str(c["差"]),
            f"{r['satisfaction']:.1%}" if r["satisfaction"] is not None else "—",
            f"{r['score']:.2f}" if r["score"] is not None else "—",
            f"{r['quorum']}" + ("" if r["quorum_met"] else " [red]未达到[/red]"),
            "已冻结" if r["frozen"] else "进行中",
        )
    console().print(table)


@ballots_app.command("close", help="close the evaluation: fire close_evaluation for every secretary who presented")
def ballots_close(
    ctx: typer.Context, year: YearOpt, meeting: MeetingOpt = None, own: OwnOpt = None,
    by: Annotated[str, typer.Option("--by", help="who acts")] = "cli",
) -> None:
    from services.ballots import close_evaluation

    st = state(ctx)
    data = close_evaluation(st.app.db, year=year, organizer=meeting, own=own, now=st.app.now(), by=by, hooks=st.app.hooks)
    if st.json:
        emit_json(data)
    else:
        console().print(f"测评结束：{', '.join(data['closed']) or '无'}" +
                        (f"；尚未述职：{', '.join(data['skipped'])}" if data["skipped"] else ""))


# ---- work plans ----------------------------------------------------------------------------------------------

@workplan_app.command("file", help="file an organizer's work plan (.docx, .md, .txt)")
def workplan_file(
    ctx: typer.Context, year: YearOpt,
    organizer: Annotated[str, typer.Option("--organizer", help="the organizer's code")],
    file: Annotated[Path, typer.Argument(help="the work plan")],
    by: Annotated[str, typer.Option("--by", help="who files")] = "cli",
) -> None:
    from services.work_plans import file_work_plan

    st = state(ctx)
    data = file_work_plan(st.app.db, year=year, organizer=organizer, file=file, now=st.app.now(), by=by)
    if st.json:
        emit_json(data)
    else:
        console().print(f"{organizer} {year} 工作方案已备案：{data['file']}")


@workplan_app.command("list", help="organizers' work plans: filed or missing (lagging)")
def workplan_list(
    ctx: typer.Context, year: YearOpt,
    missing: Annotated[bool, typer.Option("--missing", help="only those not filed")] = False,
) -> None:
    from services.work_plans import list_work_plans, missing_work_plans

    st = state(ctx)
    today = st.app.today()
    rows = missing_work_plans(st.app.db, year=year, today=today) if missing else list_work_plans(st.app.db, year=year, today=today)
    if st.json:
        emit_json(rows)
        return
    out = console()
    for r in rows:
        filed = f"已备案 {r['filed_at']}" if r.get("filed") else "[red]未报送[/red]" + ("（已逾期）" if r["overdue"] else "")
        out.print(f"{r['organizer']} {r['name']}  述职会 {r['meeting']}  应报 {r['due']}  {filed}")


# ---- feedback ------------------------------------------------------------------------------------------------

@feedback_app.command("show", help="the feedback notice of one secretary (written on give_feedback)")
def feedback_show(ctx: typer.Context, org: OrgArg, year: YearOpt, kind: KindOpt = "upward") -> None:
    from services.feedback import show_notice

    st = state(ctx)
    data = show_notice(st.app.db, year=year, org=org, kind=kind)
    if st.json:
        emit_json(data)
    else:
        console().print(data["markdown"], markup=False)


@feedback_app.command("export", help="write the notice to --out FILE (.md or .docx)")
def feedback_export(
    ctx: typer.Context, org: OrgArg, year: YearOpt,
    out: Annotated[Path, typer.Option("--out", help="FILE.md or FILE.docx")], kind: KindOpt = "upward",
) -> None:
    from services.feedback import export_notice

    st = state(ctx)
    path = export_notice(st.app.db, year=year, org=org, kind=kind, out=out)
    if st.json:
        emit_json({"org": org, "out": str(path)})
    else:
        console().print(f"已导出 {path}")


# ---- rectification -------------------------------------------------------------------------------------------

@rectification_app.command("add", help="a rectification item: problem, measure, responsible person, due date")
def rectification_add(
    ctx: typer.Context, org: OrgArg, year: YearOpt,
    problem: Annotated[str, typer.Option("--problem", help="the problem")],
    measure: Annotated[str, typer.Option("--measure", help="the measure")],
    responsible: Annotated[str, typer.Option("--responsible", help="responsible person")],
    due: Annotated[str, typer.Option("--due", help="due date, no later than the cycle's commitment deadline")],
    kind: KindOpt = "upward",
    by: Annotated[str, typer.Option("--by", help="who records")] = "cli",
) -> None:
    from services.rectification import add_item

    st = state(ctx)
    data = add_item(st.app.db, year=year, org=org, kind=kind, problem=problem, measure=measure, responsible=responsible,
                    due=due, now=st.app.now(), by=by)
    if st.json:
        emit_json(data)
    else:
        console().print(f"整改事项 #{data['id']} 已登记（{org}，时限 {data['due']}）")


@rectification_app.command("list", help="rectification items of a year")
def rectification_list(
    ctx: typer.Context, year: YearOpt,
    org: Annotated[str | None, typer.Option("--org", help="one organization")] = None,
    under: Annotated[str | None, typer.Option("--under", help="a whole subtree")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="upward or own_level")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open or done")] = None,
) -> None:
    from services.rectification import list_items

    st = state(ctx)
    rows = list_items(st.app.db, year=year, org=org, under=under, kind=kind, status=status)
    if st.json:
        emit_json(rows)
        return
    out = console()
    for r in rows:
        carried = "（上年结转）" if r["carried_from"] else ""
        out.print(f"#{r['id']} {r['org']} {'已完成' if r['status'] == 'done' else '整改中'}{carried}  {r['problem']} → "
                  f"{r['measure']}  责任人 {r['responsible']}  时限 {r['due']}", markup=False)


@rectification_app.command("done", help="mark an item done")
def rectification_done(
    ctx: typer.Context, item: Annotated[int, typer.Argument(help="item id")],
    note: Annotated[str | None, typer.Option("--note", help="how it was done")] = None,
) -> None:
    from services.rectification import mark_done

    st = state(ctx)
    data = mark_done(st.app.db, item_id=item, now=st.app.now(), note=note)
    if st.json:
        emit_json(data)
    else:
        console().print(f"整改事项 #{item} 已完成")


@rectification_app.command("commitment", help="set the public commitment text (filed by file_commitment)")
def rectification_commitment(
    ctx: typer.Context, org: OrgArg, year: YearOpt,
    text: Annotated[str, typer.Option("--text", help="the public commitment")],
    kind: KindOpt = "upward",
    by: Annotated[str, typer.Option("--by", help="who records")] = "cli",
) -> None:
    from services.rectification import set_commitment

    st = state(ctx)
    data = set_commitment(st.app.db, year=year, org=org, kind=kind, text=text, now=st.app.now(), by=by)
    if st.json:
        emit_json(data)
    else:
        console().print(f"{org} 公开承诺已登记，待整改方案备案（file_commitment）")


@rectification_app.command("show", help="one secretary's commitment and items")
def rectification_show(ctx: typer.Context, org: OrgArg, year: YearOpt, kind: KindOpt = "upward") -> None:
    from services.rectification import show_commitment

    st = state(ctx)
    data = show_commitment(st.app.db, year=year, org=org, kind=kind)
    if st.json:
        emit_json(data)
        return
    out = console()
    commitment = data["commitment"]
    out.print(f"{org} 公开承诺：" + (commitment["text"] if commitment else "（未登记）")
              + (f"（{commitment['filed_at']} 备案）" if commitment and commitment["filed_at"] else ""), markup=False)
    for r in data["items"]:
        out.print(f"  #{r['id']} {r['problem']} → {r['measure']}  {r['responsible']}  {r['due']}  {r['status']}", markup=False)


# ---- publication ---------------------------------------------------------------------------------------------

@publish_app.command("export", help="export what is published: reports, results, commitments (folder or .zip)")
def publish_export(
    ctx: typer.Context, year: YearOpt,
    out: Annotated[Path, typer.Option("--out", help="a folder, or FILE.zip")],
    under: Annotated[str | None, typer.Option("--under", help="only this subtree")] = None,
    include: Annotated[str | None, typer.Option("--include", help="comma list of reports,results,commitments")] = None,
) -> None:
    from services.publication import export_publication

    st = state(ctx)
    sections = [s.strip() for s in include.split(",") if s.strip()] if include else None
    data = export_publication(st.app.db, year=year, out=out, under=under, include=sections)
    if st.json:
        emit_json(data)
    else:
        console().print(f"已导出 {data['out']}：述职报告 {data['reports']} 份，测评结果 {data['results']} 条，"
                        f"整改承诺 {data['commitments']} 份")


__all__ = ["register"]
