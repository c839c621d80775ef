"""Import a generated tree with the CLI, launch it with the CLI: the launch's statements and their plans are the
same for a small tree and one five times larger (issue 11: with the statistics the old importer left, one
launch query read the whole table per organization). No timing: statement counts and plan shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.national import PLAN, write_csv
from tests.scale.plan_check import explainable, inner_loops, recording, scans


def _import_and_launch(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scale: float):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / f'tree-{scale}.db'}"
    monkeypatch.setenv("SHUZHI_DB", url)
    csv_path = tmp_path / f"tree-{scale}.csv"
    count = write_csv(csv_path, scale)
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN, encoding="utf-8")
    assert cli("init")[0] == 0
    code, out, err = cli("--json", "orgs", "import", str(csv_path))
    assert (code, json.loads(out)["imported"]) == (0, count), err
    with recording() as recorded:
        code, out, err = cli("--json", "year", "start", "2014", "--plan", str(plan))
    assert code == 0, err
    assert json.loads(out)["created"] == 2 * (count - _prefectures(url))
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        shapes = [inner_loops(conn, r.statement, r.parameters) for r in recorded if explainable(r)]
        repeated = [(r.statement[:120], s) for r in recorded if explainable(r)
                    for s in scans(conn, r.statement, r.parameters) if s.repeated]
    engine.dispose()
    # ANALYZE after a large cascade is maintenance, not work per organization
    return len([r for r in recorded if not r.statement.startswith("ANALYZE")]), shapes, repeated


def _prefectures(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = conn.exec_driver_sql("SELECT count(*) FROM orgs WHERE kind = 'prefecture'").scalar_one()
    engine.dispose()
    return int(count)


def test_launch_statements_and_plans_do_not_grow_with_the_tree(cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    small_count, small_shapes, small_repeated = _import_and_launch(cli, tmp_path, monkeypatch, 0.002)
    large_count, large_shapes, large_repeated = _import_and_launch(cli, tmp_path, monkeypatch, 0.01)
    assert small_count == large_count
    assert small_shapes == large_shapes
    assert small_repeated == large_repeated == []
