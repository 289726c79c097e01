"""Rules beyond their metadata (``/api/v1/meta/rules`` holds the documents): simulate a draft
before publishing it, and read a rule's run log. Administrators only.

Registering this blueprint also installs the rule engine in the app (``lendbase.rules.
install``): its event handler is subscribed and its runtime bound, in every process that
builds the app (web servers and workers alike); so are the record-event handlers installed apps
declare in their manifest (``lendbase.meta.app_events.install``).
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from lendbase.api import schemas as s
from lendbase.api.auth import api_actor
from lendbase.app import check_ids
from lendbase.errors import MetadataError, PermissionDenied
from lendbase.meta import app_events
from lendbase.meta.store import MetadataStore
from lendbase.records.permissions import Actor
from lendbase.rules import install, list_runs, simulate_rule
from lendbase.rules.registry import EXTENSION, RulesRuntime
from lendbase.rules.runs import MAX_PAGE, RunStatus
from lendbase.web.context import compiled_schema, db_session

blp = Blueprint("rules", __name__, url_prefix="/api/v1/rules",
                description="Rules: simulation before publishing and the run log "
                            "(administrators). The documents are under /api/v1/meta/rules.")


@blp.record_once
def _install(state: Any) -> None:
    install(state.app)
    app_events.install(state.app)  # the record-event handlers apps declare (app.json)


def _admin(doing: str) -> Actor:
    actor = api_actor()
    if not actor.superuser:
        raise PermissionDenied(f"only administrators may {doing}")
    return actor


class RuleSimulateBody(Schema):
    doc = fields.Dict(metadata={"description": "an unsaved draft to simulate; default: the "
                                               "saved draft"})
    as_of = fields.String(
        allow_none=True, validate=validate.Length(max=40),
        metadata={"description": "a past day (2026-10-31) or date-time with offset: relative "
                                 "dates are evaluated as of it and later records left out; "
                                 "field values stay today's"})
    sample = fields.Integer(load_default=20, validate=validate.Range(min=0, max=100))
    lang = fields.String(validate=validate.OneOf(["en", "zh"]),
                         metadata={"description": "language of the notes (default: yours)"})


class RuleSampleRecord(Schema):
    id = fields.Integer()
    title = fields.String(allow_none=True)


class RuleActionOutcome(Schema):
    index = fields.Integer()
    type = fields.String()
    affected = fields.Integer(metadata={"description": "records the action would change"})
    sample = fields.List(fields.Nested(RuleSampleRecord))
    detail = fields.Dict()


class RuleSimulation(Schema):
    rule = fields.String()
    form = fields.String()
    now = fields.DateTime(metadata={"description": "the clock the condition used"})
    as_of = fields.DateTime(allow_none=True)
    matched = fields.Integer(metadata={"description": "records matching the condition"})
    sample = fields.List(fields.Nested(RuleSampleRecord))
    actions = fields.List(fields.Nested(RuleActionOutcome))
    cause = fields.String()
    notes = fields.List(fields.String())
    note_codes = fields.List(fields.String())


class RuleRunsArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))
    before = fields.Integer(metadata={"description": "next page: the next_before of the last"})


class RuleRunSchema(Schema):
    id = fields.Integer()
    rule_key = fields.String()
    rule_version = fields.Integer()
    trigger = fields.String(metadata={"description": "record.created, record.updated, "
                                                     "schedule, external:<name>, manual..."})
    event_id = fields.Integer(allow_none=True)
    record_id = fields.Integer(allow_none=True)
    cause = fields.String()
    status = fields.String(metadata={"enum": [v.value for v in RunStatus]})
    matched = fields.Integer(allow_none=True)
    actions = fields.List(fields.Dict(), metadata={
        "description": "per action: {type, affected, sample: [record ids]}"})
    error = fields.String(allow_none=True)
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class RuleRunPage(Schema):
    items = fields.List(fields.Nested(RuleRunSchema))
    next_before = fields.Integer(allow_none=True)


@blp.route("/<key>/simulate", methods=["POST"])
@blp.arguments(RuleSimulateBody)
@blp.response(200, RuleSimulation)
@blp.alt_response(403, schema=s.ApiError)
@blp.alt_response(404, schema=s.ApiError)
@blp.alt_response(422, schema=s.ApiError, description="the draft does not validate or does "
                                                      "not fit the published forms")
def simulate(body: dict[str, Any], key: str) -> Any:
    """What the draft rule would change now (or as of a past day): the records matching its
    condition and, for each action, how many records it would change, with a sample. Nothing
    is written."""
    actor = _admin("simulate rules")
    session = db_session()
    doc = body.get("doc")
    if doc is None:
        doc = MetadataStore(session, None).get_draft("rules", key).doc
    elif doc.get("key") != key:
        raise MetadataError("the document's key must be the rule's",
                            {"/key": [f"must be {key!r}"]})
    runtime = current_app.extensions.get(EXTENSION)
    env = runtime.env() if isinstance(runtime, RulesRuntime) else None
    try:
        report = simulate_rule(session, doc, as_of=body.get("as_of"), schema=compiled_schema(),
                               sample=body["sample"], env=env,
                               clock=runtime.clock if isinstance(runtime, RulesRuntime)
                               else None)
    finally:
        session.rollback()  # a simulation writes nothing; make sure of it
    return report.to_dict(body.get("lang") or actor.lang)


@blp.route("/<key>/runs")
@blp.arguments(RuleRunsArgs, location="query")
@blp.response(200, RuleRunPage)
@blp.alt_response(403, schema=s.ApiError)
def runs(args: dict[str, Any], key: str) -> Any:
    """The rule's runs, newest first: trigger, version, times, counts per action, error."""
    _admin("read the run log of rules")
    check_ids(args, "before")
    items, next_before = list_runs(db_session(), key, limit=args["limit"],
                                   before=args.get("before"))
    return {"items": [r.to_dict() for r in items], "next_before": next_before}
