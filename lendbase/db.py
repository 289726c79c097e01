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


# --- Tags, tasks, alerts and notifications (``lendbase.work``) -------------------------------
# Platform tables beside the records they point at by (form_key, record_id): a record of any
# form can carry tags, tasks, alerts and notifications without a column of its own.

tag_group = Table(
    "lb_tag_group",
    platform_metadata,
    Column("key", String(64), primary_key=True),
    Column("label", JsonType, nullable=False),
    #: One tag of the group per record at most (a rating): adding B removes A.
    Column("exclusive", Boolean, nullable=False, default=False),
    #: Whether people may set its tags by hand (else only rules do).
    Column("manual", Boolean, nullable=False, default=True),
    #: Role keys allowed to set its tags by hand; empty: anyone who can read the record.
    Column("roles", JsonType, nullable=False),
    Column("sort", Integer, nullable=False, default=0),
    _ts("updated_at"),
)

tag = Table(
    "lb_tag",
    platform_metadata,
    Column("key", String(64), primary_key=True),
    Column("group_key", String(64), ForeignKey("lb_tag_group.key"), nullable=False, index=True),
    Column("label", JsonType, nullable=False),
    Column("color", String(16), nullable=False),
    Column("sort", Integer, nullable=False, default=0),
    Column("active", Boolean, nullable=False, default=True),
    _ts("updated_at"),
)

record_tag = Table(
    "lb_record_tag",
    platform_metadata,
    Column("form_key", String(64), primary_key=True),
    Column("record_id", IdType, primary_key=True),
    Column("tag_key", String(64), ForeignKey("lb_tag.key"), primary_key=True),
    _ts("added_at"),
    Column("added_by", IdType, nullable=True),
    Column("added_by_rule", String(100), nullable=True),
    Column("reason", Text, nullable=True),
    # "records with tag X" and the bulk operations; the key serves "tags of a record"
    Index("ix_lb_record_tag_tag", "form_key", "tag_key", "record_id"),
)

tag_history = Table(
    "lb_tag_history",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("form_key", String(64), nullable=False),
    Column("record_id", IdType, nullable=False),
    Column("tag_key", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    _ts("at"),
    Column("actor_id", IdType, nullable=True),
    Column("rule_key", String(100), nullable=True),
    Column("reason", Text, nullable=True),
    Index("ix_lb_tag_history_record", "form_key", "record_id", "id"),
)

task = Table(
    "lb_task",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("form_key", String(64), nullable=True),
    Column("record_id", IdType, nullable=True),
    Column("assignee_id", IdType, ForeignKey("lb_user.id"), nullable=True),
    _ts("due_at", nullable=True),
    Column("payload", JsonType, nullable=False),
    #: Idempotency key of the cause ("rule:upsell_followup:customer:17:2026-11").
    Column("cause_key", String(200), nullable=True, unique=True),
    Column("created_by", IdType, nullable=True),
    Column("created_by_rule", String(100), nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
    _ts("completed_at", nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_lb_task_inbox", "assignee_id", "status", "due_at", "id"),
    Index("ix_lb_task_record", "form_key", "record_id"),
    Index("ix_lb_task_created_by", "created_by", "status"),
)

task_comment = Table(
    "lb_task_comment",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("task_id", IdType, ForeignKey("lb_task.id", ondelete="CASCADE"), nullable=False),
    Column("author_id", IdType, nullable=True),
    _ts("at"),
    Column("body", Text, nullable=False),
    Index("ix_lb_task_comment_task", "task_id", "id"),
)

#: What happened to a task: created, status changes, reassignments (from, to, reason).
task_event = Table(
    "lb_task_event",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("task_id", IdType, ForeignKey("lb_task.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    _ts("at"),
    Column("actor_id", IdType, nullable=True),
    Column("rule_key", String(100), nullable=True),
    Column("detail", JsonType, nullable=False),
    Index("ix_lb_task_event_task", "task_id", "id"),
)

alert = Table(
    "lb_alert",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("form_key", String(64), nullable=False),
    Column("record_id", IdType, nullable=False),
    Column("rule_key", String(100), nullable=True),
    Column("severity", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("detail", JsonType, nullable=False),
    Column("cause_key", String(200), nullable=True, unique=True),
    Column("status", String(16), nullable=False),
    Column("created_by", IdType, nullable=True),
    _ts("created_at"),
    Column("acknowledged_by", IdType, nullable=True),
    _ts("acknowledged_at", nullable=True),
    Column("closed_by", IdType, nullable=True),
    _ts("closed_at", nullable=True),
    Index("ix_lb_alert_record", "form_key", "record_id", "id"),
    Index("ix_lb_alert_status", "status", "id"),
)

notification_template = Table(
    "lb_notification_template",
    platform_metadata,
    Column("key", String(64), primary_key=True),
    Column("label", JsonType, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("form_key", String(64), nullable=True),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("updated_by", IdType, nullable=True),
    _ts("updated_at"),
)

notification = Table(
    "lb_notification",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("template_key", String(64), nullable=True),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(255), nullable=False),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    #: Why a gate refused it or the channel failed: a stable code and a sentence.
    Column("reason_code", String(64), nullable=True),
    Column("reason", Text, nullable=True),
    Column("cause_key", String(200), nullable=True, unique=True),
    Column("form_key", String(64), nullable=True),
    Column("record_id", IdType, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("provider_ref", String(128), nullable=True),
    Column("created_by", IdType, nullable=True),
    Column("created_by_rule", String(100), nullable=True),
    _ts("created_at"),
    _ts("sent_at", nullable=True),
    Index("ix_lb_notification_record", "form_key", "record_id", "id"),
    # per-number gates ("at most n a day") and the delivery of queued ones
    Index("ix_lb_notification_recipient", "recipient", "created_at"),
    Index("ix_lb_notification_status", "status", "id"),
)


# --- events, jobs and schedules (``lendbase.events``, ``lendbase.jobs``) ----------------------

#: The transactional outbox: one row per event, written in the transaction of the change that
#: caused it and turned into job runs after commit. ``data`` holds the changed field keys, their
#: (masked) before/after values and an external event's payload.
outbox = Table(
    "lb_outbox",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("type", String(32), nullable=False),
    Column("name", String(100), nullable=True),
    Column("form_key", String(64), nullable=True),
    Column("record_id", IdType, nullable=True),
    Column("actor_id", IdType, nullable=True),
    _ts("occurred_at"),
    Column("data", JsonType, nullable=False),
    Column("status", String(16), nullable=False),
    _ts("dispatched_at", nullable=True),
)
#: Only the pending rows: the sweeper's scan and the backlog count read this small index.
Index("ix_lb_outbox_pending", outbox.c.id,
      postgresql_where=outbox.c.status == "pending", sqlite_where=outbox.c.status == "pending")

#: Which handler has processed which event, written in the handler's own transaction: the
#: primary key makes a redelivered event a no-op for the handlers that already ran.
event_handled = Table(
    "lb_event_handled",
    platform_metadata,
    Column("event_id", IdType, primary_key=True),
    Column("handler", String(200), primary_key=True),
    _ts("handled_at"),
)

#: Every background job (event deliveries, scheduled jobs, tasks): what the admin jobs page and
#: the API list, in RQ mode and in-process alike.
job_run = Table(
    "lb_job_run",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("function", String(200), nullable=False),
    Column("args", JsonType, nullable=False),
    Column("summary", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("timeout_s", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("outbox_id", IdType, nullable=True, unique=True),
    Column("schedule_key", String(64), nullable=True),
    _ts("due_at", nullable=True),
    _ts("created_at"),
    _ts("queued_at"),
    _ts("pushed_at", nullable=True),
    _ts("started_at", nullable=True),
    _ts("finished_at", nullable=True),
    _ts("next_retry_at", nullable=True),
    _ts("lease_until", nullable=True),
    UniqueConstraint("schedule_key", "due_at"),
    Index("ix_lb_job_run_status", "status", "id"),
)
#: Small partial indexes for the sweeper: queued runs to (re)push, retries coming due, running
#: runs whose lease ran out (their worker died).
Index("ix_lb_job_run_queued", job_run.c.pushed_at,
      postgresql_where=job_run.c.status == "queued", sqlite_where=job_run.c.status == "queued")
Index("ix_lb_job_run_retrying", job_run.c.next_retry_at,
      postgresql_where=job_run.c.status == "retrying",
      sqlite_where=job_run.c.status == "retrying")
Index("ix_lb_job_run_running", job_run.c.lease_until,
      postgresql_where=job_run.c.status == "running",
      sqlite_where=job_run.c.status == "running")

#: Cron schedules; the scheduler claims a due one with a compare-and-set on ``next_run_at``.
schedule = Table(
    "lb_schedule",
    platform_metadata,
    Column("key", String(64), primary_key=True),
    Column("cron", String(100), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("job", String(200), nullable=False),
    Column("args", JsonType, nullable=False),
    Column("enabled", Boolean, nullable=False),
    _ts("last_run_at", nullable=True),
    _ts("next_run_at", nullable=True),
    _ts("updated_at"),
    Index("ix_lb_schedule_next_run_at", "next_run_at"),
)


# --- segments (pools) (``lendbase.segments``) -----------------------------------------------
# Membership is recomputed set based (INSERT ... SELECT); these tables are what it writes.
from sqlalchemy import Date  # noqa: E402 - kept inside this block (one insertion)

#: Who is in a segment now. ``form_key`` is the segment's form when the record entered.
segment_member = Table(
    "lb_segment_member",
    platform_metadata,
    Column("segment_key", String(64), primary_key=True),
    Column("record_id", IdType, primary_key=True),
    Column("form_key", String(64), nullable=False),
    _ts("entered_at"),
    # "which segments is this record in" (the record page)
    Index("ix_lb_segment_member_record", "form_key", "record_id"),
)

#: Every entry and exit. ``run_key`` names the recompute that wrote it (the cause of the
#: on-enter / on-leave actions of that run); ``version`` is the segment version in force.
segment_history = Table(
    "lb_segment_history",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("segment_key", String(64), nullable=False),
    Column("form_key", String(64), nullable=False),
    Column("record_id", IdType, nullable=False),
    Column("event", String(8), nullable=False),
    _ts("at"),
    Column("version", Integer, nullable=False),
    Column("run_key", String(40), nullable=False),
    Index("ix_lb_segment_history_segment", "segment_key", "id"),
    Index("ix_lb_segment_history_run", "run_key", "event"),
    Index("ix_lb_segment_history_record", "form_key", "record_id", "id"),
)

#: One row per segment and business day: members at the day's last recompute, and how many
#: entered and left that day. The members page reads its count here, never count(*).
segment_count = Table(
    "lb_segment_count",
    platform_metadata,
    Column("segment_key", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("members", BigInteger, nullable=False),
    Column("entered", BigInteger, nullable=False),
    Column("left", BigInteger, nullable=False),
    _ts("updated_at"),
)


# --- rules (``lendbase.rules``) -----------------------------------------------------------------

#: One row per run of a rule (an event whose trigger matched, a scheduled scan, an external
#: event): which version ran, why, when, what each action did, and the error if it failed.
#: ``actions`` is ``[{"type", "affected", "sample": [record ids]}, ...]`` in the rule's order.
rule_run = Table(
    "lb_rule_run",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("rule_key", String(64), nullable=False),
    Column("rule_version", Integer, nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("event_id", IdType, nullable=True),
    Column("record_id", IdType, nullable=True),
    Column("cause", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("matched", BigInteger, nullable=True),
    Column("actions", JsonType, nullable=False),
    Column("error", Text, nullable=True),
    _ts("started_at"),
    _ts("finished_at", nullable=True),
    Index("ix_lb_rule_run_rule", "rule_key", "id"),
)

#: Webhook calls of rule and segment actions: one row per cause (UNIQUE), so a call is never
#: made twice for the same cause; a job run (``lendbase.rules.webhooks.deliver``) POSTs it
#: and the job runtime retries it with back-off.
webhook_call = Table(
    "lb_webhook_call",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("cause_key", String(200), nullable=False, unique=True),
    Column("source", String(100), nullable=False),
    Column("form_key", String(64), nullable=False),
    Column("record_id", IdType, nullable=False),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("timeout_s", Integer, nullable=False),
    Column("payload", JsonType, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    _ts("created_at"),
    _ts("sent_at", nullable=True),
    Index("ix_lb_webhook_call_record", "form_key", "record_id", "id"),
)


# --- lifecycle stages (``lendbase.records.lifecycle``) ---------------------------------------

#: Every entry of a record into a lifecycle stage: from where (NULL when the record started
#: there), when, by whom, and how long it stayed in the stage it left (NULL when unknown).
#: Funnel reports read conversions and durations here; the record page its stage history.
stage_history = Table(
    "lb_stage_history",
    platform_metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("form_key", String(64), nullable=False),
    Column("record_id", IdType, nullable=False),
    Column("from_stage", String(64), nullable=True),
    Column("to_stage", String(64), nullable=False),
    _ts("at"),
    Column("actor_id", IdType, nullable=True),
    Column("seconds_in_previous", BigInteger, nullable=True),
    # one record's history, and its latest entry (the stage bar, "overdue in stage")
    Index("ix_lb_stage_history_record", "form_key", "record_id", "id"),
    # conversions and durations of a form in a period
    Index("ix_lb_stage_history_period", "form_key", "at"),
)


#: Execution option asking SQLite to begin the transaction with the write lock taken
#: (``session.connection(execution_options={IMMEDIATE: True})`` before its first statement).
IMMEDIATE = "sqlite_immediate"


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
            # A transaction that will write takes the write lock up front (``sqlite_immediate``
            # execution option): a deferred one that read first cannot upgrade once another
            # connection has committed, and fails at once whatever the busy timeout.
            immediate = conn.get_execution_options().get(IMMEDIATE)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
