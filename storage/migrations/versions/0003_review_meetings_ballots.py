"""review meetings ballots — issue 4: report versions, work plans, meetings' agenda, ballots, feedback, rectification.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opened_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("opened_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("presiding", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("venue", sa.String(length=200), nullable=True))

    op.create_table(
        "report_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_format", sa.String(length=10), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("suggestion", sa.String(length=10), nullable=False),
        sa.Column("open_items", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_by", sa.String(length=100), nullable=False),
        sa.Column("return_event", sa.String(length=10), nullable=True),
        sa.Column("return_note", sa.Text(), nullable=True),
        sa.Column("returned_at", sa.DateTime(), nullable=True),
        sa.Column("returned_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_report_versions_cycle_id_cycles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_versions")),
        sa.UniqueConstraint("cycle_id", "version", name=op.f("uq_report_versions_cycle_id_version")),
    )
    op.create_table(
        "work_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_format", sa.String(length=10), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("filed_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["organizer_id"], ["orgs.id"], name=op.f("fk_work_plans_organizer_id_orgs")),
        sa.ForeignKeyConstraint(["year"], ["years.year"], name=op.f("fk_work_plans_year_years")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_plans")),
        sa.UniqueConstraint("year", "organizer_id", name=op.f("uq_work_plans_year_organizer_id")),
    )
    op.create_table(
        "committee_meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("opened_by", sa.String(length=100), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("presiding", sa.String(length=100), nullable=True),
        sa.Column("venue", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_committee_meetings_org_id_orgs")),
        sa.ForeignKeyConstraint(["year"], ["years.year"], name=op.f("fk_committee_meetings_year_years")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_meetings")),
        sa.UniqueConstraint("year", "org_id", name=op.f("uq_committee_meetings_year_org_id")),
    )
    op.create_table(
        "meeting_attendees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("committee_meeting_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("unit", sa.String(length=200), server_default="", nullable=False),
        sa.Column("role", sa.String(length=100), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["committee_meeting_id"], ["committee_meetings.id"],
            name=op.f("fk_meeting_attendees_committee_meeting_id_committee_meetings"),
        ),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_attendees_meeting_id_meetings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_attendees")),
    )
    with op.batch_alter_table("meeting_attendees", schema=None) as batch_op:
        batch_op.create_index("ix_meeting_attendees_committee_meeting_id", ["committee_meeting_id"], unique=False)
        batch_op.create_index("ix_meeting_attendees_meeting_id", ["meeting_id"], unique=False)
    op.create_table(
        "agenda_items",
        sa.Column("cycle_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("presented_at", sa.DateTime(), nullable=True),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("strengths", sa.Text(), nullable=True),
        sa.Column("problems", sa.Text(), nullable=True),
        sa.Column("direction", sa.Text(), nullable=True),
        sa.Column("commented_by", sa.String(length=100), nullable=True),
        sa.Column("commented_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_agenda_items_cycle_id_cycles")),
        sa.PrimaryKeyConstraint("cycle_id", name=op.f("pk_agenda_items")),
    )
    op.create_table(
        "ballot_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("committee_meeting_id", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["committee_meeting_id"], ["committee_meetings.id"],
            name=op.f("fk_ballot_codes_committee_meeting_id_committee_meetings"),
        ),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name=op.f("fk_ballot_codes_meeting_id_meetings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballot_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_ballot_codes_code_hash")),
    )
    op.create_table(
        "ballot_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("committee_meeting_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["committee_meeting_id"], ["committee_meetings.id"],
            name=op.f("fk_ballot_batches_committee_meeting_id_committee_meetings"),
        ),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name=op.f("fk_ballot_batches_meeting_id_meetings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballot_batches")),
    )
    op.create_table(
        "ballot_counts",
        sa.Column("cycle_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rating", sa.String(length=4), nullable=False),
        sa.Column("n", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_ballot_counts_cycle_id_cycles")),
        sa.PrimaryKeyConstraint("cycle_id", "rating", name=op.f("pk_ballot_counts")),
    )
    op.create_table(
        "ballot_tallies",
        sa.Column("cycle_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ballots", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("satisfaction", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("quorum", sa.Integer(), nullable=False),
        sa.Column("quorum_met", sa.Boolean(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_ballot_tallies_cycle_id_cycles")),
        sa.PrimaryKeyConstraint("cycle_id", name=op.f("pk_ballot_tallies")),
    )
    op.create_table(
        "feedback_notices",
        sa.Column("cycle_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("docx", sa.LargeBinary(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_feedback_notices_cycle_id_cycles")),
        sa.PrimaryKeyConstraint("cycle_id", name=op.f("pk_feedback_notices")),
    )
    op.create_table(
        "rectification_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("responsible", sa.String(length=100), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("done_note", sa.Text(), nullable=True),
        sa.Column("carried_from_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["carried_from_id"], ["rectification_items.id"],
            name=op.f("fk_rectification_items_carried_from_id_rectification_items"),
        ),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_rectification_items_cycle_id_cycles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_items")),
    )
    with op.batch_alter_table("rectification_items", schema=None) as batch_op:
        batch_op.create_index("ix_rectification_items_cycle_id", ["cycle_id"], unique=False)
    op.create_table(
        "commitments",
        sa.Column("cycle_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("filed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_commitments_cycle_id_cycles")),
        sa.PrimaryKeyConstraint("cycle_id", name=op.f("pk_commitments")),
    )


def downgrade() -> None:
    for table in (
        "commitments",
        "rectification_items",
        "feedback_notices",
        "ballot_tallies",
        "ballot_counts",
        "ballot_batches",
        "ballot_codes",
        "agenda_items",
        "meeting_attendees",
        "committee_meetings",
        "work_plans",
        "report_versions",
    ):
        op.drop_table(table)
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        for column in ("venue", "presiding", "closed_at", "opened_by", "opened_at"):
            batch_op.drop_column(column)
