"""Record endpoints for every published form."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint

from lendbase.api import schemas as s
from lendbase.api.auth import api_actor
from lendbase.errors import ValidationFailed
from lendbase.records.export import export_records
from lendbase.web.context import compiled_schema, db_session, record_service, state
from lendbase.web.list_views import export_download

blp = Blueprint("records", __name__, url_prefix="/api/v1/records",
                description="Records of published forms")

_RECORD_BODY = {"content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": True,
    "description": "field values by field key; sub-tables as lists of row objects"}}}}


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"_": ["send a JSON object of field values with "
                                      "Content-Type: application/json"]})
    return body


def _if_match() -> int | None:
    header = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    if not header:
        return None
    try:
        return int(header)
    except ValueError:
        raise ValidationFailed({"If-Match": ["use the record's version number, e.g. "
                                             'If-Match: "3"']}) from None


def _page(page: Any) -> dict[str, Any]:
    return {"items": page.items, "next_cursor": page.next_cursor, "has_more": page.has_more}


@blp.route("/<form>")
@blp.arguments(s.ListArgs, location="query")
@blp.response(200, s.PageSchema)
def list_records(args: dict[str, Any], form: str) -> Any:
    service = record_service(api_actor())
    order = [o.strip() for o in args.get("order_by", "").split(",") if o.strip()] or None
    return _page(service.list_page(form, search=args.get("q"), order_by=order,
                              after=args.get("after"), limit=args["limit"]))


@blp.route("/<form>", methods=["POST"])
@blp.doc(requestBody=_RECORD_BODY)
@blp.response(201, description="the created record (sensitive values masked)")
@blp.alt_response(422, schema=s.ApiError)
def create_record(form: str) -> Any:
    record = record_service(api_actor()).create(form, _body())
    return record, 201, {"ETag": f'"{record["version"]}"'}


@blp.route("/<form>/query", methods=["POST"])
@blp.arguments(s.QueryBody)
@blp.response(200, s.PageSchema)
def query_records(body: dict[str, Any], form: str) -> Any:
    service = record_service(api_actor())
    return _page(service.list_page(form, where=body.get("where"), search=body.get("q"),
                              order_by=body.get("order_by"), after=body.get("after"),
                              limit=body["limit"]))


@blp.route("/<form>/export", methods=["POST"])
@blp.arguments(s.ExportBody)
@blp.response(200, description="the records as a CSV or XLSX attachment (sensitive values "
                               "masked); the export is logged with its reason",
              content_type="application/octet-stream")
@blp.alt_response(403, schema=s.ApiError, description="no export right on the form")
@blp.alt_response(422, schema=s.ApiError)
def export_file(body: dict[str, Any], form: str) -> Any:
    actor = api_actor()
    result = export_records(db_session(), compiled_schema(), actor, state().cipher, form,
                            where=body.get("where"), search=body.get("q"),
                            order_by=body.get("order_by"), fmt=body["file_format"],
                            lang=actor.lang, reason=body["reason"])
    return export_download(result)


@blp.route("/<form>/<int:record_id>")
@blp.response(200, description="the record: system columns, field values, sub-table rows")
@blp.alt_response(404, schema=s.ApiError)
def get_record(form: str, record_id: int) -> Any:
    record = record_service(api_actor()).get(form, record_id)
    return record, 200, {"ETag": f'"{record["version"]}"'}


@blp.route("/<form>/<int:record_id>", methods=["PATCH"])
@blp.doc(requestBody=_RECORD_BODY)
@blp.response(200, description="the record: system columns, field values, sub-table rows")
@blp.alt_response(409, schema=s.ApiError, description="stale If-Match version")
@blp.alt_response(422, schema=s.ApiError)
def update_record(form: str, record_id: int) -> Any:
    record = record_service(api_actor()).update(form, record_id, _body(), _if_match())
    return record, 200, {"ETag": f'"{record["version"]}"'}


@blp.route("/<form>/<int:record_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(409, schema=s.ApiError)
def delete_record(form: str, record_id: int) -> Any:
    record_service(api_actor()).delete(form, record_id, _if_match())
    return None


@blp.route("/<form>/<int:record_id>/history")
@blp.response(200, s.HistoryEntry(many=True))
def history(form: str, record_id: int) -> Any:
    return record_service(api_actor()).history(form, record_id)


@blp.route("/<form>/<int:record_id>/unmask", methods=["POST"])
@blp.arguments(s.UnmaskBody)
@blp.response(200)
def unmask(body: dict[str, Any], form: str, record_id: int) -> Any:
    value = record_service(api_actor()).unmask(form, record_id, body["field"], body["reason"])
    # plaintext of a sensitive field: no cache (browser, proxy) may keep it
    return {"field": body["field"], "value": value}, 200, {
        "Cache-Control": "no-store", "Pragma": "no-cache"}
