"""Uploaded files (stored under ``settings.upload_dir``, one ``lb_file`` row each), their
download, and the region lists the cascading province / city / county pickers load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, jsonify, send_file
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from lendbase.errors import NotFound
from lendbase.forms.checks import region_children
from lendbase.forms.model import FieldDef
from lendbase.records.files import FileStore, file_path, load_file, may_download
from lendbase.records.permissions import Actor
from lendbase.web.context import compiled_schema, current_actor, db_session, state

files_bp = Blueprint("files", __name__, template_folder="templates")


class UploadStore:
    """Saves the uploads of one page request (``lendbase.records.files.FileStore`` does the
    work); remembers the paths so a failed save can remove them."""

    def __init__(self, session: Session, root: Path, form_key: str, actor: Actor,
                 default_max_bytes: int, lang: str) -> None:
        self.form_key = form_key
        self.actor = actor
        self.store = FileStore(session, root, default_max_bytes, lang)

    @property
    def written(self) -> list[Path]:
        return self.store.written

    def save(self, f: FieldDef, upload: FileStorage, _name: str) -> int:
        return self.store.save(self.form_key, f, upload.stream, upload.filename,
                               upload.mimetype, self.actor.user_id)

    def discard(self) -> None:
        """Remove the files written by this request (its transaction is rolled back)."""
        self.store.discard()


def upload_store(form_key: str, actor: Actor, lang: str) -> UploadStore:
    settings = state().settings
    return UploadStore(db_session(), settings.upload_dir, form_key, actor,
                       settings.upload_max_bytes, lang)


@files_bp.route("/files/<int:file_id>")
def download(file_id: int) -> Response:
    actor = current_actor()
    assert actor is not None  # the sign-in guard runs first
    try:
        stored = load_file(db_session(), file_id)
        if not may_download(db_session(), actor, compiled_schema(), stored):
            abort(404)
        path = file_path(state().settings.upload_dir, stored)
    except NotFound:
        abort(404)
    return send_file(path, mimetype=stored.content_type, as_attachment=True,
                     download_name=stored.filename)


@files_bp.route("/regions/", defaults={"code": None})
@files_bp.route("/regions/<code>")
def regions(code: str | None) -> Any:
    """Children of a division (``/regions/`` for the provinces) as ``[{code, name}]``."""
    if code is not None and (not code.isdigit() or len(code) != 6):
        return jsonify([]), 404
    return jsonify([{"code": c, "name": n} for c, n in region_children(code)])
