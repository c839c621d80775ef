"""Reading a Chinese report's structure; pure.

First the text is normalised as a reviewer's eye does it (`normalise`): page numbers dropped, lines that a PDF
paste hard-wrapped joined back into paragraphs, a table of contents dropped, the document title found in the
first lines and the byline under it set aside. Then the outline is read (`parse_outline`): headings in the
usual styles (一、（一）1.（1）① and Markdown) and unnumbered heading lines recognised by their shape, units of
body text under them, sentences.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

CN_NUM = "一二三四五六七八九十"
# (level, pattern) — the order of the usual official-document outline: 一、 （一） 1. （1） ①
HEADING_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(rf"^(?:第[{CN_NUM}]+部分|[{CN_NUM}]+[、．.，,])\s*")),
    (2, re.compile(rf"^[（(][{CN_NUM}]+[）)]\s*")),
    (3, re.compile(r"^\d{1,2}(?:[、．]|\.(?!\d))\s*")),
    (4, re.compile(r"^[（(]\d{1,2}[）)]\s*")),
    (5, re.compile(r"^[①②③④⑤⑥⑦⑧⑨⑩]\s*")),
)
MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+")
HEADING_STARTS = frozenset(CN_NUM + "第（(#0123456789①②③④⑤⑥⑦⑧⑨⑩")
SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
TITLE_END = re.compile(r"[。！？；：:!?;]")
TITLE_MAX = 40  # a numbered line whose first sentence is longer is an item of text, not a heading title
# an unnumbered heading line: short, no punctuation inside or at the end, and a section word in it
SHAPE_HEADING_MAX = 20
SHAPE_HEADING_WORDS = re.compile(
    r"情况|问题|不足|差距|短板|原因|根源|剖析|检视|措施|打算|思路|施策|展望|方向|做法|成效|成绩|经验|工作|履职|整改|计划"
)
PAGE_NUMBER = re.compile(r"^[—\-–－·\s]*(?:第\s*)?\d{1,3}\s*(?:页)?(?:\s*[/／共]\s*\d{1,3}\s*页?)?[—\-–－·\s]*$")
TOC_WORD = re.compile(r"^目\s*录$")
BYLINE = re.compile(r"书记|党委|党工委|党组|党支部|党总支|\d{4}\s*年|[〇零一二]{4}年|\d{1,2}月\d{1,2}日|述职人|报告人")
PARAGRAPH_INDENT = re.compile(r"^[\u3000 \t]{2,}")
ENUMERATED_START = re.compile(rf"^(?:[{CN_NUM}]是|第[{CN_NUM}]+[，、,]|首先|其次|再次|最后)")


@dataclass
class Unit:
    """A piece of body text with the outline it sits under."""

    text: str
    headings: list[str] = field(default_factory=list)  # titles from the top level down to the nearest
    numbered: bool = False  # the unit is a numbered heading line with its text (an enumerated item)
    title: str = ""  # that heading's own title, when numbered
    depth: int = 0  # how many headings enclose it (a numbered unit counts its own)
    container: bool = False  # a title-only heading with text under it: a section, not an item
    preamble: bool = False  # body text before the first heading of a report that has headings


@dataclass
class Outline:
    title: str
    units: list[Unit]
    heading_count: int
    headings: list[str]
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (line, why) set aside by normalisation


def display_width(line: str) -> int:
    """Width on a page: a Chinese character or full-width sign is two, ASCII one (its GB18030 length, fast)."""
    return len(line.encode("gb18030", errors="replace"))


def _heading(line: str) -> tuple[int, str, str] | None:
    """(level, title, rest of the line) if the line opens with a heading marker."""
    if not line or line[0] not in HEADING_STARTS:
        return None
    md = MARKDOWN_HEADING.match(line)
    if md:
        return len(md.group(1)), line[md.end():].strip().strip("#").strip(), ""
    for level, pattern in HEADING_PATTERNS:
        match = pattern.match(line)
        if match:
            body = line[match.end():].strip()
            end = TITLE_END.search(body)
            if end is None:
                return (level, body, "") if len(body) <= TITLE_MAX else (level, "", body)
            title, rest = body[: end.start()], body[end.end():]
            if len(title) > TITLE_MAX:
                return level, "", body
            return level, title.strip(), rest.strip()
    return None


_HEADING_PUNCTUATION = re.compile(r"[，。；：:,;！？!?、]")
_BYLINE_PUNCTUATION = re.compile(r"[。；，,;]")


def _shape_heading(line: str) -> bool:
    """An unnumbered heading: "问题检视", "履职尽责情况", "努力方向和展望" — short, bare, with a section word."""
    return (len(line) <= SHAPE_HEADING_MAX and not _HEADING_PUNCTUATION.search(line)
            and bool(SHAPE_HEADING_WORDS.search(line)) and "报告" not in line)


def _is_document_title(line: str) -> bool:
    return len(line) <= 50 and ("报告" in line or "述职" in line) and not TITLE_END.search(line)


def _rejoin(raw_lines: list[str], dropped: list[tuple[str, str]]) -> list[str]:
    """Join the lines a PDF paste cut at a fixed width back into paragraphs.

    The text is taken as hard-wrapped when many lines share the longest common width (in characters or in
    display width, as PDFs wrap by the page). A line that reaches that width continues on the next line unless
    the next one opens a paragraph: an indent (when the text indents its paragraphs), a heading marker or an
    enumerator (一是, 第一，…).
    """
    lines = [line.rstrip() for line in raw_lines]
    lines = [line for line in lines if line.strip()]
    for line in lines:
        if PAGE_NUMBER.match(line.strip()):
            dropped.append((line.strip(), "页码"))
    lines = [line for line in lines if not PAGE_NUMBER.match(line.strip())]
    if len(lines) < 6:
        return [line.strip() for line in lines]
    # measured with a paragraph's indent: the first line of a paragraph is as wide as the others
    stripped_lines = [line.strip(" \t") for line in lines]
    line_widths = {line: display_width(line) for line in stripped_lines}
    chars = Counter(len(line) for line in stripped_lines if len(line) >= 16)
    widths = Counter(line_widths[line] for line in stripped_lines if len(line) >= 16)

    def wrap_at(counts: Counter[int], measure: Callable[[str], int], slack: int) -> int | None:
        # hard-wrapped: many lines share one width and (nearly) no line is longer than it
        if not counts:
            return None
        width, count = counts.most_common(1)[0]
        longer = sum(1 for line in stripped_lines if measure(line) > width + slack)
        return width if count >= max(3, len(lines) // 5) and longer <= len(lines) // 20 else None

    full_chars = wrap_at(chars, len, 1)
    full_width = wrap_at(widths, line_widths.__getitem__, 2)
    if full_chars is None and full_width is None:
        return stripped_lines
    indents = sum(1 for line in lines if PARAGRAPH_INDENT.match(line)) >= len(lines) // 6

    def is_full(line: str) -> bool:
        stripped = line.strip(" \t")
        return (full_chars is not None and len(stripped) >= full_chars - 1) or (
            full_width is not None and line_widths.get(stripped, 0) >= full_width - 2)

    def opens_paragraph(line: str) -> bool:
        stripped = line.strip()
        if indents:
            return bool(PARAGRAPH_INDENT.match(line) or _heading(stripped))
        return bool(_heading(stripped) or ENUMERATED_START.match(stripped))

    out: list[list[str]] = []
    joining = False
    for line in lines:
        if joining and not opens_paragraph(line):
            out[-1].append(line.strip())
        else:
            out.append([line.strip()])
        joining = is_full(line)
    return ["".join(parts) for parts in out]


def _drop_contents(lines: list[str], dropped: list[tuple[str, str]]) -> list[str]:
    """A table of contents: "目录" and the short lines after it that come back later as headings."""
    for index, line in enumerate(lines[:12]):
        if TOC_WORD.match(line.replace("\u3000", " ").strip()):
            end = index + 1
            seen = Counter(lines[index + 1:])  # a contents line comes back later as a heading
            while end < min(len(lines), index + 41) and len(lines[end]) <= 30 and seen[lines[end]] > 1:
                end += 1
            dropped += [(entry, "目录") for entry in lines[index:end]]
            return lines[:index] + lines[end:]
    return lines


def normalise(text: str) -> tuple[str, list[str], list[tuple[str, str]]]:
    """(title, body lines, what was set aside and why)."""
    dropped: list[tuple[str, str]] = []
    raw = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "").split("\n")
    lines = [line.replace("\u3000", " ").strip() if not PARAGRAPH_INDENT.match(line) else line for line in raw]
    lines = _rejoin(lines, dropped)
    # Markdown emphasis around a heading or phrase ("**一、主要工作**") is layout, not text
    lines = [line.replace("\u3000", " ").replace("**", "").replace("__", "").strip() for line in lines]
    lines = [line for line in lines if line]
    lines = _drop_contents(lines, dropped)
    title = ""
    for index, line in enumerate(lines[:6]):
        candidate = line.lstrip("#").strip()
        if _is_document_title(candidate) and (line.startswith("#") or not _heading(line)):
            title = candidate
            dropped += [(before, "标题前的文字") for before in lines[:index]]
            dropped.append((line, "标题"))
            lines = lines[index + 1:]
            break
    # the byline and date under the title: short lines without sentences, naming a post or a date
    byline = 0
    while byline < min(4, len(lines)) and len(lines[byline]) <= 40 and not _BYLINE_PUNCTUATION.search(lines[byline]) \
            and BYLINE.search(lines[byline]) and not _heading(lines[byline]) and not _shape_heading(lines[byline]):
        dropped.append((lines[byline], "署名或日期"))
        byline += 1
    lines = lines[byline:]
    return title, lines, dropped


def parse_outline(text: str) -> Outline:
    """Split a report into body units under their headings (a report without headings gives one unit a paragraph)."""
    title, lines, dropped = normalise(text)
    stack: list[tuple[int, str]] = []
    units: list[Unit] = []
    headings: list[str] = []
    for position, line in enumerate(lines):
        found = _heading(line)
        if found is None and _shape_heading(line) and position + 1 < len(lines):
            found = (1, line, "")  # an unnumbered section heading: the top level
        if found is None:
            units.append(Unit(text=line, headings=[t for _, t in stack if t], depth=len(stack),
                              preamble=not stack))
            continue
        level, heading_title, rest = found
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading_title))
        if heading_title:
            headings.append(heading_title)
        chain = [t for _, t in stack if t]
        # the title itself is text of the item too: "（一）强化责任落实。今年以来…" is about 强化责任落实
        units.append(Unit(text=(heading_title + "。" + rest) if heading_title and rest else (rest or heading_title),
                          headings=chain, numbered=True, title=heading_title, depth=len(stack)))
    for unit, following in itertools.pairwise(units):
        if unit.numbered and unit.title and unit.text == unit.title:
            unit.container = following.depth > unit.depth or (not following.numbered and following.depth >= unit.depth)
    if units and units[-1].numbered and units[-1].title and units[-1].text == units[-1].title:
        units[-1].container = True  # a trailing bare heading has nothing under it
    if not headings:
        for unit in units:
            unit.preamble = False  # without headings there is no preamble: every paragraph is classified
    return Outline(title=title, units=units, heading_count=len(headings), headings=headings, dropped=dropped)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def visible_length(text: str) -> int:
    """Characters that count toward the report's length: no whitespace."""
    return len("".join(text.split()))
