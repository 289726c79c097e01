"""Metadata endpoints: drafts, publish (with dry-run), versions, diff, restore."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import request
from flask_smorest import Blueprint
from sqlalchemy import func, select

from lendbase import db
from lendbase.api import schemas as s
from lendbase.api.auth import api_actor, require_admin
from lendbase.app import check_ids, parse_id
from lendbase.errors import MetadataError, NotFound
from lendbase.meta.kinds import SPECS, publisher
from lendbase.meta.store import MetadataStore
from lendbase.web.context import db_session

blp = Blueprint("meta", __name__, url_prefix="/api/v1/meta",
                description="Metadata documents: forms, flows, rules, segments, reports")


def _store() -> MetadataStore:
    return MetadataStore(db_session(), require_admin().user_id)


def _if_match(body_version: int | None) -> int | None:
    header = request.headers.get("If-Match", "").strip().strip('"').removeprefix("W/").strip('"')
    if header:
        number = parse_id(header)
        if number is None:
            raise MetadataError("If-Match must be the draft's lock_version, e.g. If-Match: 3",
                                {"If-Match": ["use the lock_version number"]})
        return number
    check_ids({"lock_version": body_version}, "lock_version")
    return body_version


def _draft_dict(draft: Any) -> dict[str, Any]:
    return {"kind": draft.kind, "key": draft.key, "doc": draft.doc,
            "lock_version": draft.lock_version, "updated_at": draft.updated_at,
            "updated_by": draft.updated_by}


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise MetadataError("the request body must be a JSON object",
                            {"": ["send Content-Type: application/json with an object"]})
    return body


@blp.route("/<kind>")
@blp.response(200, s.MetaSummary(many=True))
@blp.alt_response(401, schema=s.ApiError)
def list_documents(kind: str) -> Any:
    api_actor()
    return MetadataStore(db_session(), None).list_keys(kind)


@blp.route("/<kind>", methods=["POST"])
@blp.response(201, s.DraftSchema)
@blp.alt_response(422, schema=s.ApiError)
@blp.doc(requestBody={"content": {"application/json": {"schema": {"type": "object"}}},
                      "description": "the new document (its draft)"})
def create_document(kind: str) -> Any:
    return _draft_dict(_store().create(kind, _json_object()))


@blp.route("/<kind>/<key>")
@blp.response(200, s.DraftSchema)
@blp.alt_response(403, schema=s.ApiError, description="administrators only")
def get_draft(kind: str, key: str) -> Any:
    """A draft holds the whole document, the per-role permissions included: admins only."""
    require_admin()
    return _draft_dict(MetadataStore(db_session(), None).get_draft(kind, key))


@blp.route("/<kind>/<key>", methods=["PUT"])
@blp.arguments(s.DraftUpdate)
@blp.response(200, s.DraftSchema)
@blp.alt_response(409, schema=s.ApiError)
@blp.alt_response(422, schema=s.ApiError)
def save_draft(body: dict[str, Any], kind: str, key: str) -> Any:
    draft = _store().save_draft(kind, key, body["doc"], _if_match(body.get("lock_version")))
    return _draft_dict(draft)


@blp.route("/<kind>/<key>/publish", methods=["POST"])
@blp.arguments(s.PublishArgs, location="query")
@blp.arguments(s.PublishBody, location="json", required=False)
@blp.response(200)
@blp.alt_response(409, schema=s.ApiError,
                  description="risky changes not confirmed, or values that would not convert")
def publish(args: dict[str, Any], body: dict[str, Any], kind: str, key: str) -> Any:
    actor = require_admin()
    publish_kind = publisher(kind)
    if publish_kind is None:
        raise NotFound(f"publishing {kind} arrives with its own issue; documents that publish "
                       "today: " + ", ".join(k for k in SPECS if SPECS[k].publisher))
    result = publish_kind(db_session(), actor.user_id, key, dry_run=args["dry_run"],
                          confirm=args["confirm"], backfill=(body or {}).get("backfill"),
                          note=(body or {}).get("note"), lang=args["lang"])
    return result.to_dict(args["lang"])


@blp.route("/<kind>/<key>/versions")
@blp.response(200, s.MetaVersionSummary(many=True))
def versions(kind: str, key: str) -> Any:
    api_actor()
    found = MetadataStore(db_session(), None).versions(kind, key)
    ids = {v.published_by for v in found if v.published_by is not None}
    names = dict(db_session().execute(
        select(db.user.c.id, func.coalesce(db.user.c.display_name, db.user.c.username))
        .where(db.user.c.id.in_(sorted(ids)))).all()) if ids else {}
    return [{"version": v.version, "checksum": v.checksum, "note": v.note,
             "published_by": v.published_by, "published_by_name": names.get(v.published_by),
             # stored in UTC (SQLite keeps no offset): say so, so clients show local time
             "published_at": v.published_at if v.published_at.tzinfo
             else v.published_at.replace(tzinfo=UTC)} for v in found]


@blp.route("/<kind>/<key>/versions/<int:number>")
@blp.response(200, s.MetaVersion)
@blp.alt_response(403, schema=s.ApiError, description="administrators only")
def version(kind: str, key: str, number: int) -> Any:
    """A published version is the whole document too (permissions included): admins only."""
    require_admin()
    found = MetadataStore(db_session(), None).published(kind, key, number)
    if found is None:
        raise NotFound(f"{kind[:-1]} {key!r} has no version {number}")
    return found


@blp.route("/<kind>/<key>/diff")
@blp.arguments(s.DiffArgs, location="query")
@blp.response(200)
def diff(args: dict[str, Any], kind: str, key: str) -> Any:
    require_admin()
    check_ids(args, "from_version", "to_version")
    changes = MetadataStore(db_session(), None).diff(kind, key, args["from_version"],
                                                     args["to_version"])
    return {"changes": changes}


@blp.route("/<kind>/<key>/restore", methods=["POST"])
@blp.arguments(s.RestoreBody)
@blp.response(200, s.DraftSchema)
def restore(body: dict[str, Any], kind: str, key: str) -> Any:
    store = _store()
    check_ids(body, "version")
    return _draft_dict(store.restore(kind, key, body["version"]))


@blp.route("/<kind>/<key>/log")
@blp.response(200, s.ChangeEntry(many=True))
def change_log(kind: str, key: str) -> Any:
    """Every create, save, publish and restore of the document, newest first."""
    require_admin()
    return MetadataStore(db_session(), None).log(kind, key)
