"""Validate a record's input against its form: every failing field reported at once.

Visibility conditions (of fields and of sections) are evaluated on the typed, merged record:
stored values overlaid with the coerced input and, on create, the defaults of fields not sent.
A hidden field is neither required nor saved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lendbase.conditions.predicate import evaluate
from lendbase.errors import ValidationFailed
from lendbase.forms.compile import SYSTEM_COLUMNS
from lendbase.forms.messages import message
from lendbase.forms.model import FieldDef, FormDef
from lendbase.forms.values import (
    FieldValueError,
    coerce_value,
    is_empty,
    lenient,
    literal_coercer,
)

#: Keys a client may send back unchanged (they round-trip from GET); they are never written.
_IGNORED_INPUT = frozenset(SYSTEM_COLUMNS)
_NOT_INPUT = frozenset({"auto_number", "computed"})
#: A sub-table row's own id, sent back on update: 1..2^63-1 like every id.
_ROW_ID = FieldDef("id", "reference", {"en": "id", "zh": "id"})


def visible_fields(form_fields: tuple[FieldDef, ...], record: Mapping[str, Any],
                   hidden_sections: set[str] | None = None) -> set[str]:
    """Keys of the fields whose ``visible_when`` holds for ``record``."""
    # Metadata literals were checked at publish; one that does not convert compares as is.
    coerce = lenient(literal_coercer({f.key: f for f in form_fields}))
    shown = set()
    for f in form_fields:
        if hidden_sections and f.key in hidden_sections:
            continue
        if f.visible_when is None or evaluate(f.visible_when, record, coerce):
            shown.add(f.key)
    return shown


def fields_in_hidden_sections(form: FormDef, record: Mapping[str, Any]) -> set[str]:
    coerce = lenient(literal_coercer({f.key: f for f in form.fields}))
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
            try:
                cleaned["id"] = coerce_value(_ROW_ID, row["id"], lang)
            except FieldValueError as exc:
                sub_errors.setdefault("id", []).append(exc.text)
        for key, messages in sub_errors.items():
            errors[f"{f.key}.{i}.{key}"] = messages
        cleaned_rows.append(cleaned)
    return cleaned_rows


def _validate_values(fields: tuple[FieldDef, ...], data: Mapping[str, Any], lang: str,
                     errors: dict[str, list[str]], partial: bool,
                     ignore: frozenset[str] | set[str] = _IGNORED_INPUT,
                     existing: Mapping[str, Any] | None = None,
                     hidden_sections: Callable[[Mapping[str, Any]], set[str]] | None = None,
                     ) -> dict[str, Any]:
    by_key = {f.key: f for f in fields}
    for key in data:
        if key not in by_key and key not in ignore:
            errors.setdefault(key, []).append(
                message("unknown_field", lang, fields=", ".join(sorted(by_key))))
    # Coerce what was given, and apply the defaults of what was not, before judging visibility:
    # visibility must see the record as it will be stored (typed values, defaults included).
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
    defaults: dict[str, Any] = {}
    if not partial:
        for f in fields:
            if (f.key in data or f.default is None or f.type in _NOT_INPUT
                    or f.type == "subtable"):
                continue
            try:
                defaults[f.key] = typed[f.key] = coerce_value(f, f.default, lang)
            except FieldValueError:
                pass  # a bad default is a metadata problem, not the user's
    hidden = hidden_sections(typed) if hidden_sections is not None else None
    shown = visible_fields(fields, typed, hidden)
    # A value sent for a field that ends up hidden is dropped, not judged and not reported:
    # clients (and our own pages) send the whole form back, including fields that the
    # current choice hides (e.g. enterprise fields after switching to individual), and
    # refusing those would break ordinary edits. Only what is shown is validated and saved.
    for key, text in value_errors.items():
        if key in shown:
            errors.setdefault(key, []).append(text)
    cleaned: dict[str, Any] = {}
    for f in fields:
        if f.key not in shown or f.type in _NOT_INPUT:
            continue
        provided = f.key in data
        if f.type == "subtable":
            if provided:
                # Only null and [] clear the rows; 0, false, "" or an object are refused
                # (not_rows) rather than silently deleting every row.
                rows = data[f.key]
                cleaned[f.key] = _validate_rows(f, [] if rows is None else rows, lang, errors)
            elif not partial and f.min_rows:
                errors.setdefault(f.key, []).append(message("too_few_rows", lang, min=f.min_rows))
            continue
        if provided:
            if f.key not in errors:
                cleaned[f.key] = typed.get(f.key)
        elif f.key in defaults:
            cleaned[f.key] = defaults[f.key]
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
    cleaned = _validate_values(form.fields, data, lang, errors, partial=existing is not None,
                               existing=existing,
                               hidden_sections=lambda typed: fields_in_hidden_sections(form, typed))
    if errors:
        raise ValidationFailed(errors)
    return cleaned
