"""How field values look on a page: option labels, record titles, user names, money, times.

``Lookups`` batch-loads what a page needs to show ids as names: one query per reference field
(titles of the target records the actor may see), one for user names, one for file names, no
matter how many rows the page has.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.forms.checks import region_name, region_path
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.model import FieldDef
from lendbase.records.permissions import Actor, access_for, scope_clause
from lendbase.web.i18n import pick, translate

TZ = ZoneInfo("Asia/Shanghai")
NUMERIC_TYPES = frozenset({"integer", "decimal", "money", "percent"})
USER_COLUMNS = frozenset({"created_by", "updated_by", "owner_id"})
DATETIME_COLUMNS = frozenset({"created_at", "updated_at"})


def to_local(value: datetime) -> datetime:
    """A stored (UTC, possibly naive from SQLite) datetime in Asia/Shanghai."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(TZ)


def format_datetime(value: Any) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        return to_local(value).strftime("%Y-%m-%d %H:%M")
    return str(value)


def format_date(value: Any) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, datetime):
        return to_local(value).strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def format_number(value: Any, decimals: int | None = None) -> str:
    """Thousands separators, and the field's decimals (``1234567.5`` -> ``1,234,567.50``)."""
    number = _decimal(value)
    if number is None:
        return "" if value in (None, "") else str(value)
    if decimals is None:
        if number == number.to_integral_value():
            return f"{int(number):,}"
        return f"{number:,f}"
    return f"{number:,.{decimals}f}"


def format_percent(value: Any, decimals: int | None = None) -> str:
    number = _decimal(value)
    if number is None:
        return ""
    # 12.5000 -> 12.50%: keep at least two places, drop the trailing zeros beyond them.
    text = f"{number:.{decimals if decimals is not None else 4}f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"{int(whole):,}.{frac}%" if not whole.startswith("-") else f"{whole}.{frac}%"


def region_label(code: str | None) -> str:
    if not code:
        return ""
    names = [region_name(c) or c for c in region_path(code)]
    return " / ".join(names) if names else str(code)


class Lookups:
    """Names for the ids a page shows, loaded in batches."""

    def __init__(self, session: Session, schema: CompiledSchema, actor: Actor) -> None:
        self.session = session
        self.schema = schema
        self.actor = actor
        self.titles: dict[str, dict[int, str]] = {}  # target form -> id -> title
        self.users: dict[int, str] = {}
        self.files: dict[int, dict[str, Any]] = {}

    # --- loading ---------------------------------------------------------------------------
    def load(self, fields: Iterable[FieldDef], items: Iterable[Mapping[str, Any]],
             system_users: bool = True) -> Lookups:
        """Collect the ids ``items`` hold in ``fields`` and load their names."""
        fields = list(fields)
        items = list(items)
        user_ids: set[int] = set()
        file_ids: set[int] = set()
        for f in fields:
            ids = {_as_id(item.get(f.key)) for item in items} - {None}
            if f.type == "reference" and f.target:
                self.load_titles(f.target, ids)  # type: ignore[arg-type]
            elif f.type == "user":
                user_ids |= ids  # type: ignore[arg-type]
            elif f.type == "file":
                file_ids |= ids  # type: ignore[arg-type]
        if system_users:
            for item in items:
                for key in USER_COLUMNS:
                    uid = _as_id(item.get(key))
                    if uid is not None:
                        user_ids.add(uid)
        self.load_users(user_ids)
        self.load_files(file_ids)
        return self

    def load_titles(self, target: str, ids: set[int]) -> None:
        known = self.titles.setdefault(target, {})
        wanted = sorted(i for i in ids if i not in known)
        if not wanted:
            return
        cf = self.schema.forms.get(target)
        if cf is None:
            return
        access = access_for(self.actor, cf.form)
        title_key = cf.form.title_field
        title_field = cf.form.field(title_key) if title_key and cf.form.has_field(title_key) \
            else None
        if not access.can("read") or title_field is None or title_field.sensitive:
            return  # shown as #id
        table = cf.table
        rows = self.session.execute(
            select(table.c.id, table.c[title_field.key])
            .where(table.c.id.in_(wanted), scope_clause(self.actor, access, table))
        ).all()
        for rid, title in rows:
            known[int(rid)] = str(title) if title not in (None, "") else f"#{rid}"

    def load_users(self, ids: set[int]) -> None:
        wanted = sorted(i for i in ids if i not in self.users)
        if not wanted:
            return
        rows = self.session.execute(
            select(db.user.c.id, db.user.c.display_name, db.user.c.username)
            .where(db.user.c.id.in_(wanted))).all()
        for uid, display_name, username in rows:
            self.users[int(uid)] = display_name or username

    def load_files(self, ids: set[int]) -> None:
        wanted = sorted(i for i in ids if i not in self.files)
        if not wanted:
            return
        rows = self.session.execute(
            select(db.stored_file.c.id, db.stored_file.c.filename, db.stored_file.c.size)
            .where(db.stored_file.c.id.in_(wanted))).all()
        for fid, filename, size in rows:
            self.files[int(fid)] = {"id": int(fid), "filename": filename, "size": size}

    # --- names -----------------------------------------------------------------------------
    def title(self, target: str, record_id: Any) -> str:
        rid = _as_id(record_id)
        if rid is None:
            return ""
        return self.titles.get(target, {}).get(rid, f"#{rid}")

    def user(self, user_id: Any) -> str:
        uid = _as_id(user_id)
        if uid is None:
            return ""
        return self.users.get(uid, f"#{uid}")

    def file(self, file_id: Any) -> dict[str, Any] | None:
        fid = _as_id(file_id)
        if fid is None:
            return None
        return self.files.get(fid, {"id": fid, "filename": f"#{fid}", "size": None})


def _as_id(value: Any) -> int | None:
    if value in (None, "") or isinstance(value, bool):
        return None
    if isinstance(value, Mapping):
        value = value.get("id")
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def field_is_numeric(f: FieldDef) -> bool:
    return f.type in NUMERIC_TYPES or (f.type == "computed" and f.result_type in NUMERIC_TYPES)


def format_value(f: FieldDef, value: Any, lookups: Lookups, lang: str,
                 link: bool = True) -> Markup:
    """HTML for one value of ``f`` (escaped; links to references and files)."""
    if value is None or value == "" or value == []:
        return Markup('<span class="text-body-tertiary">—</span>')
    t = f.result_type if f.type == "computed" and f.result_type else f.type
    if t == "select":
        return escape(f.option_label(str(value), lang))
    if t == "multiselect":
        values = value if isinstance(value, list) else [value]
        return Markup(" ").join(
            Markup('<span class="badge rounded-pill text-bg-light border">{}</span>').format(
                f.option_label(str(v), lang)) for v in values)
    if t == "boolean":
        if value is True or str(value).lower() in {"true", "1"}:
            return Markup('<span class="badge text-bg-success-subtle text-success-emphasis">'
                          '{}</span>').format(translate("yes", lang))
        return Markup('<span class="badge text-bg-secondary-subtle text-secondary-emphasis">'
                      '{}</span>').format(translate("no", lang))
    if t in {"money", "decimal"}:
        return escape(format_number(value, f.decimals if f.decimals is not None else 2))
    if t == "integer":
        return escape(format_number(value, 0))
    if t == "percent":
        return escape(format_percent(value, f.decimals))
    if t == "date":
        return escape(format_date(value))
    if t == "datetime":
        return escape(format_datetime(value))
    if t == "reference" and f.target:
        title = lookups.title(f.target, value)
        rid = _as_id(value)
        if link and rid is not None:
            return Markup('<a href="/f/{}/{}">{}</a>').format(f.target, rid, title)
        return escape(title)
    if t == "user":
        return escape(lookups.user(value))
    if t == "file":
        info = lookups.file(value)
        if info is None:
            return Markup("")
        if link:
            return Markup('<a href="/files/{}"><i class="bi bi-paperclip"></i> {}</a>').format(
                info["id"], info["filename"])
        return escape(info["filename"])
    if t == "region":
        return escape(region_label(str(value)))
    if t == "textarea":
        return Markup('<span class="lb-pre">{}</span>').format(value)
    if t == "subtable":
        rows = value if isinstance(value, list) else []
        return escape(translate("rows_n", lang, n=len(rows)))
    return escape(str(value))


def format_system(key: str, value: Any, lookups: Lookups) -> Markup:
    """HTML for a system column (ids, versions, times, users)."""
    if value in (None, ""):
        return Markup('<span class="text-body-tertiary">—</span>')
    if key in DATETIME_COLUMNS:
        return escape(format_datetime(value))
    if key in USER_COLUMNS:
        return escape(lookups.user(value))
    return escape(str(value))


def column_label(form_fields: Mapping[str, FieldDef], key: str, lang: str) -> str:
    f = form_fields.get(key)
    if f is not None:
        return pick(f.label, lang, key)
    return translate(f"col_{key}", lang)
