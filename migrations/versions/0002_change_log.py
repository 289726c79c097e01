"""change log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:26:43.862510
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "lb_change_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_change_log")),
    )
    with op.batch_alter_table("lb_change_log", schema=None) as batch_op:
        batch_op.create_index("ix_lb_change_log_subject", ["subject", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("lb_change_log", schema=None) as batch_op:
        batch_op.drop_index("ix_lb_change_log_subject")

    op.drop_table("lb_change_log")
