"""Markdown artifacts an operator reads: a summary, the top rows, the counts and a link to the console page with
the rest; never more than ARTIFACT_LIMIT bytes (the server refuses to publish larger events)."""

from __future__ import annotations

import os
from collections.abc import Sequence

TOP_ROWS = 50
ARTIFACT_LIMIT = 64 * 1024


def console_link(page: str) -> str:
    """`[page](SHUZHI_BASE_URL/page)` when the console's address is configured, else the bare path."""
    base = os.environ.get("SHUZHI_BASE_URL", "").rstrip("/")
    return f"[{base}{page}]({base}{page})" if base else f"`{page}` (set SHUZHI_BASE_URL for a link)"


def cell(value: object) -> str:
    """A table cell: no pipes or line breaks, at most 80 characters."""
    text = str(value).replace("|", "/").replace("\n", " ")
    return text if len(text) <= 80 else text[:79] + "…"


def bounded_markdown(head: Sequence[str], table_head: Sequence[str], rows: Sequence[Sequence[object]], *,
                     page: str, noun: str, top: int = TOP_ROWS, total: int | None = None) -> str:
    """The summary lines, then the first `top` rows as a table, then how many there are in all (`total`, when
    only the top rows were passed) and where to read them."""
    lines = list(head)
    if rows:
        lines += ["| " + " | ".join(table_head) + " |", "|" + "---|" * len(table_head)]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows[:top]]
    total = len(rows) if total is None else total
    shown = min(len(rows), top)
    tail = ["", f"{total} {noun} in all" + (f", the first {shown} shown" if total > shown else "")
            + f"; all of them: {console_link(page)}"]
    text = "\n".join([*lines, *tail]) + "\n"
    while len(text.encode()) > ARTIFACT_LIMIT and len(lines) > len(head):  # very long cells: drop rows until it fits
        lines.pop()
        text = "\n".join([*lines, "…", *tail]) + "\n"
    return text
