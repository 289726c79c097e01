"""Tags, tasks, alerts and notifications of records.

A caller sees them only on records they may read (a record out of reach answers 404, as the
records API does). Tasks: the assignee, the creator or an administrator may change one; the
inbox (``GET /tasks``) lists the caller's own, overdue first. Tag groups, tags and notification
templates are kept by administrators.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from lendbase.api import schemas as s
from lendbase.api.auth import api_actor
from lendbase.app import MAX_ID
from lendbase.errors import ValidationFailed
from lendbase.web.context import compiled_schema, db_session
from lendbase.work import (
    AlertService,
    AlertSeverity,
    AlertStatus,
    ChannelKind,
    NotificationService,
    TagCatalog,
    TagService,
    TaskKind,
    TaskPriority,
    TaskService,
    TaskSpec,
    TaskStatus,
    TaskView,
)
from lendbase.work.common import utcnow

blp = Blueprint("work", __name__, url_prefix="/api/v1",
                description="Tags, tasks, alerts and notifications of records")



def _id_field(**kwargs: Any) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)

_LABEL = fields.Dict(keys=fields.String(validate=validate.OneOf(["zh", "en"])),
                     values=fields.String(validate=validate.Length(max=100)), required=True,
                     metadata={"example": {"zh": "评级A", "en": "Rating A"}})


def _values(enum: Any) -> list[str]:
    return [m.value for m in enum]


# --- schemas ----------------------------------------------------------------------------------


class RecordTagSchema(Schema):
    tag_key = fields.String()
    group_key = fields.String()
    label = fields.Dict()
    group_label = fields.Dict()
    color = fields.String()
    added_at = fields.DateTime()
    added_by = fields.Integer(allow_none=True)
    added_by_rule = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class TagChangeSchema(Schema):
    id = fields.Integer()
    tag_key = fields.String()
    action = fields.String(metadata={"enum": ["added", "removed"]})
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    rule_key = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class AddTagBody(Schema):
    tag = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = fields.String(validate=validate.Length(max=500), allow_none=True)


class ReasonArgs(Schema):
    reason = fields.String(validate=validate.Length(max=500))


class TagSchema(Schema):
    key = fields.String()
    group_key = fields.String()
    label = fields.Dict()
    color = fields.String()
    sort = fields.Integer()
    active = fields.Boolean()


class TagGroupSchema(Schema):
    key = fields.String()
    label = fields.Dict()
    exclusive = fields.Boolean()
    manual = fields.Boolean()
    roles = fields.List(fields.String())
    sort = fields.Integer()
    tags = fields.List(fields.Nested(TagSchema))


class TagGroupBody(Schema):
    label = _LABEL
    exclusive = fields.Boolean(load_default=False)
    manual = fields.Boolean(load_default=True)
    roles = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                        load_default=list)
    sort = fields.Integer(load_default=0, validate=validate.Range(min=-999_999, max=999_999))


class TagBody(Schema):
    group_key = fields.String(required=True)
    label = _LABEL
    color = fields.String(load_default="#6c757d")
    sort = fields.Integer(load_default=0, validate=validate.Range(min=-999_999, max=999_999))
    active = fields.Boolean(load_default=True)


class TaskSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String(allow_none=True)
    kind = fields.String()
    status = fields.String(metadata={"enum": _values(TaskStatus)})
    priority = fields.String(metadata={"enum": _values(TaskPriority)})
    form_key = fields.String(allow_none=True)
    record_id = fields.Integer(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    payload = fields.Dict()
    cause_key = fields.String(allow_none=True)
    created_by = fields.Integer(allow_none=True)
    created_by_rule = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    version = fields.Integer()


class TaskPageSchema(Schema):
    items = fields.List(fields.Nested(TaskSchema))
    next_cursor = fields.String(allow_none=True)


class TaskListArgs(Schema):
    view = fields.String(load_default="open", validate=validate.OneOf(_values(TaskView)),
                         metadata={"description": "open (open and in progress, overdue "
                                                  "first) or done (done and cancelled)"})
    after = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class TaskCreate(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    kind = fields.String(load_default="follow_up", validate=validate.OneOf(_values(TaskKind)))
    priority = fields.String(load_default="normal",
                             validate=validate.OneOf(_values(TaskPriority)))
    form_key = fields.String(validate=validate.Length(min=1, max=64))
    record_id = _id_field()
    assignee_id = _id_field(allow_none=True)
    due_at = fields.AwareDateTime(allow_none=True)


class TaskUpdate(Schema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    priority = fields.String(validate=validate.OneOf(_values(TaskPriority)))
    status = fields.String(validate=validate.OneOf(_values(TaskStatus)))
    due_at = fields.AwareDateTime(allow_none=True)


class CommentSchema(Schema):
    id = fields.Integer()
    task_id = fields.Integer()
    author_id = fields.Integer(allow_none=True)
    at = fields.DateTime()
    body = fields.String()


class CommentBody(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=10_000))


class ReassignBody(Schema):
    assignee_id = _id_field(required=True)
    reason = fields.String(allow_none=True, validate=validate.Length(max=500))


class TaskEventSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    rule_key = fields.String(allow_none=True)
    detail = fields.Dict()


class AlertSchema(Schema):
    id = fields.Integer()
    form_key = fields.String()
    record_id = fields.Integer()
    rule_key = fields.String(allow_none=True)
    severity = fields.String(metadata={"enum": _values(AlertSeverity)})
    title = fields.String()
    detail = fields.Dict()
    cause_key = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": _values(AlertStatus)})
    created_at = fields.DateTime()
    acknowledged_by = fields.Integer(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    closed_by = fields.Integer(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)


class AlertPageSchema(Schema):
    items = fields.List(fields.Nested(AlertSchema))
    next_cursor = fields.Integer(allow_none=True)


class AlertListArgs(Schema):
    status = fields.String(load_default="open",
                           validate=validate.OneOf([*_values(AlertStatus), "any"]))
    form = fields.String(validate=validate.Length(min=1, max=64))
    after = _id_field()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class NotificationSchema(Schema):
    id = fields.Integer()
    template_key = fields.String(allow_none=True)
    channel = fields.String(metadata={"enum": _values(ChannelKind)})
    recipient = fields.String()
    subject = fields.String(allow_none=True)
    body = fields.String()
    status = fields.String(metadata={"enum": ["queued", "sent", "refused", "failed"]})
    reason_code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "why a gate refused it "
                                                                     "or the channel failed"})
    cause_key = fields.String(allow_none=True)
    form_key = fields.String(allow_none=True)
    record_id = fields.Integer(allow_none=True)
    attempts = fields.Integer()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class TemplateSchema(Schema):
    key = fields.String()
    label = fields.Dict()
    channel = fields.String(metadata={"enum": _values(ChannelKind)})
    form_key = fields.String(allow_none=True)
    subject = fields.String(allow_none=True)
    body = fields.String()
    active = fields.Boolean()


class TemplateBody(Schema):
    label = _LABEL
    channel = fields.String(required=True, validate=validate.OneOf(_values(ChannelKind)))
    form_key = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    subject = fields.String(allow_none=True, validate=validate.Length(max=500))
    body = fields.String(required=True, validate=validate.Length(min=1, max=5000),
                         metadata={"description": "Jinja2 text over the record's fields, e.g. "
                                                  "'{{ name }}您好，请按时还款'"})
    active = fields.Boolean(load_default=True)


# --- helpers ----------------------------------------------------------------------------------


def _tags() -> TagService:
    return TagService(db_session(), api_actor(), schema=compiled_schema())


def _tasks() -> TaskService:
    return TaskService(db_session(), api_actor(), schema=compiled_schema())


def _alerts() -> AlertService:
    return AlertService(db_session(), api_actor(), schema=compiled_schema())


def _notifications() -> NotificationService:
    return NotificationService(db_session(), api_actor(), schema=compiled_schema())


def _if_match() -> int | None:
    header = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    if not header:
        return None
    if not (header.isascii() and header.isdigit() and len(header) < 10):
        raise ValidationFailed({"If-Match": ["use the task's version number, e.g. "
                                             'If-Match: "3"']})
    return int(header)


def _task_out(task: Any) -> dict[str, Any]:
    return task.to_dict(utcnow())


# --- tags -------------------------------------------------------------------------------------


@blp.route("/records/<form>/<int:record_id>/tags")
@blp.response(200, RecordTagSchema(many=True))
@blp.alt_response(404, schema=s.ApiError, description="no such record, or you may not read it")
def record_tags(form: str, record_id: int) -> Any:
    return _tags().tags_of(form, record_id)


@blp.route("/records/<form>/<int:record_id>/tags", methods=["POST"])
@blp.arguments(AddTagBody)
@blp.response(201, RecordTagSchema(many=True), description="added; the record's tags")
@blp.alt_response(200, schema=RecordTagSchema(many=True), description="the record had it")
@blp.alt_response(403, schema=s.ApiError, description="the tag's group is not yours to set")
@blp.alt_response(404, schema=s.ApiError)
def add_record_tag(body: dict[str, Any], form: str, record_id: int) -> Any:
    service = _tags()
    added = service.add(form, record_id, body["tag"], reason=body.get("reason"))
    return service.tags_of(form, record_id), 201 if added else 200


@blp.route("/records/<form>/<int:record_id>/tags/<tag>", methods=["DELETE"])
@blp.arguments(ReasonArgs, location="query")
@blp.response(204)
@blp.alt_response(404, schema=s.ApiError)
def remove_record_tag(args: dict[str, Any], form: str, record_id: int, tag: str) -> Any:
    _tags().remove(form, record_id, tag, reason=args.get("reason"))
    return None


@blp.route("/records/<form>/<int:record_id>/tags/history")
@blp.response(200, TagChangeSchema(many=True), description="newest first")
@blp.alt_response(404, schema=s.ApiError)
def record_tag_history(form: str, record_id: int) -> Any:
    return [{**asdict(c), "action": c.action.value} for c in _tags().history(form, record_id)]


@blp.route("/tag-groups")
@blp.response(200, TagGroupSchema(many=True), description="every group with its tags")
def tag_groups() -> Any:
    catalog = TagCatalog(db_session(), api_actor())
    tags = catalog.tags()
    return [{**asdict(g), "tags": [t for t in tags if t.group_key == g.key]}
            for g in catalog.groups()]


@blp.route("/tag-groups/<key>", methods=["PUT"])
@blp.arguments(TagGroupBody)
@blp.response(200, TagGroupSchema)
@blp.alt_response(403, schema=s.ApiError, description="administrators only")
@blp.alt_response(409, schema=s.ApiError, description="exclusive while records hold two")
def save_tag_group(body: dict[str, Any], key: str) -> Any:
    catalog = TagCatalog(db_session(), api_actor())
    group = catalog.save_group(key, body["label"], exclusive=body["exclusive"],
                               manual=body["manual"], roles=body["roles"], sort=body["sort"])
    return {**asdict(group), "tags": catalog.tags(key)}


@blp.route("/tag-groups/<key>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(409, schema=s.ApiError, description="the group still has tags")
def delete_tag_group(key: str) -> Any:
    TagCatalog(db_session(), api_actor()).delete_group(key)
    return None


@blp.route("/tags/<key>", methods=["PUT"])
@blp.arguments(TagBody)
@blp.response(200, TagSchema)
@blp.alt_response(403, schema=s.ApiError, description="administrators only")
def save_tag(body: dict[str, Any], key: str) -> Any:
    return TagCatalog(db_session(), api_actor()).save_tag(
        key, body["group_key"], body["label"], color=body["color"], sort=body["sort"],
        active=body["active"])


@blp.route("/tags/<key>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(409, schema=s.ApiError, description="records carry it: retire it instead")
def delete_tag(key: str) -> Any:
    TagCatalog(db_session(), api_actor()).delete_tag(key)
    return None


# --- tasks ------------------------------------------------------------------------------------


@blp.route("/tasks")
@blp.arguments(TaskListArgs, location="query")
@blp.response(200, TaskPageSchema, description="your tasks: open ones by due time (overdue "
                                                "first), closed ones newest first")
def my_tasks(args: dict[str, Any]) -> Any:
    page = _tasks().my_tasks(view=args["view"], after=args.get("after"), limit=args["limit"])
    return {"items": [_task_out(t) for t in page.items], "next_cursor": page.next_cursor}


@blp.route("/tasks", methods=["POST"])
@blp.arguments(TaskCreate)
@blp.response(201, TaskSchema)
@blp.alt_response(404, schema=s.ApiError, description="the linked record is out of reach")
@blp.alt_response(422, schema=s.ApiError)
def create_task(body: dict[str, Any]) -> Any:
    actor = api_actor()
    spec = TaskSpec(body["title"], kind=body["kind"], description=body.get("description"),
                    priority=body["priority"], due_at=body.get("due_at"),
                    assignee_id=body.get("assignee_id") or actor.user_id)
    task, _ = _tasks().create(spec, form_key=body.get("form_key"),
                              record_id=body.get("record_id"))
    return _task_out(task)


@blp.route("/tasks/<int:task_id>")
@blp.response(200, TaskSchema)
@blp.alt_response(404, schema=s.ApiError)
def get_task(task_id: int) -> Any:
    task = _tasks().get(task_id)
    return _task_out(task), 200, {"ETag": f'"{task.version}"'}


@blp.route("/tasks/<int:task_id>", methods=["PATCH"])
@blp.arguments(TaskUpdate)
@blp.response(200, TaskSchema)
@blp.alt_response(403, schema=s.ApiError, description="not the assignee, creator or an admin")
@blp.alt_response(409, schema=s.ApiError, description="stale If-Match version")
@blp.alt_response(422, schema=s.ApiError, description="e.g. a status change not allowed")
def update_task(body: dict[str, Any], task_id: int) -> Any:
    task = _tasks().update(task_id, body, expected_version=_if_match())
    return _task_out(task), 200, {"ETag": f'"{task.version}"'}


@blp.route("/tasks/<int:task_id>/comments")
@blp.response(200, CommentSchema(many=True))
@blp.alt_response(404, schema=s.ApiError)
def task_comments(task_id: int) -> Any:
    return _tasks().comments(task_id)


@blp.route("/tasks/<int:task_id>/comments", methods=["POST"])
@blp.arguments(CommentBody)
@blp.response(201, CommentSchema)
@blp.alt_response(404, schema=s.ApiError)
def add_task_comment(body: dict[str, Any], task_id: int) -> Any:
    return _tasks().comment(task_id, body["body"])


@blp.route("/tasks/<int:task_id>/reassign", methods=["POST"])
@blp.arguments(ReassignBody)
@blp.response(200, TaskSchema)
@blp.alt_response(403, schema=s.ApiError)
@blp.alt_response(422, schema=s.ApiError, description="no such active user")
def reassign_task(body: dict[str, Any], task_id: int) -> Any:
    return _task_out(_tasks().reassign(task_id, body["assignee_id"], reason=body.get("reason"),
                                       expected_version=_if_match()))


@blp.route("/tasks/<int:task_id>/events")
@blp.response(200, TaskEventSchema(many=True), description="status changes and reassignments")
@blp.alt_response(404, schema=s.ApiError)
def task_events(task_id: int) -> Any:
    return _tasks().events(task_id)


@blp.route("/records/<form>/<int:record_id>/tasks")
@blp.arguments(Schema.from_dict({"closed": fields.Boolean(load_default=False)})(),
               location="query")
@blp.response(200, TaskSchema(many=True))
@blp.alt_response(404, schema=s.ApiError)
def record_tasks(args: dict[str, Any], form: str, record_id: int) -> Any:
    return [_task_out(t) for t in _tasks().for_record(form, record_id,
                                                      include_closed=args["closed"])]


# --- alerts -----------------------------------------------------------------------------------


@blp.route("/alerts")
@blp.arguments(AlertListArgs, location="query")
@blp.response(200, AlertPageSchema, description="alerts on records you may read, newest first")
def list_alerts(args: dict[str, Any]) -> Any:
    status = None if args["status"] == "any" else args["status"]
    page = _alerts().list_page(status=status, form_key=args.get("form"),
                               after=args.get("after"), limit=args["limit"])
    return {"items": [a.to_dict() for a in page.items], "next_cursor": page.next_cursor}


@blp.route("/alerts/<int:alert_id>/ack", methods=["POST"])
@blp.response(200, AlertSchema)
@blp.alt_response(404, schema=s.ApiError)
def acknowledge_alert(alert_id: int) -> Any:
    return _alerts().acknowledge(alert_id).to_dict()


@blp.route("/alerts/<int:alert_id>/close", methods=["POST"])
@blp.response(200, AlertSchema)
@blp.alt_response(404, schema=s.ApiError)
def close_alert(alert_id: int) -> Any:
    return _alerts().close(alert_id).to_dict()


@blp.route("/records/<form>/<int:record_id>/alerts")
@blp.arguments(Schema.from_dict({"closed": fields.Boolean(load_default=False)})(),
               location="query")
@blp.response(200, AlertSchema(many=True))
@blp.alt_response(404, schema=s.ApiError)
def record_alerts(args: dict[str, Any], form: str, record_id: int) -> Any:
    return [a.to_dict() for a in _alerts().for_record(form, record_id,
                                                      include_closed=args["closed"])]


# --- notifications ----------------------------------------------------------------------------


@blp.route("/records/<form>/<int:record_id>/notifications")
@blp.response(200, NotificationSchema(many=True), description="newest first")
@blp.alt_response(404, schema=s.ApiError)
def record_notifications(form: str, record_id: int) -> Any:
    return [n.to_dict() for n in _notifications().for_record(form, record_id)]


@blp.route("/notification-templates")
@blp.response(200, TemplateSchema(many=True))
def notification_templates() -> Any:
    api_actor()
    return _notifications().templates()


@blp.route("/notification-templates/<key>", methods=["PUT"])
@blp.arguments(TemplateBody)
@blp.response(200, TemplateSchema)
@blp.alt_response(403, schema=s.ApiError, description="administrators only")
@blp.alt_response(422, schema=s.ApiError, description="e.g. a template syntax error")
def save_notification_template(body: dict[str, Any], key: str) -> Any:
    return _notifications().save_template(
        key, label=body["label"], channel=body["channel"], body=body["body"],
        subject=body.get("subject"), form_key=body.get("form_key"), active=body["active"])
