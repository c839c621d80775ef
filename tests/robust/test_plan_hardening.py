"""Issue 10 H1 and L6 (plan side): every plan field checked at parse time, refused with a Chinese message naming
the field (exit 2 / 400), never a traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from services.errors import BadInput, render
from services.years import load_plan_text
from states.plan import PlanError, parse_plan
from tests.conftest import SAMPLE_PLAN


def said(error: PlanError, lang: str = "zh") -> str:
    return "; ".join(render(p.code, p.params, lang) for p in error.problems)


def _plan_with(**top: Any) -> dict[str, Any]:
    data = tomllib.loads(SAMPLE_PLAN)
    data.update(top)
    return data


@pytest.mark.parametrize("zone", ["Nowhere/Zone", "../../../../etc/passwd", "/etc/localtime", "", "Asia/Shanghai\x00",
                                  "x" * 500, 8])
def test_h1_plan_timezone_must_be_a_real_iana_zone(zone: Any) -> None:
    with pytest.raises(PlanError) as refused:
        parse_plan(_plan_with(timezone=zone))
    assert "timezone" in said(refused.value) and "时区" in said(refused.value)
    assert said(refused.value, "en").startswith("timezone: '") and "time zone" in said(refused.value, "en")


def test_h1_plan_timezone_real_zones_pass() -> None:
    assert parse_plan(_plan_with(timezone="Asia/Urumqi")).timezone == "Asia/Urumqi"


@pytest.mark.parametrize(("field", "value"), [
    ("submission_lead_days", 99999999999), ("submission_lead_days", -1), ("year", 99999999999), ("year", 10**30),
])
def test_l6_plan_numbers_in_range(field: str, value: int) -> None:
    with pytest.raises(PlanError) as refused:
        parse_plan(_plan_with(**{field: value}))
    assert field in said(refused.value) and "整数" in said(refused.value)
    assert field in said(refused.value, "en") and "whole number" in said(refused.value, "en")


@pytest.mark.parametrize(("section", "key", "value"), [
    ("deadlines", "review_days_before", 10**12), ("reminders", "escalate_after_days", 10**12),
    ("reminders", "sms_per_minute", 10**20), ("reminders", "before_days", [10**15]),
])
def test_l6_plan_section_numbers_in_range(section: str, key: str, value: Any) -> None:
    data = tomllib.loads(SAMPLE_PLAN)
    data.setdefault(section, {})[key] = value
    with pytest.raises(PlanError) as refused:
        parse_plan(data)
    assert f"{section}.{key}" in said(refused.value) and f"{section}.{key}" in said(refused.value, "en")


def test_l6_plan_nesting_bounded_50000_brackets() -> None:
    text = SAMPLE_PLAN + "\n[scoring]\nweights = " + "[" * 50_000 + "]" * 50_000 + "\n"
    with pytest.raises(BadInput) as refused:
        load_plan_text(text)
    assert refused.value.exit_code == 2 and "嵌套" in str(refused.value)


def test_l6_plan_nesting_bounded_after_parse() -> None:
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(PlanError) as refused:
        parse_plan(_plan_with(scoring={"weights": deep}))
    assert said(refused.value) == "计划文件嵌套过深（列表和表最多 8 层）"
    assert said(refused.value, "en") == "plan: lists and tables nested more than 8 deep"


def test_l6_plan_datetime_is_not_a_date() -> None:
    data = tomllib.loads(SAMPLE_PLAN.replace('city = "2014-12-15"', "city = 2014-12-15T08:00:00"))
    with pytest.raises(PlanError) as refused:
        parse_plan(data)
    assert said(refused.value) == "meetings.city：'2014-12-15 08:00:00' 应为日期（YYYY-MM-DD），不带时间"
    assert said(refused.value, "en") == "meetings.city: '2014-12-15 08:00:00' must be a date (YYYY-MM-DD) without a time"


def test_h1_year_start_refuses_a_bad_timezone_exit_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import SAMPLE_ORGS

    (tmp_path / "orgs.csv").write_text(SAMPLE_ORGS, encoding="utf-8")
    assert cli("init")[0] == 0 and cli("orgs", "import", str(tmp_path / "orgs.csv"))[0] == 0
    for bad in ('timezone = "Nowhere/Zone"', 'timezone = "../../../../etc/passwd"', "submission_lead_days = 99999999999"):
        plan = tmp_path / "bad.toml"
        plan.write_text(SAMPLE_PLAN.replace('timezone = "Asia/Shanghai"\nsubmission_lead_days = 10', bad),
                        encoding="utf-8")
        code, out, err = cli("--json", "year", "start", "2014", "--plan", str(plan))
        assert (code, out) == (2, ""), err
        assert "Traceback" not in err and ("timezone" in err or "submission_lead_days" in err)
    deep = tmp_path / "deep.toml"
    deep.write_text(SAMPLE_PLAN + "\n[scoring]\nw = " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    code, out, err = cli("year", "start", "2014", "--plan", str(deep))
    assert code == 2 and "嵌套" in err and "Traceback" not in err
    assert cli("--json", "cycles", "list", "--year", "2014")[0] in (0, 4)  # nothing was launched
    code, out, _ = cli("--json", "cycles", "list", "--year", "2014")
    assert code == 4 or out.strip() == "[]"
