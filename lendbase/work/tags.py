"""Tags on records: add and remove one by hand or by a rule, keep exclusive groups exclusive,
and tag or untag thousands of records at once with set-based statements.

Every change writes an append-only history row (added / removed, when, by whom or by which
rule, why). Adding a tag a record already has, or removing one it does not have, changes
nothing and writes no history, so rules can re-apply their tags on every run.

Concurrency: each change first locks its tag's group row (``SELECT ... FOR UPDATE``; SQLite
serialises writers anyway). Changes to one group therefore run one after the other, which
keeps "history only for what really changed" exact and an exclusive group exclusive even when
a scheduled rule and a person tag the same records at the same moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    String,
    Text,
    and_,
    delete,
    exists,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import NotFound, PermissionDenied, ValidationFailed
from lendbase.forms.compile import CompiledSchema
from lendbase.records.permissions import Actor
from lendbase.work.access import RecordAccess
from lendbase.work.common import (
    Clock,
    as_utc,
    check_rule_key,
    execute_counting,
    id_source,
    select_ids,
    utcnow,
    value,
)

MAX_REASON = 500


class TagAction(StrEnum):
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class RecordTag:
    """A tag a record carries, with who put it there and why."""

    tag_key: str
    group_key: str
    label: Mapping[str, str]
    color: str
    group_label: Mapping[str, str]
    added_at: datetime
    added_by: int | None
    added_by_rule: str | None
    reason: str | None


@dataclass(frozen=True)
class TagChange:
    """One row of a record's tag history."""

    id: int
    tag_key: str
    action: TagAction
    at: datetime
    actor_id: int | None
    rule_key: str | None
    reason: str | None


@dataclass(frozen=True)
class _TagInfo:
    key: str
    group_key: str
    active: bool
    exclusive: bool
    manual: bool
    roles: tuple[str, ...]


def has_tag(form_key: str, tag_key: str, id_column: ColumnElement[Any]) -> ColumnElement[bool]:
    """``EXISTS`` clause "the record in ``id_column`` carries ``tag_key``", for list filters,
    segments and reports over the form's table (served by the (form, tag, record) index)."""
    rt = db.record_tag
    return exists().where(rt.c.form_key == form_key, rt.c.tag_key == tag_key,
                          rt.c.record_id == id_column)


def tagged_ids(form_key: str, tag_key: str) -> Select[Any]:
    """``SELECT record_id`` of the records of ``form_key`` that carry ``tag_key``."""
    rt = db.record_tag
    return select(rt.c.record_id).where(rt.c.form_key == form_key, rt.c.tag_key == tag_key)


def _check_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise ValidationFailed({"reason": [f"write the reason in at most {MAX_REASON} "
                                           "characters"]})
    return reason.strip() or None


class TagService:
    """Tags of records for one actor. ``rule`` (a rule key) marks a change made by a rule;
    without it the change is by hand and must pass the group's hand-tagging rules. With
    ``schema`` a person's reads and changes are limited to records they may read (404
    otherwise); without it only a superuser (the system running rules) may act."""

    def __init__(self, session: Session, actor: Actor, clock: Clock = utcnow, *,
                 schema: CompiledSchema | None = None) -> None:
        self.session = session
        self.actor = actor
        self.clock = clock
        self.records = RecordAccess(session, actor, schema)

    # --- reading ----------------------------------------------------------------------------
    def tags_of(self, form_key: str, record_id: int) -> list[RecordTag]:
        self.records.require_readable(form_key, record_id)
        rt = db.record_tag
        rows = self.session.execute(
            select(rt, db.tag.c.group_key, db.tag.c.label, db.tag.c.color,
                   db.tag_group.c.label.label("group_label"))
            .join(db.tag, db.tag.c.key == rt.c.tag_key)
            .join(db.tag_group, db.tag_group.c.key == db.tag.c.group_key)
            .where(rt.c.form_key == form_key, rt.c.record_id == record_id)
            .order_by(db.tag_group.c.sort, db.tag_group.c.key, db.tag.c.sort, db.tag.c.key)
        ).all()
        return [RecordTag(r.tag_key, r.group_key, dict(r.label), r.color, dict(r.group_label),
                          as_utc(r.added_at) or r.added_at, r.added_by, r.added_by_rule,
                          r.reason) for r in rows]

    def history(self, form_key: str, record_id: int, limit: int = 200) -> list[TagChange]:
        """The record's tag changes, newest first."""
        self.records.require_readable(form_key, record_id)
        h = db.tag_history
        rows = self.session.execute(
            select(h).where(h.c.form_key == form_key, h.c.record_id == record_id)
            .order_by(h.c.id.desc()).limit(limit)).all()
        return [TagChange(r.id, r.tag_key, TagAction(r.action), as_utc(r.at) or r.at,
                          r.actor_id, r.rule_key, r.reason) for r in rows]

    # --- one record -------------------------------------------------------------------------
    def add(self, form_key: str, record_id: int, tag_key: str, *, reason: str | None = None,
            rule: str | None = None) -> bool:
        """Put ``tag_key`` on the record; in an exclusive group the group's other tag goes.
        True if the tag was added, False if the record already had it (nothing written)."""
        info = self._prepare(form_key, record_id, tag_key, rule, adding=True)
        return self._add(form_key, info, select(literal(record_id, db.IdType).label("id")),
                         _check_reason(reason), rule) > 0

    def remove(self, form_key: str, record_id: int, tag_key: str, *,
               reason: str | None = None, rule: str | None = None) -> bool:
        """Take ``tag_key`` off the record. False if it did not have it (nothing written)."""
        info = self._prepare(form_key, record_id, tag_key, rule, adding=False)
        return self._remove(form_key, [info.key],
                            select(literal(record_id, db.IdType).label("id")),
                            _check_reason(reason), rule) > 0

    def set_exclusive(self, form_key: str, record_id: int, group_key: str,
                      tag_key: str | None, *, reason: str | None = None,
                      rule: str | None = None) -> bool:
        """Make ``tag_key`` the record's one tag of the exclusive ``group_key`` (None clears
        the group). True if anything changed."""
        if tag_key is not None:
            info = self._prepare(form_key, record_id, tag_key, rule, adding=True)
            if info.group_key != group_key:
                raise ValidationFailed({"tag": [f"tag {tag_key!r} is in group "
                                                f"{info.group_key!r}, not {group_key!r}"]})
            if not info.exclusive:
                raise ValidationFailed({"group": [f"group {group_key!r} is not exclusive; "
                                                  "add or remove its tags one by one"]})
            return self.add(form_key, record_id, tag_key, reason=reason, rule=rule)
        group_tags = list(self.session.execute(
            select(db.tag.c.key).where(db.tag.c.group_key == group_key)
            .order_by(db.tag.c.key)).scalars())
        if not group_tags:
            raise NotFound(f"no tag group {group_key!r} (or it has no tags)")
        self._prepare(form_key, record_id, group_tags[0], rule, adding=False)
        return self._remove(form_key, group_tags,
                            select(literal(record_id, db.IdType).label("id")),
                            _check_reason(reason), rule) > 0

    # --- many records -----------------------------------------------------------------------
    def bulk_add(self, form_key: str, tag_key: str, ids: Select[Any], *,
                 reason: str | None = None, rule: str | None = None) -> int:
        """Tag every record whose id ``ids`` selects (a segment's members, a rule's matches)
        in four set-based statements, whatever the count. Returns how many were newly
        tagged. Only the system (a superuser actor) runs bulk changes."""
        info = self._prepare_bulk(tag_key, rule)
        if not info.active:
            raise ValidationFailed({"tag": [f"tag {tag_key!r} is retired; it cannot be added"]})
        return self._add(form_key, info, ids, _check_reason(reason), rule)

    def bulk_remove(self, form_key: str, tag_key: str, ids: Select[Any], *,
                    reason: str | None = None, rule: str | None = None) -> int:
        """Untag every record whose id ``ids`` selects, set based. Returns how many lost it."""
        info = self._prepare_bulk(tag_key, rule)
        return self._remove(form_key, [info.key], ids, _check_reason(reason), rule)

    # --- internals --------------------------------------------------------------------------
    def _lock(self, tag_key: str) -> _TagInfo:
        """The tag and its group, with the group row locked until the transaction ends."""
        row = self.session.execute(
            select(db.tag.c.key, db.tag.c.group_key, db.tag.c.active, db.tag_group.c.exclusive,
                   db.tag_group.c.manual, db.tag_group.c.roles)
            .join(db.tag_group, db.tag_group.c.key == db.tag.c.group_key)
            .where(db.tag.c.key == tag_key)
            .with_for_update(of=db.tag_group)).first()
        if row is None:
            raise NotFound(f"no tag {tag_key!r}; an administrator creates tags under Tags")
        return _TagInfo(row.key, row.group_key, bool(row.active), bool(row.exclusive),
                        bool(row.manual), tuple(row.roles or ()))

    def _prepare(self, form_key: str, record_id: int, tag_key: str, rule: str | None,
                 adding: bool) -> _TagInfo:
        check_rule_key(rule)
        self.records.require_readable(form_key, record_id)
        info = self._lock(tag_key)
        if adding and not info.active:
            raise ValidationFailed({"tag": [f"tag {tag_key!r} is retired; it cannot be added"]})
        if rule is None and not self.actor.superuser:
            if not info.manual:
                raise PermissionDenied(f"tags of group {info.group_key!r} are set by rules "
                                       "only; ask an administrator to allow setting them by "
                                       "hand")
            if info.roles and not set(info.roles) & set(self.actor.roles):
                raise PermissionDenied(f"only the roles {', '.join(info.roles)} may set tags "
                                       f"of group {info.group_key!r} by hand")
        if rule is not None and not self.actor.superuser:
            raise PermissionDenied("only the system may act on behalf of a rule")
        return info

    def _prepare_bulk(self, tag_key: str, rule: str | None) -> _TagInfo:
        check_rule_key(rule)
        if not self.actor.superuser:
            raise PermissionDenied("bulk tagging is for rules and segments (the system); "
                                   "tag records one by one instead")
        return self._lock(tag_key)

    def _remove(self, form_key: str, tag_keys: list[str], ids: Select[Any],
                reason: str | None, rule: str | None) -> int:
        """History rows for the tags present, then delete them: two statements."""
        rt, h = db.record_tag, db.tag_history
        where = and_(rt.c.form_key == form_key, rt.c.tag_key.in_(tag_keys),
                     rt.c.record_id.in_(select_ids(ids)))
        now = self.clock()
        self.session.execute(insert(h).from_select(
            ["form_key", "record_id", "tag_key", "action", "at", "actor_id", "rule_key",
             "reason"],
            select(rt.c.form_key, rt.c.record_id, rt.c.tag_key,
                   literal(TagAction.REMOVED.value, String(16)),
                   literal(now, DateTime(timezone=True)),
                   value(self.actor.user_id, db.IdType), value(rule, String(100)),
                   value(reason, Text())).where(where)))
        return execute_counting(self.session, delete(rt).where(where))

    def _add(self, form_key: str, info: _TagInfo, ids: Select[Any], reason: str | None,
             rule: str | None) -> int:
        """Exclusive group: remove the group's other tags (history + delete). Then history
        rows for the records that lack the tag, then the tags themselves."""
        rt, h = db.record_tag, db.tag_history
        if info.exclusive:
            others = self.session.execute(
                select(db.tag.c.key).where(db.tag.c.group_key == info.group_key,
                                           db.tag.c.key != info.key)).scalars().all()
            if others:
                self._remove(form_key, list(others), ids, reason, rule)
        record_id = id_source(ids)
        lacking = ~exists().where(rt.c.form_key == form_key, rt.c.tag_key == info.key,
                                  rt.c.record_id == record_id)
        now = literal(self.clock(), DateTime(timezone=True))
        form = literal(form_key, String(64))
        tag = literal(info.key, String(64))
        self.session.execute(insert(h).from_select(
            ["form_key", "record_id", "tag_key", "action", "at", "actor_id", "rule_key",
             "reason"],
            select(form, record_id, tag, literal(TagAction.ADDED.value, String(16)), now,
                   value(self.actor.user_id, db.IdType), value(rule, String(100)),
                   value(reason, Text())).where(lacking)))
        record_id = id_source(ids)
        lacking = ~exists().where(rt.c.form_key == form_key, rt.c.tag_key == info.key,
                                  rt.c.record_id == record_id)
        return execute_counting(self.session, insert(rt).from_select(
            ["form_key", "record_id", "tag_key", "added_at", "added_by", "added_by_rule",
             "reason"],
            select(form, record_id, tag, now, value(self.actor.user_id, db.IdType),
                   value(rule, String(100)), value(reason, Text())).where(lacking)))
