"""The catalogue of tags: groups (rating, risk flags, behaviour...) and the tags in them.

Administrators keep it; rules and people then put its tags on records (``lendbase.work.tags``).
A tag is never deleted while a record carries it; retire it with ``active=False`` instead (it
stays on the records that have it and in their history, but cannot be added any more).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.changelog import log_change
from lendbase.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lendbase.records.permissions import Actor
from lendbase.work.common import Clock, utcnow

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOR = "#6c757d"


@dataclass(frozen=True)
class TagGroup:
    key: str
    label: Mapping[str, str]
    exclusive: bool
    manual: bool
    roles: tuple[str, ...]
    sort: int


@dataclass(frozen=True)
class Tag:
    key: str
    group_key: str
    label: Mapping[str, str]
    color: str
    sort: int
    active: bool


def _group(row: Any) -> TagGroup:
    return TagGroup(row.key, dict(row.label), bool(row.exclusive), bool(row.manual),
                    tuple(row.roles or ()), int(row.sort))


def _tag(row: Any) -> Tag:
    return Tag(row.key, row.group_key, dict(row.label), row.color, int(row.sort),
               bool(row.active))


def _check_label(label: Any, errors: dict[str, list[str]]) -> dict[str, str]:
    if not isinstance(label, Mapping) or not any(
            isinstance(label.get(lang), str) and label[lang].strip() for lang in ("zh", "en")):
        errors.setdefault("label", []).append(
            'give a label in Chinese and/or English, e.g. {"zh": "评级A", "en": "Rating A"}')
        return {}
    out = {lang: str(label[lang]).strip()[:100] for lang in ("zh", "en")
           if isinstance(label.get(lang), str) and label[lang].strip()}
    return out


def _check_key(key: Any, errors: dict[str, list[str]]) -> None:
    if not isinstance(key, str) or not _KEY.match(key):
        errors.setdefault("key", []).append(
            "use 1-64 lower-case letters, digits or '_', starting with a letter, e.g. "
            "'rating_a'")


class TagCatalog:
    """Read the catalogue (anyone) and change it (superusers; every change is logged)."""

    def __init__(self, session: Session, actor: Actor, clock: Clock = utcnow) -> None:
        self.session = session
        self.actor = actor
        self.clock = clock

    def _require_admin(self) -> None:
        if not self.actor.superuser:
            raise PermissionDenied("only administrators may change tag groups and tags")

    # --- reading ------------------------------------------------------------------------------
    def groups(self) -> list[TagGroup]:
        rows = self.session.execute(
            select(db.tag_group).order_by(db.tag_group.c.sort, db.tag_group.c.key)).all()
        return [_group(r) for r in rows]

    def group(self, key: str) -> TagGroup:
        row = self.session.execute(select(db.tag_group).where(db.tag_group.c.key == key)).first()
        if row is None:
            raise NotFound(f"no tag group {key!r}; create it first")
        return _group(row)

    def tags(self, group_key: str | None = None, active_only: bool = False) -> list[Tag]:
        query = select(db.tag).order_by(db.tag.c.group_key, db.tag.c.sort, db.tag.c.key)
        if group_key is not None:
            query = query.where(db.tag.c.group_key == group_key)
        if active_only:
            query = query.where(db.tag.c.active.is_(True))
        return [_tag(r) for r in self.session.execute(query).all()]

    def tag(self, key: str) -> Tag:
        row = self.session.execute(select(db.tag).where(db.tag.c.key == key)).first()
        if row is None:
            raise NotFound(f"no tag {key!r}; an administrator creates tags under Tags")
        return _tag(row)

    # --- changing -----------------------------------------------------------------------------
    def save_group(self, key: str, label: Mapping[str, str], *, exclusive: bool = False,
                   manual: bool = True, roles: Iterable[str] = (), sort: int = 0) -> TagGroup:
        """Create or update a group. Turning ``exclusive`` on is refused while a record holds
        two of its tags (remove one of them first)."""
        self._require_admin()
        errors: dict[str, list[str]] = {}
        _check_key(key, errors)
        clean_label = _check_label(label, errors)
        role_list = sorted({r for r in roles if isinstance(r, str) and r})
        if not isinstance(sort, int) or isinstance(sort, bool) or not -10**6 < sort < 10**6:
            errors.setdefault("sort", []).append("use a whole number")
        if errors:
            raise ValidationFailed(errors)
        values = {"label": clean_label, "exclusive": bool(exclusive), "manual": bool(manual),
                  "roles": role_list, "sort": sort, "updated_at": self.clock()}
        found = self.session.execute(
            select(db.tag_group.c.exclusive).where(db.tag_group.c.key == key)).first()
        if found is None:
            self.session.execute(insert(db.tag_group).values(key=key, **values))
        else:
            if exclusive and not found.exclusive and self._has_doubles(key):
                raise Conflict(f"some records carry two tags of group {key!r}; remove one of "
                               "them before making the group exclusive")
            self.session.execute(update(db.tag_group).where(db.tag_group.c.key == key)
                                 .values(**values))
        log_change(self.session, actor_id=self.actor.user_id, at=self.clock(),
                   subject=f"tag_group:{key}", action="save",
                   detail={k: v for k, v in values.items() if k != "updated_at"})
        return self.group(key)

    def _has_doubles(self, group_key: str) -> bool:
        """Whether some record carries two tags of the group."""
        rt, rt2, t2 = db.record_tag, db.record_tag.alias("rt2"), db.tag.alias("t2")
        query = (select(rt.c.record_id)
                 .join(db.tag, db.tag.c.key == rt.c.tag_key)
                 .join(rt2, (rt2.c.form_key == rt.c.form_key)
                       & (rt2.c.record_id == rt.c.record_id) & (rt2.c.tag_key > rt.c.tag_key))
                 .join(t2, t2.c.key == rt2.c.tag_key)
                 .where(db.tag.c.group_key == group_key, t2.c.group_key == group_key)
                 .limit(1))
        return self.session.execute(query).first() is not None

    def delete_group(self, key: str) -> None:
        self._require_admin()
        self.group(key)
        if self.session.execute(select(exists().where(db.tag.c.group_key == key))).scalar():
            raise Conflict(f"group {key!r} still has tags; delete or move them first")
        self.session.execute(delete(db.tag_group).where(db.tag_group.c.key == key))
        log_change(self.session, actor_id=self.actor.user_id, at=self.clock(),
                   subject=f"tag_group:{key}", action="delete", detail={})

    def save_tag(self, key: str, group_key: str, label: Mapping[str, str], *,
                 color: str = DEFAULT_COLOR, sort: int = 0, active: bool = True) -> Tag:
        """Create or update a tag. Moving a tag to another group is refused while records
        carry it (the exclusive rule of either group could break)."""
        self._require_admin()
        errors: dict[str, list[str]] = {}
        _check_key(key, errors)
        clean_label = _check_label(label, errors)
        if not isinstance(color, str) or not _COLOR.match(color):
            errors.setdefault("color", []).append("use a colour like '#1f8a4c'")
        if not isinstance(sort, int) or isinstance(sort, bool) or not -10**6 < sort < 10**6:
            errors.setdefault("sort", []).append("use a whole number")
        group_found = isinstance(group_key, str) and self.session.execute(
            select(db.tag_group.c.key).where(db.tag_group.c.key == group_key)).first()
        if not group_found:
            errors.setdefault("group_key", []).append(
                f"no tag group {group_key!r}; create the group first")
        if errors:
            raise ValidationFailed(errors)
        values = {"group_key": group_key, "label": clean_label, "color": color.lower(),
                  "sort": sort, "active": bool(active), "updated_at": self.clock()}
        found = self.session.execute(
            select(db.tag.c.group_key).where(db.tag.c.key == key)).first()
        if found is None:
            self.session.execute(insert(db.tag).values(key=key, **values))
        else:
            if found.group_key != group_key and self._in_use(key):
                raise Conflict(f"records carry tag {key!r}; it cannot move to another group "
                               "(create a new tag instead)")
            self.session.execute(update(db.tag).where(db.tag.c.key == key).values(**values))
        log_change(self.session, actor_id=self.actor.user_id, at=self.clock(),
                   subject=f"tag:{key}", action="save",
                   detail={k: v for k, v in values.items() if k != "updated_at"})
        return self.tag(key)

    def _in_use(self, key: str) -> bool:
        return bool(self.session.execute(
            select(exists().where(db.record_tag.c.tag_key == key))).scalar())

    def delete_tag(self, key: str) -> None:
        """Delete a tag no record carries (its history stays); else retire it."""
        self._require_admin()
        self.tag(key)
        if self._in_use(key):
            raise Conflict(f"records carry tag {key!r}; remove it from them or retire the tag "
                           "(active = false) instead")
        self.session.execute(delete(db.tag).where(db.tag.c.key == key))
        log_change(self.session, actor_id=self.actor.user_id, at=self.clock(),
                   subject=f"tag:{key}", action="delete", detail={})
