"""The launch in three steps (what the Prefect launch runs on several machines) against `start_year` in one
transaction, on both backends: the same cycles, batches idempotent in any order, two prepares of a year at once."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.clock import parse_when
from services.orgs import import_orgs
from services.years import finalize_launch, launch_subtrees, prepare_launch, start_year
from storage.db import Database
from storage.tables.core import cycles, meetings, years
from tests.conftest import SAMPLE_PLAN
from tests.flows.test_mode2_end_to_end import ASSESSED, CITIES, PLAN, TOWNS, _tree_csv

NOW = parse_when("2014-11-25T09:00+08:00")
COLUMNS = [cycles.c.org_id, cycles.c.kind, cycles.c.organizer_id, cycles.c.meeting_on,
           cycles.c.state, cycles.c.due, cycles.c.submit_due, cycles.c.commitment_due]


def _cycles(db: Database) -> list[tuple[object, ...]]:
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(*COLUMNS).order_by(cycles.c.org_id, cycles.c.kind))]


def test_prepare_batches_finalize_equal_one_transaction(any_db: Database, tmp_path: Path) -> None:
    (tmp_path / "orgs.csv").write_text(_tree_csv(), encoding="utf-8")
    import_orgs(any_db, tmp_path / "orgs.csv", now=NOW)

    prepared = prepare_launch(any_db, plan_text=PLAN, year=2014, now=NOW)
    again = prepare_launch(any_db, plan_text=PLAN, year=2014, now=NOW)  # a second launch of the year at once
    assert len(prepared.roots) == CITIES and prepared.fresh and not prepared.relaunch
    assert again.relaunch and again.meetings_created == 0
    assert prepared.meetings_created == 1 + CITIES + CITIES * TOWNS
    created = [launch_subtrees(any_db, year=2014, paths=[root], now=NOW) for root in reversed(prepared.roots)]
    assert sum(created) == 2 * ASSESSED
    assert launch_subtrees(any_db, year=2014, paths=prepared.roots, now=NOW) == 0  # every batch run again
    result = finalize_launch(any_db, prepared=prepared)
    assert (result.created, result.existing, result.by_kind) == (2 * ASSESSED, 0, {"upward": ASSESSED, "own_level": ASSESSED})
    distributed = _cycles(any_db)

    with any_db.begin() as conn:
        for table in (cycles, meetings, years):
            conn.execute(table.delete())
    assert start_year(any_db, plan_text=PLAN, year=2014, now=NOW).created == 2 * ASSESSED
    assert _cycles(any_db) == distributed


def test_a_batch_of_several_subtrees_creates_theirs_and_no_other(any_db: Database, tmp_path: Path) -> None:
    from storage.tables.core import orgs

    (tmp_path / "orgs.csv").write_text(_tree_csv(), encoding="utf-8")
    import_orgs(any_db, tmp_path / "orgs.csv", now=NOW)
    prepared = prepare_launch(any_db, plan_text=PLAN, year=2014, now=NOW)
    per_city = ASSESSED // CITIES
    # C0 and C2 in one batch (two path ranges, the same two statements), C2 listed twice and out of order
    assert launch_subtrees(any_db, year=2014, paths=["/P/C2/", "/P/C0/", "/P/C2/"], now=NOW) == 2 * 2 * per_city
    with any_db.connect() as conn:
        launched = conn.execute(sa.select(orgs.c.code, sa.func.count()).join(cycles, cycles.c.org_id == orgs.c.id)
                                .group_by(orgs.c.code)).all()
    assert {code[:2] for code, _ in launched} == {"C0", "C2"} and {n for _, n in launched} == {2}
    assert launch_subtrees(any_db, year=2014, paths=prepared.roots, now=NOW) == 2 * 2 * per_city  # the rest only


def test_a_batch_refuses_a_year_that_was_not_prepared(any_db: Database) -> None:
    import pytest

    from services.errors import NotFound

    with pytest.raises(NotFound):
        launch_subtrees(any_db, year=2014, paths=["/P/C0/"], now=NOW)
    assert SAMPLE_PLAN  # the sample's plan is the base of PLAN


def test_the_organizers_query_does_not_depend_on_statistics(sqlite_db: Database, tmp_path: Path) -> None:
    """Statistics taken before `parent_id` was set say every row has the same parent: the old correlated EXISTS
    then scanned `orgs` once per organization (149 s for 51,000); the DISTINCT-then-primary-key plan does not care."""
    from services.years import organizers_query

    (tmp_path / "orgs.csv").write_text(_tree_csv(), encoding="utf-8")
    import_orgs(sqlite_db, tmp_path / "orgs.csv", now=NOW)
    with sqlite_db.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("UPDATE sqlite_stat1 SET stat = '51002 51002' WHERE idx = 'ix_orgs_parent_id'")
        conn.exec_driver_sql("ANALYZE sqlite_schema")
    statement = organizers_query().compile(sqlite_db.engine, compile_kwargs={"literal_binds": True})
    with sqlite_db.connect() as conn:
        plan = " / ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}"))
        organizers = {row.code for row in conn.execute(organizers_query())}
    assert "CORRELATED" not in plan and "PRIMARY KEY" in plan, plan
    assert organizers == {"P", *(f"C{c}" for c in range(CITIES)), *(f"C{c}T{t}" for c in range(CITIES) for t in range(TOWNS))}
