"""The sheet ledger: pages refused by ingest (with a code), printed serials tied to a form,
sheets issued (发出) per form. Manual entries and their confirmations are decisions.

Revision ID: 0003_ledger
Revises: 0002_accounts
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_ledger"
down_revision = "0002_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meetings") as t:
        t.add_column(sa.Column("issued_by_form", sa.Text(), nullable=False,
                               server_default="{}"))
    with op.batch_alter_table("printed_serials") as t:
        t.add_column(sa.Column("form_id", sa.String(length=40), nullable=True))
    with op.batch_alter_table("pages") as t:
        t.add_column(sa.Column("refusal", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pages") as t:
        t.drop_column("refusal")
    with op.batch_alter_table("printed_serials") as t:
        t.drop_column("form_id")
    with op.batch_alter_table("meetings") as t:
        t.drop_column("issued_by_form")
