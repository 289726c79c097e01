"""Validate a record's input against its form: every failing field reported at once.

Visibility conditions are evaluated on the merged record (stored values overlaid with the input);
a hidden field is neither required nor saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lendbase.conditions.predicate import evaluate
from lendbase.errors import ValidationFailed
from lendbase.forms.compile import SYSTEM_COLUMNS
from lendbase.forms.messages import message
from lendbase.forms.model import FieldDef, FormDef
from lendbase.forms.values import FieldValueError, coerce_value, is_empty, literal_coercer

#: Keys a client may send back unchanged (they round-trip from GET); they are never written.
_IGNORED_INPUT = frozenset(SYSTEM_COLUMNS)
_NOT_INPUT = frozenset({"auto_number", "computed"})


def visible_fields(form_fields: tuple[FieldDef, ...], record: Mapping[str, Any],
                   hidden_sections: set[str] | None = None) -> set[str]:
    """Keys of the fields whose ``visible_when`` holds for ``record``."""
    coerce = literal_coercer({f.key: f for f in form_fields})
    shown = set()
    for f in form_fields:
        if hidden_sections and f.key in hidden_sections:
            continue
        if f.visible_when is None or evaluate(f.visible_when, record, coerce):
            shown.add(f.key)
    return shown


def fields_in_hidden_sections(form: FormDef, record: Mapping[str, Any]) -> set[str]:
    coerce = literal_coercer({f.key: f for f in form.fields})
    hidden: set[str] = set()
    for tab in form.tabs:
        for section in tab.sections:
            if section.visible_when and not evaluate(section.visible_when, record, coerce):
                hidden.update(section.fields)
    return hidden


def _validate_rows(f: FieldDef, rows: Any, lang: str,
                   errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        errors.setdefault(f.key, []).append(message("not_rows", lang))
        return []
    if f.min_rows is not None and len(rows) < f.min_rows:
        errors.setdefault(f.key, []).append(message("too_few_rows", lang, min=f.min_rows))
    if f.max_rows is not None and len(rows) > f.max_rows:
        errors.setdefault(f.key, []).append(message("too_many_rows", lang, max=f.max_rows))
    cleaned_rows = []
    for i, row in enumerate(rows):
        sub_errors: dict[str, list[str]] = {}
        cleaned = _validate_values(f.fields, row, lang, sub_errors, partial=False,
                                   ignore={"id", "seq", "parent_id"})
        if "id" in row and row["id"] not in (None, ""):
            cleaned["id"] = row["id"]
        for key, messages in sub_errors.items():
            errors[f"{f.key}.{i}.{key}"] = messages
        cleaned_rows.append(cleaned)
    return cleaned_rows


def _validate_values(fields: tuple[FieldDef, ...], data: Mapping[str, Any], lang: str,
                     errors: dict[str, list[str]], partial: bool,
                     ignore: frozenset[str] | set[str] = _IGNORED_INPUT,
                     existing: Mapping[str, Any] | None = None,
                     hidden_sections: set[str] | None = None) -> dict[str, Any]:
    by_key = {f.key: f for f in fields}
    for key in data:
        if key not in by_key and key not in ignore:
            errors.setdefault(key, []).append(
                message("unknown_field", lang, fields=", ".join(sorted(by_key))))
    # Coerce what was given first so that visibility sees typed values.
    typed: dict[str, Any] = dict(existing or {})
    value_errors: dict[str, str] = {}
    for key, raw in data.items():
        f = by_key.get(key)
        if f is None or f.type in _NOT_INPUT or f.type == "subtable":
            continue
        if is_empty(raw):
            typed[key] = None
            continue
        try:
            typed[key] = coerce_value(f, raw, lang)
        except FieldValueError as exc:
            value_errors[key] = exc.text
            typed[key] = None
    shown = visible_fields(fields, typed, hidden_sections)
    for key, text in value_errors.items():
        if key in shown:  # a hidden field's value is dropped, not judged
            errors.setdefault(key, []).append(text)
    cleaned: dict[str, Any] = {}
    for f in fields:
        if f.key not in shown or f.type in _NOT_INPUT:
            continue
        provided = f.key in data
        if f.type == "subtable":
            if provided:
                cleaned[f.key] = _validate_rows(f, data[f.key] or [], lang, errors)
            elif not partial and f.min_rows:
                errors.setdefault(f.key, []).append(message("too_few_rows", lang, min=f.min_rows))
            continue
        if provided:
            if f.key not in errors:
                cleaned[f.key] = typed.get(f.key)
        elif not partial and f.default is not None:
            try:
                cleaned[f.key] = typed[f.key] = coerce_value(f, f.default, lang)
            except FieldValueError:
                pass  # a bad default is a metadata problem, not the user's
        if f.required and f.key not in errors and is_empty(typed.get(f.key)):
            if provided or not partial or existing is not None:
                errors.setdefault(f.key, []).append(message("required", lang))
    return cleaned


def validate_record(form: FormDef, data: Mapping[str, Any], lang: str = "en",
                    existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Cleaned values to write; raises ``ValidationFailed`` with every failing field.

    ``existing`` (the stored record, for an update) takes part in visibility and required
    checks; only the fields present in ``data`` are returned for writing.
    """
    if not isinstance(data, Mapping):
        raise ValidationFailed({"_": ["the record must be a JSON object of field values"]})
    errors: dict[str, list[str]] = {}
    merged = {**(existing or {}), **data}
    hidden_sections = fields_in_hidden_sections(form, merged)
    cleaned = _validate_values(form.fields, data, lang, errors, partial=existing is not None,
                               existing=existing, hidden_sections=hidden_sections)
    if errors:
        raise ValidationFailed(errors)
    return cleaned
