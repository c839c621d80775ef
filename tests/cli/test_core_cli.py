"""The CLI contract of cli.md for the core commands: options, JSON shapes and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_ORGS, SAMPLE_PLAN


@pytest.fixture
def ready(cli, tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "orgs.csv").write_text(SAMPLE_ORGS, encoding="utf-8")
    (tmp_path / "plan.toml").write_text(SAMPLE_PLAN, encoding="utf-8")
    assert cli("init")[0] == 0
    assert cli("orgs", "import", str(tmp_path / "orgs.csv"))[0] == 0
    return cli


def test_init_is_safe_to_repeat(cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("--json", "init")
    second = cli("--json", "init")
    assert first[0] == second[0] == 0
    assert json.loads(first[1])["schema"] == json.loads(second[1])["schema"]


def test_import_json_counts_and_reimport(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "orgs.csv"
    path.write_text(SAMPLE_ORGS, encoding="utf-8")
    cli("init")
    code, out, _ = cli("--json", "orgs", "import", str(path))
    assert (code, json.loads(out)) == (0, {"imported": 9, "updated": 0, "unchanged": 0})
    path.write_text(SAMPLE_ORGS.replace("东村党支部", "东村村党支部"), encoding="utf-8")
    code, out, _ = cli("--json", "orgs", "import", str(path))
    assert json.loads(out) == {"imported": 0, "updated": 1, "unchanged": 8}


def test_chinese_header_with_bom_and_gbk(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("init")
    chinese = "编码,名称,类型,上级,书记,手机,邮箱\n" + SAMPLE_ORGS.split("\n", 1)[1]
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + chinese.encode("utf-8"))
    assert json.loads(cli("--json", "orgs", "import", str(bom))[1])["imported"] == 9
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(chinese.replace("东村党支部", "东村支部").encode("gb18030"))
    assert json.loads(cli("--json", "orgs", "import", str(gbk))[1])["updated"] == 1


def test_xlsx_import_with_numeric_phones(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for line in SAMPLE_ORGS.strip().split("\n"):
        cells: list[object] = list(line.split(","))
        if cells[5] and str(cells[5]).isdigit():
            cells[5] = int(str(cells[5]))  # Excel keeps phones as numbers
        sheet.append(cells)
    path = tmp_path / "orgs.xlsx"
    workbook.save(path)
    cli("init")
    code, out, err = cli("--json", "orgs", "import", str(path))
    assert (code, json.loads(out)["imported"]) == (0, 9), err
    listed = json.loads(cli("--json", "orgs", "list", "--parent", "T01")[1])
    assert listed == [
        {"code": "V001", "name": "东村党支部", "kind": "village", "parent": "T01", "secretary": "东村书记"},
        {"code": "V002", "name": "西村党支部", "kind": "village", "parent": "T01", "secretary": "西村书记"},
    ]


BAD_ROWS = [  # row, its reason in Chinese (the CLI's default), in English (SHUZHI_LANG=en)
    ("X1,某村,hamlet,T01,,,", "类型 'hamlet' 无效", "unknown kind 'hamlet'"),
    ("X1,某村,village,,,,", "缺少上级编码（parent）", "missing parent"),
    ("X1,某村,village,T99,,,", "上级 'T99' 不存在", "unknown parent 'T99'"),
    ("V001,重复村,village,T01,,,", "编码 'V001' 重复（首次出现在第 7 行）", "duplicate code 'V001' (first at row 7)"),
    ("X1,,village,T01,,,", "名称为空", "empty name"),
    ("X1,某村,village,T01,,12345,", "手机号格式有误", "malformed phone"),
    ("X1,某村,village,T01,,,not-an-email", "邮箱格式有误", "malformed email"),
]


@pytest.mark.parametrize(("row", "reason", "reason_en"), BAD_ROWS)
def test_a_bad_row_is_named_and_nothing_is_imported(cli, tmp_path: Path, monkeypatch, row: str, reason: str,  # type: ignore[no-untyped-def]
                                                     reason_en: str) -> None:
    cli("init")
    path = tmp_path / "bad.csv"
    path.write_text(SAMPLE_ORGS + row + "\n", encoding="utf-8")
    code, out, err = cli("--json", "orgs", "import", str(path))
    assert code == 2
    assert out == ""
    assert err.startswith(f"row 11: {reason}")  # the contract's `row N: reason`, the reason in the CLI's Chinese
    monkeypatch.setenv("SHUZHI_LANG", "en")
    assert cli("--json", "orgs", "import", str(path))[2].startswith(f"row 11: {reason_en}")
    assert json.loads(cli("--json", "orgs", "list")[1]) == []


def test_a_cycle_in_the_tree_is_named(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cli("init")
    path = tmp_path / "cycle.csv"
    path.write_text(SAMPLE_ORGS + "A1,甲,other,B1,,,\nB1,乙,other,A1,,,\n", encoding="utf-8")
    code, _, err = cli("orgs", "import", str(path))
    assert code == 2
    assert err.splitlines() == ["row 11: 组织树中有循环：A1 → B1 → A1", "row 12: 组织树中有循环：B1 → A1 → B1"]
    monkeypatch.setenv("SHUZHI_LANG", "en")
    err = cli("orgs", "import", str(path))[2]
    assert err.splitlines() == ["row 11: cycle in the tree: A1 → B1 → A1", "row 12: cycle in the tree: B1 → A1 → B1"]


def test_a_row_under_the_wrong_level_is_named(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cli("init")
    path = tmp_path / "level.csv"
    path.write_text(SAMPLE_ORGS + "X1,某村,village,V001,,,\n", encoding="utf-8")
    assert cli("orgs", "import", str(path))[2].strip() == "row 11: 村（village）不能隶属于村（village）'V001'"
    monkeypatch.setenv("SHUZHI_LANG", "en")
    assert cli("orgs", "import", str(path))[2].strip() == "row 11: a village cannot be under a village ('V001')"


def test_every_bad_row_is_reported_at_once(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("init")
    path = tmp_path / "bad.csv"
    path.write_text(SAMPLE_ORGS + "\n".join(r for r, _, _ in BAD_ROWS[:3]).replace("X1", "Y1", 1) + "\n", encoding="utf-8")
    code, _, err = cli("orgs", "import", str(path))
    assert code == 2
    assert [line.split(":")[0] for line in err.strip().splitlines()] == ["row 11", "row 12", "row 13"]


def test_year_start_json_and_idempotence(ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = ready("--json", "year", "start", "2014", "--plan", str(tmp_path / "plan.toml"))
    first = json.loads(out)
    assert (code, first["year"], first["created"], first["existing"]) == (0, 2014, 16, 0)
    second = json.loads(ready("--json", "year", "start", "2014", "--plan", str(tmp_path / "plan.toml"))[1])
    assert (second["created"], second["existing"]) == (0, 16)


@pytest.mark.parametrize(
    ("edit", "message", "english"),
    [
        (("[reminders]", "[reminder]"), "未知字段 'reminder'", "unknown key 'reminder'"),
        (('towns = "2014-12-20"', 'towns = "2014-12-xx"'), "meetings.towns：'2014-12-xx' 不是日期",
         "meetings.towns: '2014-12-xx' is not a date"),
        (('villages = "2014-12-26"', 'villages = "2015-02-26"'), "不在 2014 年度述职期内",
         "is outside the 2014 season"),
        (('T02 = "2014-12-27"', 'T77 = "2014-12-27"'), "没有编码为 'T77' 的组织", "no organization with code 'T77'"),
        (('T02 = "2014-12-27"', 'T02 = "2014-12-16"'), "自上而下", "the cascade runs top-down"),
    ],
)
def test_bad_plan_exit_2_and_nothing_created(ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                             edit: tuple[str, str], message: str, english: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SAMPLE_PLAN.replace(*edit), encoding="utf-8")
    code, out, err = ready("--json", "year", "start", "2014", "--plan", str(bad))
    assert (code, out) == (2, "")
    assert message in err
    monkeypatch.setenv("SHUZHI_LANG", "en")  # the same problem in the catalogue's English, no Chinese left
    code, out, err = ready("--json", "year", "start", "2014", "--plan", str(bad))
    assert (code, out) == (2, "") and english in err and not re.search(r"[\u4e00-\u9fff]", err), err
    monkeypatch.delenv("SHUZHI_LANG")
    assert ready("--json", "cycles", "list", "--year", "2014")[0] == 4  # the year was not launched


def test_cycles_list_show_fire(ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ready("year", "start", "2014", "--plan", str(tmp_path / "plan.toml"))
    code, out, _ = ready("--json", "--now", "2014-12-11", "cycles", "list", "--year", "2014", "--kind", "upward", "--lagging")
    rows = json.loads(out)
    assert code == 0
    assert set(rows[0]) >= {"org", "kind", "state", "step", "due", "overdue", "meeting"}
    assert {r["org"]: r["overdue"] for r in rows} == {"HC": True, "T01": True, "T02": True, "U01": True}
    assert rows[0] == rows[0] | {"org": "HC", "state": "researching", "step": "submit", "due": "2014-12-05", "meeting": "2014-12-15"}

    code, out, _ = ready("--json", "cycles", "fire", "--year", "2014", "V001", "finish_research", "--by", "东村书记")
    assert (code, json.loads(out)) == (0, {"org": "V001", "kind": "upward", "from": "researching", "to": "drafting",
                                           "event": "finish_research"})
    code, out, err = ready("--json", "cycles", "fire", "--year", "2014", "V001", "approve")
    assert (code, out) == (3, "")
    assert "不能执行“审核通过”" in err and "报送述职报告" in err
    assert ready("cycles", "fire", "--year", "2014", "NOPE", "submit")[0] == 4
    assert ready("cycles", "fire", "--year", "2014", "V001", "submit", "--kind", "sideways")[0] == 2

    shown = json.loads(ready("--json", "cycles", "show", "--year", "2014", "V001")[1])
    assert shown["state"] == "drafting"
    assert shown["deadlines"]["submit"] == "2014-12-16"
    assert [(h["from"], h["to"], h["event"], h["by"]) for h in shown["history"]] == [
        ("researching", "drafting", "finish_research", "东村书记")
    ]
    own = json.loads(ready("--json", "cycles", "show", "--year", "2014", "V001", "--kind", "own_level")[1])
    assert (own["meeting"], own["history"]) == ("2015-01-31", [])
    under = json.loads(ready("--json", "cycles", "list", "--year", "2014", "--under", "T01", "--state", "drafting")[1])
    assert [r["org"] for r in under] == ["V001"]


def test_human_output_is_chinese(ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = ready("year", "start", "2014", "--plan", str(tmp_path / "plan.toml"))[1]
    assert "年度已启动" in out
    listing = ready("--now", "2014-12-11", "cycles", "list", "--year", "2014", "--lagging")[1]
    assert "调研" in listing and "报送述职报告" in listing


def test_bad_now_and_unknown_command(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("--now", "yesterday", "init")
    assert code == 2 and "--now" in err
    assert cli("frobnicate")[0] == 2


def test_states_diagram_is_mermaid_from_the_code(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("states", "diagram")
    assert code == 0
    assert out.startswith("stateDiagram-v2")
    assert "submitted --> revising: rewrite" in out


def test_a_database_without_schema_says_to_run_init(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("cycles", "list", "--year", "2014")
    assert (code, out) == (2, "")
    assert "shuzhi init" in err and "Traceback" not in err


def test_import_of_a_missing_file_says_so_in_chinese(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cli("init")
    code, out, err = cli("orgs", "import", str(tmp_path / "gone.csv"))
    assert (code, out) == (2, "")
    assert err.strip() == "错误：文件 gone.csv 不存在"
    monkeypatch.setenv("SHUZHI_LANG", "en")
    assert cli("orgs", "import", str(tmp_path / "gone.csv"))[2].strip() == "error: gone.csv: no such file"
