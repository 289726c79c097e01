"""The record form: widgets generated from a form's layout, and the posted values read back.

``build_form_page`` turns a ``FormDef`` (tabs -> sections -> fields), the values to show and the
server's field errors into a tree the template renders; ``parse_submission`` reads an HTML form
post back into the values ``RecordService`` takes. Input names are the field keys, and
``<subtable>.<row>.<field>`` for sub-table cells, the same keys ``ValidationFailed.fields`` uses,
so every error lands next to its input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from lendbase.app import parse_id
from lendbase.conditions.predicate import evaluate
from lendbase.forms.checks import region_children, region_path
from lendbase.forms.model import FieldDef, FormDef
from lendbase.forms.values import (
    MAX_YEAR,
    MIN_YEAR,
    FieldValueError,
    coerce_value,
    is_empty,
    literal_coercer,
)
from lendbase.records.permissions import Actor, FormAccess
from lendbase.web.display import Lookups, format_value, to_local
from lendbase.web.i18n import pick, translate

DISPLAY_ONLY_TYPES = frozenset({"auto_number", "computed"})
SEARCHABLE_OPTIONS = 15  # a select with more options than this gets a filter box
_REGION_PARTS = ("p", "c", "d")  # province, city, county select names: <key>.p ...
_REGION_LEVELS = {"province": 1, "city": 2, "county": 3}
_ROW_KEY = re.compile(r"^(?P<sub>[A-Za-z0-9_]+)\.(?P<row>[0-9]{1,6})\.(?P<field>[A-Za-z0-9_]+)"
                      r"(?:\.(?:p|c|d|upload|clear))?$")

OptionSource = Callable[[FieldDef], list[tuple[str, str]]]


# --- which fields a user may write -------------------------------------------------------------


def is_editable(f: FieldDef, access: FormAccess, actor: Actor, creating: bool) -> bool:
    """Mirrors RecordService's write checks, so the form never offers what the service refuses.
    A role's read-only fields stay read-only on create (``creating`` no longer widens them)."""
    if f.type in DISPLAY_ONLY_TYPES or f.key in access.hidden_fields:
        return False
    if f.readonly and not actor.superuser:
        return False
    return f.key not in access.readonly_fields


def editable_keys(form: FormDef, access: FormAccess, actor: Actor, creating: bool) -> set[str]:
    return {f.key for f in form.fields if is_editable(f, access, actor, creating)}


# --- values to show in inputs ---------------------------------------------------------------


def input_value(f: FieldDef, value: Any) -> Any:
    """A stored Python value as an HTML input wants it."""
    if value is None:
        return [] if f.type == "multiselect" else False if f.type == "boolean" else ""
    if f.type == "boolean":
        return bool(value)
    if f.type == "multiselect":
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if f.type == "datetime" and isinstance(value, datetime):
        local = to_local(value)  # seconds shown when there are some (the input has step=1)
        return local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if f.type == "subtable":
        rows = []
        for row in value or []:
            cells = {sf.key: input_value(sf, row.get(sf.key)) for sf in f.fields}
            cells["id"] = str(row.get("id") or "")
            rows.append(cells)
        return rows
    return str(value)


def input_values(form: FormDef, record: Mapping[str, Any]) -> dict[str, Any]:
    return {f.key: input_value(f, record.get(f.key)) for f in form.fields if f.key in record}


def default_values(form: FormDef) -> dict[str, Any]:
    """Initial inputs of a new record: the fields' defaults."""
    values: dict[str, Any] = {}
    for f in form.fields:
        if f.default is not None and f.type not in DISPLAY_ONLY_TYPES:
            try:
                values[f.key] = input_value(f, coerce_value(f, f.default))
            except FieldValueError:
                continue
        elif f.type == "subtable" and f.min_rows:
            values[f.key] = [_default_row(f) for _ in range(f.min_rows)]
    return values


def _default_row(sub: FieldDef) -> dict[str, Any]:
    row: dict[str, Any] = {"id": ""}
    for sf in sub.fields:
        try:
            default = coerce_value(sf, sf.default) if sf.default is not None else None
        except FieldValueError:
            default = None
        row[sf.key] = input_value(sf, default)
    return row


# --- reading a post -------------------------------------------------------------------------


@dataclass
class Submission:
    data: dict[str, Any]  # what the service gets
    raw: dict[str, Any]  # what the inputs show again if the save fails
    errors: dict[str, list[str]] = field(default_factory=dict)  # e.g. a refused upload
    new_files: dict[str, int] = field(default_factory=dict)  # input name -> new lb_file id


FileSaver = Callable[[FieldDef, Any, str], int]  # (field, FileStorage, input name) -> file id


def _read_value(f: FieldDef, name: str, form: MultiDict, files: MultiDict,
                save_file: FileSaver | None, sub: Submission) -> tuple[Any, Any]:
    """(value for the service, value to show again) of one input."""
    if f.type == "boolean":
        checked = "1" in form.getlist(name)
        return checked, checked
    if f.type == "multiselect":
        chosen = [v for v in form.getlist(name) if v]
        return (chosen or None), chosen
    if f.type == "region":
        parts = [(form.get(f"{name}.{p}") or "").strip() for p in _REGION_PARTS]
        chosen = next((p for p in reversed(parts) if p), "") or (form.get(name) or "").strip()
        return (chosen or None), chosen
    if f.type == "file":
        current = (form.get(name) or "").strip()
        upload = files.get(f"{name}.upload")
        if upload is not None and upload.filename and save_file is not None:
            try:
                new_id = save_file(f, upload, name)
            except FieldValueError as exc:
                sub.errors.setdefault(name, []).append(exc.text)
                return parse_id(current), current
            sub.new_files[name] = new_id
            return new_id, str(new_id)
        if form.get(f"{name}.clear"):
            return None, ""
        return (current or None), current
    text = form.get(name)
    if text is None:
        return None, ""
    if f.type not in {"textarea"}:
        text = text.strip()
    return (text if text != "" else None), text


def parse_submission(form_def: FormDef, keys: set[str], form: MultiDict, files: MultiDict,
                     save_file: FileSaver | None = None) -> Submission:
    """Read the editable fields ``keys`` from a post."""
    sub = Submission({}, {})
    rows_seen: dict[str, set[int]] = {}
    for name in form.keys():
        match = _ROW_KEY.match(name)
        if match:
            rows_seen.setdefault(match["sub"], set()).add(int(match["row"]))
    for name in files.keys():
        match = _ROW_KEY.match(name)
        if match:
            rows_seen.setdefault(match["sub"], set()).add(int(match["row"]))
    for f in form_def.fields:
        if f.key not in keys:
            continue
        if f.type == "subtable":
            if f"{f.key}.__present" not in form:
                continue  # the table was not on the page
            rows_data, rows_raw = [], []
            for index in sorted(rows_seen.get(f.key, ())):
                row_data: dict[str, Any] = {}
                row_raw: dict[str, Any] = {}
                new_index = len(rows_data)
                for sf in f.fields:
                    if sf.type in DISPLAY_ONLY_TYPES:
                        continue
                    value, raw = _read_value(sf, f"{f.key}.{index}.{sf.key}", form, files,
                                             save_file, sub)
                    row_data[sf.key] = value
                    row_raw[sf.key] = raw
                row_id = (form.get(f"{f.key}.{index}.id") or "").strip()
                if row_id:
                    # ASCII digits in the id range; anything else goes on as text for the
                    # service to refuse (never "²" into int(), never 10**30 into SQL)
                    parsed = parse_id(row_id)
                    row_data["id"] = parsed if parsed is not None else row_id
                row_raw["id"] = row_id
                # Errors of a refused upload are re-keyed to the row's new position.
                for old in list(sub.errors):
                    prefix = f"{f.key}.{index}."
                    if old.startswith(prefix):
                        sub.errors[f"{f.key}.{new_index}." + old[len(prefix):]] = \
                            sub.errors.pop(old)
                rows_data.append(row_data)
                rows_raw.append(row_raw)
            sub.data[f.key] = rows_data
            sub.raw[f.key] = rows_raw
            continue
        value, raw = _read_value(f, f.key, form, files, save_file, sub)
        sub.data[f.key] = value
        sub.raw[f.key] = raw
    return sub


# --- the widget tree ------------------------------------------------------------------------


@dataclass
class Widget:
    f: FieldDef
    name: str
    kind: str
    label: str
    help: str = ""
    required: bool = False
    editable: bool = True
    value: Any = ""
    display: Markup = Markup("")
    errors: list[str] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    regions: list[dict[str, Any]] = field(default_factory=list)
    columns: list[Widget] = field(default_factory=list)  # sub-table: the empty row template
    rows: list[list[Widget]] = field(default_factory=list)
    row_ids: list[str] = field(default_factory=list)
    file: dict[str, Any] | None = None
    hidden: bool = False  # visible_when is false for the values shown
    masked: bool = False
    span: int = 6  # bootstrap grid columns out of 12

    @property
    def dom_id(self) -> str:
        return "fld-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name)

    @property
    def error_ids(self) -> str:
        """The ids of the field's error messages (aria-describedby of its input)."""
        return " ".join(f"{self.dom_id}-error-{i}" for i in range(1, len(self.errors) + 1))

    @property
    def visible_when_json(self) -> str:
        return json.dumps(self.f.visible_when, ensure_ascii=False) if self.f.visible_when else ""


@dataclass
class SectionView:
    key: str
    label: str
    columns: int
    widgets: list[Widget]
    visible_when: str = ""
    hidden: bool = False


@dataclass
class TabView:
    key: str
    label: str
    sections: list[SectionView]
    error_count: int = 0
    active: bool = False


@dataclass
class ErrorItem:
    label: str
    message: str
    target: str  # dom id to jump to ("" for errors not tied to an input)
    tab: str


@dataclass
class FormPage:
    tabs: list[TabView]
    summary: list[ErrorItem]
    field_types: dict[str, str]

    @property
    def has_tabs(self) -> bool:
        return len(self.tabs) > 1

    @property
    def field_types_json(self) -> str:
        return json.dumps(self.field_types)


def typed_values(form: FormDef, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Best-effort Python values of shown inputs, for evaluating ``visible_when``."""
    typed: dict[str, Any] = {}
    for f in form.fields:
        value = raw.get(f.key)
        if f.type == "subtable" or value is None or is_empty(value):
            typed[f.key] = value if f.type == "boolean" else None
            continue
        try:
            typed[f.key] = coerce_value(f, value)
        except FieldValueError:
            typed[f.key] = value
    return typed


def _is_shown(condition: Mapping[str, Any] | None, record: Mapping[str, Any],
              coerce: Any) -> bool:
    if not condition:
        return True
    try:
        return evaluate(condition, record, coerce)
    except Exception:  # noqa: BLE001 - a broken condition must not break the page
        return True


class WidgetBuilder:
    """Builds widgets for one page; option lists are fetched once per page through ``options``."""

    def __init__(self, form: FormDef, access: FormAccess, actor: Actor, lang: str,
                 lookups: Lookups, options: OptionSource, creating: bool,
                 errors: Mapping[str, list[str]]) -> None:
        self.form = form
        self.access = access
        self.actor = actor
        self.lang = lang
        self.lookups = lookups
        self.options = options
        self.creating = creating
        self.errors = errors
        self.stored: Mapping[str, Any] | None = None  # the record being edited (masked)

    def widget(self, f: FieldDef, name: str, value: Any, editable: bool,
               stored: Any = None, stored_masked: str | None = None) -> Widget:
        w = Widget(f=f, name=name, kind="display", label=pick(f.label, self.lang, f.key),
                   help=pick(f.help, self.lang), required=f.required and editable,
                   editable=editable, value=value, errors=list(self.errors.get(name, [])))
        w.span = 12 if f.type in {"subtable", "textarea", "multiselect"} else 6
        shown = stored if stored is not None else value
        if not editable:
            w.kind = "display"
            if f.type == "auto_number" and self.creating:
                w.display = Markup('<span class="text-body-secondary">{}</span>').format(
                    translate("auto_generated", self.lang))
            elif f.type == "subtable":
                self._subtable(w, stored if stored is not None else value, editable=False)
                w.kind = "subtable"
            else:
                w.display = format_value(f, shown, self.lookups, self.lang)
            w.masked = f.sensitive
            return w
        t = f.type
        if t == "textarea":
            w.kind = "textarea"
            if f.max_length:
                w.attrs["maxlength"] = f.max_length
        elif t in {"integer", "decimal", "money", "percent"}:
            # A text input, not type=number: the browser would hide what was typed ("12a" reads
            # as "") and the server could not say what is wrong with it; 8,000.50 is fine too.
            w.kind = "number"
            decimals = 0 if t == "integer" else (f.decimals if f.decimals is not None else 2)
            w.attrs["inputmode"] = "numeric" if decimals == 0 else "decimal"
        elif t == "date":
            w.kind = "date"
            w.attrs["min"], w.attrs["max"] = date_limits(f)
        elif t == "datetime":
            w.kind = "datetime"
            # the server bounds a datetime by its year only (values.py checks no min/max)
            w.attrs["min"] = f"{MIN_YEAR:04d}-01-01T00:00"
            w.attrs["max"] = f"{MAX_YEAR:04d}-12-31T23:59"
        elif t == "boolean":
            w.kind = "checkbox"
            w.value = value is True or str(value).lower() in {"true", "1", "on"}
        elif t == "select":
            w.kind = "select"
            w.options = [(o.value, pick(o.label, self.lang, o.value)) for o in f.options]
        elif t == "multiselect":
            w.kind = "multiselect"
            w.options = [(o.value, pick(o.label, self.lang, o.value)) for o in f.options]
            w.value = value if isinstance(value, list) else ([value] if value else [])
        elif t in {"reference", "user"}:
            w.kind = "select"
            # A reference's options are its target's records only when they are few; an empty
            # list means "search them": the picker (reference_picker.js) asks the lookup API.
            w.options = list(self.options(f))
            if t == "reference" and not w.options:
                w.attrs["picker"] = f.target
            current = str(value or "")
            if current and current not in {v for v, _ in w.options}:
                label = (self.lookups.title(f.target or "", current) if t == "reference"
                         else self.lookups.user(current))
                w.options.insert(0, (current, label))
        elif t == "file":
            w.kind = "file"
            w.file = self.lookups.file(value) if value else None
            w.attrs["accept"] = ",".join(f.accept)
            max_mb = f.max_size_mb
            if f.accept and max_mb:
                w.attrs["limits"] = translate("file_limits", self.lang,
                                              accept=" ".join(f.accept), max_mb=_num(max_mb))
            elif max_mb:
                w.attrs["limits"] = translate("file_limits_size", self.lang, max_mb=_num(max_mb))
        elif t == "region":
            w.kind = "region"
            w.regions = self._regions(f, str(value or ""))
        elif t == "subtable":
            w.kind = "subtable"
            self._subtable(w, value, editable=True)
        else:
            w.kind = "text"
            w.attrs["inputmode"] = {"phone": "tel", "email": "email"}.get(t, "text")
            if f.sensitive and not self.creating:
                w.masked = True  # shows the masked value; sending it back means "unchanged"
                if stored_masked is not None:
                    w.attrs["masked_value"] = stored_masked
            else:
                w.attrs["maxlength"] = f.max_length or f.text_length()
        if w.kind == "select" and len(w.options) > SEARCHABLE_OPTIONS:
            w.attrs["searchable"] = True  # a long list gets a filter box (searchable_select.js)
        return w

    def _regions(self, f: FieldDef, code: str) -> list[dict[str, Any]]:
        depth = _REGION_LEVELS.get(f.level or "county", 3)
        path = region_path(code) if code else []
        selects = []
        parent: str | None = None
        for i in range(depth):
            chosen = path[i] if i < len(path) else ""
            options = region_children(parent) if (i == 0 or parent) else []
            selects.append({"part": _REGION_PARTS[i],
                            "label": translate(("province", "city", "county")[i], self.lang),
                            "options": options, "value": chosen})
            parent = chosen or None
        if code and not path:  # an unknown code: keep it visible rather than lose it
            selects[0]["options"] = [(code, code), *selects[0]["options"]]
            selects[0]["value"] = code
        return selects

    def _subtable(self, w: Widget, rows: Any, editable: bool) -> None:
        f = w.f
        rows = rows if isinstance(rows, list) else []
        cell_editable = editable
        w.columns = [self.widget(sf, f"{f.key}.__i__.{sf.key}",
                                 input_value(sf, None) if sf.default is None
                                 else _default_row(f)[sf.key],
                                 cell_editable and sf.type not in DISPLAY_ONLY_TYPES
                                 and not sf.readonly)
                     for sf in f.fields]
        stored_rows = {str(r.get("id")): r for r in (self.stored or {}).get(f.key) or []
                       if isinstance(r, Mapping)}
        for i, row in enumerate(rows):
            cells = []
            before = stored_rows.get(str(row.get("id") or ""), {})
            for sf in f.fields:
                cell_ok = cell_editable and sf.type not in DISPLAY_ONLY_TYPES and not sf.readonly
                masked = str(input_value(sf, before[sf.key])) if sf.key in before else None
                cells.append(self.widget(sf, f"{f.key}.{i}.{sf.key}", row.get(sf.key), cell_ok,
                                         stored=None if cell_ok else row.get(sf.key),
                                         stored_masked=masked))
            w.rows.append(cells)
            w.row_ids.append(str(row.get("id") or ""))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def build_form_page(form: FormDef, access: FormAccess, actor: Actor, lang: str,
                    values: Mapping[str, Any], errors: Mapping[str, list[str]],
                    lookups: Lookups, options: OptionSource, creating: bool,
                    stored: Mapping[str, Any] | None = None,
                    display_only: bool = False) -> FormPage:
    """The widget tree of ``form`` showing ``values`` (input strings) and ``errors``;
    ``display_only`` shows every field as text (the record page)."""
    builder = WidgetBuilder(form, access, actor, lang, lookups, options, creating, errors)
    builder.stored = stored
    writable = set() if display_only else editable_keys(form, access, actor, creating)
    typed = typed_values(form, values)
    coerce = literal_coercer({f.key: f for f in form.fields})
    tabs: list[TabView] = []
    placed: dict[str, str] = {}  # field key -> tab key
    dom_ids: dict[str, str] = {}
    for tab in form.tabs:
        sections: list[SectionView] = []
        for section in tab.sections:
            widgets = []
            for key in section.fields:
                if not form.has_field(key) or key in access.hidden_fields:
                    continue
                f = form.field(key)
                value = values.get(key, input_value(f, None))
                editable = key in writable
                shown = stored.get(key) if stored is not None and not editable else None
                masked = (str(input_value(f, stored[key]))
                          if stored is not None and key in stored else None)
                w = builder.widget(f, key, value, editable, stored=shown, stored_masked=masked)
                w.hidden = not _is_shown(f.visible_when, typed, coerce)
                widgets.append(w)
                placed[key] = tab.key
                dom_ids[key] = w.dom_id
                for row in w.rows:
                    for cell in row:
                        placed[cell.name] = tab.key
                        dom_ids[cell.name] = cell.dom_id
            if not widgets:
                continue
            sections.append(SectionView(
                key=section.key, label=pick(section.label, lang), columns=section.columns,
                widgets=widgets,
                visible_when=json.dumps(section.visible_when, ensure_ascii=False)
                if section.visible_when else "",
                hidden=not _is_shown(section.visible_when, typed, coerce)))
        if sections:
            tabs.append(TabView(tab.key, pick(tab.label, lang, tab.key), sections))
    summary: list[ErrorItem] = []
    for key, messages in errors.items():
        tab_key = placed.get(key, "")
        label = _error_label(form, key, lang)
        for message in messages:
            summary.append(ErrorItem(label, message, dom_ids.get(key, ""), tab_key))
        for tab_view in tabs:
            if tab_view.key == tab_key:
                tab_view.error_count += len(messages)
    if tabs:
        first_error = next((t for t in tabs if t.error_count), None)
        (first_error or tabs[0]).active = True
    field_types = {f.key: f.type for f in form.fields}
    return FormPage(tabs, summary, field_types)


def _error_label(form: FormDef, key: str, lang: str) -> str:
    parts = key.split(".")
    if not form.has_field(parts[0]):
        return "" if key == "_" else key
    f = form.field(parts[0])
    label = pick(f.label, lang, f.key)
    if len(parts) >= 3 and f.type == "subtable" and parts[1].isascii() \
            and parts[1].isdigit() and len(parts[1]) <= 6:
        sub_label = next((pick(sf.label, lang, sf.key) for sf in f.fields
                          if sf.key == parts[2]), parts[2])
        row = int(parts[1]) + 1
        return f"{label} #{row} {sub_label}"
    return label


# --- the rules the browser checks before a post (static/js/validation.js) ----------------------

_MIB = 1024 * 1024


def _iso_date(value: Any) -> str | None:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        return None


def date_limits(f: FieldDef) -> tuple[str, str]:
    """The first and last day a date field takes: its min and max within the years the server
    accepts, as the picker's min and max attributes."""
    low = f"{MIN_YEAR:04d}-01-01"
    high = f"{MAX_YEAR:04d}-12-31"
    field_min = _iso_date(f.min) if f.min is not None else None
    field_max = _iso_date(f.max) if f.max is not None else None
    return max(low, field_min or low), min(high, field_max or high)


def _bound(value: Any) -> str | None:
    """A min or max as the server's message shows it (``str.format`` of the metadata value)."""
    return None if value is None else f"{value}"


def field_rules(f: FieldDef, lang: str, default_max_bytes: int) -> dict[str, Any]:
    """What ``coerce_value`` and the validator check for ``f``, as data for the browser: the
    limits the server applies (its defaults filled in) and the texts it would use."""
    t = f.type
    rules: dict[str, Any] = {"type": t, "label": pick(f.label, lang, f.key),
                             "required": f.required}
    if t in {"text", "textarea"}:
        rules["max_length"] = f.max_length or (None if t == "textarea" else f.text_length())
        rules["min_length"] = f.min_length
        if f.pattern:
            rules["pattern"] = f.pattern
            if f.pattern_message:
                rules["pattern_message"] = f.pattern_message.get(lang) or f.pattern_message["en"]
    elif t == "integer":
        rules.update(min=_bound(f.min), max=_bound(f.max))
    elif t in {"decimal", "money", "percent"}:
        decimals = f.decimals if f.decimals is not None else 2
        rules.update(min=_bound(f.min), max=_bound(f.max), decimals=decimals,
                     digits=f.digits or (18 if t != "percent" else 8 + decimals))
    elif t == "date":
        rules.update(min=_bound(f.min), max=_bound(f.max),
                     min_date=_iso_date(f.min) if f.min is not None else None,
                     max_date=_iso_date(f.max) if f.max is not None else None)
    elif t == "multiselect":
        rules.update(min_items=f.min_items, max_items=f.max_items)
    elif t == "subtable":
        rules.update(min_rows=f.min_rows, max_rows=f.max_rows,
                     fields={sf.key: field_rules(sf, lang, default_max_bytes) for sf in f.fields})
    elif t == "file":
        max_mb = f.max_size_mb or round(default_max_bytes / _MIB, 1)
        rules.update(accept=list(f.accept), max_mb=f"{max_mb}",
                     max_bytes=int(f.max_size_mb * _MIB) if f.max_size_mb else default_max_bytes)
    if f.visible_when:
        rules["visible_when"] = f.visible_when
    return rules


def client_rules(form: FormDef, access: FormAccess, lang: str,
                 default_max_bytes: int) -> dict[str, dict[str, Any]]:
    """``field_rules`` of every field the user may see, by key (``default_max_bytes`` is the
    platform's upload limit, for file fields without their own)."""
    return {f.key: field_rules(f, lang, default_max_bytes) for f in form.fields
            if f.key not in access.hidden_fields}
