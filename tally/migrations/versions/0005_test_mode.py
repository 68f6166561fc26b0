"""Test mode (测试模式) of a meeting: `meetings.test_mode`, false for every meeting made before.

A meeting created from now on starts in test mode (its test deck is read and checked, then it
goes official: `tally.testmode`); the meetings already in a store were counted for real, so
they are official and nothing they counted changes.

Revision ID: 0005_test_mode
Revises: 0004_cadre
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_test_mode"
down_revision = "0004_cadre"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.add_column(sa.Column("test_mode", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.drop_column("test_mode")
