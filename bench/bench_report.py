"""The report checker in-process (issue 13: ≤ 5 ms per report): every report of the corpus, best of 5 passes.

The raw baseline is the least any checker does with the same text: one pass of the report through Python's
regex engine (split into lines, count the characters that are not whitespace). The target is checked on the
process's CPU time (best of 5), as the wall time on a shared 2-core machine mostly measures the neighbours;
the wall time is reported beside it. Needs no database: `python -m bench.bench_report` runs it alone.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from bench.common import BenchContext, BenchRow, best_of
from services.reports import read_report
from states.report_check import check_report
from tests.fixtures.reports.corpus.agreement import corpus

TARGET_SECONDS = 0.005


def best_cpu(runs: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def measure(*, long: bool = False) -> BenchRow:
    texts = [read_report(path).text for path, _ in corpus()]
    if long:
        # real reports run to several thousand characters: each corpus report four times over (~2,500 chars)
        texts = ["\n".join([text] * 4) for text in texts]
    blank = re.compile(r"\s+")

    def ours() -> None:
        for text in texts:
            check_report(text)

    def raw() -> None:
        for text in texts:
            text.split("\n")
            len(blank.sub("", text))

    per_report = best_cpu(5, ours) / len(texts)
    raw_per_report = best_cpu(5, raw) / len(texts)
    wall = best_of(5, ours) / len(texts)
    chars = sum(len(t) for t in texts) // len(texts)
    return BenchRow(f"report check, per report ({len(texts)} reports, ~{chars:,} chars each)", "-", per_report,
                    raw_per_report, "≤ 5 ms per report", per_report <= TARGET_SECONDS,
                    extra=f"{per_report * 1000:.2f} ms CPU per report ({wall * 1000:.2f} ms wall)")


def run(ctx: BenchContext) -> list[BenchRow]:
    return [measure(), measure(long=True)]


if __name__ == "__main__":
    for row in (measure(), measure(long=True)):
            print(f"{row.name}: {row.extra}, raw {row.raw * 1000:.3f} ms, {'ok' if row.ok else 'MISS'} ({row.target})")
