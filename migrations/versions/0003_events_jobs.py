"""events outbox, job runs and schedules

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _partial(status: str) -> dict[str, sa.TextClause]:
    where = sa.text(f"status = '{status}'")
    return {"postgresql_where": where, "sqlite_where": where}


def upgrade() -> None:
    op.create_table(
        "lb_outbox",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("form_key", sa.String(length=64), nullable=True),
        sa.Column("record_id", _ID, nullable=True),
        sa.Column("actor_id", _ID, nullable=True),
        _ts("occurred_at"),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _ts("dispatched_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_outbox")),
    )
    op.create_index("ix_lb_outbox_pending", "lb_outbox", ["id"], unique=False,
                    **_partial("pending"))

    op.create_table(
        "lb_event_handled",
        sa.Column("event_id", _ID, nullable=False),
        sa.Column("handler", sa.String(length=200), nullable=False),
        _ts("handled_at"),
        sa.PrimaryKeyConstraint("event_id", "handler", name=op.f("pk_lb_event_handled")),
    )

    op.create_table(
        "lb_job_run",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("function", sa.String(length=200), nullable=False),
        sa.Column("args", _JSON, nullable=False),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("timeout_s", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("outbox_id", _ID, nullable=True),
        sa.Column("schedule_key", sa.String(length=64), nullable=True),
        _ts("due_at", nullable=True),
        _ts("created_at"),
        _ts("queued_at"),
        _ts("pushed_at", nullable=True),
        _ts("started_at", nullable=True),
        _ts("finished_at", nullable=True),
        _ts("next_retry_at", nullable=True),
        _ts("lease_until", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_job_run")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_lb_job_run_outbox_id")),
        sa.UniqueConstraint("schedule_key", "due_at",
                            name=op.f("uq_lb_job_run_schedule_key_due_at")),
    )
    op.create_index("ix_lb_job_run_status", "lb_job_run", ["status", "id"], unique=False)
    op.create_index("ix_lb_job_run_queued", "lb_job_run", ["pushed_at"], unique=False,
                    **_partial("queued"))
    op.create_index("ix_lb_job_run_retrying", "lb_job_run", ["next_retry_at"], unique=False,
                    **_partial("retrying"))
    op.create_index("ix_lb_job_run_running", "lb_job_run", ["lease_until"], unique=False,
                    **_partial("running"))

    op.create_table(
        "lb_schedule",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("cron", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("job", sa.String(length=200), nullable=False),
        sa.Column("args", _JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _ts("last_run_at", nullable=True),
        _ts("next_run_at", nullable=True),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_lb_schedule")),
    )
    op.create_index("ix_lb_schedule_next_run_at", "lb_schedule", ["next_run_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_lb_schedule_next_run_at", table_name="lb_schedule")
    op.drop_table("lb_schedule")
    for name in ("ix_lb_job_run_running", "ix_lb_job_run_retrying", "ix_lb_job_run_queued",
                 "ix_lb_job_run_status"):
        op.drop_index(name, table_name="lb_job_run")
    op.drop_table("lb_job_run")
    op.drop_table("lb_event_handled")
    op.drop_index("ix_lb_outbox_pending", table_name="lb_outbox")
    op.drop_table("lb_outbox")
