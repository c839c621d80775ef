"""The EXPLAIN guard (issue 11): the hot queries' plans, at a realistic size, on SQLite and PostgreSQL.

"Seek" queries (a subtree's lagging list, one cycle, a town's drill-down) must not scan a big table at all;
set-based statements (the sweep's inserts, the importer's read of the tree) may read a big table once but never
once per row. Each service is run for real and every statement it sent is explained afterwards."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.clock import parse_when
from storage.db import Database
from tests.scale.plan_check import Scan, explainable, recording, scans

TODAY = date(2014, 12, 10)


def _town(db: Database) -> tuple[str, str]:
    from storage.tables.core import orgs

    with db.connect() as conn:
        town = conn.execute(sa.select(orgs.c.code).where(orgs.c.kind == "town").order_by(orgs.c.code.desc())).first()
        village = conn.execute(sa.select(orgs.c.code).where(orgs.c.kind == "village").order_by(orgs.c.code)).first()
    assert town is not None and village is not None
    return town.code, village.code


def _explain_all(db: Database, recorded: list, *, seek: bool) -> list[tuple[str, Scan]]:  # type: ignore[type-arg]
    bad: list[tuple[str, Scan]] = []
    explained = 0
    with db.connect() as conn:
        for item in recorded:
            if not explainable(item):
                continue
            explained += 1
            for scan in scans(conn, item.statement, item.parameters):
                if scan.repeated or seek:
                    bad.append((item.statement[:300], scan))
    assert explained, "nothing was explained"
    return bad


def test_lagging_list_under_a_town_seeks(realistic: Database) -> None:
    from services.cycles import list_cycles

    town, _ = _town(realistic)
    with recording(realistic.engine) as recorded:
        rows = list_cycles(realistic, year=2014, today=TODAY, lagging=True, under=town)
    assert rows
    assert _explain_all(realistic, recorded, seek=True) == []


def test_filtered_lagging_page_seeks(realistic: Database) -> None:
    """The console's lagging page for a subtree at one level: the count and the page seek (no scan at all)."""
    from services.lagging import PAGE_COUNT_CAP, LaggingFilter, lagging_page
    from storage.tables.core import orgs

    with realistic.connect() as conn:
        city = conn.execute(sa.select(orgs.c.code).where(orgs.c.kind == "city").order_by(orgs.c.code)).scalar()
    for f in (LaggingFilter(year=2014, under=city, level=3), LaggingFilter(year=2014, under=city, level=2, overdue=True)):
        with recording(realistic.engine) as recorded:
            page = lagging_page(realistic, f, today=TODAY, count_cap=PAGE_COUNT_CAP)
        assert page["filter"]["under"] == city
        assert _explain_all(realistic, recorded, seek=True) == [], f


def test_whole_lagging_page_seeks(realistic: Database) -> None:
    """The first page of the whole country's list: the lagging cycles walked in due order through the index, each
    organization looked up (never a scan of every organization to hash against)."""
    from services.lagging import PAGE_COUNT_CAP, LaggingFilter, lagging_page

    with recording(realistic.engine) as recorded:
        page = lagging_page(realistic, LaggingFilter(year=2014), today=TODAY, count_cap=PAGE_COUNT_CAP)
    assert page["rows"]
    assert _explain_all(realistic, recorded, seek=True) == []


@pytest.mark.parametrize("text", ["V0", "d12", "第1村", "镇", "回龙"])
def test_search_box_seeks(realistic: Database, text: str) -> None:
    """Each query of the search box (a code prefix, pinyin initials, a name, a common character, a miss) is a
    handful of index range scans: no table is scanned."""
    from services.search import search_orgs

    with recording(realistic.engine) as recorded:
        search_orgs(realistic, text)
    assert 3 <= len(recorded) <= 10
    assert _explain_all(realistic, recorded, seek=True) == []


def test_one_cycle_lookup_seeks(realistic: Database) -> None:
    from services.cycles import _LOAD_SQL, _sql

    _, village = _town(realistic)
    with realistic.connect() as conn:
        statement = _sql(conn, _LOAD_SQL)
        found = scans(conn, statement, {"org": village, "year": 2014, "kind": "upward"})
    assert found == []


def test_town_drill_down_seeks(realistic: Database) -> None:
    from services.dashboard import drill

    town, _ = _town(realistic)
    with recording(realistic.engine) as recorded:
        page = drill(realistic, year=2014, today=TODAY, code=town)
    assert page
    assert _explain_all(realistic, recorded, seek=True) == []


def test_sweep_reads_each_table_at_most_once(realistic: Database) -> None:
    from services.sweep import sweep_deadlines

    with recording(realistic.engine) as recorded:
        sweep_deadlines(realistic, now=parse_when("2014-12-12"))
    found = _explain_all(realistic, recorded, seek=False)
    for statement, scan in found:
        print(statement, scan)
    # `open_years` probes the cycles once per launched year (a handful) and stops at the first open cycle
    assert [scan for statement, scan in found if not statement.startswith("SELECT years.year")] == []


def test_import_reads_the_tree_once_and_writes_in_chunks(realistic: Database, tmp_path: Path) -> None:
    """An import into the realistic tree: a handful of statements (never one per row), each plan linear."""
    from services.orgs import import_orgs
    from storage.tables.core import orgs

    path = tmp_path / "two-more.csv"
    path.write_text("code,name,kind,parent\nTNEW1,新镇,town,C0000\nVNEW1,新村,village,TNEW1\n", encoding="utf-8")
    with recording(realistic.engine) as recorded:
        result = import_orgs(realistic, path, now=parse_when("2014-12-01"))
    try:
        assert (result.imported, result.updated) == (2, 0)
        assert len(recorded) <= 12, [r.statement[:80] for r in recorded]
        assert _explain_all(realistic, recorded, seek=False) == []
    finally:  # leave the shared database as it was
        with realistic.begin() as conn:
            conn.execute(orgs.delete().where(orgs.c.code == "VNEW1"))
            conn.execute(orgs.delete().where(orgs.c.code == "TNEW1"))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_guard_catches_a_per_row_scan(backend: str, request: pytest.FixtureRequest) -> None:
    """The guard itself: a correlated lookup on an unindexed column is reported as a repeated scan."""
    db: Database = request.getfixturevalue("realistic_sqlite" if backend == "sqlite" else "realistic_pg")
    statement = ("SELECT o.id FROM orgs AS o WHERE EXISTS "
                 "(SELECT 1 FROM orgs AS c WHERE c.parent_id + 0 = o.id + 0 AND c.kind <> 'prefecture')")
    with db.connect() as conn:
        if backend == "postgresql":  # the plan stale statistics lead to: a nested loop over the whole table
            conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")
            conn.exec_driver_sql("SET LOCAL enable_mergejoin = off")
        found = scans(conn, statement)
    assert any(s.repeated and s.table == "orgs" for s in found), found


@pytest.mark.parametrize("cursor", ["start", "middle"])
def test_dispatch_claim_seeks(realistic: Database, cursor: str) -> None:
    """A claim reads the rows it takes, never the whole outbox: the candidates are a range of (status, id), the
    marking and the read-back go by primary key (issue 11: `notify send` on a national outbox was 50× slower than
    the same work in a small one, each claim reading every row to find its own token). The outbox is first grown,
    inside the transaction that is rolled back, to what a season leaves: ~25 sent messages for each queued one."""
    from services.outbox import DispatchResult, RateOverride, RunState, _claim, _claimed_rows
    from storage.tables.notify import outbox

    columns = ", ".join(c.name for c in outbox.columns if c.name not in ("id", "key", "status"))
    with realistic.connect() as conn:
        queued = conn.execute(sa.select(outbox.c.id).where(outbox.c.status == "queued").order_by(outbox.c.id)).scalars().all()
        assert len(queued) > 1_000
        conn.exec_driver_sql(
            f"INSERT INTO outbox (key, status, {columns}) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
            f"WHERE i < 25) SELECT key || ':sent' || CAST(n.i AS VARCHAR(5)), 'sent', {columns} FROM outbox, n")
        after = 0 if cursor == "start" else queued[len(queued) // 2]
        with recording(realistic.engine) as recorded:
            token, chosen, _ = _claim(conn, clock=lambda: parse_when("2014-12-10T11:00"), channels=["sms", "email"],
                                      batch=100, digest=True, result=DispatchResult(), after_id=after,
                                      override=RateOverride(), run=RunState())
            rows = _claimed_rows(conn, chosen)
        assert token and len(rows) == 100 and all(r.claim_token == token for r in rows)
        found = [(item.statement[:300], scan) for item in recorded if explainable(item)
                 for scan in scans(conn, item.statement, item.parameters)]
        # the sign-in codes' look-up reads their partial index, not every queued row through (status, id)
        codes = [_plan_text(conn, item.statement, item.parameters) for item in recorded
                 if "template = 'otp'" in item.statement]
        conn.rollback()  # the shared database stays as it was
    assert found == []
    assert codes and all("ix_outbox_otp_queued" in plan for plan in codes), codes


def _plan_text(conn: sa.Connection, statement: str, parameters: object) -> str:
    if conn.dialect.name == "postgresql":
        return "\n".join(conn.exec_driver_sql("EXPLAIN (COSTS OFF) " + statement, parameters or {}).scalars().all())
    return "\n".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters or ()))


def test_fencing_and_record_go_by_primary_key_whatever_the_statistics(realistic: Database) -> None:
    """The fencing check and the record of a chunk read the chunk's rows by primary key, even with statistics taken
    while the whole outbox was queued and thousands of rows being sent by other dispatchers: served by (status, id),
    `status = 'sending'` read every row in flight (and every dead entry of one sent since the last vacuum) for each
    chunk — 22 ms instead of 0.5 ms for 400 rows on PostgreSQL."""
    from datetime import timedelta

    from services.outbox import DispatchResult, RateOverride, RunState, _Batch, _check_and_extend, _claim, _record_sent
    from storage.tables.notify import outbox

    with realistic.connect() as conn:
        conn.exec_driver_sql("ANALYZE outbox")  # inside the transaction: rolled back with it
        rival = conn.execute(sa.select(outbox.c.id).where(outbox.c.status == "queued").order_by(outbox.c.id.desc())
                             .limit(2_000)).scalars().all()
        conn.execute(outbox.update().where(outbox.c.id.in_(rival)).values(status="sending", claim_token="rival"))
        token, chosen, _ = _claim(conn, clock=lambda: parse_when("2014-12-10T11:00"), channels=["sms", "email"],
                                  batch=200, digest=False, result=DispatchResult(), after_id=0,
                                  override=RateOverride(), run=RunState())
        assert token and len(chosen) == 200
        now = parse_when("2014-12-10T11:00")
        work = _Batch(token=token, groups=[[c] for c in chosen], extended_at=now - timedelta(hours=1), ids=chosen)
        with recording(realistic.engine) as recorded:
            held = _check_and_extend(conn, work, chosen, now=now, grace=timedelta(minutes=10))
            done = _record_sent(conn, [{"row_id": i, "token": token, "stamp": now.replace(tzinfo=None), "ref": "r",
                                        "subject": None, "body": "b"} for i in chosen])
        assert held == set(chosen) and done == len(chosen)
        plans = [(item.statement[:80], _plan_text(conn, item.statement, item.parameters),
                  scans(conn, item.statement, item.parameters)) for item in recorded if "outbox" in item.statement]
        conn.rollback()  # the shared database stays as it was
    assert len(plans) == 3  # the lease extended, the check, the record
    for statement, plan, found in plans:
        assert "ix_outbox_status_id" not in plan, (statement, plan)
        # the lease and the check seek their ids; the record may hash-join a scan of an outbox this small (the
        # planner's own choice, by the table's size), never a scan per row
        if statement.startswith("UPDATE outbox SET status = 'sent'"):
            assert not any(s.repeated for s in found), (statement, plan)
        else:
            assert "pk_outbox" in plan or "PRIMARY KEY" in plan, (statement, plan)


def _morning_ledger(conn: sa.Connection, slots: int, stamp: object) -> None:
    """The SMS ledger as a morning finds it: statistics taken while it was empty (rolled back with the caller's
    transaction), then `slots` slots taken at `stamp`, one per phone 139…0, 139…1, …"""
    from storage.tables.notify import sms_slots

    conn.execute(sms_slots.delete())
    conn.exec_driver_sql("ANALYZE sms_slots")
    conn.execute(sms_slots.insert(), [{"taken_at": stamp, "address": f"139{i:08d}", "outbox_id": i, "token": "t"}
                                      for i in range(slots)])


def test_daily_count_per_phone_seeks_each_phone_whatever_the_statistics(realistic: Database) -> None:
    """The per-phone daily cap is counted, under the SMS lock, at every claim: one seek of (address, taken_at) per
    phone of the claim. Statistics taken while the ledger was empty (the start of every morning) and a prepared
    statement's generic plan (psycopg prepares after five runs) once made PostgreSQL walk the whole day's slots by
    `taken_at` and compare each with every phone of the claim: 90 ms a claim after 18,000 SMS, `notify send` at
    1,700 messages/s on the national outbox (issue 11)."""
    from services.outbox import _rate_counts
    from storage.db import to_db_time

    now = parse_when("2014-12-10T11:00")
    stamp = to_db_time(now)
    with realistic.connect() as conn:
        _morning_ledger(conn, 5_000, stamp)
        if realistic.is_postgresql:
            conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")  # the plan a prepared run gets
        phones = {f"139{i:08d}" for i in range(0, 5_000, 50)} | {"13800000000"}
        with recording(realistic.engine) as recorded:
            minute, today = _rate_counts(conn, now, phones)
        per_phone = [item for item in recorded if "address" in item.statement]
        assert len(per_phone) == 1
        statement, parameters = per_phone[0].statement, per_phone[0].parameters
        if realistic.is_postgresql:  # planned as a prepared statement is after its fifth run
            names = re.findall(r"%\((\w+)\)s", statement)
            types = {n: "varchar[]" if isinstance(parameters[n], list) else "timestamp" for n in names}
            numbered = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", statement)
            conn.exec_driver_sql(f"PREPARE per_phone({', '.join(types[n] for n in names)}) AS {numbered}")
            literals = {n: "ARRAY[" + ", ".join(f"'{p}'" for p in v) + "]" if isinstance(v, list) else f"'{v}'"
                        for n, v in parameters.items()}
            plan = "\n".join(conn.exec_driver_sql(
                f"EXPLAIN (COSTS OFF) EXECUTE per_phone({', '.join(literals[n] for n in names)})").scalars().all())
        else:
            plan = _plan_text(conn, statement, parameters)
        conn.rollback()
    assert minute == 5_000 and today == {p: 1 for p in phones if p != "13800000000"}
    # the phone is the seek's condition on (address, taken_at); never the day's range by `taken_at`, never a scan
    assert "ix_sms_slots_address_taken_at" in plan and "ix_sms_slots_taken_at" not in plan, plan
    assert "Seq Scan" not in plan and "SCAN sms_slots" not in plan, plan
    assert re.search(r"Index Cond: \(\(?address|INDEX ix_sms_slots_address_taken_at \(address=", plan), plan



def test_slots_taken_since_the_count_seek_the_primary_key_whatever_the_statistics(realistic_pg: Database) -> None:
    """Under the SMS lock a claim on PostgreSQL adds to its early count only the slots taken since (`_since`): a range
    of the primary key after the last id it saw. With statistics from an empty ledger (every morning's start),
    `id > N` was guessed at a third of the table and read whole at every claim, a cost growing with each SMS of the
    morning (10 ms a claim at 90,000 slots through `notify send`, issue 11). Here: the morning's statistics, 20,000
    slots, five of them taken since — read by a seek of the primary key, and counted."""
    from services.outbox import _Counts, _since
    from storage.db import to_db_time
    from storage.tables.notify import sms_slots

    now = parse_when("2014-12-10T11:00")
    stamp = to_db_time(now)
    with realistic_pg.connect() as conn:
        _morning_ledger(conn, 20_000, stamp)
        last = conn.execute(sa.select(sa.func.max(sms_slots.c.id))).scalar_one() - 5
        with recording(realistic_pg.engine) as recorded:
            minute, today = _since(conn, _Counts({}, 0, last), now, {"13900019999", "13800000000"})
        since = [item for item in recorded if "FROM sms_slots" in item.statement]
        assert len(since) == 1
        plan = _plan_text(conn, since[0].statement, since[0].parameters)
        conn.rollback()
    assert minute == 5 and today == {"13900019999": 1}
    assert "pk_sms_slots" in plan and "Seq Scan" not in plan, plan
