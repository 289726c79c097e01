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
    published_by_name = fields.String(allow_none=True, dump_only=True)
    published_at = fields.DateTime()


class MetaVersion(MetaVersionSummary):
    doc = fields.Dict()


class PublishArgs(Schema):
    dry_run = fields.Boolean(load_default=False)
    confirm = fields.Boolean(load_default=False)
    lang = fields.String(load_default="en", validate=validate.OneOf(["en", "zh"]),
                         metadata={"description": "language of the plan and of a refusal"})


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


class ExportBody(Schema):
    where = fields.Dict(metadata={"description": "a condition tree, as in /query"})
    q = fields.String(metadata={"description": "full-text search, as in the list"})
    order_by = fields.List(fields.String(), metadata={"description": "'-' for descending"})
    file_format = fields.String(data_key="format", load_default="xlsx",
                                validate=validate.OneOf(["csv", "xlsx"]))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500),
                           metadata={"description": "why the records leave the system; "
                                                    "kept in the access log"})


# --- organisation and users -------------------------------------------------------------------


class UserRefSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    is_active = fields.Boolean()


class DepartmentSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    parent_id = fields.Integer(allow_none=True)
    head = fields.Nested(UserRefSchema, allow_none=True)
    member_count = fields.Integer(metadata={"description": "active users directly in it"})


class DepartmentNodeSchema(DepartmentSchema):
    total_member_count = fields.Integer(
        metadata={"description": "active users in it and in every sub-department"})
    children = fields.List(fields.Nested(lambda: DepartmentNodeSchema()))


class DepartmentCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    parent_id = fields.Integer(load_default=None, allow_none=True,
                               metadata={"description": "null or omitted: a top level"})
    head_user_id = fields.Integer(load_default=None, allow_none=True)


class DepartmentUpdate(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    parent_id = fields.Integer(allow_none=True,
                               metadata={"description": "move; null for the top level"})
    head_user_id = fields.Integer(allow_none=True, metadata={"description": "null: no head"})


class UserSchema(Schema):
    """Every signed-in user sees the first five fields (for pickers); administrators see the
    rest. The password hash is never part of it."""

    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    department_id = fields.Integer(allow_none=True)
    department_name = fields.String(allow_none=True)
    is_active = fields.Boolean()
    roles = fields.List(fields.String(), metadata={"description": "administrators only"})
    language = fields.String(allow_none=True, metadata={"description": "administrators only"})
    locked = fields.Boolean(metadata={"description": "administrators only"})
    locked_until = fields.DateTime(allow_none=True,
                                   metadata={"description": "administrators only"})
    failed_logins = fields.Integer(metadata={"description": "administrators only"})
    created_at = fields.DateTime(metadata={"description": "administrators only"})


class UserListArgs(Schema):
    department_id = fields.Integer(metadata={"description": "users directly in it"})
    active = fields.Boolean(metadata={"description": "only active (true) or inactive users"})
    q = fields.String(validate=validate.Length(max=100),
                      metadata={"description": "part of the username or display name"})


class UserCreate(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True,
                             validate=validate.Length(min=1, max=256))
    display_name = fields.String(validate=validate.Length(min=1, max=100))
    department_id = fields.Integer(load_default=None, allow_none=True)
    roles = fields.List(fields.String(), load_default=list)
    language = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf(["zh", "en"]))


class UserUpdate(Schema):
    display_name = fields.String(validate=validate.Length(min=1, max=100))
    department_id = fields.Integer(allow_none=True)
    roles = fields.List(fields.String(), metadata={"description": "replaces all roles"})
    is_active = fields.Boolean()
    language = fields.String(allow_none=True, validate=validate.OneOf(["zh", "en"]))


class PasswordBody(Schema):
    password = fields.String(required=True, load_only=True,
                             validate=validate.Length(min=1, max=256))


class RoleSchema(Schema):
    key = fields.String()
    label = fields.Dict()
    is_superuser = fields.Boolean()


# --- files ------------------------------------------------------------------------------------


class StoredFileSchema(Schema):
    id = fields.Integer(metadata={"description": "put this in the record's file field"})
    form = fields.String(attribute="form_key")
    field = fields.String(attribute="field_key")
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_at = fields.DateTime()
    url = fields.String(metadata={"description": "GET it to download"})


class ChangeEntry(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    detail = fields.Dict()
