"""Intake jobs of the web console, kept so that a restart after a crash can reconcile them.

Revision ID: 0006_jobs
Revises: 0005_test_mode
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_jobs"
down_revision = "0005_test_mode"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "intake_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=400), nullable=False),
        sa.Column("operator", sa.String(length=80), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("staging", sa.Text(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("files_total", sa.Integer(), nullable=True),
        sa.Column("files_done", sa.Integer(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("refeed", sa.Text(), nullable=False),
        sa.Column("refused", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"],
                                name="fk_intake_jobs_batch_id_batches"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"],
                                name="fk_intake_jobs_meeting_id_meetings"),
        sa.PrimaryKeyConstraint("id", name="pk_intake_jobs"),
    )
    op.create_index("ix_intake_jobs_meeting_id", "intake_jobs", ["meeting_id"])


def downgrade() -> None:
    op.drop_index("ix_intake_jobs_meeting_id", table_name="intake_jobs")
    op.drop_table("intake_jobs")
