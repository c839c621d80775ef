"""Issue 10 M5: a .docx zip bomb is refused before it is parsed, by `report check` and `cycles fire submit --report`."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from services import reports
from services.errors import BadInput
from services.reports import read_report_bytes
from tests.review.conftest import REPORTS

PARAGRAPH = b"<w:p><w:r><w:t>x</w:t></w:r></w:p>"


def _docx_with(paragraphs: bytes, *, extra_parts: int = 0) -> bytes:
    """good.docx with `paragraphs` inserted at the top of its body (so a real, otherwise valid document)."""
    source = zipfile.ZipFile(REPORTS / "good.docx")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename == "word/document.xml":
                at = data.index(b"<w:body>") + len(b"<w:body>")
                data = data[:at] + paragraphs + data[at:]
            out.writestr(entry.filename, data)
        for n in range(extra_parts):
            out.writestr(f"padding/part{n}.xml", b"<a/>")
    return buffer.getvalue()


def test_M5_docx_bomb_huge_document_xml_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _docx_with(PARAGRAPH * 1_200_000)  # ~42 MB of XML in a file of about 150 KB
    assert len(bomb) < 400_000

    def never(*_: object, **__: object) -> None:  # pragma: no cover - reaching it is the failure
        raise AssertionError("python-docx was asked to parse a bomb")

    monkeypatch.setattr("docx.Document", never)
    with pytest.raises(BadInput) as refused:
        read_report_bytes("bomb.docx", bomb)
    assert "拒绝读取" in refused.value.message and "bomb.docx" in refused.value.message


def test_M5_docx_with_too_many_paragraphs_or_parts_is_refused() -> None:
    many = _docx_with(PARAGRAPH * (reports.DOCX_MAX_PARAGRAPHS + 1))  # under the size cap, over the paragraph cap
    with pytest.raises(BadInput, match="段落超过"):
        read_report_bytes("many.docx", many)
    parts = _docx_with(b"", extra_parts=reports.DOCX_MAX_PARTS)
    with pytest.raises(BadInput, match="部件"):
        read_report_bytes("parts.docx", parts)
    # just under the paragraph cap still reads
    assert read_report_bytes("ok.docx", _docx_with(PARAGRAPH * 100)).text


def test_M5_docx_whose_header_lies_about_its_size_is_refused() -> None:
    bomb = bytearray(_docx_with(PARAGRAPH * 1_200_000))
    # declare document.xml as 1,000 bytes in the central directory (offset 24 of its PK\\x01\\x02 record)
    name = b"word/document.xml"
    at = bomb.index(b"PK\x01\x02")
    while bomb[at + 46: at + 46 + len(name)] != name:
        at = bomb.index(b"PK\x01\x02", at + 4)
    bomb[at + 24: at + 28] = (1000).to_bytes(4, "little")
    assert zipfile.ZipFile(io.BytesIO(bytes(bomb))).getinfo("word/document.xml").file_size == 1000
    with pytest.raises(BadInput, match="无法作为"):
        read_report_bytes("liar.docx", bytes(bomb))


def test_M5_text_reports_are_capped_too() -> None:
    with pytest.raises(BadInput, match="字"):
        read_report_bytes("long.txt", ("一" * 80 + "\n").encode() * (reports.TEXT_MAX_CHARS // 80 + 1))
    with pytest.raises(BadInput, match="行"):
        read_report_bytes("lines.txt", "一\n".encode() * (reports.TEXT_MAX_LINES + 1))
    with pytest.raises(BadInput, match="不是有效的 Word"):
        read_report_bytes("fake.docx", b"PK\x03\x04 not a zip")


def test_M5_cli_refuses_the_bomb_with_exit_2(cli, orgs_csv: Path, plan_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bomb = tmp_path / "bomb.docx"
    bomb.write_bytes(_docx_with(PARAGRAPH * 1_200_000))
    code, _, err = cli("report", "check", str(bomb))
    assert code == 2 and "拒绝读取" in err and "Traceback" not in err
    assert cli("init")[0] == 0
    assert cli("orgs", "import", str(orgs_csv))[0] == 0
    assert cli("year", "start", "2014", "--plan", str(plan_file))[0] == 0
    assert cli("--now", "2014-12-26T09:00", "cycles", "fire", "--year", "2014", "V001", "finish_research")[0] == 0
    code, _, err = cli("--now", "2014-12-26T09:00", "cycles", "fire", "--year", "2014", "V001", "submit",
                       "--report", str(bomb))
    assert code == 2 and "拒绝读取" in err
    code, out, _ = cli("--json", "report", "versions", "--year", "2014", "V001")
    assert code == 0 and out.strip() == "[]"  # nothing stored: the submission did not happen


def test_a_refused_report_reads_in_chinese_and_in_english() -> None:
    with pytest.raises(BadInput) as fake:
        read_report_bytes("fake.docx", b"not a zip")
    assert str(fake.value) == "fake.docx：无法作为 .docx 读取（不是有效的 Word 文件）"
    assert fake.value.render("en") == "fake.docx: cannot read as .docx (not a Word file)"
    with pytest.raises(BadInput) as long:
        read_report_bytes("long.txt", "一行\n".encode() * (reports.TEXT_MAX_LINES + 1))
    assert "拒绝读取" in str(long.value) and long.value.render("en").startswith("long.txt: more than ")
