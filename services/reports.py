"""Reports and their review (R12–R15): reading .docx/.md/.txt, keeping every submitted version, recording returns."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.cycles import FiredEvent, find_cycle
from services.errors import BadInput, NotFound, Refused, TooLarge
from states.report_check import ReportCheck, check_report
from storage.db import Database, from_db_time, to_db_time
from storage.tables.core import cycles
from storage.tables.review import rectification_items, report_versions

FORMATS = {".docx": "docx", ".md": "md", ".markdown": "md", ".txt": "txt"}
MAX_BYTES = 20 * 1024 * 1024
# Caps checked BEFORE anything is parsed (issue 10 M5: a 333 KB .docx holding 102 MB of XML ran for minutes
# at 2.2 GB). A real report is tens of KB of XML and a few hundred paragraphs; these leave a wide margin.
DOCX_MAX_UNCOMPRESSED = 30 * 1024 * 1024  # all zip entries together, as declared and as actually read
DOCX_MAX_PARTS = 300  # zip entries
DOCX_MAX_PARAGRAPHS = 5_000  # <w:p> elements in word/document.xml
TEXT_MAX_CHARS = 300_000  # .md/.txt (and the text a .docx yields): some 150 pages, 15× a long report
TEXT_MAX_LINES = 5_000  # a long report pasted from a PDF is a few hundred lines; the checker is linear in them


@dataclass(frozen=True)
class ReportFile:
    name: str
    file_format: str
    content: bytes
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def decode_text(raw: bytes, where: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadInput("report.encoding", name=where)  # pragma: no cover - gb18030 decodes nearly anything


def _too_big(where: str, what: str, what_en: str) -> BadInput:
    return BadInput("report.bomb", name=where, what=what, what_en=what_en)


def _paragraph_tags(xml: bytes) -> int:
    return xml.count(b"<w:p>") + xml.count(b"<w:p ")


def guard_docx(raw: bytes, where: str) -> None:
    """Refuse a .docx whose zip would expand past the caps, before python-docx parses anything (M5).

    Declared sizes are checked first (cheap), then word/document.xml is streamed in chunks, counting the bytes
    really produced and its paragraphs, so a lying header or a huge paragraph count is caught without ever
    holding the XML in memory or building a tree.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise BadInput("report.not_docx", name=where, detail="不是有效的 Word 文件", detail_en="not a Word file") from None
    if len(entries) > DOCX_MAX_PARTS:
        raise _too_big(where, f"包含 {len(entries)} 个部件（上限 {DOCX_MAX_PARTS}）",
                       f"{len(entries)} parts (at most {DOCX_MAX_PARTS})")
    declared = sum(e.file_size for e in entries)
    if declared > DOCX_MAX_UNCOMPRESSED:
        raise _too_big(where, f"解压后约 {declared // (1024 * 1024)} MB（上限 {DOCX_MAX_UNCOMPRESSED // (1024 * 1024)} MB）",
                       f"about {declared // (1024 * 1024)} MB uncompressed (at most {DOCX_MAX_UNCOMPRESSED // (1024 * 1024)} MB)")
    names = {e.filename for e in entries}
    if "word/document.xml" not in names:
        raise BadInput("report.not_docx", name=where, detail="缺少 word/document.xml", detail_en="no word/document.xml")
    produced = 0
    paragraphs = 0
    tail = b""
    try:
        with archive.open("word/document.xml") as stream:
            while chunk := stream.read(1 << 20):
                produced += len(chunk)
                if produced > DOCX_MAX_UNCOMPRESSED:
                    raise _too_big(where, "正文解压后超过上限", "the text is too large uncompressed")
                window = tail + chunk
                # a tag split across two chunks is found in the window; one wholly inside the kept tail was
                # already counted by the previous window
                paragraphs += _paragraph_tags(window) - _paragraph_tags(tail)
                tail = window[-5:]
                if paragraphs > DOCX_MAX_PARAGRAPHS:
                    raise _too_big(where, f"段落超过 {DOCX_MAX_PARAGRAPHS} 个", f"more than {DOCX_MAX_PARAGRAPHS} paragraphs")
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise BadInput("report.not_docx", name=where, detail="压缩数据损坏", detail_en="damaged compressed data") from None


def docx_text(raw: bytes, where: str) -> str:
    """Paragraphs in order (headings marked as Markdown by their style) and table cells."""
    from docx import Document

    guard_docx(raw, where)
    try:
        document = Document(io.BytesIO(raw))
    except Exception as error:  # python-docx raises several kinds for a damaged or non-docx file
        raise BadInput("report.not_docx", name=where, detail=error.__class__.__name__,
                       detail_en=error.__class__.__name__) from None
    lines: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = next((int(ch) for ch in style if ch.isdigit()), 1)
        if style.startswith(("Heading", "标题")) or style == "Title":
            lines.append("#" * min(level, 6) + " " + text)
        else:
            lines.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                lines.append("，".join(dict.fromkeys(cells)))
    return "\n".join(lines)


def read_report_bytes(name: str, raw: bytes) -> ReportFile:
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise BadInput("report.type", name=name, suffix=suffix or "—")
    if len(raw) > MAX_BYTES:
        raise TooLarge("report.too_large", name=name, limit=MAX_BYTES // (1024 * 1024))
    file_format = FORMATS[suffix]
    text = docx_text(raw, name) if file_format == "docx" else decode_text(raw, name)
    if len(text) > TEXT_MAX_CHARS:
        raise _too_big(name, f"文字超过 {TEXT_MAX_CHARS:,} 字", f"more than {TEXT_MAX_CHARS:,} characters")
    if text.count("\n") >= TEXT_MAX_LINES:
        raise _too_big(name, f"超过 {TEXT_MAX_LINES:,} 行", f"more than {TEXT_MAX_LINES:,} lines")
    if not text.strip():
        raise BadInput("report.empty", name=name)
    return ReportFile(name=Path(name).name, file_format=file_format, content=raw, text=text)


def read_report(path: Path) -> ReportFile:
    """A report file; a missing, unsupported, unreadable or empty file is bad input."""
    path = Path(path)
    if not path.is_file():
        raise BadInput("file.missing", name=str(path), option="--report")
    return read_report_bytes(path.name, path.read_bytes())


def check_file(path: Path) -> ReportCheck:
    """`shuzhi report check FILE`."""
    return check_report(read_report(path).text)


def _report_of(fired: FiredEvent) -> ReportFile | None:
    options = fired.options
    if options.get("report") is not None:
        return read_report(Path(options["report"]))
    if options.get("report_text") is not None:  # in-process callers (the demo) hand text directly
        name = str(options.get("report_name") or "report.md")
        return read_report_bytes(name, str(options["report_text"]).encode("utf-8"))
    return None


def _previous_open_items(conn: sa.Connection, cycle: sa.Row[Any]) -> list[sa.Row[Any]]:
    """Unfinished rectification items of the same secretary's cycle last year."""
    previous = sa.select(cycles.c.id).where(
        cycles.c.year == cycle.year - 1, cycles.c.org_id == cycle.org_id, cycles.c.kind == cycle.kind
    ).scalar_subquery()
    return list(conn.execute(
        sa.select(rectification_items)
        .where(rectification_items.c.cycle_id == previous, rectification_items.c.status == "open")
        .order_by(rectification_items.c.id)
    ))


def carry_open_items(conn: sa.Connection, cycle: sa.Row[Any], *, at: Any, by: str) -> list[dict[str, Any]]:
    """Copy last year's unfinished items into this cycle (once) and return them: the report must answer them."""
    carried = []
    already = set(conn.execute(
        sa.select(rectification_items.c.carried_from_id).where(rectification_items.c.cycle_id == cycle.id)
    ).scalars())
    for item in _previous_open_items(conn, cycle):
        if item.id not in already:
            conn.execute(rectification_items.insert().values(
                cycle_id=cycle.id, problem=item.problem, measure=item.measure, responsible=item.responsible,
                due=cycle.commitment_due, status="open", carried_from_id=item.id, created_at=to_db_time(at), created_by=by,
            ))
        carried.append({"id": item.id, "problem": item.problem, "measure": item.measure, "due": item.due.isoformat()})
    return carried


ATTACHED = "attached"  # the event column of a version uploaded but not yet submitted
ATTACH_STATES = ("researching", "drafting", "revising")


def _findings_of(conn: sa.Connection, cycle: Any, report: ReportFile) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """The checker's findings, with a reminder of last year's open items (read only: nothing is carried here)."""
    result = check_report(report.text)
    findings = result.details()
    open_items = [{"id": i.id, "problem": i.problem, "measure": i.measure, "due": i.due.isoformat()}
                  for i in _previous_open_items(conn, cycle)]
    if open_items:
        findings["findings"] = [*findings["findings"],
                                f"上年整改事项{len(open_items)}项尚未完成，本报告须逐项说明整改情况"]
    return findings, result.suggestion, open_items


def _latest_version(conn: sa.Connection, cycle_id: int) -> Any:
    return conn.execute(
        sa.select(report_versions.c.id, report_versions.c.version, report_versions.c.event, report_versions.c.return_event)
        .where(report_versions.c.cycle_id == cycle_id).order_by(report_versions.c.version.desc()).limit(1)
    ).first()


def _write_version(conn: sa.Connection, cycle: Any, report: ReportFile, *, event: str, at: Any, by: str) -> int:
    """A new version, or the unsubmitted attached one replaced (a secretary may upload again before submitting)."""
    findings, suggestion, open_items = _findings_of(conn, cycle, report)
    values = dict(event=event, file_name=report.name, file_format=report.file_format, content=report.content,
                  text=report.text, sha256=report.sha256, findings=findings, suggestion=suggestion,
                  open_items=open_items, submitted_at=to_db_time(at), submitted_by=by)
    latest = _latest_version(conn, cycle.id)
    if latest is not None and latest.event == ATTACHED:
        conn.execute(report_versions.update().where(report_versions.c.id == latest.id).values(**values))
        return int(latest.version)
    version = (latest.version if latest is not None else 0) + 1
    conn.execute(report_versions.insert().values(cycle_id=cycle.id, version=version, **values))
    return int(version)


def store_submitted_report(conn: sa.Connection, fired: FiredEvent, cycle: sa.Row[Any]) -> None:
    """Hook on submit/resubmit (issue 9, rule 1): a report version must have been attached since the last return —
    handed with the event (`--report`) or uploaded before (`attach_report`); otherwise the event is refused."""
    report = _report_of(fired)
    if report is not None:
        _write_version(conn, cycle, report, event=fired.event, at=fired.at, by=fired.by)
    else:
        latest = _latest_version(conn, cycle.id)
        if latest is None or latest.event != ATTACHED or latest.return_event is not None:
            what = "重新报送" if fired.event == "resubmit" else "报送"
            since = "自上次退回以来" if fired.event == "resubmit" else ""
            raise Refused("report.not_uploaded", org=fired.org_code, since=since, what=what,
                          since_en=" since the last return" if since else "", what_en=fired.event)
        conn.execute(report_versions.update().where(report_versions.c.id == latest.id).values(
            event=fired.event, submitted_at=to_db_time(fired.at), submitted_by=fired.by))
    carry_open_items(conn, cycle, at=fired.at, by=fired.by)


def attach_report(
    db: Database, *, year: int, org: str, name: str, raw: bytes, now: Any, kind: str = "upward",
    actor: Any = None, by: str | None = None,
) -> dict[str, Any]:
    """Upload a report before submitting it: checked, stored as the cycle's unsubmitted version (replacing an earlier
    unsubmitted upload), returned with its findings. Submitting or resubmitting then uses it."""
    report = read_report_bytes(name, raw)
    with db.begin() as conn:
        cycle = find_cycle(conn, year=year, org=org, kind=kind)
        if actor is not None:
            from services.permissions import check_fire

            check_fire(conn, actor, cycle, "resubmit" if cycle.state == "revising" else "submit")  # type: ignore[arg-type]
        if cycle.state not in ATTACH_STATES:
            from states.machine import STATE_LABELS

            raise Refused("report.attach_state", org=org, state=cycle.state,
                          state_label=STATE_LABELS.get(cycle.state, cycle.state))
        version = _write_version(conn, cycle, report, event=ATTACHED, at=now, by=str(by or getattr(actor, "name", "cli")))
        row = conn.execute(sa.select(report_versions).where(
            report_versions.c.cycle_id == cycle.id, report_versions.c.version == version)).one()
        return {"year": year, "org": org, "kind": kind, **_version_dict(row)}


def record_return(conn: sa.Connection, fired: FiredEvent, cycle: sa.Row[Any]) -> None:
    """Hook on revise/rewrite: the reason goes with the version returned (fire_event counts the return)."""
    latest = conn.execute(
        sa.select(sa.func.max(report_versions.c.version)).where(report_versions.c.cycle_id == cycle.id)
    ).scalar()
    if latest is None:
        return
    conn.execute(
        report_versions.update()
        .where(report_versions.c.cycle_id == cycle.id, report_versions.c.version == latest)
        .values(return_event=fired.event, return_note=fired.note, returned_at=to_db_time(fired.at), returned_by=fired.by)
    )


def _version_dict(r: sa.Row[Any], *, with_text: bool = False) -> dict[str, Any]:
    submitted = from_db_time(r.submitted_at)
    returned = from_db_time(r.returned_at)
    data = {
        "version": r.version,
        "event": r.event,
        "file": r.file_name,
        "format": r.file_format,
        "sha256": r.sha256,
        "submitted_at": submitted.isoformat(timespec="seconds") if submitted else None,
        "submitted_by": r.submitted_by,
        "suggestion": r.suggestion,
        "findings": r.findings.get("findings", []),
        "check": r.findings,
        "open_items": r.open_items,
        "returned": r.return_event,
        "return_note": r.return_note,
        "returned_at": returned.isoformat(timespec="seconds") if returned else None,
    }
    if with_text:
        data["text"] = r.text
    return data


def list_versions(db: Database, *, year: int, org: str, kind: str = "upward") -> list[dict[str, Any]]:
    with db.connect() as conn:
        return versions_of(conn, find_cycle(conn, year=year, org=org, kind=kind).id)


_VERSIONS_OF = (sa.select(report_versions).where(report_versions.c.cycle_id == sa.bindparam("cycle_id"))
                .order_by(report_versions.c.version))


def versions_of(conn: sa.Connection, cycle_id: int) -> list[dict[str, Any]]:
    """Every report version of one cycle, oldest first, with the checker's findings (no text)."""
    return [_version_dict(r) for r in conn.execute(_VERSIONS_OF, {"cycle_id": cycle_id})]


def get_version(db: Database, *, year: int, org: str, kind: str = "upward", version: int | None = None) -> dict[str, Any]:
    """One version with its text (the latest by default)."""
    with db.connect() as conn:
        cycle_id = find_cycle(conn, year=year, org=org, kind=kind).id
        query = sa.select(report_versions).where(report_versions.c.cycle_id == cycle_id)
        query = query.where(report_versions.c.version == version) if version else query.order_by(report_versions.c.version.desc())
        row = conn.execute(query.limit(1)).first()
        if row is None:
            raise NotFound("report.none", org=org, year=year, version_zh=f"（第 {version} 版）" if version else "",
                           version_en=f" with version {version}" if version else "")
        return _version_dict(row, with_text=True)


def sample_report(name: str) -> str:
    """A sample report shipped with the package (good, achievements_only, no_problems): the demo uses them."""
    path = Path(__file__).parent / "samples" / f"{name}.md"
    if not path.is_file():
        raise NotFound("report.no_sample", name=name)
    return path.read_text(encoding="utf-8")
