"""The automatic pre-review (R14/R15) on the sample reports: what a reviewer would conclude by reading them."""

from __future__ import annotations

import json

import pytest

from services.reports import check_file, read_report
from states.report_check import check_report
from states.report_text import parse_outline
from tests.review.conftest import REPORTS

CONTRACT_KEYS = {"areas", "achievements_share", "problems", "causes_analysed", "measures", "figures", "findings",
                 "suggestion"}


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("good.md", "approve"),
        ("good.docx", "approve"),
        ("numbered_headings.txt", "approve"),
        ("no_headings.txt", "approve"),
        ("achievements_only.md", "rewrite"),
        ("no_problems.txt", "revise"),
        ("missing_areas.md", "revise"),
        ("empty_measures.md", "revise"),
    ],
)
def test_suggestion_on_sample_reports(name: str, suggestion: str) -> None:
    result = check_file(REPORTS / name)
    assert result.suggestion == suggestion, result.findings
    data = result.as_dict()
    assert set(data) == CONTRACT_KEYS and set(data["areas"]) == {"1", "2", "3", "4", "5", "6"}
    json.dumps(data)


def test_good_report_counts() -> None:
    result = check_file(REPORTS / "good.md")
    assert all(result.areas.values())
    assert result.achievements_share <= 0.36
    assert result.problems == 4 and result.measures == 4 and result.specific_measures == 4
    assert result.causes_analysed and result.subjective_causes
    assert result.figures >= 20
    assert check_file(REPORTS / "good.docx").as_dict() == result.as_dict()


def test_achievements_only_is_rewritten_with_reasons() -> None:
    result = check_file(REPORTS / "achievements_only.md")
    assert result.problems == 0 and result.measures == 0 and not result.causes_analysed
    assert result.achievements_share > 0.9
    assert "只讲成绩、不讲问题：未查找出具体问题" in result.findings
    assert any("超过三分之一" in f for f in result.findings)


def test_no_problems_is_not_approved() -> None:
    result = check_file(REPORTS / "no_problems.txt")
    assert result.problems == 0 and result.measures == 3
    assert result.areas["6"] is False


def test_missing_areas_are_named() -> None:
    result = check_file(REPORTS / "missing_areas.md")
    assert [k for k, v in result.areas.items() if not v] == ["2", "3", "5"]
    assert "未涉及重点内容第3项：基层服务型党组织和服务中心建设" in result.findings


def test_empty_measures_are_called_empty() -> None:
    result = check_file(REPORTS / "empty_measures.md")
    assert result.measures == 3 and result.specific_measures == 0
    assert any("空洞无物" in f for f in result.findings)


def test_objective_causes_only() -> None:
    text = (REPORTS / "good.md").read_text(encoding="utf-8")
    start = text.index("究其原因")
    end = text.index("四、下步打算")
    objective = text[:start] + "究其原因，主要是客观因素：村干部报酬偏低，年轻人外出务工多，后备干部选拔面窄，经费不足。\n\n" + text[end:]
    objective = objective.replace("四是我本人抓党建的精力投入不足，全年到村专题调研党建工作仅6次，研究部署多、督促检查少。", "")
    result = check_report(objective)
    assert result.causes_analysed and not result.subjective_causes
    assert "原因分析只讲客观、不讲主观：未把自己摆进去" in result.findings
    assert result.suggestion == "revise"


def test_achievements_over_a_third_is_never_approved() -> None:
    text = (REPORTS / "good.md").read_text(encoding="utf-8")
    padded = text.replace("二、存在的问题", "（六）其他工作。今年以来全镇各项工作取得明显成效，完成了各项任务，实现了全面提升，得到好评。"
                          "一年来开展了大量工作，成效显著，全面完成年度目标任务，群众满意度明显提高。\n\n二、存在的问题")
    result = check_report(padded)
    assert result.achievements_share > 0.36
    assert result.suggestion != "approve"


def test_heading_styles_are_recognised() -> None:
    outline = parse_outline("报告\n一、主要做法\n（一）强化责任。今年研究4次。\n1.建立台账。共3本。\n(1)每月通报\n①按季督查\n## 小结\n正文")
    assert outline.headings == ["主要做法", "强化责任", "建立台账", "每月通报", "按季督查", "小结"]
    assert outline.units[0].container is True
    assert outline.units[1].text == "强化责任。今年研究4次。"


def test_too_short_is_rewritten() -> None:
    assert check_report("一、成绩\n今年工作很好。").suggestion == "rewrite"


def test_docx_text_keeps_headings() -> None:
    text = read_report(REPORTS / "good.docx").text
    assert "# 存在的问题" in text and "一是部分村党组织书记能力不强" in text
