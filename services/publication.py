"""Publication within the set scope (R17, R18, R33): a Markdown bundle (folder or .zip) of approved reports,
evaluation results and filed commitments with their rectification items. No contact data leaves the system."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.errors import BadInput, NotFound
from services.orgs import under_code
from storage.db import Database
from storage.tables.core import cycles, orgs, years
from storage.tables.review import commitments, rectification_items, report_versions

SECTIONS = ("reports", "results", "commitments")
# A report is published once it passed review; results once the evaluation closed.
REPORT_STATES = ("approved", "presented", "evaluated", "feedback_given", "rectifying", "committed", "closed")
RESULT_STATES = ("evaluated", "feedback_given", "rectifying", "committed", "closed")
KIND_LABELS = {"upward": "向上级述职", "own_level": "向本级述职"}


def _scope(conn: sa.Connection, year: int, include: list[str] | None) -> list[str]:
    plan = conn.execute(sa.select(years.c.plan).where(years.c.year == year)).scalar()
    if plan is None:
        raise NotFound("year.not_launched", year=year)
    chosen = include or list((plan.get("publication") or {}).get("include") or SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        raise BadInput("publication.sections", unknown=", ".join(unknown), choices=", ".join(SECTIONS))
    return chosen


def build_bundle(db: Database, *, year: int, under: str | None = None, include: list[str] | None = None) -> dict[str, str]:
    """File name → Markdown text of everything published in scope."""
    from services.ballots import cycle_tally

    files: dict[str, str] = {}
    with db.connect() as conn:
        sections = _scope(conn, year, include)
        query = (
            sa.select(cycles.c.id, cycles.c.kind, cycles.c.state, cycles.c.year, orgs.c.code, orgs.c.name)
            .select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id))
            .where(cycles.c.year == year)
            .order_by(orgs.c.path, cycles.c.kind)
        )
        if under:
            query = query.where(under_code(conn, under))
        rows = list(conn.execute(query))
        index = [f"# {year}年度述职评议考核公开材料" + (f"（{under}及所属）" if under else ""), ""]
        for r in rows:
            suffix = "" if r.kind == "upward" else "-本级"
            label = f"{r.name}（{r.code}）{KIND_LABELS[r.kind]}"
            if "reports" in sections and r.state in REPORT_STATES:
                latest = conn.execute(
                    sa.select(report_versions.c.text, report_versions.c.version).where(report_versions.c.cycle_id == r.id)
                    .order_by(report_versions.c.version.desc()).limit(1)
                ).first()
                if latest is not None:
                    name = f"reports/{r.code}{suffix}.md"
                    files[name] = f"<!-- {label} 述职报告 第{latest.version}稿 -->\n\n{latest.text.strip()}\n"
                    index.append(f"- 述职报告：[{label}]({name})")
            if "results" in sections and r.state in RESULT_STATES:
                t = cycle_tally(conn, r.id, year)
                if t["ballots"]:
                    line = (f"| {r.code} | {r.name} | {KIND_LABELS[r.kind]} | {t['ballots']} | {t['counts']['好']} | "
                            f"{t['counts']['较好']} | {t['counts']['一般']} | {t['counts']['差']} | "
                            f"{t['satisfaction'] * 100:.1f}% | {t['score']} |")
                    files.setdefault("results.md", "# 测评结果\n\n| 编码 | 单位 | 类型 | 票数 | 好 | 较好 | 一般 | 差 | 满意率 | 得分 |\n"
                                     "|---|---|---|---|---|---|---|---|---|---|\n")
                    files["results.md"] += line + "\n"
            if "commitments" in sections:
                commitment = conn.execute(sa.select(commitments).where(commitments.c.cycle_id == r.id)).first()
                if commitment is not None and commitment.filed_at is not None:
                    items = conn.execute(sa.select(rectification_items).where(rectification_items.c.cycle_id == r.id)
                                         .order_by(rectification_items.c.id))
                    lines = [f"# {label} 整改方案和公开承诺", "", "## 公开承诺", "", commitment.text, "", "## 整改事项", "",
                             "| 问题 | 措施 | 责任人 | 完成时限 | 状态 |", "|---|---|---|---|---|"]
                    lines += [f"| {i.problem} | {i.measure} | {i.responsible} | {i.due.isoformat()} | "
                              f"{'已完成' if i.status == 'done' else '整改中'} |" for i in items]
                    name = f"commitments/{r.code}{suffix}.md"
                    files[name] = "\n".join(lines) + "\n"
                    index.append(f"- 整改承诺：[{label}]({name})")
        if "results.md" in files:
            index.append("- [测评结果](results.md)")
    files["index.md"] = "\n".join(index) + "\n"
    return files


def export_publication(
    db: Database, *, year: int, out: Path, under: str | None = None, include: list[str] | None = None
) -> dict[str, Any]:
    """Write the bundle to OUT: a .zip file, or a folder (created; existing files of the same names replaced)."""
    files = build_bundle(db, year=year, under=under, include=include)
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in sorted(files.items()):
                archive.writestr(name, text)
        out.write_bytes(buffer.getvalue())
    else:
        for name, text in files.items():
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    counts = {
        "reports": sum(1 for n in files if n.startswith("reports/")),
        "results": max(0, files.get("results.md", "").count("\n") - 4),
        "commitments": sum(1 for n in files if n.startswith("commitments/")),
    }
    return {"year": year, "out": str(out), "files": len(files), **counts}
