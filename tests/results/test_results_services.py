"""Results on the generated city: ranks with ties, ⌈⌉ key-management lists, weak towns, the veto, years side by side."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.app import App
from services.errors import BadInput, NotFound
from services.key_management import list_key_management, record_admonition
from services.results import compute_results, list_vetoes, run_veto, show_results
from services.scores import import_scores, list_scores
from services.years import start_year
from tests.results.conftest import plan_for


def by_org(rows: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {r["org"]: r for r in rows}


def test_ranks_key_management_and_weak_units_by_hand(city: App) -> None:
    summary = compute_results(city.db, year=2014, now=city.now())
    # 12 villages: ⌈1.2⌉ = 2, and V03 ties V02 at the boundary → 3 listed
    # 21 communities and others: ⌈1.05⌉ = 2 → C01, C02 (no tie)
    assert summary["key_management"] == ["C01", "C02", "V01", "V02", "V03"]
    # 3 towns: ⌈0.3⌉ = 1 → T1; 3 ranked city units: ⌈0.3⌉ = 1 → U1 (U4 has no composite)
    assert summary["weak"] == ["T1", "U1"]
    assert summary["missing"] == [{"org": "U4", "missing": ["daily"]}]

    rows = show_results(city.db, year=2014)
    results = by_org(rows)
    assert [(r["org"], r["rank"]) for r in rows if r["category"] == "towns"] == [("T2", 1), ("T3", 1), ("T1", 3)]
    assert [(r["org"], r["rank"]) for r in rows if r["category"] == "city_units"] == [
        ("U2", 1), ("U3", 2), ("U1", 3), ("U4", None)]
    villages = [r["org"] for r in rows if r["category"] == "villages"]
    assert villages == [*(f"V{i:02d}" for i in range(12, 3, -1)), "V02", "V03", "V01"]  # a tie lists by code
    assert (results["V02"]["rank"], results["V03"]["rank"], results["V01"]["rank"]) == (10, 10, 12)
    # categories in contract order, ranks ascending, the unranked last
    assert [r["category"] for r in rows] == sorted(
        (r["category"] for r in rows), key=["towns", "city_units", "villages", "communities_and_others"].index)
    u4 = results["U4"]
    assert (u4["composite"], u4["rank"], u4["missing"], u4["components"]["daily"]) == (None, None, ["daily"], None)
    assert "never counted as zero" in u4["explanation"]["composite"]
    assert results["V01"]["key_management"] is True and results["V04"]["key_management"] is False
    assert results["T1"]["weak"] is True and results["T1"]["key_management"] is False


def test_composite_uses_the_plan_weights_and_explains_itself(sqlite_city: App, tmp_path: Path) -> None:
    app = sqlite_city
    (tmp_path / "v.csv").write_text("org,component,score\nV05,onsite,80\nV05,evaluation,90\nV05,survey,70\nV05,daily,60\n",
                                    encoding="utf-8")
    import_scores(app.db, tmp_path / "v.csv", year=2014, now=app.now())
    compute_results(app.db, year=2014, now=app.now())
    v05 = by_org(show_results(app.db, year=2014, category="villages"))["V05"]
    # 0.4·80 + 0.3·90 + 0.2·70 + 0.1·60 = 32 + 27 + 14 + 6 = 79
    assert v05["composite"] == 79.0
    assert v05["explanation"]["composite"] == (
        "0.4×onsite 80 + 0.3×evaluation 90 + 0.2×survey 70 + 0.1×daily 60 = 79 (rounded to 2 decimals)")
    assert v05["explanation"]["components"]["survey"]["source"] == "import v.csv row 4"
    assert v05["rank"] == 6  # 90, 88, 85, 82, 80, then 79 ahead of 78


def test_ballots_take_precedence_over_an_imported_evaluation(sqlite_city: App, monkeypatch: pytest.MonkeyPatch) -> None:
    import services.results as results_service

    monkeypatch.setattr(results_service, "ballot_evaluation_scores", lambda db, *, year: {"T1": 100.0})
    compute_results(sqlite_city.db, year=2014, now=sqlite_city.now())
    t1 = by_org(show_results(sqlite_city.db, year=2014, category="towns"))["T1"]
    assert t1["components"]["evaluation"] == 100.0  # ballots, not the imported 80
    assert t1["composite"] == 86.0  # 0.4·80 + 0.3·100 + 0.2·80 + 0.1·80
    assert "overridden by the ballots" in t1["explanation"]["components"]["evaluation"]["source"]


def test_veto_one_to_one_and_a_half(city: App) -> None:
    compute_results(city.db, year=2014, now=city.now())
    # towns by performance: T1 99, T2 95, T3 90; 2 places → ⌈3⌉ = 3 candidates; T1 (composite 80) is vetoed
    decision = run_veto(city.db, year=2014, category="towns", honour="年度目标考核先进单位", places=2, now=city.now())
    assert {k: decision[k] for k in ("honour", "places", "candidates", "awarded", "vetoed")} == {
        "honour": "年度目标考核先进单位", "places": 2, "candidates": ["T1", "T2", "T3"],
        "awarded": ["T2", "T3"], "vetoed": ["T1"]}
    # city units: 2 places → 3 candidates U1 98, U2 97, U3 96; U1 (70) vetoed; U4 is not a candidate
    decision = run_veto(city.db, year=2014, category="city_units", honour="七一表彰", places=2, now=city.now())
    assert (decision["candidates"], decision["awarded"], decision["vetoed"]) == (["U1", "U2", "U3"], ["U2", "U3"], ["U1"])
    # 3 places → ⌈4.5⌉ = 5 candidates, only 4 with performance; U4 has no composite and is vetoed first
    decision = run_veto(city.db, year=2014, category="city_units", honour="七一表彰", places=3, now=city.now())
    assert (decision["awarded"], decision["vetoed"]) == (["U1", "U2", "U3"], ["U4"])
    assert decision["reasons"]["U4"] == "no party-building composite"
    assert [d["places"] for d in list_vetoes(city.db, year=2014)] == [2, 3]  # the rerun replaced the honour


def test_performance_total_share(city: App) -> None:
    compute_results(city.db, year=2014, now=city.now())
    t2 = by_org(show_results(city.db, year=2014, category="towns"))["T2"]
    # default weight 0.1: 0.1·90 = 9 points; total 0.9·95 + 9 = 94.5
    assert (t2["party_building_points"], t2["performance_total"]) == (9.0, 94.5)


def test_years_side_by_side_and_key_management_tracking(city: App, tmp_path: Path) -> None:
    compute_results(city.db, year=2014, now=city.now())
    start_year(city.db, plan_text=plan_for(2015), year=2015, now=city.now())
    # 2015: V01 improves to 95; V02 stays at the bottom; everything else as in 2014
    lines = ["org,component,score"]
    for code, score in [*({f"V{i:02d}": s for i, s in enumerate([95, 65, 66, 70, 72, 75, 78, 80, 82, 85, 88, 90], 1)}.items())]:
        lines += [f"{code},{c},{score}" for c in ("onsite", "evaluation", "survey", "daily")]
    (tmp_path / "2015.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_scores(city.db, tmp_path / "2015.csv", year=2015, now=city.now())
    summary = compute_results(city.db, year=2015, now=city.now())
    assert summary["key_management"] == ["V02", "V03"]  # ⌈1.2⌉ = 2: 65, 66 (no tie this time)

    rows = by_org(show_results(city.db, year=2015, category="villages", compare=2014))
    assert (rows["V01"]["rank"], rows["V01"]["previous_rank"], rows["V01"]["rank_change"]) == (1, 12, 11)
    assert rows["V01"]["improved"] is True and rows["V01"]["key_management_repeat"] is False
    assert rows["V02"]["key_management_repeat"] is True and rows["V02"]["consecutive_years"] == 2
    tracked_2014 = {r["org"]: r["status"] for r in list_key_management(city.db, year=2014)}
    assert tracked_2014 == {"C01": "open", "C02": "open", "T1": "open", "U1": "open",
                            "V01": "improved", "V02": "continued", "V03": "continued"}
    # 2014's results are untouched by 2015's computation (R33)
    assert by_org(show_results(city.db, year=2014, category="villages"))["V01"]["rank"] == 12


def test_admonition_record_and_deadline(city: App) -> None:
    compute_results(city.db, year=2014, now=city.now())
    t1 = next(r for r in list_key_management(city.db, year=2014) if r["org"] == "T1")
    assert (t1["measure"], t1["rectify_by"]) == ("admonition", "2014-12-25")  # clock 2014-11-25 + 30 days
    from datetime import date

    record = record_admonition(city.db, year=2014, org="T1", talk_on=date(2015, 1, 10), note="限期一个月整改")
    assert (record["talk_on"], record["rectify_by"]) == ("2015-01-10", "2014-12-25")
    compute_results(city.db, year=2014, now=city.now())  # recomputing keeps what was recorded
    assert next(r for r in list_key_management(city.db, year=2014) if r["org"] == "T1")["talk_on"] == "2015-01-10"
    with pytest.raises(NotFound):
        record_admonition(city.db, year=2014, org="T2", talk_on=date(2015, 1, 10), note="x")


def test_bad_score_rows_are_named_and_nothing_changes(sqlite_city: App, tmp_path: Path) -> None:
    app = sqlite_city
    before = list_scores(app.db, year=2014)
    bad = tmp_path / "bad.csv"
    bad.write_text("org,component,score\nV01,onsite,70\nNOPE,onsite,70\nV02,bonus,50\nV03,survey,abc\nV04,daily,101\n"
                   "V01,onsite,71\nXG,onsite,50\n", encoding="utf-8")
    with pytest.raises(BadInput) as error:
        import_scores(app.db, bad, year=2014, now=app.now())
    assert error.value.problems[:2] == ["第 3 行：组织 'NOPE' 不存在", "第 4 行：考核项目 'bonus' 无效（可选 onsite, survey, daily, "
                                        "performance, evaluation）"]
    assert error.value.problems[-1] == "第 8 行：XG 是地市委（prefecture），不参加考核（没有考核类别）"
    assert error.value.problems_in("en") == [
        "row 3: unknown org 'NOPE'",
        "row 4: unknown component 'bonus' (one of onsite, survey, daily, performance, evaluation)",
        "row 5: score 'abc' is not a number",
        "row 6: score 101 is out of range 0–100",
        "row 7: duplicate V01 onsite (first at row 2)",
        "row 8: XG is a prefecture, which is not scored (no result category)",
    ]
    assert list_scores(app.db, year=2014) == before


def test_reimport_replaces_the_same_org_and_component(sqlite_city: App, tmp_path: Path) -> None:
    app = sqlite_city
    path = tmp_path / "again.xlsx"
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["org", "component", "score"], ["V01", "onsite", 99.5], ["V01", "survey", 1]):
        sheet.append(row)
    book.save(path)
    assert import_scores(app.db, path, year=2014, now=app.now())["imported"] == 2
    v01 = {r["component"]: r["score"] for r in list_scores(app.db, year=2014, org="V01")}
    assert v01 == {"onsite": 99.5, "survey": 1.0, "evaluation": 60.0, "daily": 60.0}


def test_onsite_items_roll_up(sqlite_city: App, tmp_path: Path) -> None:
    from services.scores import import_onsite

    app = sqlite_city
    items = "leadership_team,serving_masses,basic_systems,member_management,venues,collective_economy"
    path = tmp_path / "onsite.csv"
    path.write_text(f"org,part,{items}\nV01,town,90,80,70,60,100,80\nV01,members,70,70,70,70,70,70\n", encoding="utf-8")
    result = import_onsite(app.db, path, year=2014, now=app.now())
    # town part: (90+80+70+60+100+80)/6 = 80; members: 70; onsite = 0.5·80 + 0.5·70 = 75
    assert result["onsite"] == {"V01": 75.0}
    stored = next(r for r in list_scores(app.db, year=2014, org="V01") if r["component"] == "onsite")
    assert stored["detail"]["parts"] == {"town": 80.0, "members": 70.0}

    path.write_text(f"org,part,{items}\nV02,town,90,80,70,60,100,80\nT1,town,1,1,1,1,1,1\nT1,members,1,1,1,1,1,1\n"
                    f"V03,boss,1,1,1,1,1,1\n", encoding="utf-8")
    with pytest.raises(BadInput) as error:
        import_onsite(app.db, path, year=2014, now=app.now())
    assert error.value.problems[-1] == "第 5 行：评价主体 'boss' 无效（可选 乡镇党委评（town）、党员群众评（members））"
    assert error.value.problems_in("en") == [
        "row 2: V02 lacks the part(s) members",
        "row 3: T1 is a town; on-site items are for villages, communities and others",
        "row 5: unknown part 'boss' (town or members)",
    ]


def test_results_need_a_computation(sqlite_city: App) -> None:
    with pytest.raises(NotFound):
        show_results(sqlite_city.db, year=2014)
    with pytest.raises(BadInput):
        show_results(sqlite_city.db, year=2014, category="planets")
