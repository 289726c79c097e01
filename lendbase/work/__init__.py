"""Work on records: tags, tasks, alerts and notifications — the actions rules, segments and
lifecycle stages call, and what people see and do in their inbox and on a record's page.

Each service takes a Session and an Actor (plus an injectable clock) and never commits. Rules
act as the system (``Actor.system()``) and pass their key as ``rule=``; every action for a
cause is idempotent through a UNIQUE ``cause_key``.
"""

from lendbase.work.access import RecordAccess
from lendbase.work.alerts import Alert, AlertPage, AlertService, AlertSeverity, AlertStatus
from lendbase.work.assignment import (
    AssigneeRule,
    DbOrg,
    DepartmentHead,
    FirstOf,
    FixedUser,
    OrgView,
    RecordUser,
    RoundRobin,
    StaticOrg,
    parse_assignee,
)
from lendbase.work.common import cause_key_for, insert_ignoring_conflicts
from lendbase.work.notifications import (
    Channel,
    ChannelKind,
    Gate,
    Notification,
    NotificationService,
    NotificationStatus,
    NotificationTemplate,
    OutgoingNotification,
    RecordingChannel,
    Refusal,
    SendResult,
    quiet_hours_gate,
    render_text,
)
from lendbase.work.tag_catalog import Tag, TagCatalog, TagGroup
from lendbase.work.tags import RecordTag, TagAction, TagChange, TagService, has_tag, tagged_ids
from lendbase.work.tasks import (
    Task,
    TaskComment,
    TaskEvent,
    TaskKind,
    TaskPage,
    TaskPriority,
    TaskService,
    TaskSpec,
    TaskStatus,
    TaskView,
)

__all__ = [
    "Alert", "AlertPage", "AlertService", "AlertSeverity", "AlertStatus", "AssigneeRule",
    "Channel", "ChannelKind", "DbOrg", "DepartmentHead", "FirstOf", "FixedUser", "Gate",
    "Notification", "NotificationService", "NotificationStatus", "NotificationTemplate",
    "OrgView", "OutgoingNotification", "RecordAccess", "RecordTag", "RecordUser",
    "RecordingChannel", "Refusal", "RoundRobin", "SendResult", "StaticOrg", "Tag", "TagAction",
    "TagCatalog", "TagChange", "TagGroup", "TagService", "Task", "TaskComment", "TaskEvent",
    "TaskKind", "TaskPage", "TaskPriority", "TaskService", "TaskSpec", "TaskStatus",
    "TaskView", "cause_key_for", "has_tag", "insert_ignoring_conflicts", "parse_assignee",
    "quiet_hours_gate", "render_text", "tagged_ids",
]
