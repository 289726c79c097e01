"""The platform's own tables (users, metadata, audit...) and engine helpers.

Form tables are not declared here: they are compiled from metadata by ``lendbase.forms.compile``.
The platform tables are created and upgraded by the Alembic migrations in ``migrations/``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Ids are 64-bit on PostgreSQL; SQLite needs INTEGER for its rowid alias to autoincrement.
IdType = BigInteger().with_variant(Integer(), "sqlite")
#: JSON documents; JSONB on PostgreSQL.
JsonType = JSON().with_variant(JSONB(), "postgresql")

platform_metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _ts(name: str, nullable: bool = False) -> Column:
    return Column(name, DateTime(timezone=True), nullable=nullable)


department = Table(
    "lb_department",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("parent_id", IdType, ForeignKey("lb_department.id"), nullable=True, index=True),
    Column("head_user_id", IdType, nullable=True),
    UniqueConstraint("parent_id", "name"),
)

user = Table(
    "lb_user",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("department_id", IdType, ForeignKey("lb_department.id"), nullable=True, index=True),
    Column("language", String(5), nullable=True),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    _ts("locked_until", nullable=True),
    _ts("created_at"),
)

role = Table(
    "lb_role",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("label", JsonType, nullable=False),
    Column("is_superuser", Boolean, nullable=False, default=False),
)

user_role = Table(
    "lb_user_role",
    platform_metadata,
    Column("user_id", IdType, ForeignKey("lb_user.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", IdType, ForeignKey("lb_role.id", ondelete="CASCADE"), primary_key=True),
)

api_token = Table(
    "lb_api_token",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", IdType, ForeignKey("lb_user.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    _ts("created_at"),
    _ts("expires_at"),
    _ts("last_used_at", nullable=True),
)

meta_draft = Table(
    "lb_meta_draft",
    platform_metadata,
    Column("kind", String(20), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("doc", JsonType, nullable=False),
    Column("lock_version", Integer, nullable=False, default=1),
    Column("updated_by", IdType, nullable=True),
    _ts("updated_at"),
)

meta_version = Table(
    "lb_meta_version",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("key", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("doc", JsonType, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("note", Text, nullable=True),
    Column("published_by", IdType, nullable=True),
    _ts("published_at"),
    UniqueConstraint("kind", "key", "version"),
)

meta_generation = Table(
    "lb_meta_generation",
    platform_metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", BigInteger, nullable=False),
)

#: What physically exists for each published form beyond its current document: archived
#: fields (columns kept after a field was removed) so history and export can still read them.
form_schema = Table(
    "lb_form_schema",
    platform_metadata,
    Column("form_key", String(64), primary_key=True),
    Column("archived", JsonType, nullable=False),
    _ts("updated_at"),
)

app_install = Table(
    "lb_app",
    platform_metadata,
    Column("key", String(64), primary_key=True),
    Column("label", JsonType, nullable=False),
    Column("version", String(32), nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("documents", JsonType, nullable=False),
    _ts("installed_at"),
)

audit = Table(
    "lb_audit",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("form_key", String(64), nullable=False),
    Column("record_id", IdType, nullable=False),
    Column("action", String(16), nullable=False),
    Column("record_version", Integer, nullable=False),
    Column("actor_id", IdType, nullable=True),
    _ts("at"),
    Column("changes", JsonType, nullable=False),
    Index("ix_lb_audit_record", "form_key", "record_id", "id"),
)

access_log = Table(
    "lb_access_log",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("actor_id", IdType, nullable=False),
    _ts("at"),
    Column("action", String(16), nullable=False),
    Column("form_key", String(64), nullable=False),
    Column("record_id", IdType, nullable=True),
    Column("field_key", String(64), nullable=True),
    Column("reason", Text, nullable=False),
    Index("ix_lb_access_log_record", "form_key", "record_id"),
)

#: Changes to everything that is not a form record (metadata drafts and publishes, users,
#: departments...): who, when, what, and the before/after that matters.
change_log = Table(
    "lb_change_log",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    _ts("at"),
    Column("actor_id", IdType, nullable=True),
    Column("subject", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", JsonType, nullable=False),
    Index("ix_lb_change_log_subject", "subject", "id"),
)

sequence = Table(
    "lb_sequence",
    platform_metadata,
    Column("name", String(128), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

stored_file = Table(
    "lb_file",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("form_key", String(64), nullable=False),
    Column("field_key", String(64), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(127), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("path", String(500), nullable=False),
    Column("uploaded_by", IdType, nullable=True),
    _ts("uploaded_at"),
)


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine. On SQLite: foreign keys on, WAL so readers never block writers, and
    transactions that SQLAlchemy begins itself (the sqlite3 driver would otherwise commit DDL
    on its own, so a failed schema migration could not be rolled back)."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_engine(url, future=True, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # the driver stops managing transactions
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN")

    return engine
