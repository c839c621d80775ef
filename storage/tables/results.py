"""Tables of the results feature: samples, component scores, results, veto decisions, key management, summaries."""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables.base import UtcDateTime, metadata

# One recorded draw (R26 on-site sample of organizations, R27 survey respondents): enough to re-draw it.
samples = sa.Table(
    "samples",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("year", sa.Integer, sa.ForeignKey("years.year"), nullable=False),
    sa.Column("purpose", sa.String(10), nullable=False),  # onsite | survey
    sa.Column("scope_org_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("seed", sa.String(100), nullable=False),
    sa.Column("population_hash", sa.String(64), nullable=False),
    sa.Column("population_size", sa.Integer, nullable=False),
    sa.Column("population", sa.JSON, nullable=False),  # the ids drawn from (no names, no phones)
    sa.Column("sample", sa.JSON, nullable=False),  # the ids drawn, in draw order
    sa.Column("respondents", sa.JSON, nullable=True),  # survey: id, name, category, phone of those drawn
    sa.Column("source", sa.String(300), nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Index("ix_samples_year", "year"),
)

# One component score per organization and year; a re-import replaces the same (org, component).
scores = sa.Table(
    "scores",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("year", sa.Integer, sa.ForeignKey("years.year"), nullable=False),
    sa.Column("org_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("component", sa.String(20), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("detail", sa.JSON, nullable=True),  # e.g. the on-site items and parts it was rolled up from
    sa.Column("imported_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("year", "org_id", "component"),
)

# The computed results of a year (every year's rows stay, R33).
results = sa.Table(
    "results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("year", sa.Integer, sa.ForeignKey("years.year"), nullable=False),
    sa.Column("org_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("category", sa.String(30), nullable=False),
    sa.Column("composite", sa.Float, nullable=True),  # NULL when a component is missing
    sa.Column("rank", sa.Integer, nullable=True),
    sa.Column("components", sa.JSON, nullable=False),
    sa.Column("missing", sa.JSON, nullable=False),
    sa.Column("explanation", sa.JSON, nullable=False),
    sa.Column("performance", sa.Float, nullable=True),
    sa.Column("key_management", sa.Boolean, nullable=False),
    sa.Column("weak", sa.Boolean, nullable=False),
    sa.Column("computed_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("year", "org_id"),
    sa.Index("ix_results_year_category_rank", "year", "category", "rank"),
)

# One decision of the 1:1.5 differential veto per honour.
veto_decisions = sa.Table(
    "veto_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("year", sa.Integer, sa.ForeignKey("years.year"), nullable=False),
    sa.Column("category", sa.String(30), nullable=False),
    sa.Column("honour", sa.String(200), nullable=False),
    sa.Column("places", sa.Integer, nullable=False),
    sa.Column("decision", sa.JSON, nullable=False),
    sa.Column("decided_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("year", "category", "honour"),
)

# Key management (villages, communities…) and admonition (weak towns and city units), tracked over years.
key_management = sa.Table(
    "key_management",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("year", sa.Integer, sa.ForeignKey("years.year"), nullable=False),
    sa.Column("org_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("measure", sa.String(20), nullable=False),  # key_management | admonition
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("consecutive_years", sa.Integer, nullable=False, server_default="1"),
    sa.Column("rectify_by", sa.Date, nullable=True),
    sa.Column("talk_on", sa.Date, nullable=True),  # when the admonition talk (约谈) was held
    sa.Column("talk_note", sa.Text, nullable=True),
    # open → improved (晋位升级: not listed the next year) | continued (listed again)
    sa.Column("status", sa.String(20), nullable=False, server_default="open"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("year", "org_id"),
)

# The R32 summary report each organizer sends within 15 days of the end.
summary_reports = sa.Table(
    "summary_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("year", sa.Integer, sa.ForeignKey("years.year"), nullable=False),
    sa.Column("organizer_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("path", sa.String(1000), nullable=False),
    sa.Column("format", sa.String(10), nullable=False),
    sa.Column("written_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("year", "organizer_id", "format"),
)
