"""Uploaded files (stored under ``settings.upload_dir``, one ``lb_file`` row each), their
download, and the region lists the cascading province / city / county pickers load."""

from __future__ import annotations

import hashlib
import mimetypes
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, jsonify, send_file
from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from lendbase import db
from lendbase.forms.checks import region_children
from lendbase.forms.messages import message
from lendbase.forms.model import FieldDef
from lendbase.forms.values import FieldValueError
from lendbase.records.permissions import Actor, access_for
from lendbase.web.context import compiled_schema, current_actor, db_session, state

files_bp = Blueprint("files", __name__, template_folder="templates")

_CHUNK = 64 * 1024
_SAFE_SUFFIX = re.compile(r"\.[a-z0-9]{1,10}")


def _allowed(f: FieldDef, filename: str, content_type: str) -> bool:
    if not f.accept:
        return True
    ext = Path(filename).suffix.lower()
    for rule in f.accept:
        rule = rule.strip().lower()
        if rule.startswith(".") and ext == rule:
            return True
        if "/" in rule:
            major, _, minor = rule.partition("/")
            c_major, _, c_minor = content_type.lower().partition("/")
            if major == c_major and minor in {"*", c_minor}:
                return True
    return False


class UploadStore:
    """Saves uploads of one request; remembers the paths so a failed save can remove them."""

    def __init__(self, session: Session, root: Path, form_key: str, actor: Actor,
                 default_max_bytes: int, lang: str) -> None:
        self.session = session
        self.root = root
        self.form_key = form_key
        self.actor = actor
        self.default_max_bytes = default_max_bytes
        self.lang = lang
        self.written: list[Path] = []

    def save(self, f: FieldDef, upload: FileStorage, _name: str) -> int:
        filename = upload.filename or "file"
        content_type = upload.mimetype or mimetypes.guess_type(filename)[0] or \
            "application/octet-stream"
        if not _allowed(f, filename, content_type):
            ext = Path(filename).suffix.lower() or "?"
            raise FieldValueError(message("file_type", self.lang, ext=ext,
                                          accept=", ".join(f.accept)))
        limit = int(f.max_size_mb * 1024 * 1024) if f.max_size_mb else self.default_max_bytes
        now = datetime.now(UTC)
        suffix = Path(filename).suffix.lower()
        if not _SAFE_SUFFIX.fullmatch(suffix):
            suffix = ""
        relative = Path(f"{now:%Y}") / f"{now:%m}" / (uuid.uuid4().hex + suffix)
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with target.open("wb") as out:
            while chunk := upload.stream.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    break
                digest.update(chunk)
                out.write(chunk)
        if size > limit:
            target.unlink(missing_ok=True)
            max_mb = f.max_size_mb or round(self.default_max_bytes / 1024 / 1024, 1)
            raise FieldValueError(message("file_size", self.lang, size_mb=size / 1024 / 1024,
                                          max_mb=max_mb))
        self.written.append(target)
        return int(self.session.execute(insert(db.stored_file).values(
            form_key=self.form_key, field_key=f.key, filename=filename[:255],
            content_type=content_type[:127], size=size, sha256=digest.hexdigest(),
            path=relative.as_posix(), uploaded_by=self.actor.user_id, uploaded_at=now,
        ).returning(db.stored_file.c.id)).scalar_one())

    def discard(self) -> None:
        """Remove the files written by this request (its transaction is rolled back)."""
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written.clear()


def upload_store(form_key: str, actor: Actor, lang: str) -> UploadStore:
    settings = state().settings
    return UploadStore(db_session(), settings.upload_dir, form_key, actor,
                       settings.upload_max_bytes, lang)


@files_bp.route("/files/<int:file_id>")
def download(file_id: int) -> Response:
    actor = current_actor()
    assert actor is not None  # the sign-in guard runs first
    row = db_session().execute(
        select(db.stored_file).where(db.stored_file.c.id == file_id)).first()
    if row is None:
        abort(404)
    # The file's form must be readable by the actor (record-level checks come with the
    # picker issue); uploaders may always fetch their own files.
    cf = compiled_schema().forms.get(row.form_key)
    allowed = row.uploaded_by == actor.user_id or actor.superuser or (
        cf is not None and access_for(actor, cf.form).can("read")
        and row.field_key not in access_for(actor, cf.form).hidden_fields)
    if not allowed:
        abort(404)
    root = state().settings.upload_dir.resolve()
    path = (root / row.path).resolve()
    if root not in path.parents or not path.is_file():
        abort(404)
    return send_file(path, mimetype=row.content_type, as_attachment=True,
                     download_name=row.filename)


@files_bp.route("/regions/", defaults={"code": None})
@files_bp.route("/regions/<code>")
def regions(code: str | None) -> Any:
    """Children of a division (``/regions/`` for the provinces) as ``[{code, name}]``."""
    if code is not None and (not code.isdigit() or len(code) != 6):
        return jsonify([]), 404
    return jsonify([{"code": c, "name": n} for c, n in region_children(code)])
