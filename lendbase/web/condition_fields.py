"""What the visual condition builder (``static/js/condition_builder.js``) may offer on a form:
its ``fields`` and ``fieldGroups`` options, built from the published (compiled) forms.

``fieldGroups`` lists the related records a condition on the form can test (docs/conditions.md
"Related records"): the form's sub-tables, and every published form with a reference field
pointing at it (``{"form": "installment", "link": "customer"}``), each with its own fields and,
one level further, its own related records. It also holds the fields of the records the
form's reference fields point at (docs/conditions.md "Fields of a referenced record"): one plain
group per reference (``kind: "lookup"``, no ``form`` / ``link``, so the builder shows it as a
group of the field menu) whose fields have dotted keys (``customer.rating``, two references
deep: ``loan.customer.rating``). Files and sub-tables are not fields a condition compares;
encrypted fields are marked ``sensitive`` (the builder then offers equality, which the database
checks through the keyed hash, only when they are ``hashed``: unique or indexed, and emptiness
otherwise), on a referenced record as on the form itself.

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
#: Fields of referenced records are offered this many references deep from the form
#: (``loan.customer.rating`` on a repayment), one reference deep inside the related records
#: directly under the form...
LOOKUP_DEPTH = 2
#: ...and a deeper reference only while the form's lookups stay within this many fields (the
#: fields of its own references are always offered).
MAX_LOOKUP_FIELDS = 200
#: Between the labels of a lookup's steps: "客户 › 评级".
LABEL_SEP = " › "

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


def _readable(key: str, readable: Collection[str] | None) -> bool:
    return readable is None or key in readable


def lookup_field_groups(schema: CompiledSchema, form: FormDef, lang: str, *,
                        depth: int = LOOKUP_DEPTH,
                        hidden_fields: Mapping[str, Collection[str]] | None = None,
                        forms: Collection[str] | None = None,
                        skip: Collection[str] = ()) -> list[dict[str, Any]]:
    """The fields of the records ``form``'s reference fields point at, one group per
    reference: ``{"key": "customer", "kind": "lookup", "target": "customer", "label": "客户",
    "fields": [{"key": "customer.rating", "label": "客户 › 评级", ...}]}``, a reference of
    the referenced record (``loan.customer``, label "贷款 › 客户") right after its parent.

    Deeper levels (up to ``depth``) are added a whole group at a time while the total stays
    within ``MAX_LOOKUP_FIELDS``. References in ``skip`` (of ``form`` itself), hidden
    references, hidden fields of the target and targets outside ``forms`` (when given) are
    left out, as the compilers refuse them."""
    hidden = hidden_fields or {}
    found: list[tuple[tuple[int, ...], dict[str, Any]]] = []
    level: list[tuple[tuple[int, ...], str, str, FormDef]] = [((), "", "", form)]
    total = 0
    for step in range(depth):
        deeper = []
        for order, key_prefix, label_prefix, source in level:
            source_hidden = hidden.get(source.key, ())
            for index, ref in enumerate(source.fields):
                if (ref.type != "reference" or not ref.target or ref.key in source_hidden
                        or (step == 0 and ref.key in skip) or ref.target not in schema.forms
                        or not _readable(ref.target, forms)):
                    continue
                target = schema.forms[ref.target].form
                key = f"{key_prefix}{ref.key}"
                label = f"{label_prefix}{pick(ref.label, lang, ref.key)}"
                fields = [{**f, "key": f"{key}.{f['key']}",
                           "label": f"{label}{LABEL_SEP}{f['label']}"}
                          for f in _fields(target.fields, lang,
                                           hidden=hidden.get(target.key, ()))]
                if step and total + len(fields) > MAX_LOOKUP_FIELDS:
                    continue
                total += len(fields)
                found.append(((*order, index), {"key": key, "kind": "lookup",
                                                "target": target.key, "label": label,
                                                "fields": fields}))
                deeper.append(((*order, index), f"{key}.", f"{label}{LABEL_SEP}", target))
        level = deeper
    return [group for _, group in sorted(found, key=lambda item: item[0])]


def _groups(schema: CompiledSchema, form: FormDef, lang: str, depth: int,
            hidden: Mapping[str, Collection[str]],
            readable: Collection[str] | None, *, lookups: bool) -> list[dict[str, Any]]:
    """Related records of ``form``; with ``lookups``, a referencing form's group also offers
    the fields of the records its references point at (one reference deep: more would
    multiply the page's size by every related group)."""
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
        if not _readable(key, readable):
            continue
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
                "fieldGroups": [
                    *_groups(schema, other, lang, depth - 1, hidden, readable, lookups=False),
                    *(lookup_field_groups(schema, other, lang, depth=1, hidden_fields=hidden,
                                          forms=readable, skip=(link.key,)) if lookups else ())],
            })
    return groups


def related_field_groups(schema: CompiledSchema, form_key: str, lang: str, *,
                         depth: int = DEFAULT_DEPTH,
                         hidden_fields: Mapping[str, Collection[str]] | None = None,
                         forms: Collection[str] | None = None
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
            "fieldGroups": [*_groups(schema, form, lang, depth, hidden, forms, lookups=True),
                            *lookup_field_groups(schema, form, lang, hidden_fields=hidden,
                                                 forms=forms)]}


__all__ = ["DEFAULT_DEPTH", "LOOKUP_DEPTH", "MAX_LOOKUP_FIELDS", "condition_field",
           "form_condition_fields", "lookup_field_groups", "related_field_groups"]
