"""The metadata store: a draft and immutable published versions per (kind, key).

Services take a Session and an actor id and never commit; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.changelog import changes_of, log_change, subject_for
from lendbase.errors import Conflict, MetadataError, NotFound
from lendbase.meta.jsondiff import diff_documents
from lendbase.meta.validate import KINDS, validate_document


def utcnow() -> datetime:
    return datetime.now(UTC)


def checksum_of(doc: Any) -> str:
    """SHA-256 of the canonical JSON form (sorted keys, no whitespace)."""
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Draft:
    kind: str
    key: str
    doc: dict[str, Any]
    lock_version: int
    updated_by: int | None
    updated_at: datetime


@dataclass(frozen=True)
class Version:
    kind: str
    key: str
    version: int
    doc: dict[str, Any]
    checksum: str
    note: str | None
    published_by: int | None
    published_at: datetime


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise NotFound(f"unknown metadata kind {kind!r}; use one of: {', '.join(KINDS)}")


class MetadataStore:
    def __init__(self, session: Session, actor_id: int | None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.session = session
        self.actor_id = actor_id
        self.clock = clock

    # --- drafts ----------------------------------------------------------------------------
    def list_keys(self, kind: str) -> list[dict[str, Any]]:
        """Every document of a kind with its draft state and latest published version."""
        _check_kind(kind)
        latest = (
            select(db.meta_version.c.key, func.max(db.meta_version.c.version).label("published"))
            .where(db.meta_version.c.kind == kind)
            .group_by(db.meta_version.c.key)
            .subquery()
        )
        rows = self.session.execute(
            select(db.meta_draft.c.key, db.meta_draft.c.doc, db.meta_draft.c.lock_version,
                   db.meta_draft.c.updated_at, latest.c.published)
            .outerjoin(latest, latest.c.key == db.meta_draft.c.key)
            .where(db.meta_draft.c.kind == kind)
            .order_by(db.meta_draft.c.key)
        ).all()
        return [
            {"key": r.key, "label": r.doc.get("label"), "lock_version": r.lock_version,
             "updated_at": r.updated_at, "published_version": r.published}
            for r in rows
        ]

    def get_draft(self, kind: str, key: str) -> Draft:
        _check_kind(kind)
        row = self.session.execute(
            select(db.meta_draft).where(db.meta_draft.c.kind == kind, db.meta_draft.c.key == key)
        ).first()
        if row is None:
            raise NotFound(f"no {kind[:-1]} with key {key!r}")
        return Draft(kind, key, row.doc, row.lock_version, row.updated_by, row.updated_at)

    def create(self, kind: str, doc: dict[str, Any]) -> Draft:
        validate_document(kind, doc)
        key = doc["key"]
        exists = self.session.execute(
            select(db.meta_draft.c.key).where(db.meta_draft.c.kind == kind,
                                              db.meta_draft.c.key == key)
        ).first()
        if exists:
            raise Conflict(f"a {kind[:-1]} with key {key!r} already exists; pick another key")
        now = self.clock()
        self.session.execute(insert(db.meta_draft).values(
            kind=kind, key=key, doc=doc, lock_version=1, updated_by=self.actor_id,
            updated_at=now))
        self._log(kind, key, "create", {"lock_version": 1, "checksum": checksum_of(doc)}, now)
        return Draft(kind, key, doc, 1, self.actor_id, now)

    def save_draft(self, kind: str, key: str, doc: dict[str, Any],
                   expected_lock_version: int | None = None) -> Draft:
        """Replace the draft; a stale ``expected_lock_version`` raises ``Conflict``."""
        current = self.get_draft(kind, key)
        if doc.get("key") != key:
            raise MetadataError("the key of a document cannot change",
                                {"/key": [f"must stay {key!r}; copy the document to rename it"]})
        validate_document(kind, doc)
        if expected_lock_version is not None and expected_lock_version != current.lock_version:
            raise Conflict(
                f"the draft was changed by someone else (version {current.lock_version}, you "
                f"edited version {expected_lock_version}); reload it and apply your change again"
            )
        if doc == current.doc:
            return current
        now = self.clock()
        result = cast(CursorResult[Any], self.session.execute(
            update(db.meta_draft)
            .where(db.meta_draft.c.kind == kind, db.meta_draft.c.key == key,
                   db.meta_draft.c.lock_version == current.lock_version)
            .values(doc=doc, lock_version=current.lock_version + 1, updated_by=self.actor_id,
                    updated_at=now)
        ))
        if result.rowcount != 1:
            raise Conflict("the draft was changed by someone else meanwhile; reload it")
        # The draft is overwritten, so the log keeps what changed (nothing silently lost).
        self._log(kind, key, "save", {"lock_version": current.lock_version + 1,
                                      "changes": diff_documents(current.doc, doc)}, now)
        return Draft(kind, key, doc, current.lock_version + 1, self.actor_id, now)

    # --- versions ----------------------------------------------------------------------------
    def versions(self, kind: str, key: str) -> list[Version]:
        _check_kind(kind)
        rows = self.session.execute(
            select(db.meta_version)
            .where(db.meta_version.c.kind == kind, db.meta_version.c.key == key)
            .order_by(db.meta_version.c.version.desc())
        ).all()
        return [self._version(r) for r in rows]

    def published(self, kind: str, key: str, version: int | None = None) -> Version | None:
        query = select(db.meta_version).where(db.meta_version.c.kind == kind,
                                              db.meta_version.c.key == key)
        if version is None:
            query = query.order_by(db.meta_version.c.version.desc()).limit(1)
        else:
            query = query.where(db.meta_version.c.version == version)
        row = self.session.execute(query).first()
        return self._version(row) if row else None

    def all_published(self, kind: str) -> list[Version]:
        """The latest published version of every document of a kind."""
        latest = (
            select(db.meta_version.c.key, func.max(db.meta_version.c.version).label("v"))
            .where(db.meta_version.c.kind == kind).group_by(db.meta_version.c.key).subquery()
        )
        rows = self.session.execute(
            select(db.meta_version).join(
                latest, (latest.c.key == db.meta_version.c.key)
                & (latest.c.v == db.meta_version.c.version))
            .where(db.meta_version.c.kind == kind)
            .order_by(db.meta_version.c.id)
        ).all()
        return [self._version(r) for r in rows]

    def record_version(self, kind: str, key: str, doc: dict[str, Any],
                       note: str | None = None) -> Version:
        """Store ``doc`` as the next immutable version and bump the metadata generation.

        Callers (the publishers of each kind) validate and migrate first.
        """
        latest = self.published(kind, key)
        number = (latest.version if latest else 0) + 1
        now = self.clock()
        checksum = checksum_of(doc)
        self.session.execute(insert(db.meta_version).values(
            kind=kind, key=key, version=number, doc=doc, checksum=checksum, note=note,
            published_by=self.actor_id, published_at=now))
        self._log(kind, key, "publish", {"version": number, "checksum": checksum,
                                         "note": note}, now)
        self.bump_generation()
        return Version(kind, key, number, doc, checksum, note, self.actor_id, now)

    def diff(self, kind: str, key: str, old_version: int | None,
             new_version: int | None) -> list[dict[str, Any]]:
        """Diff between two versions; ``None`` for ``new_version`` means the current draft."""
        def doc_of(v: int | None, draft_if_none: bool) -> dict[str, Any]:
            if v is None and draft_if_none:
                return self.get_draft(kind, key).doc
            found = self.published(kind, key, v)
            if found is None:
                raise NotFound(f"{kind[:-1]} {key!r} has no published version {v}")
            return found.doc

        return diff_documents(doc_of(old_version, False), doc_of(new_version, True))

    def restore(self, kind: str, key: str, version: int) -> Draft:
        """Copy an old version into the draft; publishing it is a separate, planned step."""
        found = self.published(kind, key, version)
        if found is None:
            raise NotFound(f"{kind[:-1]} {key!r} has no version {version}")
        draft = self.save_draft(kind, key, found.doc)
        self._log(kind, key, "restore", {"from_version": version,
                                         "lock_version": draft.lock_version}, self.clock())
        return draft

    def log(self, kind: str, key: str) -> list[dict[str, Any]]:
        """Every create, save, publish and restore of a document, newest first."""
        _check_kind(kind)
        return changes_of(self.session, subject_for("meta", kind, key))

    def _log(self, kind: str, key: str, action: str, detail: dict[str, Any],
             at: datetime) -> None:
        log_change(self.session, actor_id=self.actor_id, subject=subject_for("meta", kind, key),
                   action=action, detail=detail, at=at)

    # --- generation ------------------------------------------------------------------------
    def generation(self) -> int:
        return read_generation(self.session)

    def bump_generation(self) -> None:
        result = cast(CursorResult[Any], self.session.execute(
            update(db.meta_generation).where(db.meta_generation.c.id == 1)
            .values(generation=db.meta_generation.c.generation + 1)))
        if result.rowcount == 0:
            self.session.execute(insert(db.meta_generation).values(id=1, generation=1))

    @staticmethod
    def _version(row: Any) -> Version:
        return Version(row.kind, row.key, row.version, row.doc, row.checksum, row.note,
                       row.published_by, row.published_at)


def read_generation(session: Session) -> int:
    value = session.execute(
        select(db.meta_generation.c.generation).where(db.meta_generation.c.id == 1)).scalar()
    return int(value or 0)
