"""Segment endpoints: members (the form's list restricted to the segment, with the reader's
rights), history, counts over time, simulation and recompute. Segment documents themselves
are metadata: ``/api/v1/meta/segments`` (drafts, publish with ``dry_run``, versions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from lendbase.api import schemas as s
from lendbase.api.auth import api_actor, require_admin
from lendbase.errors import MetadataError, ValidationFailed
from lendbase.records.permissions import Actor
from lendbase.segments import (
    MemberListService,
    counts_between,
    enqueue_recompute,
    history_page,
    overview,
    simulate_segment,
)
from lendbase.segments.queries import find_segment
from lendbase.web.context import compiled_schema, db_session, record_service, state

blp = Blueprint("segments", __name__, url_prefix="/api/v1/segments",
                description="Segments (pools): members, history, counts, simulation")


class MembersArgs(s.ListArgs):
    where = fields.String(metadata={
        "description": "a condition tree as JSON text (as in POST .../members/query)"})


class HistoryArgs(Schema):
    before = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "the next_before of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    record_id = fields.Integer(validate=validate.Range(min=1))


class HistoryItem(Schema):
    id = fields.Integer()
    record_id = fields.Integer()
    title = fields.String()
    event = fields.String(metadata={"description": "entered or left"})
    at = fields.DateTime()
    version = fields.Integer(metadata={"description": "the segment version in force"})
    run_key = fields.String(metadata={"description": "the recompute that moved the record; "
                                                     "its actions' cause keys name it"})
    present = fields.Boolean(metadata={"description": "false once the record is deleted"})


class HistoryPage(Schema):
    items = fields.List(fields.Nested(HistoryItem))
    next_before = fields.Integer(allow_none=True)


class CountsArgs(Schema):
    from_day = fields.Date(data_key="from")
    to_day = fields.Date(data_key="to")


class CountRow(Schema):
    day = fields.Date()
    members = fields.Integer()
    entered = fields.Integer()
    left = fields.Integer()


class SegmentItem(Schema):
    key = fields.String()
    label = fields.Dict()
    form = fields.String()
    version = fields.Integer()
    members = fields.Integer(allow_none=True, metadata={
        "description": "at the latest recompute; null before the first"})
    entered_today = fields.Integer()
    left_today = fields.Integer()
    computed_on = fields.Date(allow_none=True)


class SimulateBody(Schema):
    doc = fields.Dict(metadata={"description": "a segment document (unsaved allowed); "
                                              "default: the saved draft"})
    as_of = fields.Date(allow_none=True, metadata={
        "description": "evaluate relative dates as of the end of this day (field values stay "
                       "today's)"})
    sample = fields.Integer(load_default=20, validate=validate.Range(min=0, max=100))
    lang = fields.String(load_default="en", validate=validate.OneOf(["en", "zh"]))


def _service(actor: Actor, key: str) -> MemberListService:
    segment, _version = find_segment(db_session(), key)
    return MemberListService(db_session(), compiled_schema(), actor, state().cipher, segment)


def _where(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise ValidationFailed({"where": ["give the condition as JSON text"]}) from None
    if not isinstance(value, dict):
        raise ValidationFailed({"where": ["the condition must be a JSON object"]})
    return value


def _page(page: Any) -> dict[str, Any]:
    return {"items": page.items, "next_cursor": page.next_cursor, "has_more": page.has_more}


@blp.route("")
@blp.response(200, SegmentItem(many=True))
def list_segments() -> Any:
    """Published segments whose form the caller may read, with their latest counts."""
    actor = api_actor()
    service = record_service(actor)

    def readable(segment: Any) -> bool:
        try:
            return service.access(segment.form).can("read")
        except Exception:  # noqa: BLE001 - a form no longer published: not listed
            return False

    return [{"key": x.segment.key, "label": dict(x.segment.label), "form": x.segment.form,
             "version": x.version, "members": x.members, "entered_today": x.entered_today,
             "left_today": x.left_today, "computed_on": x.computed_on}
            for x in overview(db_session(), datetime.now(UTC), readable)]


@blp.route("/<key>/members")
@blp.arguments(MembersArgs, location="query")
@blp.response(200, s.PageSchema)
@blp.alt_response(403, schema=s.ApiError, description="no read right on the segment's form")
@blp.alt_response(404, schema=s.ApiError)
def members(args: dict[str, Any], key: str) -> Any:
    """The members, keyset-paged, as the form's record list shows them to the caller: row
    scope, hidden fields and masked sensitive values apply; filters as in record lists."""
    service = _service(api_actor(), key)
    order = [o.strip() for o in args.get("order_by", "").split(",") if o.strip()] or None
    return _page(service.list_page(service.segment.form, where=_where(args.get("where")),
                                   search=args.get("q"), order_by=order,
                                   after=args.get("after"), limit=args["limit"]))


@blp.route("/<key>/members/query", methods=["POST"])
@blp.arguments(s.QueryBody)
@blp.response(200, s.PageSchema)
@blp.alt_response(422, schema=s.ApiError)
def query_members(body: dict[str, Any], key: str) -> Any:
    """The members that match a condition (as ``POST /api/v1/records/<form>/query``)."""
    service = _service(api_actor(), key)
    return _page(service.list_page(service.segment.form, where=body.get("where"),
                                   search=body.get("q"), order_by=body.get("order_by"),
                                   after=body.get("after"), limit=body["limit"]))


@blp.route("/<key>/history")
@blp.arguments(HistoryArgs, location="query")
@blp.response(200, HistoryPage)
def history(args: dict[str, Any], key: str) -> Any:
    """Entries and exits, newest first; only records in the caller's row scope."""
    service = _service(api_actor(), key)
    segment = service.segment
    access = service.access(segment.form)
    access.require("read", service.compiled(segment.form).form, service.actor.lang)
    items, next_before = history_page(
        db_session(), segment, service.compiled(segment.form), service.actor, access,
        before=args.get("before"), limit=args["limit"], record_id=args.get("record_id"))
    return {"items": [i.to_dict() for i in items], "next_before": next_before}


@blp.route("/<key>/counts")
@blp.arguments(CountsArgs, location="query")
@blp.response(200, CountRow(many=True))
def counts(args: dict[str, Any], key: str) -> Any:
    """Members, entered and left per day (days with a recompute), oldest first."""
    service = _service(api_actor(), key)
    form = service.compiled(service.segment.form).form
    service.access(form.key).require("read", form, service.actor.lang)
    return counts_between(db_session(), key, args.get("from_day"), args.get("to_day"))


@blp.route("/<key>/simulate", methods=["POST"])
@blp.arguments(SimulateBody)
@blp.response(200)
@blp.alt_response(403, schema=s.ApiError, description="administrators only")
@blp.alt_response(422, schema=s.ApiError, description="the document does not validate or "
                                                      "bind; fields by JSON pointer")
def simulate(body: dict[str, Any], key: str) -> Any:
    """What a draft would do now (or as of a past day): members, who would enter and leave
    compared with the current membership, samples, and what the on-enter actions would do.
    Writes nothing."""
    require_admin()
    doc = body.get("doc")
    if doc is not None and doc.get("key") != key:
        raise MetadataError("the document's key must be the segment's",
                            {"/key": [f"must be {key!r}"]})
    try:
        result = simulate_segment(db_session(), doc, key=key, as_of=body.get("as_of"),
                                  schema=compiled_schema(), sample=body["sample"])
    finally:
        db_session().rollback()  # a simulation writes nothing; make sure of it
    return result.to_dict(body["lang"])


@blp.route("/<key>/recompute", methods=["POST"])
@blp.response(202)
@blp.alt_response(403, schema=s.ApiError, description="administrators only")
def recompute(key: str) -> Any:
    """Recompute the whole segment in the background (a job run, after this request)."""
    require_admin()
    find_segment(db_session(), key)
    return {"run_id": enqueue_recompute(db_session(), key, trigger="manual")}
