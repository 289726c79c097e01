"""List pages: columns, sort, search and the filter bar compiled into one condition tree.

Query parameters: ``q`` (search), ``sort`` (``-created_at`` or ``name``), ``after`` (the keyset
cursor of the next page) and one or two parameters per filter of the form's ``list.filters``:
``f.<key>`` for a single value, ``f.<key>.from`` / ``f.<key>.to`` for ranges. The filters become
the same ``{"and": [{"field", "op", "value"}, ...]}`` tree the API's query endpoint takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.forms.checks import region_children
from lendbase.forms.compile import SYSTEM_COLUMNS
from lendbase.forms.model import FieldDef, FormDef
from lendbase.records.permissions import FormAccess
from lendbase.records.service import RecordService
from lendbase.web.display import TZ
from lendbase.web.i18n import pick, translate

PAGE_SIZE = 20
OPTION_LIMIT = 200
SMALL_OPTION_LIST = 15  # longer lists get a search box (a reference: the picker)
_SYSTEM_TYPES = {"id": "integer", "version": "integer", "created_at": "datetime",
                 "updated_at": "datetime", "created_by": "user", "updated_by": "user",
                 "owner_id": "user"}


@dataclass
class FilterControl:
    """One control of the filter bar and what the request asked of it."""

    key: str
    label: str
    kind: str  # select | boolean | date_range | number_range | text | region
    options: list[tuple[str, str]] = field(default_factory=list)
    value: str = ""
    low: str = ""
    high: str = ""
    invalid: bool = False
    input_type: str = "date"

    @property
    def param(self) -> str:
        return f"f.{self.key}"

    @property
    def active(self) -> bool:
        return bool(self.value or self.low or self.high)


def field_type(form: FormDef, key: str) -> str:
    if form.has_field(key):
        return form.field(key).type
    return _SYSTEM_TYPES.get(key, "text")


def sortable_columns(form: FormDef) -> set[str]:
    keys = {f.key for f in form.stored_fields if not f.sensitive and f.type != "multiselect"}
    return keys | set(SYSTEM_COLUMNS)


def list_columns(form: FormDef, access: FormAccess) -> list[str]:
    """The columns of the list: the form's ``list.columns``, else a sensible first few."""
    columns = list(form.list_columns)
    if not columns:
        preferred = [form.title_field] if form.title_field else []
        rest = [f.key for f in form.stored_fields
                if f.type not in {"textarea", "file"} and f.key not in preferred]
        columns = [k for k in preferred if k] + rest[: 6 - len(preferred)]
    return [c for c in columns if c not in access.hidden_fields]


def parse_sort(form: FormDef, raw: str | None) -> list[str] | None:
    if not raw:
        return None
    allowed = sortable_columns(form)
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    keys = [k for k in keys if k.lstrip("-") in allowed][:3]
    return keys or None


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _parse_number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _utc_midnight(day: date) -> datetime:
    """The start of ``day`` in Asia/Shanghai, as a UTC datetime (how times are stored)."""
    return datetime.combine(day, time.min, TZ).astimezone(UTC)


def _options_for(session: Session, service: RecordService, f: FieldDef | None, kind: str,
                 lang: str) -> list[tuple[str, str]]:
    if kind == "user":
        return user_options(session)
    if f is None:
        return []
    if f.type in {"select", "multiselect"}:
        return [(o.value, pick(o.label, lang, o.value)) for o in f.options]
    if f.type == "reference" and f.target:
        return first_reference_options(service, f.target)
    if f.type == "region":
        return list(region_children(None))
    return []


def user_options(session: Session, limit: int = 500) -> list[tuple[str, str]]:
    rows = session.execute(
        select(db.user.c.id, db.user.c.display_name, db.user.c.username)
        .where(db.user.c.is_active.is_(True))
        .order_by(db.user.c.display_name, db.user.c.id).limit(limit)).all()
    return [(str(r.id), r.display_name or r.username) for r in rows]


def reference_options(service: RecordService, target: str,
                      limit: int = SMALL_OPTION_LIST) -> list[tuple[str, str]]:
    """Every record of ``target`` the actor may see, by title, when there are at most
    ``limit``; else none. A short list (branches, teams, products) is a plain select; a long
    one is searched on the server by the reference picker (``/api/v1/records/<form>/lookup``),
    so a form never loads a big target's records. Reads at most ``limit + 1`` rows, in id
    order (the primary key), so it costs the same on a million-row target."""
    try:
        cf = service.compiled(target)
        if not service.access(target).can("read"):
            return []
    except Exception:  # noqa: BLE001 - a missing target form just means no options
        return []
    page = service.list_page(target, order_by=["id"], limit=limit)
    if page.has_more:
        return []
    options = [(str(item["id"]), cf.form.title_of(item)) for item in page.items]
    return sorted(options, key=lambda option: (option[1], int(option[0])))


def first_reference_options(service: RecordService, target: str,
                            limit: int = OPTION_LIMIT) -> list[tuple[str, str]]:
    """The first ``limit`` records of ``target`` the actor may see, by title (the list's
    filter bar, which offers a select)."""
    try:
        cf = service.compiled(target)
        if not service.access(target).can("read"):
            return []
    except Exception:  # noqa: BLE001 - a missing target form just means no options
        return []
    form = cf.form
    title = form.title_field if form.title_field and form.has_field(form.title_field) else None
    order = [title] if title and title in sortable_columns(form) else ["id"]
    page = service.list_page(target, order_by=order, limit=limit)
    return [(str(item["id"]), form.title_of(item)) for item in page.items]


def build_filters(session: Session, service: RecordService, form: FormDef,
                  access: FormAccess, args: Mapping[str, str],
                  lang: str) -> tuple[list[FilterControl], dict[str, Any] | None]:
    """The filter bar's controls (with the request's values) and the condition they make."""
    controls: list[FilterControl] = []
    conditions: list[dict[str, Any]] = []
    for key in form.list_filters:
        if key in access.hidden_fields:
            continue
        f = form.field(key) if form.has_field(key) else None
        if f is not None and f.sensitive:
            continue
        ftype = field_type(form, key)
        label = pick(f.label, lang, key) if f else translate(f"col_{key}", lang)
        param = f"f.{key}"
        if ftype in {"select", "multiselect", "reference", "user", "region"}:
            control = FilterControl(key, label, "region" if ftype == "region" else "select",
                                    _options_for(session, service, f, ftype, lang),
                                    value=args.get(param, "").strip())
            if control.value:
                valid = {v for v, _ in control.options}
                if ftype == "region":
                    conditions.append({"field": key, "op": "starts_with",
                                       "value": control.value[:2]})
                elif control.value in valid:
                    value: Any = control.value
                    if ftype in {"reference", "user"}:
                        value = int(control.value)
                    conditions.append({"field": key, "op": "=", "value": value})
                else:
                    control.invalid = True
        elif ftype == "boolean":
            control = FilterControl(key, label, "boolean",
                                    [("true", translate("yes", lang)),
                                     ("false", translate("no", lang))],
                                    value=args.get(param, "").strip())
            if control.value in {"true", "false"}:
                conditions.append({"field": key, "op": "=", "value": control.value == "true"})
        elif ftype in {"date", "datetime"}:
            control = FilterControl(key, label, "date_range", low=args.get(f"{param}.from", ""),
                                    high=args.get(f"{param}.to", ""))
            low, high = _parse_date(control.low), _parse_date(control.high)
            control.invalid = bool((control.low and low is None)
                                   or (control.high and high is None))
            if ftype == "date":
                if low:
                    conditions.append({"field": key, "op": ">=", "value": low.isoformat()})
                if high:
                    conditions.append({"field": key, "op": "<=", "value": high.isoformat()})
            else:  # whole days in Asia/Shanghai; times are stored in UTC
                if low:
                    conditions.append({"field": key, "op": ">=", "value": _utc_midnight(low)})
                if high:
                    conditions.append({"field": key, "op": "<",
                                       "value": _utc_midnight(high + timedelta(days=1))})
        elif ftype in {"integer", "decimal", "money", "percent"}:
            control = FilterControl(key, label, "number_range",
                                    low=args.get(f"{param}.from", ""),
                                    high=args.get(f"{param}.to", ""), input_type="number")
            low_n, high_n = _parse_number(control.low), _parse_number(control.high)
            control.invalid = bool((control.low and low_n is None)
                                   or (control.high and high_n is None))
            if low_n is not None:
                conditions.append({"field": key, "op": ">=", "value": str(low_n)})
            if high_n is not None:
                conditions.append({"field": key, "op": "<=", "value": str(high_n)})
        else:
            control = FilterControl(key, label, "text", value=args.get(param, "").strip())
            if control.value:
                conditions.append({"field": key, "op": "contains", "value": control.value})
        controls.append(control)
    where = {"and": conditions} if conditions else None
    return controls, where
