"""The per-cadre analysis (综合分析) and a department store's scale.

- `cadre_people`: each person a meeting's forms list (derived from the stored specs);
- `cadre_meetings`: which meetings are indexed, with their cached per-person figures;
- `cadre_entries`: figures entered by hand (谈话推荐 …), a hash chain of its own;
- `ix_pages_meeting_id_id`: a meeting's pages in id order, so a meeting's tally in a store of
  10^6 sheets reads only its own rows (newest page, page count and the counted pages).

Revision ID: 0004_cadre
Revises: 0003_ledger
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_cadre"
down_revision = "0003_ledger"
branch_labels = None
depends_on = None

SHA = sa.String(length=64)
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index("ix_pages_meeting_id_id", "pages", ["meeting_id", "id"])
    op.create_table(
        "cadre_people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("local_id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=True),
        sa.Column("person_key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("post", sa.String(length=80), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"],
                                name="fk_cadre_people_meeting_id_meetings"),
        sa.PrimaryKeyConstraint("id", name="pk_cadre_people"),
    )
    op.create_index("ix_cadre_people_person_key", "cadre_people", ["person_key"])
    op.create_index("ix_cadre_people_meeting_id", "cadre_people", ["meeting_id"])
    op.create_table(
        "cadre_meetings",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("indexed_at", WHEN, nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=True),
        sa.Column("figures_version", sa.Integer(), nullable=True),
        sa.Column("figures", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"],
                                name="fk_cadre_meetings_meeting_id_meetings"),
        sa.PrimaryKeyConstraint("meeting_id", name="pk_cadre_meetings"),
    )
    op.create_table(
        "cadre_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("post", sa.String(length=80), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("meeting_label", sa.String(length=120), nullable=False),
        sa.Column("values", sa.Text(), nullable=False),
        sa.Column("who", sa.String(length=80), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("prev_hash", SHA, nullable=False),
        sa.Column("hash", SHA, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cadre_entries"),
        sa.UniqueConstraint("seq", name="uq_cadre_entries_seq"),
    )
    op.create_index("ix_cadre_entries_person_id", "cadre_entries", ["person_id"])


def downgrade() -> None:
    for table in ("cadre_entries", "cadre_meetings", "cadre_people"):
        op.drop_table(table)
    op.drop_index("ix_pages_meeting_id_id", table_name="pages")
