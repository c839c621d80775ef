"""Automatic pre-review of a secretary's report (R14, R15): what it covers and lacks, and a suggestion; pure.

Version 2 (issue 13). The rules are explained in docs/report-check.md; every cue word is in the tables at the
top of this module. The text is normalised first (states/report_text.py: wrapped lines rejoined, contents,
title, byline and page numbers set aside, unnumbered headings found by shape); each paragraph is then given a
category with the reason for it (`explain`), items are counted per category, cause blocks are read whole, key
areas are matched by families of phrases, named examples by a detector with a stop-list, figures without
slogans. The decision stays the reviewer's: the result is a suggestion with findings a reviewer reads in Chinese.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from states.report_text import Outline, Unit, parse_outline, sentences, visible_length

ACHIEVEMENTS = "achievements"
PROBLEMS = "problems"
CAUSES = "causes"
MEASURES = "measures"
CATEGORIES = (ACHIEVEMENTS, PROBLEMS, CAUSES, MEASURES)
CATEGORY_LABELS = {ACHIEVEMENTS: "成绩", PROBLEMS: "问题", CAUSES: "原因", MEASURES: "措施", None: "其他"}

# About one third at most (plan 二(三)2(1)): we allow a little over it before objecting.
ACHIEVEMENTS_LIMIT = 0.36
MIN_LENGTH = 300  # characters: shorter is not a report
MIN_FIGURES = 3
AREA_COVERED = 2.0  # weighted phrase hits an area needs (a strong phrase weighs 2, an ordinary one 1)

# ---- cue words: data -------------------------------------------------------------------------------------------

# R15: the six key areas, each a family of phrases from the plan's wording (二(二)1–6) and from real reports.
# (phrase, weight): a strong phrase alone covers the area; ordinary ones need a second hit (repeats count).
AREAS: dict[str, tuple[str, tuple[tuple[str, float], ...]]] = {
    "1": ("履行第一责任人职责和年初公开承诺", (
        ("第一责任人", 2), ("书记抓、抓书记", 2), ("书记抓，抓书记", 2), ("公开承诺", 2), ("年初承诺", 2),
        ("党建工作责任制", 2), ("责任清单", 2), ("主体责任", 1), ("研究部署", 1), ("三级联动", 1),
        ("专题研究", 1), ("研究党建", 1), ("书记抓党建", 1), ("抓基层党建", 1), ("亲自抓", 1), ("责任书", 1),
        ("述职评议", 1), ("承诺", 1), ("研究基层党建", 1), ("带头联系", 1),
    )),
    "2": ("整顿软弱涣散、换届、四议两公开、村务监督、查处不正之风", (
        ("软弱涣散", 2), ("换届", 2), ("四议两公开", 2), ("村务监督", 2), ("居务监督", 2), ("不正之风", 2),
        ("侵害群众利益", 2), ("违法违纪", 1), ("带头人", 1), ("民主管理", 1), ("村务公开", 1), ("居务公开", 1),
        ("后进", 1), ("整顿", 1), ("摘帽", 1),
    )),
    "3": ("基层服务型党组织和服务中心建设", (
        ("服务型", 2), ("服务中心", 2), ("便民服务", 2), ("为群众办理", 2), ("为居民办理", 2), ("代办", 2),
        ("到社区报到", 2), ("下沉社区", 2), ("看望困难群众", 2), ("服务站", 2), ("在职党员", 1), ("驻村", 1),
        ("联户", 1), ("结对帮扶", 1), ("服务群众", 1), ("为民服务", 1), ("岗位在村", 1), ("办理事项", 1),
        ("办理实事", 1), ("志愿服务", 1), ("联系群众", 1), ("结对", 1), ("开展服务", 1),
        ("服务活动", 1), ("为群众", 1),
    )),
    "4": ("党员教育管理、发展党员、处置不合格党员", (
        ("党员教育", 2), ("发展党员", 2), ("不合格党员", 2), ("三会一课", 2), ("集中学习研讨", 2),
        ("党员志愿者", 2), ("主题党日", 2), ("组织生活", 1), ("先锋模范", 1), ("党员管理", 1), ("流动党员", 1),
        ("民主评议党员", 1), ("党员队伍", 1), ("入党积极分子", 1), ("培训党员", 1), ("党员培训", 1),
    )),
    "5": ("经费、力量、报酬待遇和活动场所保障", (
        ("工作经费", 2), ("运转经费", 2), ("办公经费", 2), ("运行经费", 2), ("专项经费", 2), ("党建经费", 2),
        ("活动经费", 2), ("组织建设经费", 2), ("活动场所", 2),
        ("活动室", 2), ("报酬", 2), ("办公场所", 2), ("场所建设", 2), ("阵地建设", 2), ("待遇", 1), ("经费", 1),
        ("阵地", 1), ("工作力量", 1), ("配齐", 1), ("专职", 1), ("补贴", 1),
    )),
    "6": ("主要问题和下步思路措施", ()),  # covered when the report names problems and measures
}

# Heading titles: the category of everything under them.
TITLE_CUES: dict[str, tuple[str, ...]] = {
    ACHIEVEMENTS: ("成绩", "成效", "做法", "主要工作", "工作开展", "履职情况", "工作情况", "基本情况", "取得",
                   "亮点", "经验", "开展情况", "落实情况", "职责情况", "履职", "履行", "抓党建工作情况"),
    PROBLEMS: ("问题", "不足", "差距", "短板", "检视"),
    CAUSES: ("原因", "根源", "剖析"),
    MEASURES: ("措施", "下步", "下一步", "今后", "打算", "思路", "努力方向", "整改", "计划", "重点工作", "施策",
               "展望", "方向"),
}
# A paragraph's first clause (up to the first ，：。) decides it when it holds one of these.
LEAD_CUES: dict[str, re.Pattern[str]] = {
    CAUSES: re.compile(r"原因|根源|根子|究其|主观上|客观上|之所以|说到底|归根|深层次|思想根源|从主观|"
                       r"(?:产生|出现|造成)(?:以上|上述|这些)?(?:问题|不足)|(?:问题|不足)的(?:产生|出现)"),
    MEASURES: re.compile(r"^(?:下一步|下步|今后|明年|新的一年|来年)|下一步|下步工作|努力方向"),
    PROBLEMS: re.compile(r"^(?:但|但是|同时)|存在|不足|差距|问题|短板|对照"),
    ACHIEVEMENTS: re.compile(r"^(?:今年以来|一年来|全年|过去一年|本年度|年初)|^在[^，。]{1,20}(?:方面|中)$"),
}
# In a report without headings, a long paragraph holding several parts is split before a sentence opening one
PART_OPENER = re.compile(
    r"^(?:(?:但|但是|同时|然而|不过)[^，。]{0,10}(?:存在|有)[^，。]{0,8}(?:问题|不足|差距|短板)|(?:还|仍|也)存在)"
    r"|^(?:下一步|下步|今后|明年|新的一年)"
)
RUN_ON = 100  # characters: a paragraph this long may hold more than one part
SOLVING = re.compile(r"针对|解决|围绕|聚焦|化解|整改|破解|排查|梳理")
# The weighted count of these decides a paragraph that neither a heading nor its first clause decides.
BODY_CUES: dict[str, tuple[tuple[str, float], ...]] = {
    ACHIEVEMENTS: tuple((w, 1.0) for w in (
        "成绩", "成效", "取得", "实现了", "完成了", "提升", "提高了", "建成", "新建", "累计", "共计", "开展了",
        "落实了", "荣获", "显著", "明显", "推动了", "增强了", "强化了", "一年来", "今年以来", "全面", "率先",
        "覆盖", "达到", "好评", "进行了", "完成", "开展", "组织", "指导", "兑现", "全年")),
    PROBLEMS: tuple((w, 1.5) for w in (
        "问题", "不足", "差距", "薄弱", "不够", "不到位", "滞后", "欠缺", "短板", "不强", "不高", "不平衡",
        "尚未", "偏弱", "较弱", "不规范", "流于形式", "偏大", "老化", "不严", "不力", "缺乏", "没有", "不好",
        "不实", "不均衡", "不紧", "不全", "不足", "偏少", "偏低", "两张皮", "脱节")),
    CAUSES: tuple((w, 3.0) for w in ("原因", "根源", "究其", "主观", "客观", "根本在于", "归根", "之所以")),
    MEASURES: tuple((w, 2.0) for w in (
        "措施", "下一步", "下步", "今后", "明年", "力争", "确保", "着力", "计划", "打算", "拟", "将进一步",
        "努力方向", "整改", "思路", "年内", "年底前")),
}
PROBLEM_WORDS = tuple(w for w, _ in BODY_CUES[PROBLEMS])
_PROBLEM_WORD = re.compile("|".join(re.escape(w) for w in PROBLEM_WORDS))
# "还存在一些不足，主要表现在：", "对照要求，我还存在一些差距。" — a lead-in or a summary, not a problem
GENERIC_PROBLEM = re.compile(
    r"(?:还|仍|也|依然)?(?:存在|有)(?:着)?(?:一定|一些|不少|某些|许多|以下)?(?:的)?(?:差距|不足|问题|短板)"
    r"|主要表现在|表现在以下|具体表现为|主要有以下"
)
INTRO = re.compile(r"报告如下|汇报如下|述职如下|如下报告|如下汇报|请予审议|请予评议|请审议|以上报告|以上述职")
ENUMERATORS = re.compile(r"(?:^|[，。；：:,;\s])(?:[一二三四五六七八九十]是|第[一二三四五六七八九十]+[，、,]|首先|其次|再次|最后)")
INLINE_NUMBERS = re.compile(r"(?:^|[，。；：:,;\s])(?:[（(]\d{1,2}[）)]|\d{1,2}[、．]|[①②③④⑤⑥⑦⑧⑨⑩])")
LEAD_IN = re.compile(r"(?:以下|如下|几个方面|几点|主要有|表现在|做到)[^。；]{0,8}[：:。]?$")
# subjectivity in a cause block (read whole): the writer's own part
SUBJECTIVE = re.compile(
    r"主观|本人|我自己|自身|个人原因|思想认识|认识不到位|认识不足|认识不够|认识还不|认识不深|畏难|松劲|好人主义|"
    r"经验主义|等靠思想|满足于|重业务、?轻党建|重经营、?轻党建|重使用、?轻培养|"
    r"我(?![县市区镇乡村省局委校院们])[^。；]{0,30}(?:不够|不足|不深|不多|不紧|不严|不力|不实|不细|放松|缺乏|欠缺|"
    r"缺少|没有|不到位|不高|不周)"
)
UNITS = ("%", "％", "‰", "个", "名", "人", "次", "万元", "亿元", "元", "万", "户", "处", "项", "场", "期", "篇", "条",
         "家", "所", "平方米", "㎡", "米", "公里", "亩", "天", "小时", "课时", "批", "支", "份", "件", "套", "台",
         "村", "组", "轮", "倍", "余", "多", "人次", "分")
_UNIT_ALT = "|".join(sorted((re.escape(u) for u in UNITS), key=len, reverse=True))
FIGURE_ARABIC = re.compile(rf"\d+(?:\.\d+)?\s*(?:{_UNIT_ALT})")
_CN_COUNT = r"(?:[二三四五六七八九十百千两][一二三四五六七八九十百千万]*|一[十百千万][一二三四五六七八九十百千万]*)"
FIGURE_CHINESE = re.compile(rf"(?<![一二三四五六七八九十百千万两第]){_CN_COUNT}(?:个|名|户|项|场|期|家|所|批|村|人次|余)")
# slogans with numbers in them are not data
SLOGANS = ("八项规定", "三个坚持", "四项制度", "两学一做", "三会一课", "四个合格", "四议两公开", "三严三实",
           "四个意识", "四个自信", "两个维护", "两个确立", "三重一大", "一岗双责", "三级联动", "四个全面",
           "五位一体", "两个责任", "一肩挑", "四下基层", "两委", "四村联创", "三级书记", "两张皮", "一站式")
EXAMPLE_CUES = re.compile(r"例如|比如|譬如|以[^，。；]{1,16}为例")
# a named place or unit: a name of 1–4 characters and one of these; the name must not be a generic word
NAMED_SUFFIX = re.compile(
    r"(村|社区|小区|街道|乡|镇|县|区|组|派出所|医院|中学(?!习)|小学(?!习)|公司|局|网格)"
    r"(?!民|级|务|干|委|里|内|落|容|风|规|情|貌|集体|医|治理|建设|服务|居|书记|小组|组|长|口|道|外|庄|部|域|"
    r"办|名|代|际|企|位|属|户|警|局|县|镇|乡|区|村|政|财|卫|领导|管|直|场|片|班|员|织|团|合|织|级)"
)
NAME_BOUNDARY = re.compile(
    r"(?s).*(?:[^\u4e00-\u9fa5]|的|和|与|及|对|在|将|把|由|是|有|了|到|为|从|等|如|像|向|给|被|让|经|其中|针对|帮助|包保|联系|"
    r"调整|派驻|带领|根据|按照|围绕|依托|通过|全|村|组|镇|乡|至|往|赴|去|来|自)"
)
NAME_STOP = re.compile(
    r"^(?:全|各|每|本|该|我|我们|贫困|行政|空白|后进|薄弱|示范|先进|软弱涣散|相关|所在|周边|辖区|结合部|基层|乡|镇|村|"
    r"新|老旧|小|大|两|多|个别|公立|民营|私立|部分|一些|有的|市|县|区|社|机关|直属|城乡|农村|城市|党|村民|居民|工作|服务|结对|"
    r"牵头|整顿|涉及|一般|重点|试点|外出|流入|流出|党小|民小|村民小|项目|单位|分|地|片|网|全镇|全县|全区|全市|街|物业|子|母|"
    r"乡镇|偏远|山|这个|那个|一个|同|上|下|前|后|左|右|外|内|农|渔|牧|邻|城|建成|建立|成立|组建|新建|创建|共建)$"
    r"|(?:治|兴|强|护|富|联|美|建|进|到|入|驻|包|帮|出|在|小|的|个|名)$|^[一二三四五六七八九十百千万两几个家名所座\d]|党"
)
# characters no place name is made of: a "name" holding one is a phrase ("年轻人回村", "济薄弱村", "部每周下村")
NAME_BAD_CHARS = frozenset("每各全年弱织展完落召列支筹深入领回员会查季度报我本不多靠盾届合轻财政开实些均旧处期")
SPECIFIC_MEASURE = re.compile(
    r"\d|[一二三四五六七八九十两]个|月底|年底|年内|季度|月前|日前|前完成|之前|限期|负责|牵头|责任人[:：为是]|包保|每月|每季|"
    r"每年|每周|每半年|每天|每日|下月|即日|建立|制定|上半年|下半年"
)


# ---- the result ----------------------------------------------------------------------------------------------

@dataclass
class Paragraph:
    """One unit of text, the category it was given and why (`shuzhi report check --explain`)."""

    text: str
    category: str | None
    reason: str
    items: int = 0  # problems or measures counted in it
    detail: str = ""  # what the counting found: concrete problems, specific measures, a lead-in not counted
    heading: bool = False  # a bare section heading (not counted in the share)

    @property
    def label(self) -> str:
        return "标题" if self.heading else CATEGORY_LABELS[self.category]


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
    # the explanation: per paragraph, per area, what was set aside, the named examples found
    paragraphs: list[Paragraph] = field(default_factory=list)
    area_hits: dict[str, list[str]] = field(default_factory=dict)
    set_aside: list[tuple[str, str]] = field(default_factory=list)
    example_names: list[str] = field(default_factory=list)
    title: str = ""
    subjective_evidence: str = ""  # the words in the cause analysis that put the writer in it

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

    def explain(self) -> dict[str, Any]:
        """Everything the checker read, paragraph by paragraph, with the reason for each judgment."""
        return {
            **self.details(),
            "title": self.title,
            "set_aside": [{"text": t, "why": why} for t, why in self.set_aside],
            "paragraphs": [{"category": p.category, "label": p.label, "reason": p.reason, "items": p.items,
                            "detail": p.detail, "text": p.text} for p in self.paragraphs],
            "area_hits": dict(self.area_hits),
            "example_names": list(self.example_names),
            "subjective_evidence": self.subjective_evidence,
        }


# ---- classification ------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=512)
def _title_categories(title: str) -> list[str]:
    found = [(min(title.find(w) for w in words if w in title), category)
             for category, words in TITLE_CUES.items() if any(w in title for w in words)]
    # "存在问题及原因" → problems then causes: order of appearance in the title
    return [category for _, category in sorted(found)]


_CLAUSE_END = re.compile(r"[，,：:。；;！？]")
_DIGIT = re.compile(r"\d")


def _first_clause(text: str) -> str:
    return _CLAUSE_END.split(text[:60], maxsplit=1)[0][:24]


def _lead(text: str, allowed: tuple[str, ...]) -> tuple[str, str] | None:
    clause = _first_clause(text)
    for category, pattern in LEAD_CUES.items():
        if category in allowed:
            if category == PROBLEMS and SOLVING.search(clause):
                continue  # "针对群众反映的问题，…", "帮助解决实际问题41个": work done, not a problem found
            match = pattern.search(clause)
            if match:
                return category, f"首句“{clause}”含“{match.group(0)}”"
    return None


@functools.cache
def _cue_pattern(category: str) -> tuple[re.Pattern[str], dict[str, float]]:
    weights = dict(BODY_CUES[category])
    return re.compile("|".join(re.escape(w) for w in sorted(weights, key=len, reverse=True))), weights


def _scores(text: str, allowed: tuple[str, ...]) -> dict[str, float]:
    """Weighted cue words per category; each occurrence counts once (the longest cue at a place)."""
    scores = {}
    for category in allowed:
        pattern, weights = _cue_pattern(category)
        scores[category] = sum(weights[w] for w in pattern.findall(text))
    return scores


def classify_paragraph(text: str, allowed: tuple[str, ...] = CATEGORIES, default: str | None = None) -> str | None:
    """The category of a paragraph: its first clause first, then the weighted cue count."""
    return _classify(text, allowed, default)[0]


def _classify(text: str, allowed: tuple[str, ...], default: str | None) -> tuple[str | None, str]:
    lead = _lead(text, allowed)
    if lead:
        return lead
    scores = _scores(text, allowed)
    best = max(scores.values(), default=0.0)
    if best <= 0:
        return default, "无提示词" + (f"，沿用{CATEGORY_LABELS[default]}" if default else "")
    leaders = [c for c, s in scores.items() if s == best]
    chosen = leaders[0] if len(leaders) == 1 else (default or leaders[0])
    listing = "、".join(f"{CATEGORY_LABELS[c]}{s:g}" for c, s in scores.items() if s)
    return chosen, f"提示词加权：{listing}"


def _classify_unit(unit: Unit, previous: str | None) -> tuple[str | None, str]:
    """The nearest heading with cue words decides; a strong first clause of another kind overrides it."""
    if unit.preamble:
        return None, "第一个标题之前的开场文字（村情、引言），不计入任何部分"
    if INTRO.search(unit.text) and visible_length(unit.text) < 80:
        return None, "引言或结束语"
    for title in reversed(unit.headings):
        categories = _title_categories(title)
        if len(categories) == 1:
            only = categories[0]
            # "这些问题的产生，主要是…" under 存在的问题 is cause analysis; "下一步…" under it is a measure
            override = _lead(unit.text, (CAUSES,) if only == PROBLEMS else (MEASURES,) if only == CAUSES else ())
            if override and override[0] != only:
                return override[0], f"标题“{title}”之下，但{override[1]}"
            return only, f"标题“{title}”"
        if len(categories) > 1:
            category, why = _classify(unit.text, tuple(categories), categories[0])
            return category, f"标题“{title}”兼有{'、'.join(CATEGORY_LABELS[c] for c in categories)}；{why}"
    # no decisive heading: the first clause, else the flow of the report (a paragraph continues the part it is
    # in), else the cue words
    lead = _lead(unit.text, CATEGORIES)
    if lead:
        return lead
    if previous in (PROBLEMS, CAUSES, MEASURES):
        return previous, f"无标题、首句无提示，接上文（{CATEGORY_LABELS[previous]}）"
    return _classify(unit.text, CATEGORIES, previous)


# ---- counting ------------------------------------------------------------------------------------------------

def _items(unit: Unit, category: str) -> list[str]:
    """Enumerated items (一是…, 第一，…, (1), numbered lines) — one at the start counts —, else cue sentences."""
    body = unit.text
    starts = [m.start() for m in ENUMERATORS.finditer(body)]
    if not starts:
        starts = [m.start() for m in INLINE_NUMBERS.finditer(body)]
        if len(starts) < 2:
            starts = []
    if starts:
        bounds = [*starts, len(body)]
        return [body[a:b] for a, b in itertools.pairwise(bounds)]
    if unit.numbered:
        return [body]
    found = [s for s in sentences(body) if not LEAD_IN.search(s[-24:])]
    if category == PROBLEMS:
        found = [s for s in found if _problem_sentence(s)]
    return found


def _problem_sentence(sentence: str) -> bool:
    """A sentence naming a problem, not a lead-in or a summary ("还存在一些不足", "还有一定差距")."""
    if not _PROBLEM_WORD.search(sentence):
        return False
    return bool(_PROBLEM_WORD.search(GENERIC_PROBLEM.sub("", sentence)))


def _count(units: list[Unit], category: str, notes: dict[int, Paragraph]) -> tuple[int, list[str]]:
    items: list[str] = []
    for unit in units:
        found = _items(unit, category)
        if category == PROBLEMS:
            found = [i for i in found if not GENERIC_PROBLEM.search(i) or _problem_sentence(i)]
        note = notes[id(unit)]
        note.items = len(found)
        if category == PROBLEMS:
            concrete = sum(1 for item in found if _concrete(item))
            note.detail = f"其中有数据或实例的{concrete}条" if found else "导语或概述，不计条数"
        elif category == MEASURES:
            specific = sum(1 for item in found if SPECIFIC_MEASURE.search(item))
            note.detail = f"其中有时限、责任或量化目标的{specific}条" if found else "导语，不计条数"
        items += found
    return len(items), items


def _clause_around(text: str, match: re.Match[str]) -> str:
    """The clause holding a match: what a reviewer would quote."""
    start = max((text.rfind(mark, 0, match.start()) for mark in "，。；：\n"), default=-1) + 1
    ends = [i for i in (text.find(mark, match.end()) for mark in "，。；\n") if i >= 0]
    return text[start: min(ends, default=len(text))]


def _concrete(item: str) -> bool:
    return bool(_DIGIT.search(item) or _figures(item) or named_examples(item))


_SLOGAN = re.compile("|".join(re.escape(s) for s in sorted(SLOGANS, key=len, reverse=True)))


def _figure_text(text: str) -> str:
    return _SLOGAN.sub("", text)


def _figures(text: str) -> int:
    text = _figure_text(text)
    return len(FIGURE_ARABIC.findall(text)) + len(FIGURE_CHINESE.findall(text))


def named_examples(text: str) -> list[str]:
    """Named places or units ("柳树村", "阳光小区", "城东派出所"): the cases a report should show."""
    names: list[str] = []
    for match in NAMED_SUFFIX.finditer(text):
        before = text[max(0, match.start() - 6): match.start()]
        cut = NAME_BOUNDARY.match(before)
        name = before[cut.end():] if cut else before
        name = name[-3:]
        if not name or NAME_STOP.search(name) or NAME_BAD_CHARS.intersection(name):
            continue
        if len(name) == 1 and match.group(1) not in ("村", "社区", "小区", "街道"):
            continue  # 城区, 小组, 子公司…: a single character before these is rarely a name
        if match.group(1) == "局" and not name.startswith(("市", "县", "区", "省")):
            continue  # 格局, 布局, 当局: a bureau is named with its level (市交通局)
        if match.group(1) in ("镇", "乡", "街道", "县", "区") and text.startswith("党", match.end()):
            continue  # 镇党委, 街道党工委: the organ above, not a case
        if match.group(1) in ("社区", "网格") and text.startswith("工作", match.end()):
            continue  # 社区工作者, 网格工作: a trade, not a place
        found = [name + match.group(1)]
        # "刘家蚬和中庄窠村", "东岗、西岗村": a name joined to this one shares its suffix
        start = match.start() - len(name)
        if start > 0 and text[start - 1] in "和与及、":
            head = text[max(0, start - 5): start - 1]
            cut = NAME_BOUNDARY.match(head)
            other = (head[cut.end():] if cut else head)[-3:]
            if len(other) >= 2 and not NAME_STOP.search(other) and not NAME_BAD_CHARS.intersection(other) \
                    and not NAMED_SUFFIX.search(other):
                found.insert(0, other + match.group(1))
        names += [whole for whole in found if whole not in names]
    return names


def _examples(text: str) -> tuple[int, list[str]]:
    names = named_examples(text)
    return len(EXAMPLE_CUES.findall(text)) + len(names), names


@functools.cache
def _area_pattern(key: str) -> re.Pattern[str]:
    phrases = sorted((phrase for phrase, _ in AREAS[key][1]), key=len, reverse=True)
    return re.compile("|".join(re.escape(p) for p in phrases))


def _areas(body_text: str, heading_text: str, problems: int, measures: int) -> tuple[dict[str, bool], dict[str, list[str]]]:
    areas: dict[str, bool] = {}
    hits: dict[str, list[str]] = {}
    for key, (_, phrases) in AREAS.items():
        if key == "6":
            areas[key] = problems > 0 and measures > 0
            hits[key] = [f"问题{problems}条", f"措施{measures}条"]
            continue
        score = 0.0
        found: list[str] = []
        weights = dict(phrases)
        # one alternation, longest phrase first: a longer phrase's text is not counted again by a shorter one
        for match in _area_pattern(key).finditer(body_text):
            score += weights[match.group(0)]
            found.append(match.group(0))
        for phrase, _ in phrases:
            if phrase in heading_text:
                score += AREA_COVERED
                found.append(f"标题:{phrase}")
        areas[key] = score >= AREA_COVERED
        hits[key] = found
    return areas, hits


# ---- the check -----------------------------------------------------------------------------------------------

def _split_run_on(outline: Outline) -> None:
    """A report without headings written as one or two walls of text: split them where a new part opens."""
    if outline.heading_count:
        return
    units: list[Unit] = []
    for unit in outline.units:
        if visible_length(unit.text) < RUN_ON:
            units.append(unit)
            continue
        parts: list[list[str]] = [[]]
        for sentence in sentences(unit.text):
            clause = _first_clause(sentence)
            if parts[-1] and (PART_OPENER.search(clause) or LEAD_CUES[CAUSES].search(clause)):
                parts.append([])
            parts[-1].append(sentence)
        units += [Unit(text="".join(part), headings=unit.headings, depth=unit.depth) for part in parts]
    outline.units = units


def check_report(text: str) -> ReportCheck:
    """Check a report's text against R14/R15; see docs/report-check.md for every rule."""
    outline: Outline = parse_outline(text)
    _split_run_on(outline)
    by_category: dict[str, list[Unit]] = {c: [] for c in CATEGORIES}
    notes: dict[int, Paragraph] = {}
    paragraphs: list[Paragraph] = []
    total = 0
    lengths = dict.fromkeys(CATEGORIES, 0)
    previous: str | None = None
    for unit in outline.units:
        if unit.container:
            note = Paragraph(text=unit.text, category=None, reason="小标题，不计篇幅", heading=True)
            paragraphs.append(note)
            continue
        size = visible_length(unit.text)
        total += size
        category, reason = _classify_unit(unit, previous)
        note = Paragraph(text=unit.text, category=category, reason=reason)
        notes[id(unit)] = note
        paragraphs.append(note)
        if category:
            by_category[category].append(unit)
            lengths[category] += size
            previous = category
    body_text = "\n".join(u.text for u in outline.units)
    heading_text = "\n".join(outline.headings)
    share = round(lengths[ACHIEVEMENTS] / total, 3) if total else 0.0

    problems, problem_items = _count(by_category[PROBLEMS], PROBLEMS, notes)
    concrete = sum(1 for item in problem_items if _concrete(item))
    # the cause blocks are read whole; cause sentences inside the problems count too ("究其原因…")
    cause_text = "\n".join(u.text for u in by_category[CAUSES])
    cause_text += "\n".join(s for u in by_category[PROBLEMS] for s in sentences(u.text)
                            if LEAD_CUES[CAUSES].search(_first_clause(s)))
    causes_analysed = visible_length(cause_text) >= 20
    own_part = SUBJECTIVE.search(cause_text)
    subjective = own_part is not None
    measures, measure_items = _count(by_category[MEASURES], MEASURES, notes)
    specific = sum(1 for item in measure_items if SPECIFIC_MEASURE.search(item))
    figures = _figures(body_text)
    examples, example_names = _examples(body_text)
    areas, area_hits = _areas(body_text, heading_text, problems, measures)

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
        paragraphs=paragraphs, area_hits=area_hits, set_aside=list(outline.dropped), example_names=example_names,
        title=outline.title, subjective_evidence=_clause_around(cause_text, own_part) if own_part else "",
    )
