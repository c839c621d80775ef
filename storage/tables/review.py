"""Tables of the review feature: report versions, work plans, meetings' agenda, anonymous ballots, feedback, rectification.

Migration 0003_review_meetings_ballots holds the same DDL; the columns it adds to the core `meetings` table
(opened_at, opened_by, closed_at, presiding, venue) are declared here on that table object.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables.base import UtcDateTime, metadata
from storage.tables.core import meetings

# The evaluation meeting's record (R16), added to the core table by this feature's migration.
for _column in (
    sa.Column("opened_at", UtcDateTime, nullable=True),
    sa.Column("opened_by", sa.String(100), nullable=True),
    sa.Column("closed_at", UtcDateTime, nullable=True),
    sa.Column("presiding", sa.String(100), nullable=True),
    sa.Column("venue", sa.String(200), nullable=True),
):
    if _column.name not in meetings.c:
        meetings.append_column(_column)

# Every submitted report, kept whole (R12–R15): the original bytes, the extracted text and the checker's findings.
report_versions = sa.Table(
    "report_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("cycle_id", sa.Integer, sa.ForeignKey("cycles.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("event", sa.String(20), nullable=False),  # submit | resubmit
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("file_format", sa.String(10), nullable=False),  # docx | md | txt
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("findings", sa.JSON, nullable=False),  # states.report_check.ReportCheck.as_dict()
    sa.Column("suggestion", sa.String(10), nullable=False),
    sa.Column("open_items", sa.JSON, nullable=False),  # last year's unfinished rectification items it must answer
    sa.Column("submitted_at", UtcDateTime, nullable=False),
    sa.Column("submitted_by", sa.String(100), nullable=False),
    sa.Column("return_event", sa.String(10), nullable=True),  # revise | rewrite, once the reviewer returns it
    sa.Column("return_note", sa.Text, nullable=True),
    sa.Column("returned_at", UtcDateTime, nullable=True),
    sa.Column("returned_by", sa.String(100), nullable=True),
    sa.UniqueConstraint("cycle_id", "version"),
)

# R9: an organizer's work plan for its round of meetings.
work_plans = sa.Table(
    "work_plans",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("year", sa.Integer, sa.ForeignKey("years.year"), nullable=False),
    sa.Column("organizer_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("file_format", sa.String(10), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("filed_at", UtcDateTime, nullable=False),
    sa.Column("filed_by", sa.String(100), nullable=False),
    sa.UniqueConstraint("year", "organizer_id"),
)

# R7: the own committee's meeting that hears its own secretary (the `own_level` cycle's audience).
committee_meetings = sa.Table(
    "committee_meetings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("year", sa.Integer, sa.ForeignKey("years.year"), nullable=False),
    sa.Column("org_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=True),
    sa.Column("opened_by", sa.String(100), nullable=True),
    sa.Column("closed_at", UtcDateTime, nullable=True),
    sa.Column("presiding", sa.String(100), nullable=True),
    sa.Column("venue", sa.String(200), nullable=True),
    sa.UniqueConstraint("year", "org_id"),
)

meeting_attendees = sa.Table(
    "meeting_attendees",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("meeting_id", sa.Integer, sa.ForeignKey("meetings.id"), nullable=True),
    sa.Column("committee_meeting_id", sa.Integer, sa.ForeignKey("committee_meetings.id"), nullable=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("unit", sa.String(200), nullable=False, server_default=""),
    sa.Column("role", sa.String(100), nullable=False, server_default=""),
    sa.Index("ix_meeting_attendees_meeting_id", "meeting_id"),
    sa.Index("ix_meeting_attendees_committee_meeting_id", "committee_meeting_id"),
)

# One agenda item per presenting secretary (per cycle): presentation, questions, the presiding secretary's comment.
agenda_items = sa.Table(
    "agenda_items",
    metadata,
    sa.Column("cycle_id", sa.Integer, sa.ForeignKey("cycles.id"), primary_key=True, autoincrement=False),
    sa.Column("presented_at", UtcDateTime, nullable=True),
    sa.Column("questions", sa.JSON, nullable=False),  # [{"by", "question", "answer"}]
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("strengths", sa.Text, nullable=True),  # 值得肯定的经验做法
    sa.Column("problems", sa.Text, nullable=True),  # 存在的突出问题
    sa.Column("direction", sa.Text, nullable=True),  # 下步努力方向
    sa.Column("commented_by", sa.String(100), nullable=True),
    sa.Column("commented_at", UtcDateTime, nullable=True),
)

# Single-use ballot codes: only a hash and a used flag; nothing ties a code to what was cast with it.
ballot_codes = sa.Table(
    "ballot_codes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("meeting_id", sa.Integer, sa.ForeignKey("meetings.id"), nullable=True),
    sa.Column("committee_meeting_id", sa.Integer, sa.ForeignKey("committee_meetings.id"), nullable=True),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("used", sa.Boolean, nullable=False, server_default=sa.false()),
)

# Issuing codes and entering paper ballots, as batches (an audit trail that carries no ballot content).
ballot_batches = sa.Table(
    "ballot_batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("meeting_id", sa.Integer, sa.ForeignKey("meetings.id"), nullable=True),
    sa.Column("committee_meeting_id", sa.Integer, sa.ForeignKey("committee_meetings.id"), nullable=True),
    sa.Column("channel", sa.String(10), nullable=False),  # codes | paper
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=True),  # of the entered paper-ballot file
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("by", sa.String(100), nullable=False),
)

# Anonymous ballot storage: running counts per (cycle, rating), no row per ballot. Every count row of a
# meeting is rewritten by each cast, so not even the physical order of row versions reveals a ballot.
ballot_counts = sa.Table(
    "ballot_counts",
    metadata,
    sa.Column("cycle_id", sa.Integer, sa.ForeignKey("cycles.id"), primary_key=True, autoincrement=False),
    sa.Column("rating", sa.String(4), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False, server_default="0"),
)

# The tally frozen by `close_evaluation`.
ballot_tallies = sa.Table(
    "ballot_tallies",
    metadata,
    sa.Column("cycle_id", sa.Integer, sa.ForeignKey("cycles.id"), primary_key=True, autoincrement=False),
    sa.Column("ballots", sa.Integer, nullable=False),
    sa.Column("counts", sa.JSON, nullable=False),
    sa.Column("satisfaction", sa.Float, nullable=True),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("quorum", sa.Integer, nullable=False),
    sa.Column("quorum_met", sa.Boolean, nullable=False),
    sa.Column("frozen_at", UtcDateTime, nullable=False),
)

feedback_notices = sa.Table(
    "feedback_notices",
    metadata,
    sa.Column("cycle_id", sa.Integer, sa.ForeignKey("cycles.id"), primary_key=True, autoincrement=False),
    sa.Column("markdown", sa.Text, nullable=False),
    sa.Column("docx", sa.LargeBinary, nullable=True),  # rendered from the markdown on first export
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
)

rectification_items = sa.Table(
    "rectification_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("cycle_id", sa.Integer, sa.ForeignKey("cycles.id"), nullable=False),
    sa.Column("problem", sa.Text, nullable=False),
    sa.Column("measure", sa.Text, nullable=False),
    sa.Column("responsible", sa.String(100), nullable=False),
    sa.Column("due", sa.Date, nullable=False),
    sa.Column("status", sa.String(10), nullable=False, server_default="open"),  # open | done
    sa.Column("done_at", UtcDateTime, nullable=True),
    sa.Column("done_note", sa.Text, nullable=True),
    sa.Column("carried_from_id", sa.Integer, sa.ForeignKey("rectification_items.id"), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Index("ix_rectification_items_cycle_id", "cycle_id"),
)

commitments = sa.Table(
    "commitments",
    metadata,
    sa.Column("cycle_id", sa.Integer, sa.ForeignKey("cycles.id"), primary_key=True, autoincrement=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.String(100), nullable=False),
    sa.Column("filed_at", UtcDateTime, nullable=True),
)
