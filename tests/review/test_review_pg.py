"""The review feature on both databases, and its migration against its tables (PostgreSQL runs with SHUZHI_TEST_PG)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.ballots import cast_ballot, evaluation_scores, issue_codes, tally
from services.clock import FixedClock
from services.meetings import open_meeting
from services.reports import list_versions
from storage.db import Database
from storage.tables import metadata
from tests.conftest import launch_sample, make_app
from tests.review.conftest import REPORTS, fire


# the search box's expression indexes on orgs cannot be reflected or rendered (tests/guards/test_guards.py says why)
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_migrated_schema_matches_the_tables(any_db: Database) -> None:
    with any_db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    review_tables = {"report_versions", "work_plans", "committee_meetings", "meeting_attendees", "agenda_items",
                     "ballot_codes", "ballot_batches", "ballot_counts", "ballot_tallies", "feedback_notices",
                     "rectification_items", "commitments", "meetings"}
    assert [d for d in diff if review_tables & set(map(str, _names(d)))] == []


def _names(entry: object) -> list[object]:
    """Table names an autogenerate diff entry mentions (as strings, or on its Table/Column/Index objects)."""
    if isinstance(entry, str):
        return [entry]
    if isinstance(entry, tuple | list):
        found: list[object] = []
        for part in entry:
            found += _names(part)
        return found
    name = getattr(entry, "name", None)
    table = getattr(entry, "table", None)
    return [name, getattr(table, "name", None)]


def test_season_on_both_databases(any_db: Database, clock: FixedClock, tmp_path: Path) -> None:
    app = make_app(any_db, clock)
    launch_sample(any_db, now=clock.now(), tmp_path=tmp_path)
    fire(app, "V001", "finish_research")
    fire(app, "V001", "submit", report=REPORTS / "good.docx")
    fire(app, "V001", "approve")
    open_meeting(any_db, year=2014, organizer="T01", now=clock.now())
    fire(app, "V001", "present")
    codes = issue_codes(any_db, year=2014, organizer="T01", count=2, now=clock.now())["codes"]
    cast_ballot(any_db, year=2014, code=codes[0], ratings={"V001": "好"})
    cast_ballot(any_db, year=2014, code=codes[1], ratings={"V001": "一般"})
    fire(app, "V001", "close_evaluation")
    assert tally(any_db, year=2014, organizer="T01")[0]["frozen"] is True
    assert evaluation_scores(any_db, year=2014) == {"V001": 80.0}
    assert list_versions(any_db, year=2014, org="V001")[0]["suggestion"] == "approve"
    fire(app, "V001", "give_feedback")
    with pytest.raises(Exception, match="commitment"):
        fire(app, "V001", "start_rectification")
        fire(app, "V001", "file_commitment")
