"""Lifecycle stages over the API: a form's funnel figures and one record's stage history.

Both need the form's ``read`` right and a stage field the caller may see; figures count only
the records in the caller's row scope, and a record out of reach answers 404 like the records
API. Moving a record to another stage is a plain ``PATCH /api/v1/records/<form>/<id>`` of the
stage field (the lifecycle refuses moves it does not allow, naming the allowed ones).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from lendbase.api.auth import api_actor
from lendbase.errors import NotFound, PermissionDenied, ValidationFailed
from lendbase.forms.compile import CompiledForm
from lendbase.forms.model import Lifecycle
from lendbase.records import lifecycle_stats as stats
from lendbase.records.lifecycle import latest_entry, stage_history
from lendbase.records.permissions import Actor, FormAccess, access_for, scope_clause
from lendbase.web.context import compiled_schema, db_session, record_service

blp = Blueprint("lifecycle", __name__, url_prefix="/api/v1",
                description="Lifecycle stages: funnel figures and stage history")

#: The default period of the figures: the last 30 days.
DEFAULT_DAYS = 30


class StatsArgs(Schema):
    since = fields.DateTime(metadata={"description": "start of the period (default: 30 days "
                                                     "before until)"})
    until = fields.DateTime(metadata={"description": "end of the period, excluded (default: "
                                                     "now)"})
    overdue_limit = fields.Integer(load_default=20, validate=validate.Range(min=0, max=200),
                                   metadata={"description": "how many overdue records to list"})


class StageFigures(Schema):
    key = fields.String()
    label = fields.Dict()
    initial = fields.Boolean()
    terminal = fields.Boolean()
    target_days = fields.Integer(allow_none=True)
    records = fields.Integer(metadata={"description": "records in the stage now"})
    overdue = fields.Integer(metadata={"description": "records in it beyond target_days"})
    left = fields.Integer(metadata={"description": "records that left it in the period"})
    avg_days = fields.Float(allow_none=True)
    median_days = fields.Float(allow_none=True)


class ConversionSchema(Schema):
    from_ = fields.String(data_key="from", attribute="source", allow_none=True)
    to = fields.String(attribute="target")
    count = fields.Integer()


class OverdueSchema(Schema):
    record_id = fields.Integer()
    stage = fields.String()
    entered_at = fields.DateTime()
    days_in_stage = fields.Float()
    target_days = fields.Integer()


class StatsSchema(Schema):
    form = fields.String()
    field = fields.String()
    since = fields.DateTime()
    until = fields.DateTime()
    stages = fields.List(fields.Nested(StageFigures))
    without_stage = fields.Integer(metadata={"description": "records whose value is no stage"})
    conversions = fields.List(fields.Nested(ConversionSchema))
    overdue = fields.List(fields.Nested(OverdueSchema))


class StageEntrySchema(Schema):
    id = fields.Integer()
    from_ = fields.String(data_key="from", attribute="from", allow_none=True)
    to = fields.String()
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor = fields.String()
    seconds_in_previous = fields.Integer(allow_none=True)


class RecordStagesSchema(Schema):
    field = fields.String()
    stage = fields.String(allow_none=True)
    entered_at = fields.DateTime(allow_none=True)
    seconds_in_stage = fields.Integer(allow_none=True)
    target_days = fields.Integer(allow_none=True)
    overdue = fields.Boolean()
    allowed_next = fields.List(fields.String())
    history = fields.List(fields.Nested(StageEntrySchema))


def _lifecycle_of(actor: Actor, form: str) -> tuple[CompiledForm, Lifecycle, FormAccess]:
    schema = compiled_schema()
    cf = schema.forms.get(form)
    if cf is None:
        raise NotFound(f"no published form {form!r}")
    lc = cf.form.lifecycle
    if lc is None:
        raise NotFound(f"form {form!r} has no lifecycle; configure one in the form builder")
    access = access_for(actor, cf.form)
    access.require("read", cf.form, actor.lang)
    if lc.field in access.hidden_fields:
        raise PermissionDenied(f"the stage field {lc.field!r} is hidden from your roles")
    return cf, lc, access


@blp.route("/lifecycle/<form>/stats")
@blp.arguments(StatsArgs, location="query")
@blp.response(200, StatsSchema)
def lifecycle_stats(args: dict[str, Any], form: str) -> Any:
    """Records per stage now, moves between stages and days spent in each stage in a period,
    and records beyond their stage's target."""
    actor = api_actor()
    cf, lc, access = _lifecycle_of(actor, form)
    now = datetime.now(UTC)
    until = args.get("until") or now
    since = args.get("since") or until - timedelta(days=DEFAULT_DAYS)
    until, since = (v if v.tzinfo else v.replace(tzinfo=UTC) for v in (until, since))
    if since >= until:
        raise ValidationFailed({"since": ["the period starts after it ends; give since "
                                          "before until"]})
    scope = None if access.scope == "all" else scope_clause(actor, access, cf.table)
    session = db_session()
    counts = stats.stage_counts(session, cf, scope)
    overdue = stats.overdue_counts(session, cf, now, scope)
    times = stats.time_in_stage(session, cf, since, until, scope)
    f = cf.form.field(lc.field)
    rows = []
    for stage in lc.stages:
        spent = times.get(stage.key)
        rows.append({
            "key": stage.key, "label": dict(next((o.label for o in f.options
                                                  if o.value == stage.key), {})),
            "initial": stage.key == lc.initial, "terminal": stage.key in lc.terminal,
            "target_days": stage.target_days, "records": counts.get(stage.key, 0),
            "overdue": overdue.get(stage.key, 0), "left": spent.count if spent else 0,
            "avg_days": spent.avg_days if spent else None,
            "median_days": spent.median_days if spent else None})
    return {"form": cf.key, "field": lc.field, "since": since, "until": until, "stages": rows,
            "without_stage": sum(n for k, n in counts.items() if k not in lc.keys),
            "conversions": stats.conversions(session, cf, since, until, scope),
            "overdue": stats.overdue_in_stage(session, cf, now, scope,
                                              limit=args["overdue_limit"])
            if args["overdue_limit"] else []}


@blp.route("/records/<form>/<int:record_id>/stages")
@blp.response(200, RecordStagesSchema)
def record_stages(form: str, record_id: int) -> Any:
    """One record's current stage, how long it has been in it, where it may move next and
    its stage history (newest first)."""
    actor = api_actor()
    _cf, lc, _access = _lifecycle_of(actor, form)
    record = record_service(actor).get(form, record_id)  # read right and row scope: else 404
    session = db_session()
    stage = record.get(lc.field)
    entry = latest_entry(session, form, record_id)
    entered = entry.at if entry is not None and entry.target == stage else None
    now = datetime.now(UTC)
    spec = lc.stage(stage)
    seconds = int((now - entered).total_seconds()) if entered is not None else None
    target = spec.target_days if spec is not None and stage not in lc.terminal else None
    return {"field": lc.field, "stage": stage, "entered_at": entered,
            "seconds_in_stage": seconds, "target_days": target,
            "overdue": bool(target and seconds is not None and seconds > target * 86400),
            "allowed_next": [] if stage in lc.terminal else list(lc.allowed_next(stage)),
            "history": [e.to_dict() for e in stage_history(session, form, record_id)]}
