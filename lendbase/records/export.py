"""Export the records of a form as CSV or XLSX: for a stated reason, and logged (PIPL).

The rows are the list's: the same read right, row scope, filters, search and order
(``RecordService.iter_chunks`` walks keyset pages), and the actor needs the form's "export"
right too. The columns are the form's stored fields in form order, then its archived fields
(removed fields whose columns are kept, headed "... (已归档)" / "... (archived)"), each headed by
its label in ``lang``; fields hidden from the actor are left out. Sub-tables are left out: one
line per record.

Values read as a person reads them: option labels, the titles of referenced records, user and
file names, exact decimals (XLSX number cells with the field's decimals; never floats in CSV),
dates and times in Asia/Shanghai, and sensitive values masked, even for an actor with the unmask
right: an export never unmasks. Text that a spreadsheet would run as a formula is kept as text.

Records stream into a temporary file, one chunk in memory at a time: CSV through the ``csv``
module (UTF-8 with a BOM, so that Excel reads the Chinese), XLSX through openpyxl's write-only
workbook. The caller sends ``ExportResult.open_once()`` (closing it removes the file) or reads
``path`` and calls ``discard()``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import ValidationFailed
from lendbase.forms.checks import region_name, region_path
from lendbase.forms.compile import CompiledForm, CompiledSchema
from lendbase.forms.model import FieldDef
from lendbase.forms.values import DEFAULT_TZ
from lendbase.records.audit import log_access
from lendbase.records.permissions import Actor, FormAccess, access_for, scope_clause
from lendbase.records.service import RecordService, utcnow
from lendbase.security import FieldCipher

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

CHUNK = 1000
MAX_REASON = 500
_NUMERIC = frozenset({"integer", "decimal", "money", "percent"})
_LOOKED_UP = frozenset({"reference", "user", "file"})
_WORDS = {
    "zh": {"yes": "是", "no": "否", "archived": " (已归档)", "separator": "、"},
    "en": {"yes": "Yes", "no": "No", "archived": " (archived)", "separator": ", "},
}
# Cells starting like this run as formulas when a spreadsheet opens a CSV (OWASP "CSV
# injection"); such text gets a leading apostrophe, which spreadsheets show as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SHEET_TITLE_BAD = re.compile(r"[\\/?*\[\]:]")
# An Excel number is a double: 15 significant digits. A decimal with more (money above ten
# trillion with its cents) is written as text so that no digit is lost.
_EXCEL_DIGITS = 15


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


CONTENT_TYPES = {
    # send_file adds "; charset=utf-8" to text/* itself (the file is written as UTF-8)
    ExportFormat.CSV: "text/csv",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class ExportResult:
    """A written export: a temporary file the caller sends and then removes."""

    filename: str
    content_type: str
    path: Path
    row_count: int

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)

    def open_once(self) -> BinaryIO:
        """The file for reading; closing it removes the file. A WSGI server closes what it
        has sent, so handing this to ``send_file`` leaves nothing behind."""
        return _RemovedOnClose(self.path)


class _RemovedOnClose(io.FileIO):
    def __init__(self, path: Path) -> None:
        super().__init__(path, "rb")
        self._path = path

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._path.unlink(missing_ok=True)


@dataclass(frozen=True)
class ExportColumn:
    field: FieldDef
    header: str
    archived: bool = False


def export_columns(cf: CompiledForm, access: FormAccess, lang: str) -> list[ExportColumn]:
    """Stored fields in form order, then archived ones; hidden fields left out."""
    words = _WORDS.get(lang, _WORDS["zh"])
    live = [ExportColumn(f, _label(f, lang)) for f in cf.form.stored_fields
            if f.key not in access.hidden_fields]
    archived = [ExportColumn(f, _label(f, lang) + words["archived"], archived=True)
                for f in cf.archived
                if f.key not in access.hidden_fields and not cf.form.has_field(f.key)]
    return live + archived


def export_records(session: Session, schema: CompiledSchema, actor: Actor, cipher: FieldCipher,
                   form_key: str, *, where: Mapping[str, Any] | None = None,
                   search: str | None = None, order_by: list[str] | None = None,
                   fmt: str, lang: str = "zh", reason: str,
                   clock: Callable[[], datetime] = utcnow, chunk: int = CHUNK) -> ExportResult:
    """Write the records the actor may export (as the list would show them) to a temporary
    file and log the export. Raises ``PermissionDenied`` without the export right and
    ``ValidationFailed`` for a missing reason, an unknown format or a bad filter or sort."""
    service = RecordService(session, schema, actor, cipher, clock)
    cf = service.compiled(form_key)
    access = service.access(form_key)
    access.require("export", cf.form, actor.lang)
    stated = (reason or "").strip()
    if not stated or len(stated) > MAX_REASON:
        raise ValidationFailed({"reason": [
            f"state why you export these records (1 to {MAX_REASON} characters), e.g. "
            "'monthly report to the risk committee'; it is kept in the access log"]})
    try:
        kind = ExportFormat(fmt)
    except ValueError:
        raise ValidationFailed({"format": [f"{fmt!r} is not a format; use csv or xlsx"]}
                               ) from None
    lang = lang if lang in _WORDS else "zh"
    columns = export_columns(cf, access, lang)
    chunks = service.iter_chunks(form_key, where=where, search=search, order_by=order_by,
                                 chunk=chunk, archived=True)
    names = _Names(session, schema, actor, lang)
    rows = (([_cell(c.field, record.get(c.field.key), names, lang) for c in columns]
             for record in names.load(columns, records))
            for records in chunks)
    now = clock()
    fd, name = tempfile.mkstemp(prefix="lendbase-export-", suffix=f".{kind.value}")
    os.close(fd)
    path = Path(name)
    try:
        headers = [c.header for c in columns]
        if kind is ExportFormat.CSV:
            count = _write_csv(path, headers, rows)
        else:
            count = _write_xlsx(path, _label(cf.form, lang), columns, rows)
        # inside the try: if the log row cannot be written, no export file is left behind
        log_access(session, actor_id=actor.user_id or 0, at=now, action="export",
                   form_key=form_key, record_id=None, field_key=None,
                   reason=f"{stated} ({count} rows)")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    stamp = now.astimezone(DEFAULT_TZ).strftime("%Y%m%d-%H%M%S")
    return ExportResult(f"{form_key}-{stamp}.{kind.value}", CONTENT_TYPES[kind], path, count)


# --- values ----------------------------------------------------------------------------------


def _label(item: Any, lang: str) -> str:
    label = item.label
    other = "en" if lang == "zh" else "zh"
    return label.get(lang) or label.get(other) or item.key


def _as_id(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class _Names:
    """Titles of referenced records, user names and file names, loaded for one chunk at a
    time: one query per reference field, one for users, one for files."""

    def __init__(self, session: Session, schema: CompiledSchema, actor: Actor,
                 lang: str) -> None:
        self.session = session
        self.schema = schema
        self.actor = actor
        self.lang = lang
        self.titles: dict[str, dict[int, str]] = {}  # field key -> id -> title
        self.users: dict[int, str] = {}
        self.files: dict[int, str] = {}

    def load(self, columns: Sequence[ExportColumn],
             records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        user_ids: set[int] = set()
        file_ids: set[int] = set()
        for column in columns:
            f = column.field
            if f.type not in _LOOKED_UP:
                continue
            ids = {i for i in (_as_id(r.get(f.key)) for r in records) if i is not None}
            if f.type == "reference":
                self.titles[f.key] = self._titles(f, ids)
            elif f.type == "user":
                user_ids |= ids
            else:
                file_ids |= ids
        self.users = self._users(user_ids)
        self.files = self._files(file_ids)
        return records

    def _titles(self, f: FieldDef, ids: set[int]) -> dict[int, str]:
        target = self.schema.forms.get(f.target or "")
        if target is None or not ids:
            return {}
        form = target.form
        access = access_for(self.actor, form)
        key = form.title_field
        if (not access.can("read") or not key or not form.has_field(key)
                or form.field(key).sensitive or key in access.hidden_fields):
            return {}  # shown as #id, as on the pages
        title_field = form.field(key)
        table = target.table
        rows = self.session.execute(
            select(table.c.id, table.c[key])
            .where(table.c.id.in_(sorted(ids)), scope_clause(self.actor, access, table))
        ).all()
        return {int(rid): _title_text(title_field, title, self.lang) or f"#{rid}"
                for rid, title in rows}

    def _users(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = self.session.execute(
            select(db.user.c.id, db.user.c.display_name, db.user.c.username)
            .where(db.user.c.id.in_(sorted(ids)))).all()
        return {int(uid): display or username for uid, display, username in rows}

    def _files(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = self.session.execute(
            select(db.stored_file.c.id, db.stored_file.c.filename)
            .where(db.stored_file.c.id.in_(sorted(ids)))).all()
        return {int(fid): filename for fid, filename in rows}

    def name(self, f: FieldDef, value: Any) -> str:
        rid = _as_id(value)
        if rid is None:
            return ""
        table = (self.titles.get(f.key, {}) if f.type == "reference"
                 else self.users if f.type == "user" else self.files)
        return table.get(rid, f"#{rid}")


def _title_text(f: FieldDef, value: Any, lang: str) -> str:
    if value in (None, ""):
        return ""
    if f.type == "select":
        return f.option_label(str(value), lang)
    return str(value)


def _quantize(value: Any, decimals: int | None) -> Decimal:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number if decimals is None else number.quantize(Decimal(1).scaleb(-decimals))


def _cell(f: FieldDef, value: Any, names: _Names, lang: str) -> Any:
    """The value of one cell: text, an int, an exact Decimal, a date or a naive local
    datetime (Asia/Shanghai); None for an empty value."""
    if value is None or value == "" or value == []:
        return None
    if f.sensitive:
        return str(value)  # already masked by the service
    t = f.type
    if t == "select":
        return f.option_label(str(value), lang)
    if t == "multiselect":
        values = value if isinstance(value, list) else [value]
        return _WORDS[lang]["separator"].join(f.option_label(str(v), lang) for v in values)
    if t == "boolean":
        return _WORDS[lang]["yes" if value is True or str(value).lower() in {"true", "1"}
                            else "no"]
    if t == "integer":
        return int(value)
    if t in {"decimal", "money", "percent"}:
        return _quantize(value, f.decimals)
    if t == "datetime" and isinstance(value, datetime):
        return value.astimezone(DEFAULT_TZ).replace(tzinfo=None)
    if t in _LOOKED_UP:
        return names.name(f, value)
    if t == "region":
        parts = [region_name(c) or c for c in region_path(str(value))]
        return " / ".join(parts) if parts else str(value)
    return value if isinstance(value, date) else str(value)


# --- writers ---------------------------------------------------------------------------------


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")  # never exponent notation, never a float
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _write_csv(path: Path, headers: list[str],
               rows: Iterable[Iterable[list[Any]]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(headers)
        for chunk in rows:
            for row in chunk:
                writer.writerow([_csv_text(v) for v in row])
                count += 1
    return count


def _number_format(f: FieldDef) -> str | None:
    if f.type == "integer":
        return "0"
    if f.type in _NUMERIC:
        decimals = f.decimals if f.decimals is not None else 2
        return "0." + "0" * decimals if decimals > 0 else "0"
    return None


def _sheet_title(text: str) -> str:
    return _SHEET_TITLE_BAD.sub(" ", text).strip()[:31] or "export"


def _xlsx_cells(ws: WriteOnlyWorksheet, row: list[Any],
                formats: list[str | None]) -> Iterator[Any]:
    for value, number_format in zip(row, formats, strict=True):
        if value is None:
            yield None
            continue
        if isinstance(value, Decimal) and len(value.as_tuple().digits) > _EXCEL_DIGITS:
            value = format(value, "f")  # beyond what an Excel number holds: exact text
        if isinstance(value, str):
            cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", value))
            cell.data_type = "s"  # openpyxl would make "=..." a formula
        else:
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
            elif number_format is not None:
                cell.number_format = number_format
        yield cell


def _write_xlsx(path: Path, title: str, columns: list[ExportColumn],
                rows: Iterable[Iterable[list[Any]]]) -> int:
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(_sheet_title(title))
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", column.header))
        cell.data_type = "s"
        cell.font = bold
        header.append(cell)
    ws.append(header)
    formats = [_number_format(c.field) for c in columns]
    count = 0
    for chunk in rows:
        for row in chunk:
            ws.append(list(_xlsx_cells(ws, row, formats)))
            count += 1
    workbook.save(path)
    return count


__all__ = ["CONTENT_TYPES", "ExportColumn", "ExportFormat", "ExportResult", "export_columns",
           "export_records"]
