"""Feedback notices (R17): per secretary, the ratings, the presiding secretary's comment and the main problems,
rendered from a Jinja2 template (Markdown) and as .docx; produced on `give_feedback`, exportable."""

from __future__ import annotations

import functools
import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.cycles import PLAN_TZ, FiredEvent, find_cycle
from services.errors import BadInput, NotFound
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import orgs
from storage.tables.review import agenda_items, feedback_notices, report_versions

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, trim_blocks=True,
                       lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)


def _main_problems(agenda: sa.Row[Any] | None, report_check: dict[str, Any] | None) -> list[str]:
    """The comment's problems, one per line or 一是…二是… item; lacking those, the checker's findings."""
    if agenda is not None and agenda.problems:
        parts = re.split(r"[\n；;]|(?:[一二三四五六七八九十]是)", agenda.problems)
        found = [p.strip(" ，。,") for p in parts if p.strip(" ，。,")]
        if found:
            return found
    if report_check and report_check.get("suggestion") != "approve":
        return list(report_check.get("findings", []))
    return []


def notice_data(conn: sa.Connection, cycle: sa.Row[Any], *, at: datetime) -> dict[str, Any]:
    from services.ballots import cycle_tally

    org = conn.execute(sa.select(orgs).where(orgs.c.id == cycle.org_id)).one()
    organizer = conn.execute(sa.select(orgs).where(orgs.c.id == cycle.organizer_id)).one()
    agenda = conn.execute(sa.select(agenda_items).where(agenda_items.c.cycle_id == cycle.id)).first()
    latest = conn.execute(
        sa.select(report_versions.c.findings).where(report_versions.c.cycle_id == cycle.id)
        .order_by(report_versions.c.version.desc()).limit(1)
    ).scalar()
    tally = cycle_tally(conn, cycle.id, cycle.year)
    own = cycle.kind == "own_level"
    return {
        "year": cycle.year,
        "kind": cycle.kind,
        "kind_label": "向本级党组织" if own else "党组织书记抓基层党建工作",
        "org_code": org.code,
        "org_name": org.name,
        "secretary": org.secretary or "",
        "meeting_name": f"{org.name}委员会会议" if own else f"{organizer.name}述职评议会",
        "meeting_on": None if own else cycle.meeting_on.isoformat(),
        "tally": tally,
        "satisfaction_pct": f"{tally['satisfaction'] * 100:.1f}%" if tally.get("satisfaction") is not None else "—",
        "comment": agenda.comment if agenda else None,
        "strengths": agenda.strengths if agenda else None,
        "direction": agenda.direction if agenda else None,
        "problems": _main_problems(agenda, latest),
        "commitment_due": cycle.commitment_due.isoformat(),
        "filing_body": "市委组织部",
        "issuer": f"中共{organizer.name}" if not organizer.name.startswith("中共") else organizer.name,
        "issued_on": at.astimezone(PLAN_TZ).date().isoformat(),
    }


def render_markdown(data: dict[str, Any]) -> str:
    return str(_environment().get_template("feedback_notice.md.j2").render(**data))


def render_docx(markdown: str) -> bytes:
    """The same notice as a Word document: Markdown headings become Word headings, **bold** labels bold runs."""
    from docx import Document

    document = Document()
    for line in markdown.splitlines():
        text = line.strip()
        if not text:
            continue
        heading = re.match(r"^(#{1,6})\s+(.*)$", text)
        if heading:
            document.add_heading(heading.group(2), level=min(len(heading.group(1)) - 1, 3) or 0)
            continue
        paragraph = document.add_paragraph()
        for part in re.split(r"(\*\*[^*]+\*\*)", text):
            if part.startswith("**") and part.endswith("**"):
                paragraph.add_run(part[2:-2]).bold = True
            elif part:
                paragraph.add_run(part)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def write_notice(conn: sa.Connection, cycle: sa.Row[Any], *, at: datetime, by: str) -> dict[str, Any]:
    data = notice_data(conn, cycle, at=at)
    markdown = render_markdown(data)
    # the .docx is rendered from this markdown on first export: ~80 ms of python-docx has no place inside
    # the give_feedback transaction (it would hold SQLite's write lock for every notice of a meeting)
    conn.execute(feedback_notices.delete().where(feedback_notices.c.cycle_id == cycle.id))
    conn.execute(feedback_notices.insert().values(
        cycle_id=cycle.id, markdown=markdown, docx=None, data=data, created_at=to_db_time(at), created_by=by,
    ))
    return data


def produce_notice(conn: sa.Connection, fired: FiredEvent, cycle: sa.Row[Any]) -> None:
    """Hook on `give_feedback`."""
    write_notice(conn, cycle, at=fired.at, by=fired.by)


def show_notice(db: Database, *, year: int, org: str, kind: str = "upward") -> dict[str, Any]:
    with db.connect() as conn:
        cycle = find_cycle(conn, year=year, org=org, kind=kind)
        row = conn.execute(sa.select(feedback_notices).where(feedback_notices.c.cycle_id == cycle.id)).first()
        if row is None:
            raise NotFound("feedback.none", org=org, kind=kind, year=year)
        created = from_db_time(row.created_at)
        return {"org": org, "kind": kind, "year": year, "markdown": row.markdown, "data": row.data,
                "created_at": created.isoformat(timespec="seconds") if created else None}


def export_notice(db: Database, *, year: int, org: str, out: Path, kind: str = "upward") -> Path:
    """Write the notice to OUT: .md or .docx by its suffix."""
    suffix = out.suffix.lower()
    if suffix not in (".md", ".docx"):
        raise BadInput("out.suffix", name=out.name, choices=".md, .docx", option="--out")
    with db.connect() as conn:
        cycle = find_cycle(conn, year=year, org=org, kind=kind)
        row = conn.execute(sa.select(feedback_notices).where(feedback_notices.c.cycle_id == cycle.id)).first()
    if row is None:
        raise NotFound("feedback.none", org=org, kind=kind, year=year)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".md":
        out.write_text(row.markdown, encoding="utf-8")
    else:
        docx = row.docx
        if docx is None:
            docx = render_docx(row.markdown)
            with db.begin() as conn:
                conn.execute(feedback_notices.update().where(feedback_notices.c.cycle_id == cycle.id).values(docx=docx))
        out.write_bytes(docx)
    return out
