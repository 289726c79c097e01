"""``plan_migration``: the pure diff of two form definitions into migration operations.

Nothing here reads a database. The plan also carries the archived fields the form will hold after
the publish (``lb_form_schema.archived``): removed fields are archived, never dropped, and a field
added again under an archived key is restored with its data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from sqlalchemy import Numeric, String

from lendbase.forms.compile import column_type
from lendbase.forms.migration.operations import (
    AddField,
    AddFormIndex,
    AddIndex,
    AddLookupHash,
    AddSubtable,
    ArchiveField,
    ArchiveSubtable,
    ChangeOnDelete,
    ChangePrecision,
    ChangeRules,
    ChangeType,
    Conversion,
    CreateForm,
    DropFormIndex,
    DropIndex,
    DropLookupHash,
    DropUnique,
    MakeRequired,
    MakeUnique,
    MetadataOnly,
    NarrowLength,
    Operation,
    RemoveOptions,
    RestoreField,
    RestoreSubtable,
    RetargetReference,
    ToggleSensitive,
    Unsupported,
    Where,
    WidenLength,
    WidenPrecision,
)
from lendbase.forms.model import FieldDef, FormDef

#: Validation rules that can make existing values invalid when they become stricter.
_RULES = ("min", "max", "min_length", "pattern", "min_items", "max_items", "level")
#: Properties whose change is handled by a dedicated operation (or by none: ``key``, ``fields``).
_STRUCTURAL = frozenset({"key", "type", "sensitive", "target", "on_delete", "max_length",
                         "decimals", "digits", "required", "unique", "indexed", "searchable",
                         "options", "fields", *_RULES})
_FORM_METADATA = ("label", "description", "title_field", "tabs", "list_columns", "default_sort",
                  "list_filters", "permissions", "lifecycle")


@dataclass(frozen=True)
class MigrationPlan:
    """The operations of one publish, in the order they are applied."""

    form_key: str
    operations: tuple[Operation, ...]
    #: The form's archived fields after the publish (sub-table entries carry their fields).
    archived: tuple[FieldDef, ...] = ()

    @property
    def creates_form(self) -> bool:
        return any(isinstance(op, CreateForm) for op in self.operations)

    @property
    def needs_confirmation(self) -> bool:
        return any(op.risk == "confirm" for op in self.operations)

    @property
    def refused(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.risk == "refused")

    @property
    def changes_schema(self) -> bool:
        return any(not op.metadata_only for op in self.operations)

    def operations_for(self, path: str) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.path == path)

    def describe(self, lang: str = "en") -> list[str]:
        return [op.describe(lang) for op in self.operations]

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "form": self.form_key,
            "needs_confirmation": self.needs_confirmation,
            "refused": bool(self.refused),
            "operations": [op.to_dict(lang) for op in self.operations],
        }


def plan_migration(old: FormDef | None, new: FormDef,
                   archived: tuple[FieldDef, ...] = ()) -> MigrationPlan:
    """The operations that turn the published ``old`` form (None: first publish) into ``new``.

    ``archived`` are the fields archived by earlier publishes: top-level fields, and sub-table
    entries (a ``subtable`` field whose ``fields`` are the archived columns of that child table;
    when the sub-table itself is not in the form any more the whole child table is archived).
    """
    at = Where(new.key)
    if old is None:
        return MigrationPlan(new.key, (CreateForm(at, new),), ())
    if old.key != new.key:
        raise ValueError(f"cannot plan a migration from form {old.key!r} to {new.key!r}")
    arch_fields = {f.key: f for f in archived if f.stored}
    arch_subs = {f.key: f for f in archived if f.type == "subtable"}
    ops: list[Operation] = []
    ops += _field_set_changes(at, old.fields, new.fields, arch_fields, arch_subs)
    ops += _form_index_changes(at, old, new)
    what = tuple(name for name in _FORM_METADATA if _form_prop(old, name) != _form_prop(new, name))
    if what:
        ops.append(MetadataOnly(at, None, None, _layout_names(what)))
    return MigrationPlan(new.key, tuple(ops), next_archived(old, new, archived))


def _form_prop(form: FormDef, name: str) -> Any:
    if name != "tabs":
        return getattr(form, name)
    # Fields left out of the layout land in a generated "_other" section: not a layout change.
    return tuple(replace(t, sections=tuple(s for s in t.sections if s.key != "_other"))
                 for t in form.tabs)


def _layout_names(what: Iterable[str]) -> tuple[str, ...]:
    return tuple("layout" if w == "tabs" else w for w in what)


def _field_set_changes(at: Where, old_fields: Iterable[FieldDef], new_fields: Iterable[FieldDef],
                       arch_fields: Mapping[str, FieldDef],
                       arch_subs: Mapping[str, FieldDef]) -> list[Operation]:
    old_by_key = {f.key: f for f in old_fields}
    new_keys = set()
    ops: list[Operation] = []
    for f in new_fields:
        new_keys.add(f.key)
        before = old_by_key.get(f.key)
        if before is not None:
            ops += _field_changes(at, before, f, arch_subs)
        elif f.type == "subtable":
            ops += _added_subtable(at, f, arch_subs.get(f.key))
        elif not f.stored:
            ops.append(MetadataOnly(at, f.key, f.label, ("added (computed, no column)",)))
        elif f.key in arch_fields:
            ops.append(RestoreField(at, f, arch_fields[f.key]))
            ops += _stored_field_changes(at, arch_fields[f.key], f)
        else:
            ops.append(AddField(at, f))
    for f in old_by_key.values():
        if f.key in new_keys:
            continue
        if f.type == "subtable":
            ops.append(ArchiveSubtable(at, f))
        elif f.stored:
            ops.append(ArchiveField(at, f))
        else:
            ops.append(MetadataOnly(at, f.key, f.label, ("removed (computed, no column)",)))
    return ops


def _added_subtable(at: Where, f: FieldDef, archived: FieldDef | None) -> list[Operation]:
    if archived is None:
        return [AddSubtable(at, f)]
    child = Where(at.form_key, f.key, f.label)
    restored_fields = {c.key: c for c in archived.fields if c.stored}
    return [RestoreSubtable(at, f, archived),
            *_field_set_changes(child, (), f.fields, restored_fields, {})]


def _field_changes(at: Where, old: FieldDef, new: FieldDef,
                   arch_subs: Mapping[str, FieldDef]) -> list[Operation]:
    if old.type == "subtable" and new.type == "subtable":
        child = Where(at.form_key, new.key, new.label)
        arch = arch_subs.get(new.key)
        arch_children = {c.key: c for c in (arch.fields if arch else ()) if c.stored}
        ops = _field_set_changes(child, old.fields, new.fields, arch_children, {})
        what = _changed_props(old, new) - {"fields"}
        if what:
            ops.append(MetadataOnly(at, new.key, new.label, tuple(sorted(what))))
        return ops
    if old.type == "subtable" or new.type == "subtable" or old.stored != new.stored:
        return [Unsupported(at, old, new)]
    if not new.stored:
        what = _changed_props(old, new)
        return [MetadataOnly(at, new.key, new.label, tuple(sorted(what)))] if what else []
    return _stored_field_changes(at, old, new)


def _changed_props(old: FieldDef, new: FieldDef) -> set[str]:
    return {f.name for f in fields(FieldDef) if getattr(old, f.name) != getattr(new, f.name)}


def _is_unique(f: FieldDef) -> bool:
    return f.unique or f.type == "auto_number"


def _has_value_index(f: FieldDef) -> bool:
    return f.indexed and not _is_unique(f) and f.type not in {"reference", "user", "file"}


def _has_search_index(f: FieldDef) -> bool:
    return f.searchable and not f.sensitive


def _storage_change(at: Where, old: FieldDef, new: FieldDef) -> Conversion | None:
    """Length or precision changes of a column that keeps its field type."""
    old_t, new_t = column_type(old), column_type(new)
    if isinstance(old_t, Numeric) and isinstance(new_t, Numeric):
        p0, s0, p1, s1 = old_t.precision or 0, old_t.scale or 0, new_t.precision or 0, \
            new_t.scale or 0
        if (p0, s0) == (p1, s1):
            return None
        if s1 >= s0 and p1 - s1 >= p0 - s0:
            return WidenPrecision(at, old, new)
        return ChangePrecision(at, old, new)
    old_len = old_t.length if isinstance(old_t, String) else None
    new_len = new_t.length if isinstance(new_t, String) else None
    if old_len and new_len and old_len != new_len:  # String(n); Text has no length
        return WidenLength(at, old, new) if new_len > old_len else NarrowLength(at, old, new)
    if old.max_length != new.max_length and new.max_length is not None and (
            old.max_length is None or new.max_length < old.max_length):
        return NarrowLength(at, old, new)  # Text column (textarea, encrypted): checked only
    return None


def _stored_field_changes(at: Where, old: FieldDef, new: FieldDef) -> list[Operation]:
    ops: list[Operation] = []
    rebuild: Operation | None = None
    conversion: Conversion | None = None
    if old.sensitive != new.sensitive:
        rebuild = ToggleSensitive(at, old, new)
    elif old.type != new.type:
        conversion = ChangeType(at, old, new)
    elif old.type == "reference" and old.target != new.target:
        rebuild = RetargetReference(at, old, new)
    elif old.type == "reference" and old.on_delete != new.on_delete:
        rebuild = ChangeOnDelete(at, old, new)
    else:
        conversion = _storage_change(at, old, new)
        removed = tuple(v for v in old.option_values if v not in new.option_values)
        if conversion is None and removed:
            conversion = RemoveOptions(at, old, new, removed)
    if rebuild is not None:
        ops.append(rebuild)
    if conversion is not None:
        ops.append(conversion)
    if new.required and not old.required:
        ops.append(MakeRequired(at, new))
    if rebuild is None and old.has_lookup_hash != new.has_lookup_hash:
        ops.append(AddLookupHash(at, old, new) if new.has_lookup_hash
                   else DropLookupHash(at, old, new))
    if _is_unique(old) != _is_unique(new):
        ops.append(MakeUnique(at, new) if _is_unique(new) else DropUnique(at, new))
    if _has_value_index(old) != _has_value_index(new):
        ops.append(AddIndex(at, new) if _has_value_index(new) else DropIndex(at, new))
    if _has_search_index(old) != _has_search_index(new):
        ops.append(AddIndex(at, new, search=True) if _has_search_index(new)
                   else DropIndex(at, new, search=True))
    tightened = _tightened_rules(old, new)
    value_checked = conversion is not None and conversion.checks_values
    if tightened and not value_checked and rebuild is None:
        ops.append(ChangeRules(at, old, new, tightened))
    what = _changed_props(old, new) - _STRUCTURAL
    what |= {r for r in _RULES if getattr(old, r) != getattr(new, r)} - set(tightened)
    if old.required and not new.required:
        what.add("required")
    if set(new.option_values) >= set(old.option_values) and old.options != new.options:
        what.add("options")
    if conversion is None:
        what |= {p for p in ("max_length", "decimals", "digits")
                 if getattr(old, p) != getattr(new, p)}
    flags = {"unique": _is_unique, "indexed": _has_value_index, "searchable": _has_search_index}
    what |= {p for p, effective in flags.items()
             if getattr(old, p) != getattr(new, p) and effective(old) == effective(new)}
    if what:
        ops.append(MetadataOnly(at, new.key, new.label, tuple(sorted(what))))
    return ops


def _stricter(old: Any, new: Any, bigger_is_stricter: bool) -> bool:
    if new is None:
        return False
    if old is None:
        return True
    try:
        return bool(new > old) if bigger_is_stricter else bool(new < old)
    except TypeError:
        return old != new


def _tightened_rules(old: FieldDef, new: FieldDef) -> tuple[str, ...]:
    out = []
    if _stricter(old.min, new.min, True):
        out.append("min")
    if _stricter(old.max, new.max, False):
        out.append("max")
    if _stricter(old.min_length, new.min_length, True):
        out.append("min_length")
    if new.pattern and new.pattern != old.pattern:
        out.append("pattern")
    if _stricter(old.min_items, new.min_items, True):
        out.append("min_items")
    if _stricter(old.max_items, new.max_items, False):
        out.append("max_items")
    if new.level and new.level != old.level:
        out.append("level")
    return tuple(out)


def _form_index_changes(at: Where, old: FormDef, new: FormDef) -> list[Operation]:
    ops: list[Operation] = []
    for index in old.indexes:
        if index not in new.indexes:
            ops.append(DropFormIndex(at, index))
    for index in new.indexes:
        if index not in old.indexes:
            ops.append(AddFormIndex(at, index))
    return ops


def next_archived(old: FormDef, new: FormDef,
                  archived: tuple[FieldDef, ...]) -> tuple[FieldDef, ...]:
    """The archived fields after publishing ``new`` over ``old`` (see ``plan_migration``)."""
    live = {f.key: f for f in new.fields}
    out: list[FieldDef] = []
    for a in archived:
        if a.stored and not (a.key in live and live[a.key].stored):
            out.append(a)
    for f in old.fields:
        if f.stored and f.key not in live:
            out.append(f)
    old_subs = {f.key: f for f in old.subtables}
    arch_subs = {a.key: a for a in archived if a.type == "subtable"}
    for key in [*arch_subs, *(k for k in old_subs if k not in arch_subs)]:
        old_children = [c for c in (old_subs[key].fields if key in old_subs else ()) if c.stored]
        arch_children = [c for c in (arch_subs[key].fields if key in arch_subs else ())
                         if c.stored]
        now = live.get(key)
        if now is not None and now.type == "subtable":
            new_keys = {c.key for c in now.fields if c.stored}
            kept = [c for c in [*arch_children, *old_children] if c.key not in new_keys]
            if kept:
                out.append(replace(now, fields=tuple(kept)))
        else:
            seen = {c.key for c in old_children}
            children = old_children + [c for c in arch_children if c.key not in seen]
            base = old_subs.get(key) or arch_subs[key]
            out.append(replace(base, fields=tuple(children)))
    return tuple(out)
