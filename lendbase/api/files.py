"""File upload and download: upload first, then put the returned id in a record's file field.

The checks are the pages' (``lendbase.records.files``): the field's ``accept`` list and
``max_size_mb``, else the platform's upload limit.
"""

from __future__ import annotations

from typing import Any

from flask import request, send_file, url_for
from flask_smorest import Blueprint
from werkzeug.wrappers import Response

from lendbase.api import schemas as s
from lendbase.api.auth import api_actor
from lendbase.errors import NotFound, PermissionDenied, ValidationFailed
from lendbase.forms.values import FieldValueError
from lendbase.records.files import (
    FileStore,
    StoredFile,
    file_field,
    file_path,
    load_file,
    may_download,
)
from lendbase.records.permissions import access_for
from lendbase.web.context import compiled_schema, db_session, state

blp = Blueprint("files_api", __name__, url_prefix="/api/v1/files",
                description="Files for records' file fields")

_UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["form", "field", "file"],
    "properties": {
        "form": {"type": "string", "description": "the form key, e.g. customer"},
        "field": {"type": "string", "description": "a file field of the form; "
                                                   "'subtable.field' for one in a sub-table"},
        "file": {"type": "string", "format": "binary"},
    }}}}}


def _file_dict(stored: StoredFile) -> dict[str, Any]:
    return {"id": stored.id, "form_key": stored.form_key, "field_key": stored.field_key,
            "filename": stored.filename, "content_type": stored.content_type,
            "size": stored.size, "sha256": stored.sha256, "uploaded_at": stored.uploaded_at,
            "url": url_for("files_api.download", file_id=stored.id)}


@blp.route("", methods=["POST"])
@blp.doc(requestBody=_UPLOAD_BODY)
@blp.response(201, s.StoredFileSchema)
@blp.alt_response(403, schema=s.ApiError)
@blp.alt_response(413, schema=s.ApiError, description="larger than the platform's limit")
@blp.alt_response(422, schema=s.ApiError,
                  description="unknown form or field, no file, a refused type or size")
def upload() -> Any:
    actor = api_actor()
    form_key = (request.form.get("form") or "").strip()
    field_key = (request.form.get("field") or "").strip()
    upload = request.files.get("file")
    errors: dict[str, list[str]] = {}
    if not form_key:
        errors["form"] = ["send the form key as the multipart part 'form'"]
    if not field_key:
        errors["field"] = ["send the file field's key as the multipart part 'field'"]
    if upload is None or not upload.filename:
        errors["file"] = ["attach the file as the multipart part 'file' with a filename"]
    cf = compiled_schema().forms.get(form_key) if form_key else None
    if form_key and cf is None:
        errors["form"] = [f"no published form {form_key!r}"]
    if errors:
        raise ValidationFailed(errors)
    assert cf is not None and upload is not None
    f = file_field(cf.form, field_key)
    access = access_for(actor, cf.form)
    top_key = field_key.split(".", 1)[0]
    if not (access.can("create") or access.can("update")) or top_key in access.hidden_fields:
        raise PermissionDenied(f"you may not upload files to '{form_key}.{field_key}'; "
                               "ask an administrator for the create or update right")
    settings = state().settings
    store = FileStore(db_session(), settings.upload_dir, settings.upload_max_bytes, actor.lang)
    try:
        file_id = store.save(form_key, f, upload.stream, upload.filename, upload.mimetype,
                             actor.user_id)
    except FieldValueError as exc:
        raise ValidationFailed({"file": [exc.text]}) from None
    except Exception:
        store.discard()
        raise
    stored = load_file(db_session(), file_id)
    return _file_dict(stored), 201, {"Location": url_for("files_api.download",
                                                         file_id=file_id)}


@blp.route("/<int:file_id>")
@blp.response(200, description="the file's bytes as an attachment",
              content_type="application/octet-stream")
@blp.alt_response(404, schema=s.ApiError,
                  description="no such file, or its form or field is not readable for you")
def download(file_id: int) -> Response:
    actor = api_actor()
    stored = load_file(db_session(), file_id)
    if not may_download(db_session(), actor, compiled_schema(), stored):
        raise NotFound(f"no file {file_id}")  # the same answer as a missing one: no probing
    path = file_path(state().settings.upload_dir, stored)
    response = send_file(path, mimetype=stored.content_type, as_attachment=True,
                         download_name=stored.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
