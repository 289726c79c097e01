"""What the visual condition builder (``static/js/condition_builder.js``) may offer on a form:
its ``fields`` and ``fieldGroups`` options, built from the published (compiled) forms.

``fieldGroups`` lists the related records a condition on the form can test (docs/conditions.md
"Related records"): the form's sub-tables, and every published form with a reference field
pointing at it (``{"form": "installment", "link": "customer"}``), each with its own fields and,
one level further, its own related records. Files and sub-tables are not fields a condition
compares; encrypted fields are marked ``sensitive`` (the builder then offers equality, which the
database checks through the keyed hash, only when they are ``hashed``: unique or indexed, and
emptiness otherwise).

Labels come out in one language (``lang``), as the rest of a page does.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from lendbase.errors import NotFound
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.model import FieldDef, FormDef
from lendbase.web.i18n import pick

#: Field types a condition cannot compare (a file is an attachment id; a sub-table is rows).
NOT_COMPARABLE = frozenset({"file", "subtable"})
#: System columns worth offering, with their labels (every form's table has them).
SYSTEM_FIELDS: tuple[tuple[str, Mapping[str, str]], ...] = (
    ("created_at", {"zh": "创建时间", "en": "Created at"}),
    ("updated_at", {"zh": "更新时间", "en": "Updated at"}),
)
#: Related records are offered this many levels deep by default (a referencing form's own
#: referencing forms); the server allows more, the editor rarely needs it.
DEFAULT_DEPTH = 2

FieldJson = dict[str, Any]


def condition_field(f: FieldDef, lang: str) -> FieldJson | None:
    """One field as the builder takes it, or None when conditions cannot compare it. A
    computed field has the type of its result."""
    if f.type in NOT_COMPARABLE:
        return None
    kind = f.result_type if f.type == "computed" else f.type
    if not kind:
        return None
    out: FieldJson = {"key": f.key, "label": pick(f.label, lang, f.key), "type": kind}
    if f.options:
        out["options"] = [{"value": o.value, "label": pick(o.label, lang, o.value)}
                          for o in f.options]
    if f.sensitive:
        out["sensitive"] = True
        if f.has_lookup_hash:
            out["hashed"] = True
    if f.type == "computed":
        out["computed"] = True
    if f.type == "reference" and f.target:
        out["target"] = f.target
    return out


def _fields(defs: Collection[FieldDef], lang: str, *, hidden: Collection[str] = (),
            skip: Collection[str] = (), system: bool = True) -> list[FieldJson]:
    out = []
    for f in defs:
        if f.key in hidden or f.key in skip:
            continue
        item = condition_field(f, lang)
        if item is not None:
            out.append(item)
    if system:
        out += [{"key": key, "label": pick(label, lang, key), "type": "datetime"}
                for key, label in SYSTEM_FIELDS if key not in hidden]
    return out


def form_condition_fields(form: FormDef, lang: str, *,
                          hidden: Collection[str] = ()) -> list[FieldJson]:
    """The ``fields`` option for conditions on ``form``: its comparable fields and the
    creation / update times."""
    return _fields(form.fields, lang, hidden=hidden)


def _groups(schema: CompiledSchema, form: FormDef, lang: str, depth: int,
            hidden: Mapping[str, Collection[str]]) -> list[dict[str, Any]]:
    if depth <= 0:
        return []
    groups: list[dict[str, Any]] = []
    for sub in form.subtables:
        if sub.key in hidden.get(form.key, ()):
            continue
        label = pick(sub.label, lang, sub.key)
        groups.append({"form": form.key, "link": sub.key, "kind": "subtable", "label": label,
                       "linkLabel": label,
                       "fields": _fields(sub.fields, lang, system=False,
                                         hidden=hidden.get(f"{form.key}.{sub.key}", ()))})
    for key in sorted(schema.forms):
        other = schema.forms[key].form
        other_hidden = hidden.get(key, ())
        for link in other.fields:
            if link.type != "reference" or link.target != form.key or link.key in other_hidden:
                continue
            groups.append({
                "form": other.key, "link": link.key, "kind": "reference",
                "label": pick(other.label, lang, other.key),
                "linkLabel": pick(link.label, lang, link.key),
                "fields": _fields(other.fields, lang, hidden=other_hidden, skip=(link.key,)),
                "fieldGroups": _groups(schema, other, lang, depth - 1, hidden),
            })
    return groups


def related_field_groups(schema: CompiledSchema, form_key: str, lang: str, *,
                         depth: int = DEFAULT_DEPTH,
                         hidden_fields: Mapping[str, Collection[str]] | None = None
                         ) -> dict[str, list[dict[str, Any]]]:
    """``{"fields": [...], "fieldGroups": [...]}`` for a condition builder on ``form_key``.

    ``fieldGroups`` holds the form's sub-tables (``kind: "subtable"``, ``form`` = this form,
    ``link`` = the sub-table) and the published forms with a reference field targeting it
    (``kind: "reference"``, ``link`` = that field), each with its ``fields`` (the link itself
    left out) and, for referencing forms, their own ``fieldGroups`` down to ``depth`` levels.
    ``hidden_fields`` (``{form_key: keys}``, ``"form.subtable"`` for columns) are left out, as
    ``ConditionSchema.from_compiled`` leaves them out of what the compilers accept.
    """
    compiled = schema.forms.get(form_key)
    if compiled is None:
        raise NotFound(f"no published form {form_key!r}")
    hidden = hidden_fields or {}
    form = compiled.form
    return {"fields": form_condition_fields(form, lang, hidden=hidden.get(form_key, ())),
            "fieldGroups": _groups(schema, form, lang, depth, hidden)}


__all__ = ["DEFAULT_DEPTH", "condition_field", "form_condition_fields", "related_field_groups"]
