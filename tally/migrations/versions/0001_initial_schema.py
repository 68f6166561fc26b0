"""Initial schema: meetings, forms, printed serials, batches, pages, decisions, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SHA = sa.String(length=64)
WHEN = sa.DateTime(timezone=True)


def _meeting_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"],
                                   name=f"fk_{table}_meeting_id_meetings")


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("expected", sa.Text(), nullable=False),
        sa.Column("present", sa.Text(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=True),
        sa.Column("serials_recorded", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meetings"),
        sa.UniqueConstraint("name", name="uq_meetings_name"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", SHA, nullable=False),
        sa.Column("hash", SHA, nullable=False),
        _meeting_fk("audit_log"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.UniqueConstraint("meeting_id", "seq", name="uq_audit_seq"),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("station", sa.String(length=80), nullable=False),
        sa.Column("device", sa.String(length=120), nullable=False),
        sa.Column("operator", sa.String(length=80), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
        _meeting_fk("batches"),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
    )
    op.create_index("ix_batches_meeting_id", "batches", ["meeting_id"])
    op.create_table(
        "meeting_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("spec_yaml", sa.Text(), nullable=False),
        sa.Column("layout", sa.Text(), nullable=False),
        sa.Column("layout_hash", SHA, nullable=False),
        _meeting_fk("meeting_forms"),
        sa.PrimaryKeyConstraint("id", name="pk_meeting_forms"),
        sa.UniqueConstraint("meeting_id", "form_id", name="uq_meeting_form"),
    )
    op.create_table(
        "printed_serials",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=16), nullable=False),
        _meeting_fk("printed_serials"),
        sa.PrimaryKeyConstraint("meeting_id", "serial", name="pk_printed_serials"),
    )
    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("sha256", SHA, nullable=False),
        sa.Column("image_bytes", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("form_id", sa.String(length=40), nullable=True),
        sa.Column("page_no", sa.Integer(), nullable=True),
        sa.Column("serial", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reading", sa.Text(), nullable=False),
        sa.Column("page_to_image", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("count_key", sa.String(length=80), nullable=True),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.Column("ingested_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name="fk_pages_batch_id_batches"),
        sa.ForeignKeyConstraint(["duplicate_of"], ["pages.id"],
                                name="fk_pages_duplicate_of_pages"),
        _meeting_fk("pages"),
        sa.PrimaryKeyConstraint("id", name="pk_pages"),
        sa.UniqueConstraint("meeting_id", "count_key", name="uq_page_count_key"),
        sa.UniqueConstraint("meeting_id", "sha256", name="uq_page_image"),
    )
    op.create_index("ix_page_meeting_serial", "pages", ["meeting_id", "serial"])
    op.create_index("ix_pages_batch_id", "pages", ["batch_id"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=80), nullable=True),
        sa.Column("option", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("who", sa.String(length=80), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        _meeting_fk("decisions"),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], name="fk_decisions_page_id_pages"),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
    )
    op.create_index("ix_decisions_meeting_id", "decisions", ["meeting_id"])
    op.create_index("ix_decisions_page_id", "decisions", ["page_id"])


def downgrade() -> None:
    for table in ("decisions", "pages", "printed_serials", "meeting_forms", "batches",
                  "audit_log", "meetings"):
        op.drop_table(table)
