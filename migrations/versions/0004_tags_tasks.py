"""tags, tasks, alerts and notifications

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "lb_alert",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("form_key", sa.String(length=64), nullable=False),
        sa.Column("record_id", _ID, nullable=False),
        sa.Column("rule_key", sa.String(length=100), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("detail", _JSON, nullable=False),
        sa.Column("cause_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", _ID, nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", _ID, nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_alert")),
        sa.UniqueConstraint("cause_key", name=op.f("uq_lb_alert_cause_key")),
    )
    with op.batch_alter_table("lb_alert", schema=None) as batch_op:
        batch_op.create_index("ix_lb_alert_record", ["form_key", "record_id", "id"], unique=False)
        batch_op.create_index("ix_lb_alert_status", ["status", "id"], unique=False)

    op.create_table(
        "lb_notification",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("template_key", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("cause_key", sa.String(length=200), nullable=True),
        sa.Column("form_key", sa.String(length=64), nullable=True),
        sa.Column("record_id", _ID, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider_ref", sa.String(length=128), nullable=True),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_by_rule", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_notification")),
        sa.UniqueConstraint("cause_key", name=op.f("uq_lb_notification_cause_key")),
    )
    with op.batch_alter_table("lb_notification", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lb_notification_recipient", ["recipient", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_lb_notification_record", ["form_key", "record_id", "id"], unique=False
        )
        batch_op.create_index("ix_lb_notification_status", ["status", "id"], unique=False)

    op.create_table(
        "lb_notification_template",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label", _JSON, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("form_key", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", _ID, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_lb_notification_template")),
    )
    op.create_table(
        "lb_tag_group",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label", _JSON, nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("roles", _JSON, nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_lb_tag_group")),
    )
    op.create_table(
        "lb_tag_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("form_key", sa.String(length=64), nullable=False),
        sa.Column("record_id", _ID, nullable=False),
        sa.Column("tag_key", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", _ID, nullable=True),
        sa.Column("rule_key", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_tag_history")),
    )
    with op.batch_alter_table("lb_tag_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lb_tag_history_record", ["form_key", "record_id", "id"], unique=False
        )

    op.create_table(
        "lb_tag",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=False),
        sa.Column("label", _JSON, nullable=False),
        sa.Column("color", sa.String(length=16), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_key"], ["lb_tag_group.key"], name=op.f("fk_lb_tag_group_key_lb_tag_group")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_lb_tag")),
    )
    with op.batch_alter_table("lb_tag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lb_tag_group_key"), ["group_key"], unique=False)

    op.create_table(
        "lb_record_tag",
        sa.Column("form_key", sa.String(length=64), nullable=False),
        sa.Column("record_id", _ID, nullable=False),
        sa.Column("tag_key", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", _ID, nullable=True),
        sa.Column("added_by_rule", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tag_key"], ["lb_tag.key"], name=op.f("fk_lb_record_tag_tag_key_lb_tag")
        ),
        sa.PrimaryKeyConstraint("form_key", "record_id", "tag_key", name=op.f("pk_lb_record_tag")),
    )
    with op.batch_alter_table("lb_record_tag", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lb_record_tag_tag", ["form_key", "tag_key", "record_id"], unique=False
        )

    op.create_table(
        "lb_task",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("form_key", sa.String(length=64), nullable=True),
        sa.Column("record_id", _ID, nullable=True),
        sa.Column("assignee_id", _ID, nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("cause_key", sa.String(length=200), nullable=True),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_by_rule", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["lb_user.id"], name=op.f("fk_lb_task_assignee_id_lb_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_task")),
        sa.UniqueConstraint("cause_key", name=op.f("uq_lb_task_cause_key")),
    )
    with op.batch_alter_table("lb_task", schema=None) as batch_op:
        batch_op.create_index("ix_lb_task_created_by", ["created_by", "status"], unique=False)
        batch_op.create_index(
            "ix_lb_task_inbox", ["assignee_id", "status", "due_at", "id"], unique=False
        )
        batch_op.create_index("ix_lb_task_record", ["form_key", "record_id"], unique=False)

    op.create_table(
        "lb_task_comment",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("task_id", _ID, nullable=False),
        sa.Column("author_id", _ID, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["lb_task.id"],
            name=op.f("fk_lb_task_comment_task_id_lb_task"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_task_comment")),
    )
    with op.batch_alter_table("lb_task_comment", schema=None) as batch_op:
        batch_op.create_index("ix_lb_task_comment_task", ["task_id", "id"], unique=False)

    op.create_table(
        "lb_task_event",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("task_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", _ID, nullable=True),
        sa.Column("rule_key", sa.String(length=100), nullable=True),
        sa.Column("detail", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["lb_task.id"],
            name=op.f("fk_lb_task_event_task_id_lb_task"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_task_event")),
    )
    with op.batch_alter_table("lb_task_event", schema=None) as batch_op:
        batch_op.create_index("ix_lb_task_event_task", ["task_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lb_task_event", schema=None) as batch_op:
        batch_op.drop_index("ix_lb_task_event_task")

    op.drop_table("lb_task_event")
    with op.batch_alter_table("lb_task_comment", schema=None) as batch_op:
        batch_op.drop_index("ix_lb_task_comment_task")

    op.drop_table("lb_task_comment")
    with op.batch_alter_table("lb_task", schema=None) as batch_op:
        batch_op.drop_index("ix_lb_task_record")
        batch_op.drop_index("ix_lb_task_inbox")
        batch_op.drop_index("ix_lb_task_created_by")

    op.drop_table("lb_task")
    with op.batch_alter_table("lb_record_tag", schema=None) as batch_op:
        batch_op.drop_index("ix_lb_record_tag_tag")

    op.drop_table("lb_record_tag")
    with op.batch_alter_table("lb_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lb_tag_group_key"))

    op.drop_table("lb_tag")
    with op.batch_alter_table("lb_tag_history", schema=None) as batch_op:
        batch_op.drop_index("ix_lb_tag_history_record")

    op.drop_table("lb_tag_history")
    op.drop_table("lb_tag_group")
    op.drop_table("lb_notification_template")
    with op.batch_alter_table("lb_notification", schema=None) as batch_op:
        batch_op.drop_index("ix_lb_notification_status")
        batch_op.drop_index("ix_lb_notification_record")
        batch_op.drop_index("ix_lb_notification_recipient")

    op.drop_table("lb_notification")
    with op.batch_alter_table("lb_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_lb_alert_status")
        batch_op.drop_index("ix_lb_alert_record")

    op.drop_table("lb_alert")
