"""Background jobs for administrators: list job runs by status (keyset paged), read one, retry a
failed one; the outbox backlog and the schedules; and external events posted by other systems.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from lendbase.api import schemas as s
from lendbase.api.auth import api_actor
from lendbase.app import check_ids
from lendbase.errors import PermissionDenied
from lendbase.events import Event, EventType, backlog, emit
from lendbase.jobs import (
    JobKind,
    JobStatus,
    get_run,
    list_runs,
    list_schedules,
    runtime_of,
    status_counts,
)
from lendbase.jobs.runs import MAX_PAGE
from lendbase.records.permissions import Actor
from lendbase.web.context import db_session

blp = Blueprint("jobs", __name__, url_prefix="/api/v1",
                description="Background jobs, schedules and events (administrators)")


def _admin(doing: str = "see and retry background jobs") -> Actor:
    actor = api_actor()
    if not actor.superuser:
        raise PermissionDenied(f"only administrators may {doing}")
    return actor


class JobRunSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": [k.value for k in JobKind]})
    function = fields.String(metadata={"description": "dotted path of the job function"})
    summary = fields.String()
    status = fields.String(metadata={"enum": [v.value for v in JobStatus]})
    attempts = fields.Integer(metadata={"description": "attempts started so far"})
    max_attempts = fields.Integer()
    error = fields.String(allow_none=True,
                          metadata={"description": "the last failure: message, then traceback"})
    outbox_id = fields.Integer(allow_none=True, metadata={"description": "the event delivered"})
    form_key = fields.String(allow_none=True)
    record_id = fields.Integer(allow_none=True)
    schedule_key = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    queued_at = fields.DateTime()
    pushed_at = fields.DateTime(allow_none=True,
                                metadata={"description": "last push to Redis (RQ mode)"})
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    next_retry_at = fields.DateTime(allow_none=True)


class JobPage(Schema):
    items = fields.List(fields.Nested(JobRunSchema))
    next_before = fields.Integer(
        allow_none=True, metadata={"description": "pass as `before` for the next (older) page; "
                                                  "null on the last page"})


class JobListArgs(Schema):
    status = fields.String(validate=validate.OneOf([v.value for v in JobStatus]))
    kind = fields.String(validate=validate.OneOf([k.value for k in JobKind]))
    before = fields.Integer(metadata={"description": "only runs with a smaller id (the cursor)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))


class ScheduleSchema(Schema):
    key = fields.String()
    cron = fields.String()
    timezone = fields.String()
    job = fields.String()
    args = fields.Dict()
    enabled = fields.Boolean()
    last_run_at = fields.DateTime(allow_none=True)
    next_run_at = fields.DateTime(allow_none=True)


class JobOverview(Schema):
    mode = fields.String(metadata={"enum": ["rq", "in-process"]})
    queue = fields.String(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": "runs per status, each counted up to 1000"})
    outbox_pending = fields.Integer(metadata={"description": "events not yet dispatched"})
    outbox_oldest_at = fields.DateTime(allow_none=True)
    schedules = fields.List(fields.Nested(ScheduleSchema))


class ExternalEventBody(Schema):
    name = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z][a-z0-9_.-]{0,99}$", error="use lower-case letters, digits, '_', '.' and '-' "
                                           "(up to 100), e.g. bureau.report_ready"))
    form = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    record_id = fields.Integer(load_default=None, allow_none=True)
    payload = fields.Dict(load_default=dict)


class EventAccepted(Schema):
    id = fields.Integer(metadata={"description": "the event's id in the outbox"})
    type = fields.String()
    name = fields.String()


@blp.route("/jobs")
@blp.arguments(JobListArgs, location="query")
@blp.response(200, JobPage)
@blp.alt_response(403, schema=s.ApiError)
def jobs(args: dict[str, Any]) -> Any:
    """Job runs, newest first; page with `before`."""
    _admin()
    check_ids(args, "before")
    status = JobStatus(args["status"]) if args.get("status") else None
    kind = JobKind(args["kind"]) if args.get("kind") else None
    runs, cursor = list_runs(db_session(), status=status, kind=kind,
                             before=args.get("before"), limit=args["limit"])
    return {"items": [r.to_dict() for r in runs], "next_before": cursor}


@blp.route("/jobs/overview")
@blp.response(200, JobOverview)
@blp.alt_response(403, schema=s.ApiError)
def overview() -> Any:
    """Runs per status, the outbox backlog and the schedules with their next run."""
    _admin()
    session = db_session()
    runtime = runtime_of(current_app)
    pending = backlog(session)
    return {"mode": "in-process" if runtime.inline else "rq",
            "queue": None if runtime.inline else runtime.queue_name,
            "counts": {k.value: v for k, v in status_counts(session).items()},
            "outbox_pending": pending.pending, "outbox_oldest_at": pending.oldest_at,
            "schedules": list_schedules(session)}


@blp.route("/jobs/<int:run_id>")
@blp.response(200, JobRunSchema)
@blp.alt_response(404, schema=s.ApiError)
def job(run_id: int) -> Any:
    _admin()
    return get_run(db_session(), run_id).to_dict()


@blp.route("/jobs/<int:run_id>/retry", methods=["POST"])
@blp.response(200, JobRunSchema)
@blp.alt_response(404, schema=s.ApiError)
@blp.alt_response(409, schema=s.ApiError, description="the run has not failed")
def retry(run_id: int) -> Any:
    """Queue a failed run once more (one more attempt); it is handed to the queue when this
    request commits."""
    _admin()
    runtime_of(current_app).retry(db_session(), run_id)
    return get_run(db_session(), run_id).to_dict()


@blp.route("/events", methods=["POST"])
@blp.arguments(ExternalEventBody)
@blp.response(202, EventAccepted)
@blp.alt_response(403, schema=s.ApiError)
def post_event(body: dict[str, Any]) -> Any:
    """Post an external event (type `external`): the handlers subscribed to it run in the
    background, after this request commits."""
    actor = _admin("post external events")
    check_ids(body, "record_id")
    event = emit(db_session(), Event(type=EventType.EXTERNAL, name=body["name"],
                                     form=body["form"], record_id=body["record_id"],
                                     payload=body["payload"], actor_id=actor.user_id,
                                     occurred_at=runtime_of(current_app).clock()))
    return {"id": event.id, "type": event.type.value, "name": event.name}
