"""Automatic pre-review of a secretary's report (R14, R15): what it covers and lacks, and a suggestion; pure.

The rules are explained in docs/report-check.md. The checker reads structure where there is one (headings
in the 一、（一）1.（1） styles or Markdown) and classifies paragraphs by cue words where there is not.
The decision stays the reviewer's: the result is a suggestion with findings a reviewer reads in Chinese.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from states.report_text import Unit, parse_outline, sentences, visible_length

ACHIEVEMENTS = "achievements"
PROBLEMS = "problems"
CAUSES = "causes"
MEASURES = "measures"
CATEGORIES = (ACHIEVEMENTS, PROBLEMS, CAUSES, MEASURES)

# About one third at most (plan 二(三)2(1)): we allow a little over it before objecting.
ACHIEVEMENTS_LIMIT = 0.36
MIN_LENGTH = 300  # characters: shorter is not a report
MIN_FIGURES = 3

# R15: the six key areas, each a set of keywords from the plan's wording (二(二)1–6).
AREAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "1": ("履行第一责任人职责和年初公开承诺", (
        "第一责任人", "主体责任", "公开承诺", "年初承诺", "研究部署", "三级联动", "党建工作责任制", "责任清单",
        "专题研究", "教育实践活动", "书记抓党建", "抓基层党建", "亲自抓",
    )),
    "2": ("整顿软弱涣散、换届、四议两公开、村务监督、查处不正之风", (
        "软弱涣散", "换届", "两委", "四议两公开", "村务监督", "不正之风", "违法违纪", "带头人", "民主管理",
        "村务公开", "后进", "整顿",
    )),
    "3": ("基层服务型党组织和服务中心建设", (
        "服务型", "服务中心", "便民服务", "百步亭", "在职党员", "到社区报到", "驻村", "联户", "结对帮扶",
        "服务群众", "岗位在村", "为民服务", "代办", "服务站",
    )),
    "4": ("党员教育管理、发展党员、处置不合格党员", (
        "党员教育", "组织生活", "三会一课", "发展党员", "不合格党员", "先锋模范", "党员管理", "流动党员",
        "民主评议党员", "党员队伍", "入党积极分子", "主题党日",
    )),
    "5": ("经费、力量、报酬待遇和活动场所保障", (
        "经费", "报酬", "待遇", "活动场所", "阵地", "投入", "保障", "工作力量", "配齐", "专职", "补贴",
        "办公场所", "场所建设",
    )),
    "6": ("主要问题和下步思路措施", ()),  # covered when the report names problems and measures
}

# Cue words: heading titles.
TITLE_CUES: dict[str, tuple[str, ...]] = {
    ACHIEVEMENTS: ("成绩", "成效", "做法", "主要工作", "工作开展", "履职情况", "工作情况", "基本情况", "取得",
                   "亮点", "经验", "开展情况", "落实情况", "职责情况", "履职", "履行"),
    PROBLEMS: ("问题", "不足", "差距", "短板"),
    CAUSES: ("原因",),
    MEASURES: ("措施", "下步", "下一步", "今后", "打算", "思路", "努力方向", "整改", "计划", "重点工作"),
}
# Cue words: a paragraph's opening words decide it; otherwise the weighted count of these in its text.
LEAD_CUES: dict[str, tuple[str, ...]] = {
    ACHIEVEMENTS: ("今年以来", "一年来", "全年", "过去一年"),
    CAUSES: ("究其原因", "分析原因", "原因", "从主观", "主观上", "客观上", "产生这些问题", "之所以"),
    PROBLEMS: ("存在", "问题", "不足", "但也", "但是", "但对照", "对照", "差距", "一些问题", "同时也"),
    MEASURES: ("下一步", "下步", "今后", "明年", "新的一年", "针对", "整改", "措施"),
}
BODY_CUES: dict[str, tuple[tuple[str, float], ...]] = {
    ACHIEVEMENTS: tuple((w, 1.0) for w in (
        "成绩", "成效", "取得", "实现了", "完成了", "提升", "提高了", "建成", "新建", "累计", "共计", "开展了",
        "落实了", "荣获", "显著", "明显", "推动了", "增强了", "强化了", "一年来", "今年以来", "全面", "率先",
        "覆盖", "达到", "好评", "进行了", "完成", "建成", "开展", "组织", "指导", "兑现")),
    PROBLEMS: tuple((w, 1.5) for w in (
        "问题", "不足", "差距", "薄弱", "不够", "不到位", "滞后", "欠缺", "短板", "不强", "不高", "不平衡",
        "尚未", "偏弱", "较弱", "不规范", "流于形式", "偏大", "老化", "不严", "不力", "缺乏", "没有")),
    CAUSES: tuple((w, 3.0) for w in ("原因", "根源", "究其", "主观", "客观", "根本在于", "归根", "之所以")),
    MEASURES: tuple((w, 2.0) for w in (
        "措施", "下一步", "下步", "今后", "明年", "力争", "确保", "着力", "计划", "打算", "拟", "将进一步",
        "努力方向", "整改", "思路")),
}
ENUMERATORS = re.compile(r"(?:^|[，。；：:,;\s])(?:[一二三四五六七八九十]是|首先|其次|再次|最后)")
INLINE_NUMBERS = re.compile(r"(?:^|[，。；：:,;\s])(?:[（(]\d{1,2}[）)]|\d{1,2}[、．]|[①②③④⑤⑥⑦⑧⑨⑩])")
SUBJECTIVE = re.compile(
    r"主观|思想认识|本人|我本人|自身|个人|(?:我|自己)[^。；]{0,12}(?:不够|不足|不深|不多|不紧|不严|不力|放松|缺乏|欠缺)"
)
UNITS = ("%", "％", "‰", "个", "名", "人", "次", "万元", "亿元", "元", "万", "户", "处", "项", "场", "期", "篇", "条",
         "家", "所", "平方米", "㎡", "米", "公里", "亩", "天", "小时", "课时", "批", "支", "份", "件", "套", "台",
         "村", "组", "轮", "倍", "余", "多", "人次", "分")
_UNIT_ALT = "|".join(sorted((re.escape(u) for u in UNITS), key=len, reverse=True))
FIGURE_ARABIC = re.compile(rf"\d+(?:\.\d+)?\s*(?:{_UNIT_ALT})")
_CN_COUNT = r"(?:[二三四五六七八九十百千两][一二三四五六七八九十百千万]*|一[十百千万][一二三四五六七八九十百千万]*)"
FIGURE_CHINESE = re.compile(rf"(?<![一二三四五六七八九十百千万两第]){_CN_COUNT}(?:个|名|户|项|场|期|家|所|批|村|人次|余)")
EXAMPLE_CUES = re.compile(r"例如|比如|譬如|以[^，。；]{1,16}为例|如[^，。；何果今此期实同下上前]{1,10}(?:村|社区|镇|街道|公司|厂)")
# a named village or community: "西村党支部", "东湖社区，" — after punctuation or 如/像/其中, not 各村/到村/全镇村
NAMED_PLACE = re.compile(
    r"(?:(?<=[，。；：、“（\s])|(?<=如)|(?<=像)|(?<=其中)|^)"
    r"([^全各每本该部到驻在包至等和由从、，。\s\d][\u4e00-\u9fa5]{0,2}(?:村|社区|车间))(?=党|两委|[，。；、”）])"
)
SPECIFIC_MEASURE = re.compile(
    r"\d|[一二三四五六七八九十两]个|月底|年底|年内|季度|月前|日前|前完成|之前|限期|负责|牵头|责任人|包保|每月|每季|每年|每周|建立|制定"
)
GENERIC_ONLY = re.compile(r"^(?:[^，。；]*?)(?:进一步|切实|不断|努力|继续|持续)(?:加强|提高|提升|完善|推动|抓好|做好)")


@dataclass
class ReportCheck:
    areas: dict[str, bool]
    achievements_share: float
    problems: int
    causes_analysed: bool
    measures: int
    figures: int
    findings: list[str]
    suggestion: str
    # details a reviewer's screen shows beside the contract fields
    subjective_causes: bool = False
    specific_measures: int = 0
    concrete_problems: int = 0
    examples: int = 0
    length: int = 0
    headings: int = 0
    shares: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The `shuzhi report check --json` document (results.md §1), exactly."""
        return {
            "areas": dict(self.areas),
            "achievements_share": self.achievements_share,
            "problems": self.problems,
            "causes_analysed": self.causes_analysed,
            "measures": self.measures,
            "figures": self.figures,
            "findings": list(self.findings),
            "suggestion": self.suggestion,
        }

    def details(self) -> dict[str, Any]:
        return {
            **self.as_dict(),
            "subjective_causes": self.subjective_causes,
            "specific_measures": self.specific_measures,
            "concrete_problems": self.concrete_problems,
            "examples": self.examples,
            "length": self.length,
            "headings": self.headings,
            "shares": dict(self.shares),
        }


def _title_categories(title: str) -> list[str]:
    found = [(min(title.find(w) for w in words if w in title), category)
             for category, words in TITLE_CUES.items() if any(w in title for w in words)]
    # "存在问题及原因" → problems then causes: order of appearance in the title
    return [category for _, category in sorted(found)]


def _scores(text: str, allowed: tuple[str, ...] = CATEGORIES) -> dict[str, float]:
    return {c: sum(text.count(w) * weight for w, weight in BODY_CUES[c]) for c in allowed}


def classify_paragraph(text: str, allowed: tuple[str, ...] = CATEGORIES, default: str | None = None) -> str | None:
    """The category of a paragraph: its opening words first, then the weighted cue count."""
    opening = text[:12]
    if ACHIEVEMENTS in allowed and re.match(r"^在[^，。]{1,20}方面", text):
        return ACHIEVEMENTS  # "在整顿软弱涣散党组织方面，…": the usual way to open an account of work done
    for category, words in LEAD_CUES.items():
        if category in allowed and any(opening.startswith(w) or w in opening[:8] for w in words):
            return category
    scores = _scores(text, allowed)
    best = max(scores.values(), default=0.0)
    if best <= 0:
        return default
    leaders = [c for c, s in scores.items() if s == best]
    return leaders[0] if len(leaders) == 1 else (default or leaders[0])


def _unit_category(unit: Unit) -> str | None:
    """The nearest heading with cue words decides; a mixed heading narrows what the paragraph may be."""
    for title in reversed(unit.headings):
        categories = _title_categories(title)
        if len(categories) == 1:
            return categories[0]
        if len(categories) > 1:
            return classify_paragraph(unit.text, tuple(categories), default=categories[0])
    return classify_paragraph(unit.text)


def _count_items(units: list[Unit], cue_category: str) -> tuple[int, list[str]]:
    """Enumerated items (numbered lines, 一是/二是…, (1)(2)…) or, lacking those, sentences with cue words."""
    count = 0
    items: list[str] = []
    cue_words = [w for w, _ in BODY_CUES[cue_category]]
    for unit in units:
        if unit.container:
            continue
        body = unit.text
        enumerated = [m.start() for m in ENUMERATORS.finditer(body)] or [m.start() for m in INLINE_NUMBERS.finditer(body)]
        if len(enumerated) >= 2:
            bounds = [*enumerated, len(body)]
            items += [body[a:b] for a, b in itertools.pairwise(bounds)]
            count += len(enumerated)
        elif unit.numbered:
            items.append(body)
            count += 1
        elif cue_category == MEASURES:
            # every sentence of a measures paragraph is a measure, but not its lead-in ("重点抓好以下工作：")
            matched = [s for s in sentences(body) if not re.search(r"(以下|如下)[^。；]{0,8}[：:。]?$", s)]
            items += matched
            count += len(matched)
        else:
            matched = [s for s in sentences(body) if any(w in s for w in cue_words)]
            items += matched
            count += len(matched)
    return count, items


def _figures(text: str) -> int:
    arabic = FIGURE_ARABIC.findall(text)
    chinese = FIGURE_CHINESE.findall(text)
    return len(arabic) + len(chinese)


def _examples(text: str) -> int:
    return len(EXAMPLE_CUES.findall(text)) + len(set(NAMED_PLACE.findall(text)))


def check_report(text: str) -> ReportCheck:
    """Check a report's text against R14/R15; see docs/report-check.md for every rule."""
    outline = parse_outline(text)
    by_category: dict[str, list[Unit]] = {c: [] for c in CATEGORIES}
    total = 0
    lengths = {c: 0 for c in CATEGORIES}
    for unit in outline.units:
        size = visible_length(unit.text)
        if unit.container:
            continue  # a section title alone is not text spent on anything
        total += size
        category = _unit_category(unit)
        if category:
            by_category[category].append(unit)
            lengths[category] += size
    body_text = "\n".join(u.text for u in outline.units)
    heading_text = "\n".join(outline.headings)
    share = round(lengths[ACHIEVEMENTS] / total, 3) if total else 0.0

    problems, problem_items = _count_items(by_category[PROBLEMS], PROBLEMS)
    concrete = sum(1 for item in problem_items if _figures(item) or _examples(item) or re.search(r"\d", item))
    cause_text = "\n".join(u.text for u in by_category[CAUSES])
    # causes are also analysed inside a problems section: "究其原因…", "主观上…"
    cause_text += "\n".join(s for u in by_category[PROBLEMS] for s in sentences(u.text)
                            if any(w in s for w in ("原因", "根源", "究其", "主观", "客观", "根本在于")))
    causes_analysed = visible_length(cause_text) >= 20
    subjective = bool(SUBJECTIVE.search(cause_text))
    measures, measure_items = _count_items(by_category[MEASURES], MEASURES)
    specific = sum(1 for item in measure_items if SPECIFIC_MEASURE.search(item))
    figures = _figures(body_text)
    examples = _examples(body_text)

    areas: dict[str, bool] = {}
    for key, (_, words) in AREAS.items():
        if key == "6":
            areas[key] = problems > 0 and measures > 0
            continue
        hits = {w for w in words if w in body_text}
        areas[key] = len(hits) >= 2 or any(w in heading_text for w in words)

    findings: list[str] = []
    serious = False
    blocking = False
    length = visible_length(text)
    if length < MIN_LENGTH:
        findings.append(f"篇幅过短（{length}字），不成其为述职报告")
        serious = True
    missing = [k for k, covered in areas.items() if not covered]
    for key in missing:
        findings.append(f"未涉及重点内容第{key}项：{AREAS[key][0]}")
    if missing:
        blocking = True
    if len(missing) >= 4:
        serious = True
    if share > ACHIEVEMENTS_LIMIT:
        findings.append(f"写成绩部分约占全文的{round(share * 100)}%，超过三分之一的要求，讲成绩篇幅过长")
        blocking = True
    if problems == 0:
        findings.append("只讲成绩、不讲问题：未查找出具体问题")
        blocking = True
        if measures == 0:
            serious = True  # pure praise: nothing found to fix and nothing planned
    elif concrete == 0:
        findings.append(f"查找问题{problems}条，但均无具体事例或数据，未做到见人见事，大而化之")
        blocking = True
    if problems and not causes_analysed:
        findings.append("未深入分析问题产生的原因")
        blocking = True
    elif causes_analysed and not subjective:
        findings.append("原因分析只讲客观、不讲主观：未把自己摆进去")
        blocking = True
    if measures == 0:
        findings.append("未提出整改措施和下步思路")
        blocking = True
    elif specific == 0:
        findings.append(f"整改措施{measures}条均空洞无物、大而化之：无时限、责任人或量化目标")
        blocking = True
    elif specific < measures / 2:
        findings.append(f"整改措施{measures}条中仅{specific}条有时限、责任或量化目标，针对性和可行性不足")
    if figures < MIN_FIGURES and examples == 0:
        findings.append(f"数据{figures}处、实例{examples}个：未用实例和数据说话，内容偏虚")
        blocking = True
    elif figures < MIN_FIGURES or examples == 0:
        findings.append(f"数据{figures}处、实例{examples}个：提倡多用实例、数据说话")
    suggestion = "rewrite" if serious else "revise" if blocking else "approve"
    if suggestion == "approve":
        findings.insert(0, f"基本符合要求：覆盖六个方面，成绩约占{round(share * 100)}%，查找问题{problems}条、措施{measures}条")
    return ReportCheck(
        areas=areas, achievements_share=share, problems=problems, causes_analysed=causes_analysed, measures=measures,
        figures=figures, findings=findings, suggestion=suggestion, subjective_causes=subjective,
        specific_measures=specific, concrete_problems=concrete, examples=examples, length=length,
        headings=outline.heading_count,
        shares={c: round(lengths[c] / total, 3) if total else 0.0 for c in CATEGORIES},
    )
