"""Stored files: the bytes under the upload directory, one ``lb_file`` row each.

The pages and the API share this: both check an upload against its file field (``accept``,
``max_size_mb``, else the platform's default limit), stream it to disk while hashing it, and
record it. A record's file field then holds the ``lb_file`` id. No Flask here: callers pass the
session, the upload root and who uploads.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import NotFound, ValidationFailed
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.messages import message
from lendbase.forms.model import FieldDef, FormDef
from lendbase.forms.values import FieldValueError
from lendbase.records.permissions import Actor, access_for

__all__ = [
    "FileStore",
    "StoredFile",
    "file_field",
    "file_path",
    "guess_content_type",
    "is_allowed_type",
    "load_file",
    "may_download",
]

_CHUNK = 64 * 1024
_SAFE_SUFFIX = re.compile(r"\.[a-z0-9]{1,10}")


@dataclass(frozen=True)
class StoredFile:
    """One ``lb_file`` row: what was uploaded, for which form field, and where it lies."""

    id: int
    form_key: str
    field_key: str
    filename: str
    content_type: str
    size: int
    sha256: str
    path: str
    uploaded_by: int | None
    uploaded_at: datetime


def guess_content_type(filename: str, declared: str | None) -> str:
    return declared or mimetypes.guess_type(filename)[0] or "application/octet-stream"


def is_allowed_type(f: FieldDef, filename: str, content_type: str) -> bool:
    """Whether the field's ``accept`` list (extensions like ``.pdf`` or types like
    ``image/*``) allows this file; a field without ``accept`` takes any type."""
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


def file_field(form: FormDef, field_key: str) -> FieldDef:
    """The file field ``field_key`` of ``form`` (``subtable.field`` for one in a sub-table),
    or ValidationFailed naming ``field`` with the form's file fields to choose from."""
    candidates: dict[str, FieldDef] = {}
    for f in form.fields:
        if f.type == "file":
            candidates[f.key] = f
        for sf in f.fields if f.type == "subtable" else ():
            if sf.type == "file":
                candidates[f"{f.key}.{sf.key}"] = sf
    found = candidates.get(field_key)
    if found is not None:
        return found
    choices = ", ".join(candidates) or "none"
    if form.has_field(field_key):
        problem = f"'{field_key}' is a {form.field(field_key).type} field, not a file field"
    else:
        problem = f"form '{form.key}' has no field '{field_key}'"
    raise ValidationFailed({"field": [f"{problem}; its file fields: {choices}"]})


class FileStore:
    """Saves the uploads of one unit of work. The caller owns the transaction; if it rolls
    back, ``discard()`` removes the bytes written so far so no orphan is left on disk."""

    def __init__(self, session: Session, root: Path, default_max_bytes: int,
                 lang: str = "en") -> None:
        self.session = session
        self.root = root
        self.default_max_bytes = default_max_bytes
        self.lang = lang
        self.written: list[Path] = []

    def limit_bytes(self, f: FieldDef) -> int:
        return int(f.max_size_mb * 1024 * 1024) if f.max_size_mb else self.default_max_bytes

    def save(self, form_key: str, f: FieldDef, stream: IO[bytes], filename: str | None,
             content_type: str | None, uploaded_by: int | None) -> int:
        """Check, write and record one upload; returns the ``lb_file`` id. A refused file
        raises FieldValueError with the reason in ``self.lang`` and leaves nothing behind."""
        name = filename or "file"
        ctype = guess_content_type(name, content_type)
        if not is_allowed_type(f, name, ctype):
            ext = Path(name).suffix.lower() or "?"
            raise FieldValueError(message("file_type", self.lang, ext=ext,
                                          accept=", ".join(f.accept)))
        limit = self.limit_bytes(f)
        now = datetime.now(UTC)
        suffix = Path(name).suffix.lower()
        if not _SAFE_SUFFIX.fullmatch(suffix):
            suffix = ""
        # A random name: the client's filename never becomes a path on the server.
        relative = Path(f"{now:%Y}") / f"{now:%m}" / (uuid.uuid4().hex + suffix)
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with target.open("wb") as out:
            while chunk := stream.read(_CHUNK):
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
            form_key=form_key, field_key=f.key, filename=name[:255],
            content_type=ctype[:127], size=size, sha256=digest.hexdigest(),
            path=relative.as_posix(), uploaded_by=uploaded_by, uploaded_at=now,
        ).returning(db.stored_file.c.id)).scalar_one())

    def discard(self) -> None:
        """Remove the files written by this unit of work (its transaction is rolled back)."""
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written.clear()


def load_file(session: Session, file_id: int) -> StoredFile:
    row = session.execute(
        select(db.stored_file).where(db.stored_file.c.id == file_id)).first()
    if row is None:
        raise NotFound(f"no file {file_id}")
    return StoredFile(
        id=int(row.id), form_key=row.form_key, field_key=row.field_key, filename=row.filename,
        content_type=row.content_type, size=int(row.size), sha256=row.sha256, path=row.path,
        uploaded_by=row.uploaded_by, uploaded_at=row.uploaded_at)


def may_download(actor: Actor, schema: CompiledSchema, stored: StoredFile) -> bool:
    """Readers of the file's form may fetch it unless its field is hidden from them;
    uploaders may always fetch their own files. (Record-level checks come with the picker
    issue.)"""
    if stored.uploaded_by is not None and stored.uploaded_by == actor.user_id:
        return True
    if actor.superuser:
        return True
    cf = schema.forms.get(stored.form_key)
    if cf is None:
        return False
    access = access_for(actor, cf.form)
    return access.can("read") and stored.field_key not in access.hidden_fields


def file_path(root: Path, stored: StoredFile) -> Path:
    """The file on disk, refusing anything that would resolve outside ``root``."""
    base = root.resolve()
    path = (base / stored.path).resolve()
    if base not in path.parents or not path.is_file():
        raise NotFound(f"the bytes of file {stored.id} are missing from the upload directory")
    return path
