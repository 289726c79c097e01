"""Marshmallow schemas for the API's fixed shapes; they validate requests and generate the
OpenAPI document. Record bodies are per form and documented as free-form objects."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class ApiErrorDetail(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class ApiError(Schema):
    error = fields.Nested(ApiErrorDetail, required=True)


class TokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class TokenResponse(Schema):
    token = fields.String(required=True)
    token_type = fields.String(dump_default="Bearer")
    expires_at = fields.DateTime(required=True)


class MeSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    roles = fields.List(fields.String())
    superuser = fields.Boolean()


class MetaSummary(Schema):
    key = fields.String()
    label = fields.Dict()
    lock_version = fields.Integer()
    updated_at = fields.DateTime()
    published_version = fields.Integer(allow_none=True)


class DraftSchema(Schema):
    kind = fields.String()
    key = fields.String()
    doc = fields.Dict(required=True)
    lock_version = fields.Integer()
    updated_at = fields.DateTime()
    updated_by = fields.Integer(allow_none=True)


class DraftUpdate(Schema):
    doc = fields.Dict(required=True, metadata={"description": "the whole document"})
    lock_version = fields.Integer(
        metadata={"description": "the draft version you edited; a stale one answers 409 "
                                 "(the If-Match header works too)"})


class MetaVersionSummary(Schema):
    version = fields.Integer()
    checksum = fields.String()
    note = fields.String(allow_none=True)
    published_by = fields.Integer(allow_none=True)
    published_at = fields.DateTime()


class MetaVersion(MetaVersionSummary):
    doc = fields.Dict()


class PublishArgs(Schema):
    dry_run = fields.Boolean(load_default=False)
    confirm = fields.Boolean(load_default=False)


class PublishBody(Schema):
    note = fields.String(validate=validate.Length(max=500))
    backfill = fields.Dict(
        metadata={"description": '{"field": {"map": {"old": "new"}, "else": value}} or '
                                 '{"field": {"fill": value}}'})


class RestoreBody(Schema):
    version = fields.Integer(required=True, validate=validate.Range(min=1))


class DiffArgs(Schema):
    from_version = fields.Integer(data_key="from", required=True)
    to_version = fields.Integer(data_key="to", load_default=None,
                                metadata={"description": "omit for the current draft"})


class ListArgs(Schema):
    q = fields.String(metadata={"description": "full-text search over searchable fields"})
    order_by = fields.String(metadata={"description": "comma-separated, '-' for descending"})
    after = fields.String(metadata={"description": "cursor from the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class QueryBody(Schema):
    where = fields.Dict(metadata={"description": "a condition tree (DESIGN.md)"})
    q = fields.String()
    order_by = fields.List(fields.String())
    after = fields.String(allow_none=True)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class PageSchema(Schema):
    items = fields.List(fields.Dict())
    next_cursor = fields.String(allow_none=True)
    has_more = fields.Boolean()


class HistoryEntry(Schema):
    id = fields.Integer()
    action = fields.String()
    version = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    changes = fields.Dict()


class UnmaskBody(Schema):
    field = fields.String(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=4, max=500))
