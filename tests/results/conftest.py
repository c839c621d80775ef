"""A generated city with known inputs: every unit's four components equal one chosen score, so its composite
is that score and the ranks, key-management lists and veto outcomes can be worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.app import App
from services.orgs import import_orgs
from services.scores import import_scores
from services.years import start_year
from tests.conftest import SAMPLE_PLAN

# Villages V01…V12 (12 → ⌈10 % × 12⌉ = 2 listed; V02 and V03 tie at 65, so 3 are listed).
VILLAGE_SCORES = {"V01": 60, "V02": 65, "V03": 65, "V04": 70, "V05": 72, "V06": 75, "V07": 78, "V08": 80,
                  "V09": 82, "V10": 85, "V11": 88, "V12": 90}
# Communities and others C01…C21 (21 → ⌈5 % × 21⌉ = ⌈1.05⌉ = 2 listed: C01 and C02).
COMMUNITY_SCORES = {f"C{i:02d}": 50 + 5 * (i - 1) if i <= 3 else 70 + i for i in range(1, 22)}
# Towns: T2 and T3 tie for first (ranks 1, 1, 3); ⌈10 % × 3⌉ = 1 weak town: T1.
TOWN_SCORES = {"T1": 80, "T2": 90, "T3": 90}
# City units: U4 lacks `daily`, so it has no composite and no rank.
UNIT_SCORES = {"U1": 70, "U2": 85, "U3": 75, "U4": 95}
PERFORMANCE = {"T1": 99, "T2": 95, "T3": 90, "U1": 98, "U2": 97, "U3": 96, "U4": 95}


def city_csv() -> str:
    lines = ["code,name,kind,parent,secretary,phone,email",
             "XG,孝感市委,prefecture,,,,", "HC,汉川市委,city,XG,汉川书记,13900000001,",
             "T1,一号镇党委,town,HC,,,", "T2,二号街道党工委,subdistrict,HC,,,", "T3,三号场党委,farm,HC,,,"]
    lines += [f"U{i},市直单位{i}党组,city_unit,HC,,," for i in range(1, 5)]
    lines += [f"{code},{code}村党支部,village,{'T1' if int(code[1:]) <= 6 else 'T2'},,," for code in VILLAGE_SCORES]
    kinds = ("community", "enterprise", "other")
    lines += [f"{code},{code}党组织,{kinds[i % 3]},T3,,," for i, code in enumerate(COMMUNITY_SCORES)]
    return "\n".join(lines) + "\n"


def scores_csv() -> str:
    rows = ["org,component,score"]
    for table in (VILLAGE_SCORES, COMMUNITY_SCORES, TOWN_SCORES, UNIT_SCORES):
        for code, score in table.items():
            for component in ("onsite", "evaluation", "survey", "daily"):
                if not (code == "U4" and component == "daily"):
                    rows.append(f"{code},{component},{score}")
    rows += [f"{code},performance,{score}" for code, score in PERFORMANCE.items()]
    return "\n".join(rows) + "\n"


def plan_for(year: int) -> str:
    return SAMPLE_PLAN.replace("2014", str(year)).replace("2015-01-31", f"{year + 1}-01-31").replace(
        "T02 = ", "T2 = ")


def build_city(app: App, tmp_path: Path, *, with_scores: bool = True) -> App:
    (tmp_path / "city.csv").write_text(city_csv(), encoding="utf-8")
    import_orgs(app.db, tmp_path / "city.csv", now=app.now())
    start_year(app.db, plan_text=plan_for(2014), year=2014, now=app.now())
    if with_scores:
        (tmp_path / "scores.csv").write_text(scores_csv(), encoding="utf-8")
        import_scores(app.db, tmp_path / "scores.csv", year=2014, now=app.now())
    return app


@pytest.fixture
def city(launched_city_db: App) -> App:
    return launched_city_db


@pytest.fixture
def launched_city_db(any_db, clock, tmp_path: Path) -> App:  # type: ignore[no-untyped-def]
    from tests.conftest import make_app

    return build_city(make_app(any_db, clock), tmp_path)


@pytest.fixture
def sqlite_city(app: App, tmp_path: Path) -> App:
    return build_city(app, tmp_path)
