"""platform tables

Revision ID: 0001
Revises:
Create Date: 2026-11-28 12:38:11.670302
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "lb_access_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("form_key", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("field_key", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_access_log")),
    )
    with op.batch_alter_table("lb_access_log", schema=None) as batch_op:
        batch_op.create_index("ix_lb_access_log_record", ["form_key", "record_id"], unique=False)

    op.create_table(
        "lb_app",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column(
            "label",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column(
            "documents",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_lb_app")),
    )
    op.create_table(
        "lb_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("form_key", sa.String(length=64), nullable=False),
        sa.Column(
            "record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("record_version", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "changes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_audit")),
    )
    with op.batch_alter_table("lb_audit", schema=None) as batch_op:
        batch_op.create_index("ix_lb_audit_record", ["form_key", "record_id", "id"], unique=False)

    op.create_table(
        "lb_department",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "head_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["lb_department.id"],
            name=op.f("fk_lb_department_parent_id_lb_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_department")),
        sa.UniqueConstraint("parent_id", "name", name=op.f("uq_lb_department_parent_id_name")),
    )
    with op.batch_alter_table("lb_department", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lb_department_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "lb_file",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("form_key", sa.String(length=64), nullable=False),
        sa.Column("field_key", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column(
            "uploaded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_file")),
    )
    op.create_table(
        "lb_form_schema",
        sa.Column("form_key", sa.String(length=64), nullable=False),
        sa.Column(
            "archived",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("form_key", name=op.f("pk_lb_form_schema")),
    )
    op.create_table(
        "lb_meta_draft",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column(
            "doc",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.Column(
            "updated_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_lb_meta_draft")),
    )
    op.create_table(
        "lb_meta_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_meta_generation")),
    )
    op.create_table(
        "lb_meta_version",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "doc",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "published_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_meta_version")),
        sa.UniqueConstraint(
            "kind", "key", "version", name=op.f("uq_lb_meta_version_kind_key_version")
        ),
    )
    op.create_table(
        "lb_role",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column(
            "label",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("is_superuser", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_role")),
        sa.UniqueConstraint("key", name=op.f("uq_lb_role_key")),
    )
    op.create_table(
        "lb_sequence",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_lb_sequence")),
    )
    op.create_table(
        "lb_user",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("language", sa.String(length=5), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["lb_department.id"],
            name=op.f("fk_lb_user_department_id_lb_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_user")),
        sa.UniqueConstraint("username", name=op.f("uq_lb_user_username")),
    )
    with op.batch_alter_table("lb_user", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lb_user_department_id"), ["department_id"], unique=False
        )

    op.create_table(
        "lb_api_token",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lb_user.id"],
            name=op.f("fk_lb_api_token_user_id_lb_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_lb_api_token_token_hash")),
    )
    op.create_table(
        "lb_user_role",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["lb_role.id"],
            name=op.f("fk_lb_user_role_role_id_lb_role"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lb_user.id"],
            name=op.f("fk_lb_user_role_user_id_lb_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role_id", name=op.f("pk_lb_user_role")),
    )


def downgrade() -> None:

    op.drop_table("lb_user_role")
    op.drop_table("lb_api_token")
    with op.batch_alter_table("lb_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lb_user_department_id"))

    op.drop_table("lb_user")
    op.drop_table("lb_sequence")
    op.drop_table("lb_role")
    op.drop_table("lb_meta_version")
    op.drop_table("lb_meta_generation")
    op.drop_table("lb_meta_draft")
    op.drop_table("lb_form_schema")
    op.drop_table("lb_file")
    with op.batch_alter_table("lb_department", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lb_department_parent_id"))

    op.drop_table("lb_department")
    with op.batch_alter_table("lb_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_lb_audit_record")

    op.drop_table("lb_audit")
    op.drop_table("lb_app")
    with op.batch_alter_table("lb_access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_lb_access_log_record")

    op.drop_table("lb_access_log")
