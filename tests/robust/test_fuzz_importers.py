"""Issue 10: a hypothesis fuzz of the plan and scores importers and of report reading, through the CLI: every input
ends in success or exit 2 (bad input) — never exit 1, never a traceback. (The orgs importer's fuzz is the scale
work's.)"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SAMPLE_ORGS, SAMPLE_PLAN

FUZZ = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PLAN_LINES = SAMPLE_PLAN.splitlines()
VALUES = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(max_size=30).map(lambda s: '"' + s.replace("\\", "").replace('"', "") + '"'),
    st.sampled_from(['"Nowhere/Zone"', '"../../../../etc/passwd"', "1e400", "nan", "inf", "true", "[]", "{}",
                     "[" * 2000 + "]" * 2000, "2014-12-15T08:00:00", "1979-05-27", '"2014-02-30"', "-0", "0x7f"]),
    st.lists(st.integers(min_value=-(10**20), max_value=10**20), max_size=5).map(str),
)


def _ready(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(SAMPLE_ORGS, encoding="utf-8")
    assert cli("init")[0] == 0 and cli("orgs", "import", str(orgs))[0] == 0


def _assert_clean(code: int, err: str, allowed: tuple[int, ...] = (0, 2)) -> None:
    assert code in allowed, err
    assert "Traceback" not in err and "错误编号" not in err, err


@FUZZ
@given(line=st.integers(min_value=0, max_value=len(PLAN_LINES) - 1), value=VALUES, extra=st.text(max_size=40))
def test_fuzz_plan_through_year_start(cli, tmp_path: Path, line: int, value: str, extra: str) -> None:  # type: ignore[no-untyped-def]
    if not (tmp_path / "cli.db").exists():
        _ready(cli, tmp_path)
    lines = list(PLAN_LINES)
    if "=" in lines[line]:
        lines[line] = lines[line].split("=", 1)[0] + "= " + value
    else:
        lines[line] = extra
    plan = tmp_path / "plan.toml"
    plan.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    code, _, err = cli("year", "start", "2014", "--plan", str(plan))
    _assert_clean(code, err)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_fuzz_plan_random_bytes(cli, tmp_path: Path, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    if not (tmp_path / "cli.db").exists():
        _ready(cli, tmp_path)
    plan = tmp_path / "plan.toml"
    plan.write_bytes(raw)
    code, _, err = cli("year", "start", "2014", "--plan", str(plan))
    _assert_clean(code, err)


CELLS = st.one_of(st.sampled_from(["V001", "T01", "NOPE", "", "onsite", "survey", "daily", "performance", "evaluation",
                                   "88", "100.5", "-1", "1e400", "nan", "=1+1", "９０", "\x00"]),
                  st.text(max_size=12))


@FUZZ
@given(rows=st.lists(st.lists(CELLS, min_size=0, max_size=4), max_size=6), header=st.booleans())
def test_fuzz_scores_import(cli, tmp_path: Path, rows: list[list[str]], header: bool) -> None:  # type: ignore[no-untyped-def]
    if not (tmp_path / "cli.db").exists():
        _ready(cli, tmp_path)
        plan = tmp_path / "good.toml"
        plan.write_text(SAMPLE_PLAN, encoding="utf-8")
        assert cli("year", "start", "2014", "--plan", str(plan))[0] == 0
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(["org", "component", "score"])
    writer.writerows(rows)
    path = tmp_path / "scores.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", errors="surrogatepass")
    code, _, err = cli("scores", "import", "--year", "2014", str(path))
    _assert_clean(code, err)


@FUZZ
@given(raw=st.binary(max_size=2000), suffix=st.sampled_from([".docx", ".md", ".txt", ".pdf", ""]))
def test_fuzz_report_check_reads_any_file(cli, tmp_path: Path, raw: bytes, suffix: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"report{suffix}"
    path.write_bytes(raw)
    code, _, err = cli("report", "check", str(path))
    _assert_clean(code, err)


@FUZZ
@given(text=st.text(max_size=3000))
def test_fuzz_report_check_reads_any_text(cli, tmp_path: Path, text: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "report.md"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    code, _, err = cli("report", "check", str(path))
    _assert_clean(code, err)
