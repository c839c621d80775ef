"""The checker against a strict reviewer on our corpus (issue 13): agreement per field, pinned; no crash on any input."""

from __future__ import annotations

import io
import json
import re
import string
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.errors import BadInput
from services.reports import read_report, read_report_bytes
from states.report_check import check_report, named_examples
from states.report_text import parse_outline
from tests.fixtures.reports.corpus import agreement, make_corpus

CORPUS = agreement.corpus()


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 30
    assert {v["level"] for _, v in CORPUS} == {"village", "community", "town", "city_unit", "city"}
    assert {v["format"] for _, v in CORPUS} == {"md", "txt", "wrapped", "docx"}
    assert {v["suggestion"] for _, v in CORPUS} == {"approve", "revise", "rewrite"}


def test_corpus_files_match_their_sources() -> None:
    """The committed reports are what make_corpus.py builds from the tagged sources (text compared)."""
    for source in sorted((make_corpus.HERE / "src").glob("*.txt")):
        _meta, lines = make_corpus.parse(source.read_text(encoding="utf-8"))
        report = next(p for p in make_corpus.HERE.glob(source.stem + ".*") if p.suffix in (".md", ".txt", ".docx"))
        text = read_report(report).text
        for _, line in lines:
            assert re.sub(r"\s+", "", line) in re.sub(r"[\s#]+", "", text), (report.name, line[:20])


def test_agreement_with_the_reviewer_is_pinned() -> None:
    found = agreement.measure()
    rates = {name: found.rate(name) for name in agreement.FIELDS}
    print("\n" + found.table())
    # issue 13's bar
    assert rates["areas"] >= 0.95, found.misses
    assert rates["suggestion"] >= 0.90, found.misses
    assert rates["share"] >= 0.90, found.misses
    # what v2 reaches on this corpus (v1: problems 47 %, examples 53 %, causes 94 %, subjective 85 %)
    assert rates["problems"] >= 0.90 and rates["examples"] >= 0.90, found.misses
    assert rates["causes"] >= 0.95 and rates["subjective"] >= 0.95 and rates["specific"] >= 0.95, found.misses


@pytest.mark.parametrize(("path", "verdict"), CORPUS, ids=[p.name for p, _ in CORPUS])
def test_every_finding_says_why(path, verdict) -> None:  # type: ignore[no-untyped-def]
    result = check_report(read_report(path).text)
    assert result.as_dict().keys() == {"areas", "achievements_share", "problems", "causes_analysed", "measures",
                                       "figures", "findings", "suggestion"}
    assert all(p.reason for p in result.paragraphs)
    assert set(result.area_hits) == set(result.areas)
    for key, covered in result.areas.items():
        assert bool(result.area_hits[key]) or not covered


def test_issue_patterns() -> None:
    # examples after 的/和/、/针对, without 党 after them; no false hits on slogans, 两委 or the byline
    assert named_examples("针对软弱涣散的东岗村和西岗村，调整了书记。") == ["东岗村", "西岗村"]
    assert named_examples("针对软弱涣散的刘家湾和中庄村，我从涧田乡调至芙蓉镇工作。") == ["刘家湾村", "中庄村", "涧田乡", "芙蓉镇"]
    assert named_examples("后进村柳树村、杨家湾村均实现整改目标。") == ["柳树村", "杨家湾村"]
    assert named_examples("推行党建强村、文化治村、平安护村。我们村两委换届，无“空白村”。") == []
    # the same keyword twice counts; real phrasings of areas 1, 3, 5
    base = "一、存在的问题\n一是党员老化，45名党员中60岁以上28名。\n二、下步措施\n一是年内发展党员2名，由书记负责。\n"
    areas = check_report("一、履职情况\n坚持书记抓、抓书记。下沉社区看望困难群众。落实工作经费。\n" + base).areas
    assert areas["1"] and areas["3"] and areas["5"]
    # a lead-in is not a problem; 不好/不实/不均衡 are; one 一是 per paragraph is an item
    text = ("一、存在的问题\n还存在一些不足，主要表现在：\n一是培训效果不好，3期都是听讲座。\n二是监督不实，小李庄村一年只开一次会。\n"
            "三是发展不均衡，4个村收入不足5万元。\n二、下步打算\n一是明年3月前改为现场教学。")
    assert check_report(text).problems == 3
    # cause block read whole; 产生以上问题的原因 is a cause, not a problem; 我县 is not the writer
    causes = check_report("一、存在的问题\n一是经费少，只有3万元。\n产生以上问题的原因主要有：对年轻党员，我没有进行认真分析。\n"
                          "二、措施\n一是年内增加到5万元。")
    assert causes.problems == 1 and causes.causes_analysed and causes.subjective_causes
    objective = check_report("一、存在的问题\n一是经费少，只有3万元。\n二、原因\n一是因为我县财力有限，投入不足；二是人才外流。\n"
                             "三、措施\n一是年内增加到5万元。")
    assert objective.causes_analysed and not objective.subjective_causes
    # 树牢第一责任人意识 is not a specific measure; slogans are not figures
    generic = check_report("一、下步打算\n一是树牢第一责任人意识，进一步加强理论学习。\n二是持续改进作风。")
    assert generic.measures == 2 and generic.specific_measures == 0
    assert check_report("落实八项规定，坚持三个坚持，推行四项制度，抓好三会一课。").figures == 0


def test_hard_wrapped_text_is_rejoined() -> None:
    paragraph = "一年来，我认真履行第一责任人职责，全年主持支委会专题研究党建工作6次，年底3项承诺全部兑现，群众满意。" * 3
    wrapped = "\n".join(paragraph[i:i + 30] for i in range(0, len(paragraph), 30))
    outline = parse_outline("某村述职报告\n一、履职情况\n" + wrapped + "\n二、存在的问题\n一是党员老化。")
    assert [u.text for u in outline.units if not u.numbered] == [paragraph, "一是党员老化。"]


TEXT = st.text(alphabet=st.sampled_from(list("一二三是、，。；：（）()1234567890#\n\u3000 　村社区问题原因措施下一步今年成绩主观我不足"
                                               + string.ascii_letters)), max_size=600)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_no_crash_on_any_input(text: str) -> None:
    result = check_report(text)
    assert result.suggestion in ("approve", "revise", "rewrite")
    assert 0.0 <= result.achievements_share <= 1.0
    result.explain()


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=400))
def test_no_crash_on_any_unicode(text: str) -> None:
    assert check_report(text).suggestion in ("approve", "revise", "rewrite")


def test_report_check_explain_cli(cli) -> None:  # type: ignore[no-untyped-def]
    path = str(agreement.HERE / "04_village_shiqiao_toc.txt")
    code, out, err = cli("report", "check", "--explain", path)
    assert code == 0, err
    assert "逐段说明" in out and "略去 目录" in out and "[其他] 石桥村地处山区" in out
    assert "不计入任何部分" in out and "[原因] 这些问题的产生" in out and "导语或概述，不计条数" in out
    code, out, err = cli("--json", "report", "check", "--explain", path)
    data = json.loads(out)
    assert {"paragraphs", "set_aside", "area_hits", "example_names", "subjective_evidence"} <= set(data)
    assert data["paragraphs"][0]["category"] is None and data["suggestion"] == "revise"
    # --json without --explain stays exactly the contract
    code, out, _ = cli("--json", "report", "check", path)
    assert list(json.loads(out)) == ["areas", "achievements_share", "problems", "causes_analysed", "measures",
                                     "figures", "findings", "suggestion"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["r.docx", "r.md", "r.txt"]), st.binary(max_size=2000))
def test_reader_refuses_or_reads_any_bytes(name: str, raw: bytes) -> None:
    """Issue 10's fuzz for the report importer: bad input is BadInput (exit 2), never another exception."""
    try:
        read_report_bytes(name, raw)
    except BadInput:
        pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000))
def test_reader_on_a_zip_holding_any_document_xml(xml: bytes) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("word/document.xml", xml)
    try:
        read_report_bytes("r.docx", buffer.getvalue())
    except BadInput:
        pass


def test_markdown_emphasis_and_a_wall_of_text() -> None:
    bold = check_report("附件2\n\n**某村党支部书记述职报告**\n\n**一、主要工作**\n\n今年以来研究党建4次。\n\n**二、存在的问题**\n\n"
                        "一是党员老化，60岁以上15名。\n\n**三、下步打算**\n\n一是年内发展党员2名。")
    assert bold.title == "某村党支部书记述职报告" and bold.headings == 3 and bold.problems == 1 and bold.measures == 1
    wall = check_report("今年以来研究党建4次，发展党员2名，村两委换届顺利完成，为群众代办事项50件，落实工作经费3万元，坚持三会一课。"
                        "但也存在一些问题：一是党员老化，60岁以上15名；二是经费不足，只有3万元。原因是我本人重视不够，抓得不实。"
                        "下一步，一是年内发展党员2名；二是争取经费5万元，由我负责。")
    assert [p.label for p in wall.paragraphs] == ["成绩", "问题", "原因", "措施"]
    assert wall.problems == 2 and wall.measures == 2 and wall.subjective_causes
