"""Core tables: organizations (the tree), years (the launched plan), meetings, cycles and history."""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables.base import InitialsString, PathString, UtcDateTime, metadata

# the kinds above the grassroots (states.orgs.LEVEL_OF_KIND), spelt out for partial indexes and the queries they
# serve (SQLite uses a partial index only for a query that repeats its predicate, literals included)
UPPER_KINDS_SQL = "kind IN ('prefecture', 'city', 'town', 'subdistrict', 'farm', 'city_unit')"

orgs = sa.Table(
    "orgs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=True),
    # Materialized path of codes, '/P/C/T01/': a subtree is one indexed range scan.
    sa.Column("path", PathString, nullable=False),
    sa.Column("depth", sa.Integer, nullable=False),
    sa.Column("secretary", sa.String(100), nullable=False, server_default=""),
    sa.Column("phone", sa.String(40), nullable=False, server_default=""),
    sa.Column("email", sa.String(200), nullable=False, server_default=""),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # pinyin initials of the name ('城关镇党委' → 'cgzdw'), filled at import: the search box's prefix index
    sa.Column("initials", InitialsString, nullable=False, server_default=""),
    sa.Index("ix_orgs_path", "path"),
    # the search box (services.search, migration 0013): prefixes of initials and of names, a level at a time in
    # byte order (so a common prefix stops at the first 20 of each level instead of sorting them all) …
    sa.Index("ix_orgs_depth_initials", "depth", "initials"),
    sa.Index("ix_orgs_depth_name", "depth", "name", postgresql_ops={"name": "varchar_pattern_ops"}),
    # … and names containing a text, upper levels only: their names in the search's order (level, length), read
    # in order until 20 match; covering on SQLite, so a miss reads this small index and no table row
    sa.Index("ix_orgs_upper_names", "depth", sa.text("length(name)"), "name",
             sqlite_where=sa.text(UPPER_KINDS_SQL), postgresql_where=sa.text(UPPER_KINDS_SQL)),
    sa.Index("ix_orgs_parent_id", "parent_id"),
    sa.Index("ix_orgs_kind", "kind"),
)

years = sa.Table(
    "years",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("plan", sa.JSON, nullable=False),
    sa.Column("plan_text", sa.Text, nullable=False, server_default=""),
    sa.Column("launched_at", UtcDateTime, nullable=False),
    sa.Column("launched_by", sa.String(100), nullable=False),
    sa.Column("relaunched_at", UtcDateTime, nullable=True),
)

meetings = sa.Table(
    "meetings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("year", sa.Integer, sa.ForeignKey("years.year"), nullable=False),
    sa.Column("organizer_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("held_on", sa.Date, nullable=False),
    sa.Column("submit_due", sa.Date, nullable=False),
    sa.Column("review_due", sa.Date, nullable=False),
    sa.Column("present_due", sa.Date, nullable=False),
    sa.Column("evaluate_due", sa.Date, nullable=False),
    sa.Column("feedback_due", sa.Date, nullable=False),
    sa.Column("commitment_due", sa.Date, nullable=False),
    sa.UniqueConstraint("year", "organizer_id"),
)

cycles = sa.Table(
    "cycles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("year", sa.Integer, sa.ForeignKey("years.year"), nullable=False),
    sa.Column("org_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # upward | own_level
    # whose meeting hears the report: the parent for `upward`, the organization itself for `own_level`
    sa.Column("organizer_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("meeting_id", sa.Integer, sa.ForeignKey("meetings.id"), nullable=True),
    sa.Column("meeting_on", sa.Date, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("due", sa.Date, nullable=True),  # due date of the step owed now (denormalized, indexed)
    sa.Column("submit_due", sa.Date, nullable=False),
    sa.Column("review_due", sa.Date, nullable=False),
    sa.Column("present_due", sa.Date, nullable=False),
    sa.Column("evaluate_due", sa.Date, nullable=False),
    sa.Column("feedback_due", sa.Date, nullable=False),
    sa.Column("commitment_due", sa.Date, nullable=False),
    sa.Column("returns", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("year", "org_id", "kind"),
    sa.Index("ix_cycles_year_due_state", "year", "due", "state"),
    sa.Index("ix_cycles_organizer_id", "organizer_id"),
    sa.Index("ix_cycles_meeting_id", "meeting_id"),
    sa.Index("ix_cycles_org_id", "org_id"),
)

history = sa.Table(
    "history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("cycle_id", sa.Integer, sa.ForeignKey("cycles.id"), nullable=False),
    sa.Column("from_state", sa.String(20), nullable=True),
    sa.Column("to_state", sa.String(20), nullable=True),
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("by", sa.String(100), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Index("ix_history_cycle_id", "cycle_id"),
)
