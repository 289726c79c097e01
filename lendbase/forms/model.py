"""Form definitions: frozen dataclasses loaded from validated form documents.

``semantic_errors`` checks what JSON Schema cannot (unique keys, properties that do not apply to a
field's type, references inside the document); ``load_form`` turns a valid document into a
``FormDef``. Nothing here touches a database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lendbase.errors import MetadataError

RESERVED_KEYS = frozenset(
    {"id", "created_at", "created_by", "updated_at", "updated_by", "version", "owner_id",
     "parent_id", "seq"}
)
_COMMON = {"key", "type", "label", "help", "required", "readonly", "default", "visible_when",
           "indexed", "unique", "searchable"}
_TEXTUAL = {"min_length", "max_length", "pattern", "pattern_message", "sensitive", "mask"}
APPLICABLE: dict[str, set[str]] = {
    "text": _TEXTUAL,
    "textarea": {"min_length", "max_length"},
    "integer": {"min", "max"},
    "decimal": {"min", "max", "decimals", "digits"},
    "money": {"min", "max", "decimals"},
    "percent": {"min", "max", "decimals"},
    "date": {"min", "max"},
    "datetime": {"min", "max"},
    "boolean": set(),
    "select": {"options"},
    "multiselect": {"options", "min_items", "max_items"},
    "reference": {"target", "on_delete"},
    "subtable": {"fields", "min_rows", "max_rows"},
    "user": set(),
    "file": {"max_size_mb", "accept"},
    "phone": {"sensitive", "mask"},
    "email": {"sensitive", "mask"},
    "id_number": {"sensitive", "mask"},
    "uscc": {"sensitive", "mask"},
    "region": {"level"},
    "auto_number": {"format"},
    "computed": {"formula", "result_type", "decimals"},
}
#: Types whose value is not stored in the form's own table row.
NOT_STORED = frozenset({"subtable", "computed"})
_FORMAT_TOKEN = re.compile(r"\{([A-Z]+)(?::(\d+))?\}")
FORMAT_TOKENS = {"YYYY", "YY", "MM", "DD", "SEQ"}
DEFAULT_MASK = {"id_number": "id_number", "phone": "phone", "uscc": "uscc", "email": "email"}


@dataclass(frozen=True)
class Option:
    value: str
    label: Mapping[str, str]


@dataclass(frozen=True)
class FieldDef:
    key: str
    type: str
    label: Mapping[str, str]
    help: Mapping[str, str] | None = None
    required: bool = False
    unique: bool = False
    indexed: bool = False
    searchable: bool = False
    readonly: bool = False
    sensitive: bool = False
    mask: str | None = None
    default: Any = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    pattern_message: Mapping[str, str] | None = None
    min: Any = None
    max: Any = None
    decimals: int | None = None
    digits: int | None = None
    options: tuple[Option, ...] = ()
    min_items: int | None = None
    max_items: int | None = None
    target: str | None = None
    on_delete: str = "restrict"
    fields: tuple[FieldDef, ...] = ()
    min_rows: int | None = None
    max_rows: int | None = None
    max_size_mb: float | None = None
    accept: tuple[str, ...] = ()
    level: str | None = None
    format: str | None = None
    formula: str | None = None
    result_type: str | None = None
    visible_when: Mapping[str, Any] | None = None

    @property
    def stored(self) -> bool:
        return self.type not in NOT_STORED

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)

    @property
    def mask_kind(self) -> str:
        return self.mask or DEFAULT_MASK.get(self.type, "text")

    @property
    def has_lookup_hash(self) -> bool:
        """Sensitive values are ciphertext; a keyed hash beside them keeps unique/lookup working."""
        return self.sensitive and (self.unique or self.indexed)

    def text_length(self) -> int:
        if self.max_length:
            return self.max_length
        return {"phone": 20, "email": 254, "id_number": 18, "uscc": 18, "region": 6}.get(
            self.type, 255
        )

    def option_label(self, value: str, lang: str) -> str:
        for option in self.options:
            if option.value == value:
                return option.label.get(lang) or option.value
        return value


@dataclass(frozen=True)
class Section:
    key: str
    label: Mapping[str, str] | None
    columns: int
    fields: tuple[str, ...]
    visible_when: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Tab:
    key: str
    label: Mapping[str, str] | None
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class RolePermission:
    actions: frozenset[str]
    scope: str = "own"
    hidden_fields: frozenset[str] = frozenset()
    readonly_fields: frozenset[str] = frozenset()
    unmask: bool = False


@dataclass(frozen=True)
class IndexDef:
    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class SopTask:
    """A standard action of a lifecycle stage: a task created when a record enters it."""

    title: Mapping[str, str]
    kind: str = "sop"
    priority: str = "normal"
    due_in_days: int | None = None
    #: An assignee rule as JSON (``lendbase.work.assignment.parse_assignee``).
    assignee: Any = None
    description: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Stage:
    key: str
    sop: tuple[SopTask, ...] = ()
    #: The conversion target: a record is expected to leave this stage within so many days.
    target_days: int | None = None


@dataclass(frozen=True)
class Lifecycle:
    """The stages a record of the form goes through (the options of the select ``field``),
    the allowed moves between them, where a new record starts and where the lifecycle ends.
    The checks and their messages are in ``lendbase.forms.lifecycle``."""

    field: str
    stages: tuple[Stage, ...]
    transitions: tuple[tuple[str, str], ...] = ()
    initial: str | None = None
    terminal: frozenset[str] = frozenset()

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Lifecycle:
        stages = tuple(
            Stage(s["key"], tuple(SopTask(
                title=t["title"], kind=t.get("kind", "sop"), priority=t.get("priority", "normal"),
                due_in_days=t.get("due_in_days"), assignee=t.get("assignee"),
                description=t.get("description")) for t in s.get("sop", ())),
                s.get("target_days"))
            for s in doc["stages"])
        return cls(doc["field"], stages,
                   tuple((t["from"], t["to"]) for t in doc.get("transitions", ())),
                   doc.get("initial"), frozenset(doc.get("terminal", ())))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.stages)

    def stage(self, key: str | None) -> Stage | None:
        return next((s for s in self.stages if s.key == key), None)

    def allowed_next(self, key: str | None) -> tuple[str, ...]:
        """The stages a record may move to from ``key``, in stage order."""
        targets = {to for frm, to in self.transitions if frm == key}
        return tuple(k for k in self.keys if k in targets)


@dataclass(frozen=True)
class FormDef:
    key: str
    label: Mapping[str, str]
    fields: tuple[FieldDef, ...]
    title_field: str | None = None
    description: Mapping[str, str] | None = None
    indexes: tuple[IndexDef, ...] = ()
    tabs: tuple[Tab, ...] = ()
    list_columns: tuple[str, ...] = ()
    default_sort: tuple[str, ...] = ()
    list_filters: tuple[str, ...] = ()
    permissions: Mapping[str, RolePermission] = field(default_factory=dict)
    lifecycle: Lifecycle | None = None

    @cached_property
    def _by_key(self) -> dict[str, FieldDef]:
        return {f.key: f for f in self.fields}

    def field(self, key: str) -> FieldDef:
        return self._by_key[key]

    def has_field(self, key: str) -> bool:
        return key in self._by_key

    @property
    def stored_fields(self) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.fields if f.stored)

    @property
    def subtables(self) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.fields if f.type == "subtable")

    @property
    def searchable_fields(self) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.fields if f.searchable)

    def title_of(self, record: Mapping[str, Any]) -> str:
        if self.title_field and record.get(self.title_field) not in (None, ""):
            return str(record[self.title_field])
        return f"#{record.get('id')}"


# --- loading -------------------------------------------------------------------------------


def load_field(doc: Mapping[str, Any]) -> FieldDef:
    """A ``FieldDef`` from a field document that was valid when its form was published."""
    kwargs: dict[str, Any] = {k: v for k, v in doc.items() if k not in {"options", "fields",
                                                                         "accept"}}
    kwargs["options"] = tuple(Option(o["value"], o["label"]) for o in doc.get("options", ()))
    kwargs["fields"] = tuple(load_field(f) for f in doc.get("fields", ()))
    kwargs["accept"] = tuple(doc.get("accept", ()))
    if doc.get("type") in {"money"} and "decimals" not in doc:
        kwargs["decimals"] = 2
    if doc.get("type") == "percent" and "decimals" not in doc:
        kwargs["decimals"] = 4
    if doc.get("type") == "decimal" and "decimals" not in doc:
        kwargs["decimals"] = 2
    kwargs.pop("color", None)
    return FieldDef(**kwargs)


def _load_section(doc: Mapping[str, Any]) -> Section:
    return Section(
        key=doc["key"],
        label=doc.get("label"),
        columns=doc.get("columns", 2),
        fields=tuple(doc.get("fields", ())),
        visible_when=doc.get("visible_when"),
    )


def _load_tabs(form_doc: Mapping[str, Any], fields: tuple[FieldDef, ...]) -> tuple[Tab, ...]:
    """The layout as tabs of sections; fields left out of the layout go to a final section."""
    layout = form_doc.get("layout") or {}
    if "tabs" in layout:
        tabs = [Tab(t["key"], t.get("label"), tuple(_load_section(s) for s in t["sections"]))
                for t in layout["tabs"]]
    else:
        sections = tuple(_load_section(s) for s in layout.get("sections", ()))
        tabs = [Tab("main", None, sections)]
    placed = {k for t in tabs for s in t.sections for k in s.fields}
    rest = tuple(f.key for f in fields if f.key not in placed)
    if rest:
        last = tabs[-1]
        extra = Section("_other", {"zh": "其他", "en": "Other"}, 2, rest)
        tabs[-1] = Tab(last.key, last.label, (*last.sections, extra))
    return tuple(tabs)


def load_form(doc: Mapping[str, Any]) -> FormDef:
    """Build a ``FormDef`` from a document that passed ``validate_document('forms', doc)``."""
    fields = tuple(load_field(f) for f in doc["fields"])
    permissions = {
        role: RolePermission(
            actions=frozenset(p.get("actions", ())),
            scope=p.get("scope", "own"),
            hidden_fields=frozenset(p.get("hidden_fields", ())),
            readonly_fields=frozenset(p.get("readonly_fields", ())),
            unmask=bool(p.get("unmask", False)),
        )
        for role, p in (doc.get("permissions") or {}).items()
    }
    list_doc = doc.get("list") or {}
    return FormDef(
        key=doc["key"],
        label=doc["label"],
        description=doc.get("description"),
        fields=fields,
        title_field=doc.get("title_field"),
        indexes=tuple(IndexDef(tuple(i["fields"]), bool(i.get("unique")))
                      for i in doc.get("indexes", ())),
        tabs=_load_tabs(doc, fields),
        list_columns=tuple(list_doc.get("columns", ())),
        default_sort=tuple(list_doc.get("default_sort", ())),
        list_filters=tuple(list_doc.get("filters", ())),
        permissions=permissions,
        lifecycle=Lifecycle.from_doc(doc["lifecycle"]) if doc.get("lifecycle") else None,
    )


# --- semantic checks -----------------------------------------------------------------------


def _field_errors(fdoc: Mapping[str, Any], ptr: str, nested: bool,
                  errors: dict[str, list[str]]) -> None:
    def add(sub: str, msg: str) -> None:
        errors.setdefault(ptr + sub, []).append(msg)

    ftype = fdoc["type"]
    if fdoc["key"] in RESERVED_KEYS:
        add("/key", f"'{fdoc['key']}' is reserved for a system column; choose another key")
    allowed = _COMMON | APPLICABLE[ftype]
    for prop in fdoc:
        if prop not in allowed:
            add(f"/{prop}", f"'{prop}' does not apply to a {ftype} field; remove it")
    if "min" in fdoc and "max" in fdoc and type(fdoc["min"]) is type(fdoc["max"]):
        if fdoc["min"] > fdoc["max"]:
            add("/min", f"min {fdoc['min']} is greater than max {fdoc['max']}")
    if fdoc.get("min_length", 0) > fdoc.get("max_length", 10**9):
        add("/min_length", "min_length is greater than max_length")
    if "pattern" in fdoc:
        try:
            re.compile(fdoc["pattern"])
        except re.error as exc:
            add("/pattern", f"not a valid regular expression: {exc}")
    values = [o["value"] for o in fdoc.get("options", ())]
    for dup in sorted({v for v in values if values.count(v) > 1}):
        add("/options", f"option value '{dup}' appears more than once")
    if ftype == "select" and "default" in fdoc and fdoc["default"] not in values:
        add("/default", f"default {fdoc['default']!r} is not one of the options")
    if fdoc.get("searchable") and fdoc.get("sensitive"):
        add("/searchable", "a sensitive (encrypted) field cannot be full-text searchable; "
            "use indexed for exact lookup instead")
    if ftype == "subtable":
        if nested:
            add("/type", "a sub-table cannot contain another sub-table")
        for flag in ("unique", "indexed", "searchable", "default"):
            if flag in fdoc:
                add(f"/{flag}", f"'{flag}' does not apply to a sub-table")
        _fields_errors(fdoc.get("fields", ()), ptr + "/fields", True, errors)
    if ftype == "auto_number":
        tokens = _FORMAT_TOKEN.findall(fdoc["format"])
        unknown = sorted({t for t, _ in tokens if t not in FORMAT_TOKENS})
        if unknown:
            add("/format", f"unknown token(s) {unknown}; use {{YYYY}}, {{YY}}, {{MM}}, {{DD}}, "
                "{SEQ:n}")
        if sum(1 for t, _ in tokens if t == "SEQ") != 1:
            add("/format", "the format needs exactly one {SEQ:n}")


def _fields_errors(fields: Any, ptr: str, nested: bool, errors: dict[str, list[str]]) -> None:
    seen: set[str] = set()
    for i, fdoc in enumerate(fields):
        if fdoc["key"] in seen:
            errors.setdefault(f"{ptr}/{i}/key", []).append(
                f"key '{fdoc['key']}' is used by another field; keys must be unique")
        seen.add(fdoc["key"])
        _field_errors(fdoc, f"{ptr}/{i}", nested, errors)


def semantic_errors(doc: Mapping[str, Any]) -> dict[str, list[str]]:
    """Errors JSON Schema cannot express, keyed by JSON pointer, for a schema-valid form doc."""
    errors: dict[str, list[str]] = {}
    _fields_errors(doc["fields"], "/fields", False, errors)
    top = {f["key"]: f for f in doc["fields"]}
    listable = {k for k, f in top.items() if f["type"] not in NOT_STORED}
    system = {"id", "created_at", "updated_at", "created_by", "updated_by", "owner_id"}

    def need(ptr: str, key: str, pool: set[str], what: str) -> None:
        if key not in pool:
            errors.setdefault(ptr, []).append(f"'{key}' is not {what} of this form")

    if "title_field" in doc:
        need("/title_field", doc["title_field"], listable, "a stored field")
    for i, index in enumerate(doc.get("indexes", ())):
        for j, key in enumerate(index["fields"]):
            need(f"/indexes/{i}/fields/{j}", key, listable, "a stored field")
    list_doc = doc.get("list") or {}
    for i, key in enumerate(list_doc.get("columns", ())):
        need(f"/list/columns/{i}", key, listable | system, "a stored field")
    for i, key in enumerate(list_doc.get("filters", ())):
        need(f"/list/filters/{i}", key, listable | system, "a stored field")
    for i, key in enumerate(list_doc.get("default_sort", ())):
        need(f"/list/default_sort/{i}", key.lstrip("-"), listable | system, "a stored field")
    layout = doc.get("layout") or {}
    sections = [(f"/layout/sections/{i}", s) for i, s in enumerate(layout.get("sections", ()))]
    for t, tab in enumerate(layout.get("tabs", ())):
        sections += [(f"/layout/tabs/{t}/sections/{i}", s) for i, s in enumerate(tab["sections"])]
    placed: set[str] = set()
    for ptr, section in sections:
        for j, key in enumerate(section["fields"]):
            need(f"{ptr}/fields/{j}", key, set(top), "a field")
            if key in placed:
                errors.setdefault(f"{ptr}/fields/{j}", []).append(
                    f"'{key}' is placed twice in the layout; keep one")
            placed.add(key)
    for role, perm in (doc.get("permissions") or {}).items():
        for prop in ("hidden_fields", "readonly_fields"):
            for j, key in enumerate(perm.get(prop, ())):
                need(f"/permissions/{role}/{prop}/{j}", key, set(top), "a field")
    from lendbase.forms.visibility import visibility_errors

    visibility_errors(doc, sections, errors)
    from lendbase.forms.lifecycle import lifecycle_errors

    lifecycle_errors(doc, errors)
    from lendbase.forms.guards import guard_errors

    guard_errors(doc, errors)
    return errors


def check_form(doc: Mapping[str, Any]) -> FormDef:
    """Validate (meta-schema and semantics) and load; raises ``MetadataError``."""
    from lendbase.meta.validate import validate_document

    validate_document("forms", doc)
    try:
        return load_form(doc)
    except (KeyError, TypeError) as exc:  # pragma: no cover - schema should prevent this
        raise MetadataError(f"form document cannot be loaded: {exc}") from exc
