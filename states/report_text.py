"""Reading a Chinese report's structure: headings in the usual styles (一、（一）1.（1）① and Markdown), units of text, sentences."""

from __future__ import annotations

import itertools
import re
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
SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
TITLE_END = re.compile(r"[。！？；：:!?;]")
TITLE_MAX = 40  # a numbered line whose first sentence is longer is an item of text, not a heading title


@dataclass
class Unit:
    """A piece of body text with the outline it sits under."""

    text: str
    headings: list[str] = field(default_factory=list)  # titles from the top level down to the nearest
    numbered: bool = False  # the unit is a numbered heading line with its text (an enumerated item)
    title: str = ""  # that heading's own title, when numbered
    depth: int = 0  # how many headings enclose it (a numbered unit counts its own)
    container: bool = False  # a title-only heading with text under it: a section, not an item


@dataclass
class Outline:
    title: str
    units: list[Unit]
    heading_count: int
    headings: list[str]


def _heading(line: str) -> tuple[int, str, str] | None:
    """(level, title, rest of the line) if the line opens with a heading marker."""
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


def _is_document_title(line: str) -> bool:
    return len(line) <= 40 and "报告" in line and not TITLE_END.search(line)


def parse_outline(text: str) -> Outline:
    """Split a report into body units under their headings (a report without headings gives one unit a paragraph)."""
    lines = [line.strip().replace("\u3000", " ").strip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    title = ""
    if lines and _is_document_title(lines[0].lstrip("#").strip()):
        title = lines.pop(0).lstrip("#").strip()
    stack: list[tuple[int, str]] = []
    units: list[Unit] = []
    headings: list[str] = []
    for line in lines:
        found = _heading(line)
        if found is None:
            units.append(Unit(text=line, headings=[t for _, t in stack if t], depth=len(stack)))
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
    return Outline(title=title, units=units, heading_count=len(headings), headings=headings)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def visible_length(text: str) -> int:
    """Characters that count toward the report's length: no whitespace."""
    return len(re.sub(r"\s+", "", text))
