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
from typing import IO, Any

from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import NotFound, ValidationFailed
from lendbase.forms.compile import CompiledForm, CompiledSchema
from lendbase.forms.messages import message
from lendbase.forms.model import FieldDef, FormDef
from lendbase.forms.values import FieldValueError
from lendbase.records.permissions import Actor, access_for, scope_clause

__all__ = [
    "FileStore",
    "StoredFile",
    "file_columns",
    "file_field",
    "file_path",
    "guess_content_type",
    "is_allowed_type",
    "load_file",
    "may_download",
    "referencing_records",
]

_CHUNK = 64 * 1024
_SAFE_SUFFIX = re.compile(r"\.[a-z0-9]{1,10}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


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
        # Control characters (NUL, CR/LF...) never reach the stored name: a CR/LF would make
        # every later download fail (header values cannot hold newlines), NUL breaks PostgreSQL.
        name = _CONTROL.sub("", filename or "").strip() or "file"
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
                    # keep counting (the request body is bounded by MAX_CONTENT_LENGTH), so
                    # the message states the file's real size, as the browser does
                    size += sum(len(rest) for rest in iter(lambda: stream.read(_CHUNK), b""))
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


def file_columns(cf: CompiledForm, field_key: str) -> list[tuple[str, Any, Any]]:
    """Where a file of ``cf``'s field ``field_key`` can be attached: ``(top-level key,
    table, column)`` for a top-level file field of that key and for a file field of that key
    in a sub-table (whose top-level key is the sub-table's). ``lb_file.field_key`` holds the
    bare key, so a sub-table's file field is found by its own key."""
    found: list[tuple[str, Any, Any]] = []
    for f in cf.form.fields:
        if f.type == "file" and f.key == field_key and f.key in cf.table.c:
            found.append((f.key, cf.table, cf.table.c[f.key]))
        if f.type == "subtable":
            table = cf.child_tables.get(f.key)
            for sf in f.fields:
                if sf.type == "file" and sf.key == field_key and table is not None \
                        and sf.key in table.c:
                    found.append((f.key, table, table.c[sf.key]))
    return found


def _parent_ids(cf: CompiledForm, table: Any, column: Any, file_id: int) -> Any:
    """A SELECT of the ids of the records (of ``cf``) whose ``column`` holds ``file_id``."""
    if table is cf.table:
        return select(cf.table.c.id).where(column == file_id)
    return select(table.c.parent_id).where(column == file_id)


def referencing_records(session: Session, cf: CompiledForm, field_key: str,
                        file_id: int) -> set[int]:
    """The ids of the records of ``cf`` that hold ``file_id`` in a file field of that key."""
    ids: set[int] = set()
    for _top, table, column in file_columns(cf, field_key):
        ids.update(int(i) for i in session.execute(
            _parent_ids(cf, table, column, file_id)).scalars())
    return ids


def may_download(session: Session, actor: Actor, schema: CompiledSchema,
                 stored: StoredFile) -> bool:
    """Whether ``actor`` may fetch the file. Row scope applies: an administrator may; the
    uploader may while the file is not attached to any record yet; else a record of the
    file's form that the actor may read (in row scope, the field not hidden) must hold it."""
    if actor.superuser:
        return True
    cf = schema.forms.get(stored.form_key)
    if cf is None:
        return False
    locations = file_columns(cf, stored.field_key)
    attached = any(session.execute(
        select(exists().where(column == stored.id))).scalar()
        for _top, _table, column in locations)
    if not attached:
        return stored.uploaded_by is not None and stored.uploaded_by == actor.user_id
    access = access_for(actor, cf.form)
    if not access.can("read"):
        return False
    for top, table, column in locations:
        if top in access.hidden_fields:
            continue
        visible = select(exists().where(
            cf.table.c.id.in_(_parent_ids(cf, table, column, stored.id)),
            scope_clause(actor, access, cf.table)))
        if session.execute(visible).scalar():
            return True
    return False


def file_path(root: Path, stored: StoredFile) -> Path:
    """The file on disk, refusing anything that would resolve outside ``root``."""
    base = root.resolve()
    path = (base / stored.path).resolve()
    if base not in path.parents or not path.is_file():
        raise NotFound(f"the bytes of file {stored.id} are missing from the upload directory")
    return path
