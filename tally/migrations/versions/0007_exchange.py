"""Signed exchange: a stable uid for every meeting, and the record of imported meetings.

Revision ID: 0007_exchange
Revises: 0006_jobs
Create Date: 2026-12-03
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0007_exchange"
down_revision = "0006_jobs"
branch_labels = None
depends_on = None

SHA = sa.String(length=64)
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.add_column(sa.Column("uid", sa.String(length=36), nullable=True))
    conn = op.get_bind()
    meetings = sa.table("meetings", sa.column("id", sa.Integer), sa.column("uid", sa.String))
    for (mid,) in conn.execute(sa.select(meetings.c.id)).all():  # existing meetings get one
        conn.execute(meetings.update().where(meetings.c.id == mid)
                     .values(uid=str(uuid.uuid4())))
    with op.batch_alter_table("meetings") as batch:
        batch.alter_column("uid", existing_type=sa.String(length=36), nullable=False)
        batch.create_unique_constraint("uq_meetings_uid", ["uid"])
    op.create_table(
        "exchange_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("meeting_uid", sa.String(length=36), nullable=False),
        sa.Column("manifest_sha256", SHA, nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("signer_key_id", sa.String(length=16), nullable=False),
        sa.Column("signer_fingerprint", SHA, nullable=False),
        sa.Column("signer_public_pem", sa.Text(), nullable=False),
        sa.Column("origin_meeting_id", sa.Integer(), nullable=False),
        sa.Column("origin_head_seq", sa.Integer(), nullable=False),
        sa.Column("origin_head_hash", SHA, nullable=False),
        sa.Column("origin_audit", sa.Text(), nullable=False),
        sa.Column("with_images", sa.Boolean(), nullable=False),
        sa.Column("imported_by", sa.String(length=80), nullable=False),
        sa.Column("imported_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"],
                                name="fk_exchange_imports_meeting_id_meetings"),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_imports"),
        sa.UniqueConstraint("meeting_id", name="uq_exchange_imports_meeting_id"),
    )
    op.create_index("ix_exchange_imports_meeting_uid", "exchange_imports", ["meeting_uid"])


def downgrade() -> None:
    op.drop_index("ix_exchange_imports_meeting_uid", table_name="exchange_imports")
    op.drop_table("exchange_imports")
    with op.batch_alter_table("meetings") as batch:
        batch.drop_constraint("uq_meetings_uid", type_="unique")
        batch.drop_column("uid")
