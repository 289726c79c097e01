"""What happens to one stored value when a field changes (pure: no database access).

``ValueConverter.outcome(value)`` answers with ``coerce_value`` — the function record validation
uses — so the dry-run and the publish agree with the form about which values convert. The
converter also says whether the database's own CAST produces exactly the converted value
(``same``) or whether the value must be written explicitly (``changed``, ``mapped``...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from lendbase.forms.compile import column_type
from lendbase.forms.model import FieldDef
from lendbase.forms.values import DEFAULT_TZ, FieldValueError, coerce_value, is_empty

Status = Literal["same", "changed", "mapped", "replaced", "cleared", "emptied", "failed"]
#: Outcomes that leave the column without the value (the user confirmed, or it was empty).
NULL_STATUSES = frozenset({"cleared", "emptied"})

_INT_TEXT = re.compile(r"-?[0-9]{1,18}")
_DEC_TEXT = re.compile(r"-?[0-9]{1,38}(\.[0-9]{1,38})?")
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TEXTUAL_STORAGE = {"text", "textarea", "phone", "email", "id_number", "uscc", "region",
                    "select", "auto_number"}


@dataclass(frozen=True)
class FieldBackfill:
    """A validated backfill for one field: see ``lendbase.forms.migration.backfill``."""

    mapping: Mapping[Any, Any] = field(default_factory=dict)
    has_else: bool = False
    else_value: Any = None
    has_fill: bool = False
    fill_value: Any = None


@dataclass(frozen=True)
class Outcome:
    status: Status
    value: Any = None
    #: why the value does not convert by itself ({"en": ..., "zh": ...}); None when it does
    reason: Mapping[str, str] | None = None

    @property
    def converts(self) -> bool:
        return self.status != "failed"


def reasons(f: FieldDef, raw: Any) -> dict[str, str] | None:
    """``coerce_value``'s message in both languages, or None when ``raw`` converts."""
    try:
        coerce_value(f, raw, "en")
    except FieldValueError as exc:
        try:
            coerce_value(f, raw, "zh")
        except FieldValueError as zh:
            return {"en": exc.text, "zh": zh.text}
        return {"en": exc.text, "zh": exc.text}  # pragma: no cover - same code path per language
    return None


def as_input(value: Any, target: FieldDef) -> Any:
    """A stored Python value as the raw input the form would receive (JSON-like)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(DEFAULT_TZ)
        return value if target.type in {"date", "datetime"} else value.isoformat()
    if isinstance(value, date):
        return value if target.type in {"date", "datetime"} else value.isoformat()
    return value


def map_key(value: Any) -> Any:
    """Key under which a stored value is looked up in a backfill ``map`` (Decimal == int...)."""
    if isinstance(value, list):
        return tuple(value)
    return value


class ValueConverter:
    """Converts stored values of ``old`` into values of ``new``, honouring a backfill.

    ``in_place`` means the column keeps its SQL type (only changed values are rewritten);
    otherwise a new column is filled with CAST for the values where CAST is exact, and explicitly
    for the others.
    """

    def __init__(self, old: FieldDef, new: FieldDef, backfill: FieldBackfill | None = None,
                 in_place: bool = False) -> None:
        self.old = old
        self.new = new
        self.backfill = backfill or FieldBackfill()
        self.in_place = in_place

    def outcome(self, value: Any) -> Outcome:
        if value is None:
            return Outcome("same", None)
        if self.new.type == "multiselect" and isinstance(value, list):
            return self._multiselect(value)
        bf = self.backfill
        key = map_key(value)
        if key in bf.mapping:
            target = bf.mapping[key]
            why = reasons(self.new, as_input(value, self.new))
            return Outcome("cleared" if target is None else "mapped", target, why)
        raw = as_input(value, self.new)
        if is_empty(raw):
            return Outcome("emptied", None)
        try:
            converted = coerce_value(self.new, raw)
        except FieldValueError:
            why = reasons(self.new, raw)
            if bf.has_else:
                return Outcome("cleared" if bf.else_value is None else "replaced",
                               bf.else_value, why)
            return Outcome("failed", None, why)
        return Outcome("same" if self._exact(value, converted) else "changed", converted)

    def _multiselect(self, value: list[Any]) -> Outcome:
        bf = self.backfill
        items: list[Any] = []
        touched = False
        for item in value:
            if item in bf.mapping:
                touched = True
                if bf.mapping[item] is not None:
                    items.append(bf.mapping[item])
            else:
                items.append(item)
        try:
            converted = coerce_value(self.new, items) if items else None
        except FieldValueError:
            why = reasons(self.new, items)
            if bf.has_else:
                return Outcome("cleared" if bf.else_value is None else "replaced",
                               bf.else_value, why)
            return Outcome("failed", None, why)
        if touched:
            return Outcome("mapped" if converted else "cleared", converted,
                           reasons(self.new, value))
        if converted is None:
            return Outcome("emptied", None)
        return Outcome("same" if converted == value else "changed", converted)

    def _exact(self, old: Any, new: Any) -> bool:
        """Does the database produce ``new`` from ``old`` by itself (in place: unchanged)?"""
        if self.in_place:
            return type(old) is type(new) and old == new
        return cast_is_exact(old, new, self.new)


def cast_is_exact(old: Any, new: Any, target: FieldDef) -> bool:
    """True when ``CAST(old AS <target column type>)`` yields exactly ``new`` on every dialect.

    Deliberately narrow: canonical text of integers, decimals and ISO dates, integers to text and
    numbers, integral decimals to integers. Everything else is written explicitly.
    """
    if isinstance(old, bool) or isinstance(new, bool):
        return False
    kind = target.type
    if target.sensitive:
        return False
    if kind in _TEXTUAL_STORAGE:
        if isinstance(old, str):
            return old == new
        return isinstance(old, int) and new == str(old)
    if kind == "integer":
        if isinstance(old, str):
            return bool(_INT_TEXT.fullmatch(old)) and int(old) == new
        return isinstance(old, (int, Decimal)) and old == new
    if kind in {"decimal", "money", "percent"}:
        if isinstance(old, str):
            return bool(_DEC_TEXT.fullmatch(old)) and Decimal(old) == new
        return isinstance(old, (int, Decimal)) and old == new
    if kind == "date":
        if isinstance(old, str):
            return bool(_DATE_TEXT.fullmatch(old)) and date.fromisoformat(old) == new
        return type(old) is date and old == new
    return False


def same_storage(old: FieldDef, new: FieldDef, dialect: Any) -> bool:
    """Do both fields store into the same SQL type on ``dialect`` (no column rebuild needed)?"""
    return str(column_type(old).compile(dialect=dialect)) == \
        str(column_type(new).compile(dialect=dialect))
