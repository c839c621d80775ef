"""The R32 summary report of an organizer (.md, .docx, .xlsx) and its 15-day deadline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.clock import PLAN_TZ
from services.errors import BadInput, NotFound
from services.scores import rules_for_year
from states.orgs import KIND_LABELS, LEVEL_OF_KIND, Level
from states.scoring import COMPONENT_LABELS, COMPOSITE_COMPONENTS
from storage.db import Database, to_db_time
from storage.tables.core import cycles, meetings, orgs, years
from storage.tables.results import key_management, results, summary_reports

FORMATS = (".md", ".docx", ".xlsx")
NUMERALS = "一二三四五六七八九十"
SUMMARY_DUE_DAYS = 15
SUGGESTIONS = {
    "onsite": "对照基层党建考核细则逐项补齐短板，规范台账资料，抓好班子建设和阵地建设",
    "evaluation": "认真研究述职评议中党员群众提出的意见，逐条整改并在一定范围内公开",
    "survey": "加强联系服务群众，及时回应群众关切，提升群众满意度",
    "daily": "落实党建工作责任制，加强日常督导，把党建工作融入日常、抓在经常",
}


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    table: list[list[str]] | None = None  # first row is the header


@dataclass
class SummaryDocument:
    title: str
    addressee: str
    sections: list[Section]
    signature: str
    dated: str
    ranking_codes: list[str]


def _rectification_items(conn: sa.Connection, year: int, org_ids: list[int]) -> dict[int, list[str]]:
    """Rectification items recorded in the review feature (issue 4), when its table exists."""
    from storage.tables import metadata

    table = metadata.tables.get("rectification_items")
    if table is None or not org_ids:
        return {}
    try:
        rows = conn.execute(
            sa.select(cycles.c.org_id, table.c.problem, table.c.measure)
            .select_from(table.join(cycles, cycles.c.id == table.c.cycle_id))
            .where(cycles.c.year == year, cycles.c.org_id.in_(org_ids)).order_by(table.c.id)
        ).all()
    except sa.exc.DBAPIError:  # a database migrated before that feature: no items yet
        return {}
    items: dict[int, list[str]] = {}
    for row in rows:
        items.setdefault(row.org_id, []).append(f"{row.problem}（措施：{row.measure}）")
    return items


def build_summary(db: Database, *, year: int, organizer: str, today: date) -> SummaryDocument:
    with db.connect() as conn:
        rules = rules_for_year(conn, year)
        org = conn.execute(sa.select(orgs.c.id, orgs.c.code, orgs.c.name, orgs.c.kind).where(orgs.c.code == organizer)).first()
        if org is None:
            raise NotFound("org.not_found", code=organizer)
        units = conn.execute(
            sa.select(orgs.c.id, orgs.c.code, orgs.c.name, orgs.c.kind, cycles.c.state, cycles.c.meeting_on,
                      results.c.composite, results.c.rank, results.c.category, results.c.components, results.c.missing,
                      results.c.key_management, results.c.weak, key_management.c.consecutive_years,
                      key_management.c.rectify_by)
            .select_from(
                cycles.join(orgs, orgs.c.id == cycles.c.org_id)
                .outerjoin(results, sa.and_(results.c.org_id == orgs.c.id, results.c.year == year))
                .outerjoin(key_management, sa.and_(key_management.c.org_id == orgs.c.id, key_management.c.year == year))
            )
            .where(cycles.c.year == year, cycles.c.kind == "upward", cycles.c.organizer_id == org.id)
        ).all()
        if not units:
            raise BadInput("summary.no_reports", organizer=organizer, year=year, option="--organizer")
        if all(u.category is None for u in units):
            raise NotFound("results.none", year=year)
        items = _rectification_items(conn, year, [u.id for u in units])

    ranked = sorted((u for u in units if u.composite is not None), key=lambda u: (-u.composite, u.code))
    unranked = sorted((u for u in units if u.composite is None), key=lambda u: u.code)
    presented = sum(1 for u in units if u.state not in ("researching", "drafting", "submitted", "revising", "approved"))
    meeting_days = sorted({u.meeting_on for u in units})
    averages = {
        c: round(sum(u.components[c] for u in units if u.components and u.components.get(c) is not None)
                 / max(1, sum(1 for u in units if u.components and u.components.get(c) is not None)), 2)
        for c in COMPOSITE_COMPONENTS
        if any(u.components and u.components.get(c) is not None for u in units)
    }
    strongest = max(averages, key=lambda c: averages[c]) if averages else None
    weakest = min(averages, key=lambda c: averages[c]) if averages else None
    listed = [u for u in units if u.key_management or u.weak]

    sections: list[Section] = []
    account = Section("述职评议考核工作简要情况", [
        f"按照市委统一部署，{org.name}于{year}年{'、'.join(f'{d.month}月{d.day}日' for d in meeting_days)}"
        f"召开述职评议会，听取所属{len(units)}个基层党组织书记抓基层党建工作述职，"
        f"其中{presented}个已完成述职并接受评议。",
        f"综合得分按实地考核（{rules.weights['onsite']:.0%}）、述职评议测评（{rules.weights['evaluation']:.0%}）、"
        f"民意调查（{rules.weights['survey']:.0%}）、平时掌握情况（{rules.weights['daily']:.0%}）加权计算，"
        f"在同类组织中排序；{len(ranked)}个单位得出综合得分，{len(unranked)}个单位因缺项暂不排序。",
    ])
    sections.append(account)
    results_section = Section("主要成绩及经验", [])
    if ranked:
        top = "、".join(f"{u.name}（{u.composite:g}分）" for u in ranked[:3])
        results_section.paragraphs.append(f"综合得分居前的单位：{top}。")
    if strongest:
        results_section.paragraphs.append(
            f"各项得分中{COMPONENT_LABELS[strongest]}平均分最高（{averages[strongest]:g}分），相关做法值得总结推广。")
    sections.append(results_section)
    problems = Section("存在的问题", [])
    if weakest:
        problems.paragraphs.append(f"{COMPONENT_LABELS[weakest]}平均分最低（{averages[weakest]:g}分），是当前的薄弱环节。")
    if unranked:
        problems.paragraphs.append(
            "以下单位考核数据缺项，未计算综合得分：" + "；".join(
                f"{u.code} {u.name}（缺{'、'.join(COMPONENT_LABELS.get(c, c) for c in (u.missing or []))}）" for u in unranked) + "。")
    if listed:
        problems.paragraphs.append(f"{len(listed)}个单位工作相对落后，列入重点管理或报送约谈。")
    if not problems.paragraphs:
        problems.paragraphs.append("未发现突出问题。")
    sections.append(problems)
    header = ["序号", "编码", "名称", "类型", "综合得分", *(COMPONENT_LABELS[c] for c in COMPOSITE_COMPONENTS), "同类排名"]
    table = [header]
    for position, u in enumerate(ranked, start=1):
        table.append([str(position), u.code, u.name, KIND_LABELS.get(u.kind, u.kind), f"{u.composite:g}",
                      *(_cell(u.components, c) for c in COMPOSITE_COMPONENTS), str(u.rank)])
    for u in unranked:
        table.append(["—", u.code, u.name, KIND_LABELS.get(u.kind, u.kind), "缺项",
                      *(_cell(u.components, c) for c in COMPOSITE_COMPONENTS), "—"])
    sections.append(Section("综合得分及排序", ["按综合得分由高到低排列；同类排名为全市同类组织中的名次，得分相同者名次并列。"], table))
    km = Section("重点管理", [])
    if listed:
        km_table = [["编码", "名称", "措施", "综合得分", "连续年数", "整改期限"]]
        for u in sorted(listed, key=lambda u: (u.composite if u.composite is not None else 0.0, u.code)):
            km_table.append([u.code, u.name, "列入重点管理" if u.key_management else "报送约谈、限期整改",
                             f"{u.composite:g}", str(u.consecutive_years or 1), u.rectify_by.isoformat() if u.rectify_by else "跟踪整改"])
        km.table = km_table
        km.paragraphs.append("对列入重点管理的单位，跟踪抓好整改，促进晋位升级；连续列入的单位重点督导。")
    else:
        km.paragraphs.append("本单位所属组织无列入重点管理的单位。")
    sections.append(km)
    rect = Section("各被考核单位需要整改的项目及建议", [])
    for u in [*ranked, *unranked]:
        lines = items.get(u.id)
        if not lines:
            weak_parts = [c for c in COMPOSITE_COMPONENTS
                          if u.components and u.components.get(c) is not None and u.components[c] < rules.suggestion_below]
            if not weak_parts and u.components:
                present = {c: u.components[c] for c in COMPOSITE_COMPONENTS if u.components.get(c) is not None}
                weak_parts = [min(present, key=lambda c: present[c])] if present else []
            lines = [f"{COMPONENT_LABELS[c]}（{u.components[c]:g}分）：{SUGGESTIONS[c]}" for c in weak_parts]
            for c in u.missing or []:
                lines.append(f"{COMPONENT_LABELS.get(c, c)}：考核数据缺项，应尽快补报")
        rect.paragraphs.append(f"{u.code} {u.name}：" + "；".join(lines) + "。")
    sections.append(rect)
    for index, section in enumerate(sections):
        section.heading = f"{NUMERALS[index]}、{section.heading}"
    return SummaryDocument(
        title=f"关于{org.name}{year}年度党组织书记抓基层党建工作述职评议考核情况的报告",
        addressee="市委组织部：",
        sections=sections,
        signature=f"中共{org.name}" if not org.name.startswith("中共") else org.name,
        dated=f"{today.year}年{today.month}月{today.day}日",
        ranking_codes=[u.code for u in ranked],
    )


def _cell(components: dict[str, Any] | None, component: str) -> str:
    value = (components or {}).get(component)
    return "缺" if value is None else f"{value:g}"


def render_markdown(doc: SummaryDocument) -> str:
    lines = [f"# {doc.title}", "", doc.addressee, ""]
    for section in doc.sections:
        lines += [f"## {section.heading}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
        if section.table:
            lines.append("| " + " | ".join(section.table[0]) + " |")
            lines.append("|" + "---|" * len(section.table[0]))
            lines += ["| " + " | ".join(row) + " |" for row in section.table[1:]]
            lines.append("")
    lines += [doc.signature, "", doc.dated, ""]
    return "\n".join(lines)


def _write_docx(doc: SummaryDocument, out: Path) -> None:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    document = Document()
    title = document.add_heading(doc.title, level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph(doc.addressee)
    for section in doc.sections:
        document.add_heading(section.heading, level=1)
        for paragraph in section.paragraphs:
            p = document.add_paragraph(paragraph)
            p.paragraph_format.first_line_indent = Pt(24)
        if section.table:
            table = document.add_table(rows=len(section.table), cols=len(section.table[0]))
            table.style = "Table Grid"
            for r, row in enumerate(section.table):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
    for text in (doc.signature, doc.dated):
        p = document.add_paragraph(text)
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    document.save(str(out))


def _write_xlsx(doc: SummaryDocument, out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "报告"
    sheet.append([doc.title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([doc.addressee])
    for section in doc.sections:
        sheet.append([section.heading])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True)
        for paragraph in section.paragraphs:
            sheet.append([paragraph])
        if section.table:
            for row in section.table:
                sheet.append(row)
    sheet.append([doc.signature])
    sheet.append([doc.dated])
    ranking = workbook.create_sheet("综合得分及排序")
    table = next(s.table for s in doc.sections if s.heading.endswith("综合得分及排序"))
    assert table is not None
    for row in table:
        ranking.append([_number_or_text(v) for v in row])
    from services.export import force_text

    for each in (sheet, ranking):  # a name like '=HYPERLINK(…)' stays text (issue 10 M4)
        for cells in each.iter_rows():
            for cell in cells:
                force_text(cell)
    workbook.save(str(out))


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def write_summary_report(db: Database, *, year: int, organizer: str, out: Path, now: datetime) -> dict[str, Any]:
    """Write the report to `out` (.md, .docx or .xlsx by suffix) and record it for the deadline check."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise BadInput("out.suffix", name=out.name, choices=", ".join(FORMATS), option="--out")
    today = now.astimezone(PLAN_TZ).date()
    doc = build_summary(db, year=year, organizer=organizer, today=today)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".md":
        out.write_text(render_markdown(doc), encoding="utf-8")
    elif suffix == ".docx":
        _write_docx(doc, out)
    else:
        _write_xlsx(doc, out)
    with db.begin() as conn:
        organizer_id = conn.execute(sa.select(orgs.c.id).where(orgs.c.code == organizer)).scalar_one()
        conn.execute(summary_reports.delete().where(summary_reports.c.year == year, summary_reports.c.organizer_id == organizer_id,
                                                    summary_reports.c.format == suffix[1:]))
        conn.execute(summary_reports.insert().values(year=year, organizer_id=organizer_id, path=str(out.resolve()),
                                                     format=suffix[1:], written_at=to_db_time(now)))
    return {"year": year, "organizer": organizer, "out": str(out), "format": suffix[1:], "title": doc.title,
            "ranking": doc.ranking_codes}


def summary_due_date(conn: sa.Connection, year: int) -> date:
    """R32: within 15 days of the end of the assessment, the end being the year's last meeting (31 Dec at the
    latest, R6), unless the plan's [summary] sets `end` or `due_days`."""
    plan = conn.execute(sa.select(years.c.plan).where(years.c.year == year)).scalar()
    if plan is None:
        raise NotFound("year.not_launched", year=year)
    summary = dict(plan.get("summary") or {})
    days = summary.get("due_days", SUMMARY_DUE_DAYS)
    if "end" in summary:
        end = date.fromisoformat(str(summary["end"]))
    else:
        last = conn.execute(sa.select(sa.func.max(meetings.c.held_on)).where(meetings.c.year == year)).scalar()
        end = min(last, date(year, 12, 31)) if last else date(year, 12, 31)
    return end + timedelta(days=int(days))


def summary_reports_due(db: Database, *, year: int, today: date) -> list[dict[str, Any]]:
    """Organizers that owe a summary report and have not written one: every town, subdistrict, farm or city unit
    that held a meeting of the year (the city organs working committee's report is the city unit's organizer's),
    with the due date and whether it is overdue (plan [summary] organizers = [codes] overrides who owes one).
    For the sweep and reminders."""
    with db.connect() as conn:
        due = summary_due_date(conn, year)
        town_kinds = [k for k, level in LEVEL_OF_KIND.items() if level == Level.TOWN]
        written = sa.exists().where(summary_reports.c.year == year, summary_reports.c.organizer_id == orgs.c.id)
        plan = conn.execute(sa.select(years.c.plan).where(years.c.year == year)).scalar() or {}
        chosen = (plan.get("summary") or {}).get("organizers")
        which = orgs.c.code.in_([str(c) for c in chosen]) if isinstance(chosen, list) else orgs.c.kind.in_(town_kinds)
        rows = conn.execute(
            sa.select(orgs.c.code, orgs.c.name, orgs.c.kind)
            .select_from(orgs.join(meetings, sa.and_(meetings.c.organizer_id == orgs.c.id, meetings.c.year == year)))
            .where(which, ~written)
            .order_by(orgs.c.path)
        ).all()
    return [
        {"organizer": r.code, "name": r.name, "kind": r.kind, "due": due.isoformat(), "overdue": today > due,
         "days_left": (due - today).days}
        for r in rows
    ]
