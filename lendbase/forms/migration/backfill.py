"""Backfill documents: how a publish fills or replaces values (pure, validated up front).

Until the formula language exists a backfill is a small JSON document keyed by field path
(``key`` or ``subtable.key``)::

    {"monthly_income": {"map": {"about 8k": "8000"}, "else": null},
     "risk_grade": {"fill": "B"}}

``map`` replaces specific old values (written as text: ``"12.50"``, ``"2024-01-31"``) by new raw
values, ``null`` clearing them; ``else`` replaces every other value that does not convert
(``null`` clears it); ``fill`` fills empty rows of a field being added, restored or made required.
Every new value must itself pass ``coerce_value`` for the new field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lendbase.errors import MetadataError
from lendbase.forms.migration.convert import FieldBackfill, map_key
from lendbase.forms.migration.operations import (
    AddField,
    Conversion,
    MakeRequired,
    Operation,
    RestoreField,
)
from lendbase.forms.migration.plan import MigrationPlan
from lendbase.forms.model import FieldDef
from lendbase.forms.values import FieldValueError, coerce_value

_KEYS = {"map", "else", "fill"}


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _old_value_key(old: FieldDef, text: str) -> Any:
    """The stored Python value a ``map`` key (always text) stands for."""
    if old.type == "integer":
        number = Decimal(text.strip())
        if number != number.to_integral_value():
            raise ValueError(f"{text!r} is not a whole number")
        return int(number)
    if old.type in {"decimal", "money", "percent"}:
        number = Decimal(text.strip())
        if not number.is_finite():
            raise ValueError(f"{text!r} is not a number")
        return number
    if old.type == "date":
        return date.fromisoformat(text.strip())
    if old.type == "datetime":
        return datetime.fromisoformat(text.strip())
    if old.type == "boolean":
        lowered = text.strip().lower()
        if lowered not in {"true", "false"}:
            raise ValueError(f"{text!r} is not true or false")
        return lowered == "true"
    return text


def _fail(errors: dict[str, list[str]], ptr: str, message: str) -> None:
    errors.setdefault(ptr, []).append(message)


def _new_value(new: FieldDef, raw: Any, ptr: str, errors: dict[str, list[str]],
               element: bool = False) -> Any:
    """``raw`` coerced for the new field (one option for a multiselect map), or None."""
    if raw is None:
        return None
    target = new
    if element:
        target = replace(new, type="select")
    try:
        return coerce_value(target, raw)
    except FieldValueError as exc:
        _fail(errors, ptr, f"{raw!r} is not a valid value for the new field: {exc.text}")
        return None


def parse_backfill(plan: MigrationPlan,
                   backfill: Mapping[str, Any] | None) -> dict[str, FieldBackfill]:
    """Validate a backfill document against the plan; raises ``MetadataError`` with pointers."""
    if not backfill:
        return {}
    errors: dict[str, list[str]] = {}
    if not isinstance(backfill, Mapping):
        raise MetadataError("the backfill must be an object keyed by field path",
                            {"/backfill": ["use {\"field_key\": {\"map\": {...}, \"else\": ...}}"]})
    result: dict[str, FieldBackfill] = {}
    for path, spec in backfill.items():
        ptr = f"/backfill/{_escape(str(path))}"
        ops = plan.operations_for(str(path))
        if not isinstance(spec, Mapping):
            _fail(errors, ptr, "should be an object with map, else and/or fill")
            continue
        for unknown in sorted(set(spec) - _KEYS):
            _fail(errors, f"{ptr}/{_escape(str(unknown))}",
                  f"'{unknown}' is not a backfill key; use map, else or fill")
        conversions = [op for op in ops if isinstance(op, Conversion) and op.accepts_backfill
                       and not op.requires_empty]
        fillable = [op for op in ops if isinstance(op, (AddField, RestoreField, MakeRequired))]
        if not conversions and not fillable:
            _fail(errors, ptr, f"no operation of this publish converts or fills '{path}'; "
                               "remove it from the backfill")
            continue
        mapping: dict[Any, Any] = {}
        has_else = "else" in spec
        else_value = None
        if ("map" in spec or has_else) and not conversions:
            _fail(errors, ptr, f"'{path}' is not converted by this publish; map and else apply "
                               "to fields whose values change type, length, precision or options")
        elif conversions:
            conv = conversions[0]
            old, new = _fields_of(conv)
            raw_map = spec.get("map", {})
            if not isinstance(raw_map, Mapping):
                _fail(errors, f"{ptr}/map", "should be an object {old value: new value}")
                raw_map = {}
            element = new.type == "multiselect"
            for old_text, new_raw in raw_map.items():
                item_ptr = f"{ptr}/map/{_escape(str(old_text))}"
                try:
                    key = str(old_text) if element else _old_value_key(old, str(old_text))
                except (ValueError, InvalidOperation) as exc:
                    _fail(errors, item_ptr, f"cannot match a stored {old.type} value: {exc}")
                    continue
                mapping[map_key(key)] = _new_value(new, new_raw, item_ptr, errors, element)
            if has_else:
                else_value = _new_value(new, spec["else"], f"{ptr}/else", errors)
        has_fill = "fill" in spec
        fill_value = None
        if has_fill:
            target = _fill_target(fillable)
            if target is None:
                _fail(errors, f"{ptr}/fill", f"'{path}' is not added, restored or made required "
                                             "by this publish; fill does not apply")
            elif target.sensitive:
                _fail(errors, f"{ptr}/fill", "a sensitive (encrypted) field cannot be filled by "
                                             "a publish yet")
            elif spec["fill"] is None:
                _fail(errors, f"{ptr}/fill", "fill needs a value")
            else:
                fill_value = _new_value(target, spec["fill"], f"{ptr}/fill", errors)
        result[str(path)] = FieldBackfill(mapping, has_else, else_value, has_fill, fill_value)
    if errors:
        count = sum(len(v) for v in errors.values())
        raise MetadataError(f"the backfill has {count} problem(s)", errors)
    return result


def _fields_of(op: Operation) -> tuple[FieldDef, FieldDef]:
    old, new = getattr(op, "old", None), getattr(op, "field", None)
    assert isinstance(old, FieldDef) and isinstance(new, FieldDef)
    return old, new


def _fill_target(ops: Sequence[Operation]) -> FieldDef | None:
    for op in ops:
        f = getattr(op, "field", None)
        if isinstance(f, FieldDef):
            return f
    return None
