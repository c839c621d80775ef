"""results — issue 5: samples, scores, results, veto decisions, key management, summary reports.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('key_management',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('measure', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('consecutive_years', sa.Integer(), server_default='1', nullable=False),
    sa.Column('rectify_by', sa.Date(), nullable=True),
    sa.Column('talk_on', sa.Date(), nullable=True),
    sa.Column('talk_note', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_key_management_org_id_orgs')),
    sa.ForeignKeyConstraint(['year'], ['years.year'], name=op.f('fk_key_management_year_years')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_management')),
    sa.UniqueConstraint('year', 'org_id', name=op.f('uq_key_management_year_org_id'))
    )
    op.create_table('results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('composite', sa.Float(), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('missing', sa.JSON(), nullable=False),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.Column('performance', sa.Float(), nullable=True),
    sa.Column('key_management', sa.Boolean(), nullable=False),
    sa.Column('weak', sa.Boolean(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_results_org_id_orgs')),
    sa.ForeignKeyConstraint(['year'], ['years.year'], name=op.f('fk_results_year_years')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_results')),
    sa.UniqueConstraint('year', 'org_id', name=op.f('uq_results_year_org_id'))
    )
    op.create_index('ix_results_year_category_rank', 'results', ['year', 'category', 'rank'], unique=False)
    op.create_table('samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=10), nullable=False),
    sa.Column('scope_org_id', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('seed', sa.String(length=100), nullable=False),
    sa.Column('population_hash', sa.String(length=64), nullable=False),
    sa.Column('population_size', sa.Integer(), nullable=False),
    sa.Column('population', sa.JSON(), nullable=False),
    sa.Column('sample', sa.JSON(), nullable=False),
    sa.Column('respondents', sa.JSON(), nullable=True),
    sa.Column('source', sa.String(length=300), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['scope_org_id'], ['orgs.id'], name=op.f('fk_samples_scope_org_id_orgs')),
    sa.ForeignKeyConstraint(['year'], ['years.year'], name=op.f('fk_samples_year_years')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_samples'))
    )
    op.create_index('ix_samples_year', 'samples', ['year'], unique=False)
    op.create_table('scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('component', sa.String(length=20), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_scores_org_id_orgs')),
    sa.ForeignKeyConstraint(['year'], ['years.year'], name=op.f('fk_scores_year_years')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scores')),
    sa.UniqueConstraint('year', 'org_id', 'component', name=op.f('uq_scores_year_org_id_component'))
    )
    op.create_table('summary_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('organizer_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=1000), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('written_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organizer_id'], ['orgs.id'], name=op.f('fk_summary_reports_organizer_id_orgs')),
    sa.ForeignKeyConstraint(['year'], ['years.year'], name=op.f('fk_summary_reports_year_years')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_summary_reports')),
    sa.UniqueConstraint('year', 'organizer_id', 'format', name=op.f('uq_summary_reports_year_organizer_id_format'))
    )
    op.create_table('veto_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('honour', sa.String(length=200), nullable=False),
    sa.Column('places', sa.Integer(), nullable=False),
    sa.Column('decision', sa.JSON(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['year'], ['years.year'], name=op.f('fk_veto_decisions_year_years')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_veto_decisions')),
    sa.UniqueConstraint('year', 'category', 'honour', name=op.f('uq_veto_decisions_year_category_honour'))
    )


def downgrade() -> None:
    op.drop_index("ix_samples_year", table_name="samples")
    op.drop_index("ix_results_year_category_rank", table_name="results")
    op.drop_table('veto_decisions')
    op.drop_table('summary_reports')
    op.drop_table('scores')
    op.drop_table('samples')
    op.drop_table('results')
    op.drop_table('key_management')
