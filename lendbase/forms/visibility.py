"""Checks of the ``visible_when`` conditions in a form document (part of its semantic checks).

A visibility condition is evaluated in three places: in the browser while a form is filled
(``static/js/conditions.js``), on the server when a record is saved (a hidden field is neither
required nor saved) and when a page is drawn. So it may use only what all three evaluate: and /
or / not groups and comparisons of one field of the same record (of the same sub-table row, for a
sub-table column) with literal values. Relative dates, field-against-field, formulas and
conditions over related records belong to rules and segments.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lendbase.conditions.predicate import MAX_DEPTH, MAX_LEAVES, UnsupportedNode, check_value

#: The operators the browser evaluates (lendbase/web/static/js/conditions.js).
VISIBILITY_OPS = ("=", "!=", "<", "<=", ">", ">=", "between", "in", "not_in", "contains",
                  "starts_with", "ends_with", "is_empty", "is_not_empty")
#: Field types a visibility condition cannot read (no single value in the form).
UNTESTABLE = frozenset({"subtable", "file", "computed"})


def _leaves(node: Any, ptr: str, depth: int = 1) -> Iterator[tuple[str, Any, str | None]]:
    """(pointer, leaf, problem) for every comparison; groups are walked, other nodes reported."""
    if depth > MAX_DEPTH:
        yield ptr, node, f"is nested more than {MAX_DEPTH} levels deep; simplify it"
        return
    if not isinstance(node, Mapping) or not node:
        yield ptr, node, "must be a non-empty condition object"
        return
    for group in ("and", "or"):
        if group in node:
            parts = node[group]
            if not isinstance(parts, list) or not parts:
                yield f"{ptr}/{group}", parts, f"\"{group}\" takes a non-empty list of conditions"
                return
            for i, part in enumerate(parts):
                yield from _leaves(part, f"{ptr}/{group}/{i}", depth + 1)
            return
    if "not" in node:
        yield from _leaves(node["not"], f"{ptr}/not", depth + 1)
        return
    if "field" in node:
        yield ptr, node, None
        return
    yield ptr, node, (f"has keys {sorted(node)}; a visibility condition is built of and / or / "
                      "not groups and comparisons {\"field\", \"op\", \"value\"}")


def condition_errors(condition: Any, ptr: str, fields: Mapping[str, Mapping[str, Any]],
                     owner: str | None, errors: dict[str, list[str]]) -> None:
    """Add to ``errors`` what is wrong with ``condition`` (at JSON pointer ``ptr``), where
    ``fields`` are the field documents it may test and ``owner`` the field it belongs to."""
    count = 0
    for at, leaf, problem in _leaves(condition, ptr):
        if problem is not None:
            errors.setdefault(at, []).append(f"the condition {problem}")
            continue
        count += 1
        key, op = leaf["field"], leaf.get("op", "=")
        if not isinstance(key, str) or key not in fields:
            known = ", ".join(sorted(k for k, f in fields.items()
                                     if k != owner and f["type"] not in UNTESTABLE)) or "none"
            errors.setdefault(f"{at}/field", []).append(
                f"'{key}' is not a field this condition can test; use one of: {known}")
            continue
        if key == owner:
            errors.setdefault(f"{at}/field", []).append(
                f"a field cannot be shown depending on itself; test another field than '{key}'")
        elif fields[key]["type"] in UNTESTABLE:
            errors.setdefault(f"{at}/field", []).append(
                f"'{key}' is a {fields[key]['type']} field, which a visibility condition cannot "
                "test; choose another field")
        if op not in VISIBILITY_OPS:
            errors.setdefault(f"{at}/op", []).append(
                f"operator {op!r} is not available for visibility; use one of: "
                + ", ".join(VISIBILITY_OPS))
            continue
        value = leaf.get("value")
        if isinstance(value, Mapping):
            errors.setdefault(f"{at}/value", []).append(
                "a visibility condition compares with a fixed value, not another field or a "
                "formula; enter the value itself")
            continue
        try:
            check_value(key, op, value)
        except UnsupportedNode as exc:
            errors.setdefault(f"{at}/value", []).append(exc.message)
    if count > MAX_LEAVES:
        errors.setdefault(ptr, []).append(
            f"the condition has more than {MAX_LEAVES} comparisons; narrow it down")


def visibility_errors(doc: Mapping[str, Any], sections: list[tuple[str, Mapping[str, Any]]],
                      errors: dict[str, list[str]]) -> None:
    """Check every ``visible_when`` of a schema-valid form document: of its fields (against the
    form's fields), of its sub-table columns (against their sibling columns) and of its
    sections (``sections``: (pointer, section) pairs)."""
    top = {f["key"]: f for f in doc["fields"]}
    for i, f in enumerate(doc["fields"]):
        if "visible_when" in f:
            condition_errors(f["visible_when"], f"/fields/{i}/visible_when", top, f["key"],
                             errors)
        columns = {c["key"]: c for c in f.get("fields", ()) or ()}
        for j, column in enumerate(f.get("fields", ()) or ()):
            if "visible_when" in column:
                condition_errors(column["visible_when"],
                                 f"/fields/{i}/fields/{j}/visible_when", columns,
                                 column["key"], errors)
    for ptr, section in sections:
        if "visible_when" in section:
            condition_errors(section["visible_when"], f"{ptr}/visible_when", top, None, errors)
