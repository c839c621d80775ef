"""Ballots (results.md §2): single-use codes, validation, anonymous storage, tally, freeze, paper forms."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from services.app import App
from services.ballots import cast_ballot, enter_paper_ballots, evaluation_scores, issue_codes, tally
from services.errors import BadInput, Refused
from services.meetings import add_attendees, open_meeting


def test_codes_cast_and_tally(launched: App) -> None:
    db = launched.db
    issued = issue_codes(db, year=2014, organizer="T01", count=4, now=launched.now())
    assert issued["meeting"] == "T01" and len(set(issued["codes"])) == 4
    a, b, c, d = issued["codes"]
    cast_ballot(db, year=2014, code=a, ratings={"V001": "好", "V002": "较好"})
    cast_ballot(db, year=2014, code=b, ratings='{"V001": "excellent", "V002": "poor"}')
    cast_ballot(db, year=2014, code=c.lower(), ratings={"V001": "一般"})
    rows = {r["org"]: r for r in tally(db, year=2014, organizer="T01")}
    assert rows["V001"]["counts"] == {"好": 2, "较好": 0, "一般": 1, "差": 0}
    assert rows["V001"]["ballots"] == 3
    assert rows["V001"]["satisfaction"] == pytest.approx(2 / 3, abs=1e-4)
    assert rows["V001"]["score"] == pytest.approx((100 + 100 + 60) / 3, abs=0.01)
    assert rows["V002"]["ballots"] == 2 and rows["V002"]["score"] == 40.0
    # 4 codes issued, no attendees listed: quorum ⌈2/3·4⌉ = 3
    assert rows["V001"]["quorum_met"] is True and rows["V002"]["quorum_met"] is False
    assert evaluation_scores(db, year=2014) == {"V001": pytest.approx(86.67, abs=0.01), "V002": 40.0}
    assert d  # the fourth code stays unused


def test_used_unknown_and_bad_ratings_store_nothing(launched: App) -> None:
    db = launched.db
    code, other = issue_codes(db, year=2014, organizer="T01", count=2, now=launched.now())["codes"]
    cast_ballot(db, year=2014, code=code, ratings={"V001": "好"})
    with pytest.raises(Refused):
        cast_ballot(db, year=2014, code=code, ratings={"V001": "好"})
    with pytest.raises(Refused):
        cast_ballot(db, year=2014, code="AAAAA-BBBBB", ratings={"V001": "好"})
    with pytest.raises(BadInput):
        cast_ballot(db, year=2014, code=other, ratings={"C001": "好"})  # presents at T02, not T01
    with pytest.raises(BadInput):
        cast_ballot(db, year=2014, code=other, ratings={"V001": "优秀"})
    with pytest.raises(BadInput):
        cast_ballot(db, year=2014, code=other, ratings="not json")
    rows = {r["org"]: r for r in tally(db, year=2014, organizer="T01")}
    assert rows["V001"]["ballots"] == 1 and rows["V002"]["ballots"] == 0
    cast_ballot(db, year=2014, code=other, ratings={"V002": "差"})  # the refused attempts did not use it up


def test_storage_cannot_link_a_ballot_to_its_code_or_order(launched: App) -> None:
    """Inspect every table the feature writes: no code, no timestamp of casting, no per-ballot row."""
    db = launched.db
    codes = issue_codes(db, year=2014, organizer="T01", count=3, now=launched.now())["codes"]
    launched.clock.advance(minutes=5)
    cast_ballot(db, year=2014, code=codes[2], ratings={"V001": "差", "V002": "差"})
    launched.clock.advance(minutes=5)
    cast_ballot(db, year=2014, code=codes[0], ratings={"V001": "好", "V002": "好"})
    with db.connect() as conn:
        tables = [t for t in sa.inspect(conn).get_table_names() if t.startswith("ballot")]
        dump = {t: [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {t}"))] for t in tables}
        # sqlite's rowid is the physical insertion order: counts rows were all created before any ballot
        rowids = list(conn.execute(sa.text("SELECT rowid, cycle_id, rating, n FROM ballot_counts ORDER BY rowid")))
    text = repr(dump)
    for code in codes:
        assert code not in text and code.replace("-", "") not in text
    counts_columns = {c["name"] for c in sa.inspect(db.engine).get_columns("ballot_counts")}
    assert counts_columns == {"cycle_id", "rating", "n"}
    # one row per (secretary, rating), never per ballot: two ballots left 2 × 4 rows
    assert len(dump["ballot_counts"]) == 8
    # rows were created (zero) when the codes were issued, in a fixed order that no cast changes
    assert [r[2] for r in rowids] == ["好", "较好", "一般", "差"] * 2
    assert sorted(r[3] for r in rowids) == [0, 0, 0, 0, 1, 1, 1, 1]
    code_columns = {c["name"] for c in sa.inspect(db.engine).get_columns("ballot_codes")}
    assert code_columns == {"id", "meeting_id", "committee_meeting_id", "code_hash", "used"}


def test_paper_ballots_in_bulk_all_or_nothing(launched: App, tmp_path: Path) -> None:
    db = launched.db
    bad = tmp_path / "bad.csv"
    bad.write_text("序号,V001,V002\n1,好,较好\n2,优,好\n3,,X\n", encoding="utf-8")
    with pytest.raises(BadInput) as error:
        enter_paper_ballots(db, year=2014, organizer="T01", file=bad, now=launched.now())
    assert error.value.problems == [
        "第 3 行：V001：评价 '优' 无效（可选 好、较好、一般、差）",
        "第 4 行：V002：评价 'X' 无效（可选 好、较好、一般、差）",
    ]
    assert error.value.problems_in("en") == [
        "row 3: V001: unknown rating '优' (好, 较好, 一般, 差 or excellent, good, fair, poor)",
        "row 4: V002: unknown rating 'X' (好, 较好, 一般, 差 or excellent, good, fair, poor)",
    ]
    assert tally(db, year=2014, organizer="T01")[0]["ballots"] == 0
    good = tmp_path / "good.csv"
    good.write_text("序号,V001,V002\n1,好,较好\n2,一般,好\n3,,差\n", encoding="utf-8")
    assert enter_paper_ballots(db, year=2014, organizer="T01", file=good, now=launched.now())["entered"] == 3
    rows = {r["org"]: r for r in tally(db, year=2014, organizer="T01")}
    assert rows["V001"]["counts"] == {"好": 1, "较好": 0, "一般": 1, "差": 0}
    assert rows["V002"]["counts"] == {"好": 1, "较好": 1, "一般": 0, "差": 1}


def test_quorum_from_attendees(launched: App) -> None:
    db = launched.db
    open_meeting(db, year=2014, organizer="T01", now=launched.now())
    add_attendees(db, year=2014, organizer="T01", attendees=[{"name": f"代表{i}"} for i in range(6)])
    codes = issue_codes(db, year=2014, organizer="T01", count=6, now=launched.now())["codes"]
    for code in codes[:4]:
        cast_ballot(db, year=2014, code=code, ratings={"V001": "较好"})
    rows = {r["org"]: r for r in tally(db, year=2014, organizer="T01")}
    assert rows["V001"]["quorum"] == 4 and rows["V001"]["quorum_met"] is True
    assert rows["V001"]["score"] == 80.0 and rows["V001"]["satisfaction"] == 1.0
