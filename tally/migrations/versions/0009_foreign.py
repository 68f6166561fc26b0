"""Foreign forms: the ink fingerprint of every counted page of a form with no printed serial.

Revision ID: 0009_foreign
Revises: 0007_exchange
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_foreign"
down_revision = "0007_exchange"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sheet_fingerprints",
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.String(length=40), nullable=False),
        sa.Column("page_no", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"],
                                name="fk_sheet_fingerprints_page_id_pages"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"],
                                name="fk_sheet_fingerprints_meeting_id_meetings"),
        sa.PrimaryKeyConstraint("page_id", name="pk_sheet_fingerprints"),
    )
    op.create_index("ix_sheet_fingerprints_form", "sheet_fingerprints",
                    ["meeting_id", "form_id", "page_no"])


def downgrade() -> None:
    op.drop_table("sheet_fingerprints")
