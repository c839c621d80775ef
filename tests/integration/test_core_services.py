"""Import, cascade and transitions on real databases: SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.clock import parse_when
from services.cycles import fire_event, list_cycles, show_cycle
from services.errors import BadInput, Conflict, NotFound, Refused
from services.orgs import import_orgs, list_orgs
from services.years import start_year
from storage.db import Database
from storage.tables.core import cycles, history, orgs
from tests.conftest import SAMPLE_ORGS, SAMPLE_PLAN

NOW = parse_when("2014-11-25")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def count(db: Database, table: sa.Table) -> int:
    with db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_cascade_creates_two_cycles_per_assessed_org_with_their_meetings(any_db: Database, tmp_path: Path) -> None:
    assert import_orgs(any_db, write(tmp_path, "o.csv", SAMPLE_ORGS), now=NOW).imported == 9
    result = start_year(any_db, plan_text=SAMPLE_PLAN, year=2014, now=NOW)
    assert (result.created, result.existing) == (16, 0)  # 8 assessed organizations × 2 kinds
    today = date(2014, 11, 25)
    rows = {(r["org"], r["kind"]): r for r in list_cycles(any_db, year=2014, today=today)}
    assert rows[("HC", "upward")]["meeting"] == "2014-12-15"  # the city secretary at the prefecture's meeting
    assert rows[("T01", "upward")]["meeting"] == "2014-12-20"
    assert rows[("U01", "upward")]["meeting"] == "2014-12-20"
    assert rows[("V001", "upward")]["meeting"] == "2014-12-26"
    assert rows[("C001", "upward")]["meeting"] == "2014-12-27"  # T02's own date from by_organizer
    assert rows[("V001", "upward")]["due"] == "2014-12-16"  # submit_by = meeting − 10 days
    assert rows[("V001", "own_level")]["meeting"] == "2015-01-31"
    assert {r["state"] for r in rows.values()} == {"researching"}
    assert ("XG", "upward") not in rows  # the prefecture is not assessed


def test_relaunch_is_idempotent_and_adds_only_new_orgs(any_db: Database, tmp_path: Path) -> None:
    import_orgs(any_db, write(tmp_path, "o.csv", SAMPLE_ORGS), now=NOW)
    start_year(any_db, plan_text=SAMPLE_PLAN, year=2014, now=NOW)
    fire_event(any_db, year=2014, org="V001", event="finish_research", now=NOW)
    again = start_year(any_db, plan_text=SAMPLE_PLAN, year=2014, now=NOW)
    assert (again.created, again.existing, again.relaunch) == (0, 16, True)
    assert show_cycle(any_db, year=2014, org="V001")["state"] == "drafting"  # untouched by the relaunch
    more = SAMPLE_ORGS + "V003,南村党支部,village,T01,南村书记,,\nT03,新设镇党委,town,HC,,,\nV301,新村,village,T03,,,\n"
    import_orgs(any_db, write(tmp_path, "o2.csv", more), now=NOW)
    third = start_year(any_db, plan_text=SAMPLE_PLAN, year=2014, now=NOW)
    assert (third.created, third.existing, third.meetings_created) == (6, 16, 1)


def test_bad_plan_changes_nothing(any_db: Database, tmp_path: Path) -> None:
    import_orgs(any_db, write(tmp_path, "o.csv", SAMPLE_ORGS), now=NOW)
    unknown = SAMPLE_PLAN.replace('T02 = "2014-12-27"', 'T99 = "2014-12-27"')
    with pytest.raises(BadInput, match="T99"):
        start_year(any_db, plan_text=unknown, year=2014, now=NOW)
    early = SAMPLE_PLAN.replace('T02 = "2014-12-27"', 'T02 = "2014-12-18"')  # before T02 reports at the city's 12-20
    with pytest.raises(BadInput, match="自上而下"):
        start_year(any_db, plan_text=early, year=2014, now=NOW)
    with pytest.raises(BadInput, match="计划文件中的年度为 2014"):
        start_year(any_db, plan_text=SAMPLE_PLAN, year=2015, now=NOW)
    assert count(any_db, cycles) == 0


def test_fire_is_one_guarded_transaction_with_history(any_db: Database, tmp_path: Path) -> None:
    import_orgs(any_db, write(tmp_path, "o.csv", SAMPLE_ORGS), now=NOW)
    start_year(any_db, plan_text=SAMPLE_PLAN, year=2014, now=NOW)
    fire_event(any_db, year=2014, org="T01", event="finish_research", now=NOW, by="马口书记")
    fire_event(any_db, year=2014, org="T01", event="submit", now=NOW)
    fired = fire_event(any_db, year=2014, org="T01", event="revise", now=NOW, by="组织部", note="只讲成绩不讲问题")
    assert (fired.from_state, fired.to_state) == ("submitted", "revising")
    with pytest.raises(Refused):
        fire_event(any_db, year=2014, org="T01", event="present", now=NOW)
    shown = show_cycle(any_db, year=2014, org="T01", today=date(2014, 11, 25))
    assert shown["state"] == "revising"
    assert shown["returns"] == 1
    assert shown["due"] == shown["deadlines"]["resubmit"] == "2014-12-17"
    assert [(h["event"], h["by"], h["note"]) for h in shown["history"]] == [
        ("finish_research", "马口书记", None),
        ("submit", "system", None),
        ("revise", "组织部", "只讲成绩不讲问题"),
    ]
    assert shown["history"][0]["at"] == "2014-11-25T09:00:00+08:00"
    assert count(any_db, history) == 3


def test_refused_event_changes_neither_state_nor_history(any_db: Database, tmp_path: Path) -> None:
    import_orgs(any_db, write(tmp_path, "o.csv", SAMPLE_ORGS), now=NOW)
    start_year(any_db, plan_text=SAMPLE_PLAN, year=2014, now=NOW)
    with pytest.raises(Refused, match="不能执行"):
        fire_event(any_db, year=2014, org="V001", event="approve", now=NOW)
    with pytest.raises(NotFound):
        fire_event(any_db, year=2014, org="NOPE", event="submit", now=NOW)
    with pytest.raises(BadInput):
        fire_event(any_db, year=2014, org="V001", event="teleport", now=NOW)
    assert show_cycle(any_db, year=2014, org="V001")["state"] == "researching"
    assert count(any_db, history) == 0


def test_two_simultaneous_fires_one_wins(any_db: Database, tmp_path: Path) -> None:
    """Optimistic locking: of two writers racing on one cycle, exactly one moves it."""
    import_orgs(any_db, write(tmp_path, "o.csv", SAMPLE_ORGS), now=NOW)
    start_year(any_db, plan_text=SAMPLE_PLAN, year=2014, now=NOW)
    fire_event(any_db, year=2014, org="V001", event="finish_research", now=NOW)

    results: list[str] = []
    barrier = threading.Barrier(2)

    def contender() -> None:
        barrier.wait()
        try:
            fire_event(any_db, year=2014, org="V001", event="submit", now=NOW)
            results.append("won")
        except (Conflict, Refused):
            results.append("refused")

    threads = [threading.Thread(target=contender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["refused", "won"]
    assert show_cycle(any_db, year=2014, org="V001")["state"] == "submitted"
    with any_db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(history).where(history.c.event == "submit")).scalar_one() == 1


@pytest.mark.pg
def test_many_concurrent_fires_on_postgresql_exactly_one_wins(pg_db: Database, tmp_path: Path) -> None:
    import_orgs(pg_db, write(tmp_path, "o.csv", SAMPLE_ORGS), now=NOW)
    start_year(pg_db, plan_text=SAMPLE_PLAN, year=2014, now=NOW)
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def contender() -> None:
        barrier.wait()
        try:
            fire_event(pg_db, year=2014, org="T01", event="finish_research", now=NOW)
            outcomes.append("won")
        except (Conflict, Refused) as refusal:
            outcomes.append(type(refusal).__name__)

    threads = [threading.Thread(target=contender) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("won") == 1
    assert len(outcomes) == 6
    with pg_db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(history)).scalar_one() == 1


def test_lagging_and_subtree_queries(any_db: Database, tmp_path: Path) -> None:
    import_orgs(any_db, write(tmp_path, "o.csv", SAMPLE_ORGS), now=NOW)
    start_year(any_db, plan_text=SAMPLE_PLAN, year=2014, now=NOW)
    # 2014-12-03: HC's submit (12-05) is within 3 days; T01/T02/U01 (12-10) and villages (12-16) are not
    lagging = list_cycles(any_db, year=2014, today=date(2014, 12, 3), lagging=True)
    assert [(r["org"], r["kind"]) for r in lagging] == [("HC", "upward")]
    later = list_cycles(any_db, year=2014, today=date(2014, 12, 11), lagging=True, kind="upward")
    assert {r["org"] for r in later if r["overdue"]} == {"HC", "T01", "T02", "U01"}
    under = list_cycles(any_db, year=2014, today=date(2014, 12, 11), under="T02", kind="upward")
    assert {r["org"] for r in under} == {"T02", "C001", "E001"}
    with pytest.raises(NotFound):
        list_cycles(any_db, year=2015, today=date(2014, 12, 11))


def test_reimport_updates_changed_rows_and_moves_subtrees(any_db: Database, tmp_path: Path) -> None:
    import_orgs(any_db, write(tmp_path, "o.csv", SAMPLE_ORGS), now=NOW)
    changed = SAMPLE_ORGS.replace("T01,马口镇党委,town,HC,马口书记", "T01,马口镇党委,town,HC,新书记").replace(
        "V002,西村党支部,village,T01", "V002,西村党支部,village,T02"
    )
    result = import_orgs(any_db, write(tmp_path, "o2.csv", changed), now=NOW)
    assert result.as_dict() == {"imported": 0, "updated": 2, "unchanged": 7}
    children = {r["code"] for r in list_orgs(any_db, parent="T02")}
    assert children == {"C001", "E001", "V002"}
    with any_db.connect() as conn:
        assert conn.execute(sa.select(orgs.c.path).where(orgs.c.code == "V002")).scalar() == "/XG/HC/T02/V002/"


def test_a_plan_in_working_days_follows_chinas_calendar(sqlite_db: Database, tmp_path: Path) -> None:
    """R23: with [calendar] working_days = true, the report is due ten *working* days before the meeting."""
    import_orgs(sqlite_db, write(tmp_path, "o.csv", SAMPLE_ORGS), now=NOW)
    plan = SAMPLE_PLAN + "\n[calendar]\nworking_days = true\n"
    start_year(sqlite_db, plan_text=plan, year=2014, now=NOW)
    village = show_cycle(sqlite_db, year=2014, org="V001")
    # meeting Friday 2014-12-26; ten working days back skips two weekends
    assert village["deadlines"]["submit"] == "2014-12-12"
    own = show_cycle(sqlite_db, year=2014, org="V001", kind="own_level")
    # own level by Saturday 2015-01-31: counted back over two weekends, Monday 19 January
    assert own["deadlines"]["submit"] == "2015-01-19"
