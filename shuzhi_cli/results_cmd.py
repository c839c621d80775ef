"""Commands of the results feature: samples, scores, results, the veto, key management, the summary report."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from shuzhi_cli.context import console, emit_json, state
from shuzhi_cli.groups import report_app

assess_app = typer.Typer(help="实地考核 on-site assessment: seeded samples of organizations (R26)", no_args_is_help=True)
survey_app = typer.Typer(help="民意调查 satisfaction survey: seeded samples of respondents (R27)", no_args_is_help=True)
scores_app = typer.Typer(help="考核得分 component scores: import, on-site items, list", no_args_is_help=True)
results_app = typer.Typer(help="综合评定 composite scores, ranks and key management (R28, R31)", no_args_is_help=True)
keymgmt_app = typer.Typer(help="重点管理 key management and admonition talks (R31)", no_args_is_help=True)

YearOpt = Annotated[int, typer.Option("--year", help="the year, e.g. 2014")]
CategoryHelp = "towns, city_units, villages or communities_and_others"


def register(app: typer.Typer) -> None:
    app.add_typer(assess_app, name="assess")
    app.add_typer(survey_app, name="survey")
    app.add_typer(scores_app, name="scores")
    app.add_typer(results_app, name="results")
    app.add_typer(keymgmt_app, name="keymgmt")
    app.command("veto", help="the 1:1.5 differential veto for one honour (R30)")(veto)
    report_app.command("summary", help="the R32 summary report of an organizer (.xlsx, .docx or .md)")(report_summary)
    report_app.command("summary-due", help="organizers whose R32 summary report is still missing, with its due date")(
        report_summary_due
    )


def _print_sample(result: dict[str, Any]) -> None:
    from states.orgs import mask_phone

    out = console()
    out.print(f"抽样记录 #{result['id']}：从 {result['population_size']} 个中抽取 {result['size']} 个，种子 {result['seed']}")
    out.print(f"总体哈希 population sha256: {result['population_hash']}")
    if result.get("respondents"):
        for person in result["respondents"]:
            out.print(f"  {person['id']}  {person['name']}  {person['category']}  {mask_phone(person['phone'])}")
    else:
        names = result.get("names", {})
        for code in result["sample"]:
            out.print(f"  {code}  {names.get(code, '')}")


@assess_app.command("sample", help="draw the organizations under ORG to visit (reproducible from the seed; recorded)")
def assess_sample(
    ctx: typer.Context,
    year: YearOpt,
    org: Annotated[str, typer.Option("--org", help="the town (or city) whose organizations are sampled")],
    size: Annotated[int, typer.Option("--size", help="how many to draw")],
    seed: Annotated[str, typer.Option("--seed", help="the seed, announced before the draw")],
    by: Annotated[str, typer.Option("--by", help="who draws")] = "admin",
) -> None:
    from services.sampling import sample_orgs

    st = state(ctx)
    result = sample_orgs(st.app.db, year=year, org=org, size=size, seed=seed, now=st.app.now(), by=by)
    if st.json:
        emit_json(result)
    else:
        _print_sample(result)


@assess_app.command("verify", help="re-draw a recorded sample (on-site or survey) and compare")
def assess_verify(
    ctx: typer.Context,
    record: Annotated[int, typer.Argument(help="the sample record id")],
    population: Annotated[Path | None, typer.Option("--population", help="check this population file too")] = None,
) -> None:
    from services.sampling import verify_sample

    st = state(ctx)
    result = verify_sample(st.app.db, record, population=population)
    if st.json:
        emit_json(result)
    else:
        verdict = "一致 matches" if result["matches"] else "不一致 DOES NOT MATCH"
        console().print(f"抽样记录 #{record} 重新抽取：{verdict}")
        console().print("  " + " ".join(result["redrawn"]))
    if not result["matches"]:
        raise typer.Exit(3)


@assess_app.command("list", help="the samples recorded for a year")
def assess_list(ctx: typer.Context, year: YearOpt) -> None:
    from services.sampling import list_samples

    st = state(ctx)
    rows = list_samples(st.app.db, year=year)
    if st.json:
        emit_json(rows)
        return
    for r in rows:
        console().print(f"#{r['id']} {r['purpose']} {r['org']} 抽 {r['size']}/{r['population_size']} 种子 {r['seed']} {r['created_at']}")


@survey_app.command("sample", help="draw survey respondents from a population CSV id,name,category,phone")
def survey_sample(
    ctx: typer.Context,
    year: YearOpt,
    org: Annotated[str, typer.Option("--org", help="the county (city) or town surveyed")],
    size: Annotated[int, typer.Option("--size", help="how many respondents (about 100 per county)")],
    seed: Annotated[str, typer.Option("--seed", help="the seed, announced before the draw")],
    population: Annotated[Path, typer.Option("--population", help="CSV or XLSX id,name,category,phone")],
    by: Annotated[str, typer.Option("--by", help="who draws")] = "admin",
) -> None:
    from services.sampling import sample_survey

    st = state(ctx)
    result = sample_survey(st.app.db, year=year, org=org, size=size, seed=seed, population=population, now=st.app.now(), by=by)
    if st.json:
        emit_json(result)
    else:
        _print_sample(result)


@survey_app.command("verify", help="re-draw a recorded survey sample and compare (same as assess verify)")
def survey_verify(
    ctx: typer.Context,
    record: Annotated[int, typer.Argument(help="the sample record id")],
    population: Annotated[Path | None, typer.Option("--population", help="check this population file too")] = None,
) -> None:
    assess_verify(ctx, record, population)


@scores_app.command("import", help="import CSV/XLSX org,component,score (onsite survey daily performance evaluation; 0–100)")
def scores_import(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="CSV or XLSX")], year: YearOpt) -> None:
    from services.scores import import_scores

    st = state(ctx)
    result = import_scores(st.app.db, file, year=year, now=st.app.now())
    if st.json:
        emit_json(result)
    else:
        parts = "，".join(f"{k} {v}" for k, v in result["by_component"].items())
        console().print(f"导入得分 {result['imported']} 条（{parts}）")


@scores_app.command("import-onsite", help="import R25 on-site items (org,part,leadership_team,…) and roll them up to onsite")
def scores_import_onsite(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="CSV or XLSX")], year: YearOpt) -> None:
    from services.scores import import_onsite

    st = state(ctx)
    result = import_onsite(st.app.db, file, year=year, now=st.app.now())
    if st.json:
        emit_json(result)
    else:
        console().print(f"实地考核得分 {result['imported']} 个单位：" + "，".join(f"{k} {v:g}" for k, v in result["onsite"].items()))


@scores_app.command("list", help="the stored component scores")
def scores_list(ctx: typer.Context, year: YearOpt, org: Annotated[str | None, typer.Option("--org")] = None) -> None:
    from services.scores import list_scores

    st = state(ctx)
    rows = list_scores(st.app.db, year=year, org=org)
    if st.json:
        emit_json(rows)
        return
    for r in rows:
        console().print(f"{r['org']}  {r['component']}  {r['score']:g}  ({r['source']})")


@scores_app.command("generate", help="write plausible seeded scores for every unit to a CSV (demo and trials)")
def scores_generate(
    ctx: typer.Context,
    year: YearOpt,
    out: Annotated[Path, typer.Option("--out", help="the CSV to write")],
    seed: Annotated[int, typer.Option("--seed")] = 2014,
) -> None:
    from services.scores import generate_component_scores, write_scores_csv

    st = state(ctx)
    rows = generate_component_scores(st.app.db, year=year, seed=seed)
    write_scores_csv(rows, out)
    if st.json:
        emit_json({"out": str(out), "rows": len(rows)})
    else:
        console().print(f"已生成 {len(rows)} 条得分：{out}")


@results_app.command("compute", help="compute composite scores, ranks and key management from the stored scores and ballots")
def results_compute(ctx: typer.Context, year: YearOpt) -> None:
    from services.results import compute_results

    st = state(ctx)
    result = compute_results(st.app.db, year=year, now=st.app.now())
    if st.json:
        emit_json(result)
        return
    out = console()
    out.print(f"{year} 年度综合评定：{result['units']} 个单位，{result['ranked']} 个得出综合得分并排名")
    for item in result["missing"]:
        out.print(f"  缺项 missing  {item['org']}: {', '.join(item['missing'])}（不计综合得分、不排名）")
    out.print("列入重点管理：" + (" ".join(result["key_management"]) or "无"))
    out.print("报送约谈：" + (" ".join(result["weak"]) or "无"))


@results_app.command("show", help="the year's results by category and rank")
def results_show(
    ctx: typer.Context,
    year: YearOpt,
    category: Annotated[str | None, typer.Option("--category", help=CategoryHelp)] = None,
    compare: Annotated[int | None, typer.Option("--compare", help="a previous year to compare with")] = None,
) -> None:
    from services.results import show_results
    from states.scoring import CATEGORY_LABELS, COMPOSITE_COMPONENTS

    st = state(ctx)
    rows = show_results(st.app.db, year=year, category=category, compare=compare)
    if st.json:
        emit_json(rows)
        return
    from rich.table import Table

    columns = ["类别", "名次", "编码", "名称", "综合", *COMPOSITE_COMPONENTS, "重点管理"]
    if compare is not None:
        columns += [f"{compare}名次", "变化"]
    table = Table(*columns, title=f"{year} 年度综合评定")
    for r in rows:
        flag = "重点管理" if r["key_management"] else ("约谈" if r["weak"] else "")
        if r.get("consecutive_years", 1) > 1 and flag:
            flag += f"（连续{r['consecutive_years']}年）"
        cells = [CATEGORY_LABELS[r["category"]], str(r["rank"] or "—"), r["org"], r["name"],
                 "缺项" if r["composite"] is None else f"{r['composite']:g}",
                 *("缺" if r["components"].get(c) is None else f"{r['components'][c]:g}" for c in COMPOSITE_COMPONENTS), flag]
        if compare is not None:
            change = r.get("rank_change")
            cells += [str(r.get("previous_rank") or "—"), "" if change is None else f"{change:+d}"]
        table.add_row(*cells)
    console().print(table)


def veto(
    ctx: typer.Context,
    year: YearOpt,
    category: Annotated[str, typer.Option("--category", help=CategoryHelp)],
    honour: Annotated[str, typer.Option("--honour", help="e.g. 年度目标考核先进单位")],
    places: Annotated[int, typer.Option("--places", help="how many will receive it")],
) -> None:
    from services.results import run_veto

    st = state(ctx)
    result = run_veto(st.app.db, year=year, category=category, honour=honour, places=places, now=st.app.now())
    if st.json:
        emit_json(result)
        return
    out = console()
    out.print(f"{result['honour']}：{places} 个名额，按绩效取前 {result['candidate_quota']} 名为候选（1:1.5）")
    out.print("候选 candidates：" + " ".join(result["candidates"]))
    out.print("授予 awarded：" + " ".join(result["awarded"]))
    out.print("否决 vetoed：" + (" ".join(f"{o}（{result['reasons'][o]}）" for o in result["vetoed"]) or "无"))
    for note in result["ties"]:
        out.print(f"并列说明：{note}")


@keymgmt_app.command("list", help="units under key management or reported for admonition, with their tracking")
def keymgmt_list(ctx: typer.Context, year: YearOpt) -> None:
    from services.key_management import MEASURE_LABELS, STATUS_LABELS, list_key_management

    st = state(ctx)
    rows = list_key_management(st.app.db, year=year)
    if st.json:
        emit_json(rows)
        return
    for r in rows:
        repeat = f"，连续{r['consecutive_years']}年" if r["repeat"] else ""
        deadline = f"，限期 {r['rectify_by']}" if r["rectify_by"] else ""
        talk = f"，{r['talk_on']} 已约谈" if r["talk_on"] else ""
        console().print(f"{r['org']} {r['name']}：{MEASURE_LABELS[r['measure']]}（{STATUS_LABELS[r['status']]}{repeat}{deadline}{talk}）")


@keymgmt_app.command("admonish", help="record the admonition talk (约谈) held with a weak unit's secretary")
def keymgmt_admonish(
    ctx: typer.Context,
    org: Annotated[str, typer.Argument(help="the unit's code")],
    year: YearOpt,
    on: Annotated[str, typer.Option("--on", help="the day of the talk, 2015-01-10")],
    note: Annotated[str, typer.Option("--note", help="what was agreed")],
    rectify_by: Annotated[str | None, typer.Option("--rectify-by", help="a new rectification deadline")] = None,
) -> None:
    from services.errors import BadInput
    from services.key_management import record_admonition

    st = state(ctx)
    try:
        talk_on = date.fromisoformat(on)
        deadline = date.fromisoformat(rectify_by) if rectify_by else None
    except ValueError:
        raise BadInput("dates.bad", option="--on / --rectify-by") from None
    result = record_admonition(st.app.db, year=year, org=org, talk_on=talk_on, note=note, rectify_by=deadline)
    if st.json:
        emit_json(result)
    else:
        console().print(f"已记录 {org} 约谈 {result['talk_on']}，整改期限 {result['rectify_by']}")


def report_summary(
    ctx: typer.Context,
    year: YearOpt,
    organizer: Annotated[str, typer.Option("--organizer", help="the town (or the city) whose units are summarized")],
    out: Annotated[Path, typer.Option("--out", help="FILE.xlsx, FILE.docx or FILE.md")],
) -> None:
    from services.summary_report import write_summary_report

    st = state(ctx)
    result = write_summary_report(st.app.db, year=year, organizer=organizer, out=out, now=st.app.now())
    if st.json:
        emit_json(result)
    else:
        console().print(f"已生成 {result['title']}：{result['out']}")


def report_summary_due(ctx: typer.Context, year: YearOpt) -> None:
    from services.summary_report import summary_reports_due

    st = state(ctx)
    rows = summary_reports_due(st.app.db, year=year, today=st.app.today())
    if st.json:
        emit_json(rows)
        return
    if not rows:
        console().print("所有汇总报告均已报送")
    for r in rows:
        console().print(f"{r['organizer']} {r['name']}：应于 {r['due']} 前报送{'（已逾期）' if r['overdue'] else ''}")
