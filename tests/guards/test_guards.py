"""Policy as failing tests: docs match the code, one migration head, schema from migrations = metadata, pure rules."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_docs_embed_the_machine_diagram_generated_from_code() -> None:
    from states.machine import mermaid_diagram

    for name in ("docs/cycle.md", "README.md"):
        doc = (ROOT / name).read_text(encoding="utf-8")
        assert "```mermaid\n" + mermaid_diagram() + "```" in doc, f"{name}: regenerate with shuzhi states diagram"


def test_every_state_and_event_is_documented() -> None:
    from states.machine import EVENTS, STATES

    doc = (ROOT / "docs" / "cycle.md").read_text(encoding="utf-8") + (ROOT / "README.md").read_text(encoding="utf-8")
    assert [s for s in STATES if s not in doc] == []
    assert [e for e in EVENTS if e not in doc] == []


def test_one_alembic_head_and_a_linear_history() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from storage.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        name = Path(revision.path).name
        assert name[:4].isdigit() and name.startswith(revision.revision), f"{name}: name migrations NNNN_slug.py"


# the search box's expression indexes (ix_orgs_upper_names; ix_orgs_depth_name on PostgreSQL) are not compared:
# neither side can reflect or render them; migration 0013 creates them and test_plans checks the search uses them
EXPRESSION_INDEXES = [pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
                      pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")]


def _schema_differences(db_url: str | None = None, database=None) -> list[object]:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.tables import metadata

    with database.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        diffs = compare_metadata(context, metadata)
    return [d for d in diffs if not (isinstance(d, tuple) and d and d[0] == "remove_table" and d[1].name == "alembic_version")]


@EXPRESSION_INDEXES[0]
@EXPRESSION_INDEXES[1]
def test_sqlite_schema_from_migrations_equals_the_tables(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    assert _schema_differences(database=sqlite_db) == []


@pytest.mark.pg
@EXPRESSION_INDEXES[0]
@EXPRESSION_INDEXES[1]
def test_postgresql_schema_from_migrations_equals_the_tables(pg_db) -> None:  # type: ignore[no-untyped-def]
    assert _schema_differences(database=pg_db) == []


FORBIDDEN_IN_STATES = {"sqlalchemy", "prefect", "jinja2", "apscheduler", "fastapi", "starlette", "httpx", "storage",
                       "services", "notifications", "web", "flows", "shuzhi_cli", "typer", "rich"}


def test_states_is_pure() -> None:
    offenders = []
    for path in (ROOT / "states").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN_IN_STATES]
    assert offenders == []


def test_cli_start_up_stays_light() -> None:
    """`shuzhi --help` and the plain commands never import Prefect or the web stack."""
    code = (
        "import sys; from shuzhi_cli.main import run; rc = run(['--help']);"
        "heavy = sorted(m for m in ('prefect', 'fastapi', 'uvicorn', 'apscheduler', 'sqlalchemy') if m in sys.modules);"
        "print('HEAVY=' + ','.join(heavy))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="


def test_every_error_code_raised_is_in_the_catalogue_with_its_parameters() -> None:
    """A service raising `BadInput("some.code", …)` shows the catalogue's text: a code missing from it (a typo) or
    a parameter its Chinese or English text needs but the raise site does not give would show the raw code or
    the template to the user."""
    import re
    import string

    from services.errors import MESSAGES

    problems, checked = [], 0
    for folder in ("services", "web", "shuzhi_cli", "notifications", "flows"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
                    continue
                first = node.exc.args[0]
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)
                        and re.fullmatch(r"[a-z_]+\.[a-z_]+", first.value)):
                    continue
                where, checked = f"{path.relative_to(ROOT)}:{node.lineno}", checked + 1
                if first.value not in MESSAGES:
                    problems.append(f"{where}: '{first.value}' is not in the catalogue")
                    continue
                given = {k.arg for k in node.exc.keywords}
                if None in given:  # **params: not checkable here
                    continue
                for text in MESSAGES[first.value]:
                    needed = {name for _, name, _, _ in string.Formatter().parse(text) if name}
                    if needed - given:
                        problems.append(f"{where}: '{first.value}' needs {sorted(needed - given)}")
    assert checked > 100 and problems == []


def test_the_upper_kinds_spelt_out_for_the_search_index_are_the_upper_levels() -> None:
    """ix_orgs_upper_names (migration 0013) and the search's substring query repeat the upper kinds as literals."""
    from states.orgs import UPPER_KINDS
    from storage.tables.core import UPPER_KINDS_SQL

    assert f"kind IN ({', '.join(repr(kind) for kind in UPPER_KINDS)})" == UPPER_KINDS_SQL
