"""The dry-run: what a migration plan would do to the rows that exist now.

``inspect_plan`` reads, per operation, how many rows are affected (one set-based count) and the
values that would not convert, with the record they belong to and ``coerce_value``'s reason.
Distinct values are read in keyset chunks, never the whole table at once. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import TableClause
from sqlalchemy.types import NullType

from lendbase.forms.compile import CompiledForm, column_type
from lendbase.forms.migration._sql import (
    count,
    empty_condition,
    field_table,
    form_table,
    scan_values,
)
from lendbase.forms.migration.backfill import parse_backfill
from lendbase.forms.migration.convert import FieldBackfill, ValueConverter
from lendbase.forms.migration.operations import (
    AddFormIndex,
    Conversion,
    MakeUnique,
    Operation,
    Where,
    field_of,
)
from lendbase.forms.migration.plan import MigrationPlan
from lendbase.forms.model import FieldDef
from lendbase.forms.naming import hash_column_for

SAMPLE_LIMIT = 20
_ENCRYPTED = "(encrypted)"


def _t(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


def jsonable(value: Any) -> Any:
    """A value as JSON can carry it (decimals and dates as text)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Sample:
    """One value that does not convert (or an empty / duplicate row), with where it lives."""

    record_id: int
    value: Any
    rows: int = 1
    #: {"en": ..., "zh": ...} from coerce_value; None for empty and duplicate rows
    reason: Mapping[str, str] | None = None
    #: unresolved | mapped | replaced | cleared | kept | empty | duplicate
    resolution: str = "unresolved"
    new_value: Any = None
    #: the sub-table row, when the value is in a sub-table
    row_id: int | None = None
    #: the record's title (its ``title_field``, e.g. CUST-2026-000017), when it has one
    title: str | None = None

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "title": self.title,
            "row_id": self.row_id,
            "value": jsonable(self.value),
            "rows": self.rows,
            "reason": (self.reason.get(lang) or self.reason.get("en")) if self.reason else None,
            "resolution": self.resolution,
            "new_value": jsonable(self.new_value),
        }


@dataclass(frozen=True)
class OpReport:
    operation: Operation
    total_rows: int = 0
    rows_affected: int = 0
    #: rows whose value does not convert by itself (whether or not a backfill covers it)
    rows_not_converting: int = 0
    #: ... and that no backfill covers: these block the publish
    rows_unresolved: int = 0
    rows_mapped: int = 0
    rows_cleared: int = 0
    rows_emptied: int = 0
    rows_filled: int = 0
    rows_duplicate: int = 0
    samples: tuple[Sample, ...] = ()
    blocking_reason: Mapping[str, str] | None = None

    @property
    def blocking(self) -> bool:
        return self.blocking_reason is not None

    def summary(self, lang: str = "en") -> str:
        """One sentence for the builder, e.g. "'Income' becomes a number: 3 of 2,041 rows..."."""
        op = self.operation
        text = op.title(lang)
        if self.rows_not_converting:
            head = _t(lang, f"{self.rows_not_converting:,} of {self.total_rows:,} rows hold "
                            "values that do not convert",
                      f"{self.total_rows:,} 行中有 {self.rows_not_converting:,} 行的数据无法转换")
        elif self.rows_duplicate:
            head = _t(lang, f"{self.rows_duplicate:,} of {self.total_rows:,} rows share a value "
                            "with another row",
                      f"{self.total_rows:,} 行中有 {self.rows_duplicate:,} 行的数据重复")
        elif self.samples and self.samples[0].resolution == "empty":
            head = _t(lang, f"{self.rows_affected:,} of {self.total_rows:,} rows are empty",
                      f"{self.total_rows:,} 行中有 {self.rows_affected:,} 行为空")
        elif self.blocking_reason:
            head = self.blocking_reason.get(lang) or self.blocking_reason["en"]
        else:
            return op.describe(lang)
        details = [self._sample_text(s, lang) for s in self.samples[:3]]
        colon, semicolon = ("：", "；") if lang == "zh" else (": ", "; ")
        more = semicolon.join(details)
        return f"{text}{colon}{head}" + (f"{colon}{more}" if more else "") + \
            ("…" if len(self.samples) > 3 else "")

    @staticmethod
    def _sample_text(s: Sample, lang: str) -> str:
        where = _t(lang, f"record #{s.record_id}", f"记录 #{s.record_id}")
        if s.title:
            where = f"{where} {s.title}"
        if s.resolution == "empty":
            return where
        value = repr(jsonable(s.value)) if lang != "zh" else f"“{jsonable(s.value)}”"
        text = f"{where} {value}"
        if s.rows > 1:
            text += f" ×{s.rows}"
        if s.reason:
            text += f" ({s.reason.get(lang) or s.reason['en']})"
        return text

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        out = self.operation.to_dict(lang)
        out.update(
            total_rows=self.total_rows,
            rows_affected=self.rows_affected,
            rows_not_converting=self.rows_not_converting,
            rows_unresolved=self.rows_unresolved,
            rows_mapped=self.rows_mapped,
            rows_cleared=self.rows_cleared,
            rows_emptied=self.rows_emptied,
            rows_filled=self.rows_filled,
            rows_duplicate=self.rows_duplicate,
            samples=[s.to_dict(lang) for s in self.samples],
            blocking=self.blocking,
            blocking_reason=(self.blocking_reason.get(lang) or self.blocking_reason["en"])
            if self.blocking_reason else None,
            summary=self.summary(lang),
        )
        return out


@dataclass(frozen=True)
class PlanReport:
    plan: MigrationPlan
    operations: tuple[OpReport, ...]

    @property
    def blocking(self) -> bool:
        return any(r.blocking for r in self.operations)

    @property
    def needs_confirmation(self) -> bool:
        return self.plan.needs_confirmation

    def problems(self, lang: str = "en") -> list[str]:
        return [r.summary(lang) for r in self.operations if r.blocking]

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "form": self.plan.form_key,
            "blocking": self.blocking,
            "needs_confirmation": self.needs_confirmation,
            "changes_schema": self.plan.changes_schema,
            "archived": [f.key for f in self.plan.archived],
            "operations": [r.to_dict(lang) for r in self.operations],
        }


def inspect_plan(session: Session, old_compiled: CompiledForm | None, plan: MigrationPlan,
                 backfill: Mapping[str, Any] | None = None, *, sample_limit: int = SAMPLE_LIMIT,
                 chunk_size: int = 1000) -> PlanReport:
    """Dry-run ``plan`` against the data of the published form (``old_compiled``)."""
    parsed = parse_backfill(plan, backfill)
    if old_compiled is None or plan.creates_form:
        return PlanReport(plan, tuple(OpReport(op) for op in plan.operations))
    inspector = _Inspector(session.connection(), plan, parsed, sample_limit, chunk_size)
    reports = tuple(inspector.visit(op) for op in plan.operations)
    return PlanReport(plan, _with_titles(session, old_compiled, reports))


def _with_titles(session: Session, compiled: CompiledForm,
                 reports: tuple[OpReport, ...]) -> tuple[OpReport, ...]:
    """Name each sample's record by its title field (one query for all samples), so the
    builder can say "customer CUST-2026-000017 'about 8k'" instead of a bare row id."""
    key = compiled.form.title_field
    title = compiled.form.field(key) if key and compiled.form.has_field(key) else None
    ids = {s.record_id for r in reports for s in r.samples}
    if title is None or title.sensitive or not ids or title.key not in compiled.table.c:
        return reports
    column = compiled.table.c[title.key]
    titles = {rid: str(value) for rid, value in session.execute(
        select(compiled.table.c.id, column).where(compiled.table.c.id.in_(sorted(ids))))
        if value is not None}
    return tuple(replace(r, samples=tuple(replace(s, title=titles.get(s.record_id))
                                          for s in r.samples)) for r in reports)


def empty_blocking(op: Operation) -> dict[str, str]:
    return {"en": op.empty_reason("en"), "zh": op.empty_reason("zh")}


class _Inspector:
    """One ``visit_<kind>`` per operation kind (SQLAlchemy-compiler style dispatch)."""

    def __init__(self, conn: Connection, plan: MigrationPlan,
                 backfill: Mapping[str, FieldBackfill], sample_limit: int,
                 chunk_size: int) -> None:
        self.conn = conn
        self.plan = plan
        self.backfill = backfill
        self.limit = sample_limit
        self.chunk = chunk_size
        self._totals: dict[str, int] = {}
        #: rows left without a value by a conversion, per field path (for make_required)
        self._nulled: dict[str, int] = {}

    def visit(self, op: Operation) -> OpReport:
        if isinstance(op, Conversion) and not op.requires_empty:
            return self.visit_conversion(op)
        if op.requires_empty:
            return self.visit_requires_empty(op)
        method: Callable[[Operation], OpReport] | None = getattr(self, f"visit_{op.kind}", None)
        return method(op) if method else OpReport(op)

    # --- helpers -----------------------------------------------------------------------------
    def total(self, at: Where) -> int:
        if at.table_name not in self._totals:
            self._totals[at.table_name] = count(self.conn, form_table(at))
        return self._totals[at.table_name]

    def _stored_field(self, op: Operation) -> FieldDef:
        """The field as its column is stored now (before any conversion of this publish)."""
        f = getattr(op, "field", None)
        assert isinstance(f, FieldDef)
        for other in self.plan.operations_for(op.path or ""):
            old = getattr(other, "old", None)
            if isinstance(old, FieldDef) and old.type != "subtable":
                return old
            archived = getattr(other, "archived", None)
            if isinstance(archived, FieldDef) and archived.type != "subtable":
                return archived
        return f

    def _non_null(self, at: Where, f: FieldDef) -> int:
        t = field_table(at, f)
        return count(self.conn, t, t.c[f.key].is_not(None))

    # --- visitors ----------------------------------------------------------------------------
    def visit_add_field(self, op: Operation) -> OpReport:
        total = self.total(op.at)
        fill = self.backfill.get(op.path or "")
        return OpReport(op, total, total, rows_filled=total if fill and fill.has_fill else 0)

    def visit_restore_field(self, op: Operation) -> OpReport:
        stored = self._stored_field(op)
        total = self.total(op.at)
        values = self._non_null(op.at, stored)
        fill = self.backfill.get(op.path or "")
        return OpReport(op, total, values,
                        rows_filled=total - values if fill and fill.has_fill else 0)

    def visit_archive_field(self, op: Operation) -> OpReport:
        f = field_of(op)
        return OpReport(op, self.total(op.at), self._non_null(op.at, f))

    def _child_rows(self, op: Operation) -> OpReport:
        f = field_of(op)
        child = Where(op.at.form_key, f.key, f.label)
        rows = self.total(child)
        return OpReport(op, rows, rows)

    visit_archive_subtable = _child_rows
    visit_restore_subtable = _child_rows

    def visit_requires_empty(self, op: Operation) -> OpReport:
        stored = self._stored_field(op)
        total = self.total(op.at)
        t = field_table(op.at, stored)
        col = t.c[stored.key]
        record = t.c.parent_id if op.at.subtable else t.c.id
        values = count(self.conn, t, col.is_not(None))
        samples: tuple[Sample, ...] = ()
        if values:
            rows = self.conn.execute(select(t.c.id, record, col).where(col.is_not(None))
                                     .order_by(t.c.id).limit(self.limit)).all()
            samples = tuple(Sample(rec, _ENCRYPTED if stored.sensitive else value,
                                   resolution="unresolved",
                                   row_id=row if op.at.subtable else None)
                            for row, rec, value in rows)
        return OpReport(op, total, values, samples=samples,
                        blocking_reason=empty_blocking(op) if values else None)

    def visit_conversion(self, op: Conversion) -> OpReport:
        assert op.old is not None and op.field is not None
        total = self.total(op.at)
        stored = self._stored_field(op)
        if not op.checks_values:
            return OpReport(op, total, self._non_null(op.at, stored))
        path = op.path or ""
        converter = ValueConverter(stored, op.field, self.backfill.get(path))
        keep = op.kind == "change_rules"  # stricter rules list values but never change them
        t = field_table(op.at, stored)
        stats = dict.fromkeys(("affected", "bad", "unresolved", "mapped", "cleared", "emptied"), 0)
        samples: list[Sample] = []
        for group in scan_values(self.conn, t, stored.key, column_type(stored), self.chunk):
            outcome = converter.outcome(group.value)
            stats["affected"] += group.rows
            status = outcome.status
            if outcome.reason is not None:
                stats["bad"] += group.rows
                if len(samples) < self.limit:
                    resolution = "kept" if keep else (
                        "unresolved" if status == "failed" else status)
                    samples.append(Sample(
                        group.first_record, group.value, group.rows, outcome.reason,
                        resolution, outcome.value,
                        group.first_id if op.at.subtable else None))
            if keep:
                continue
            if status == "failed":
                stats["unresolved"] += group.rows
            elif status in {"mapped", "replaced"}:
                stats["mapped"] += group.rows
            elif status == "cleared":
                stats["cleared"] += group.rows
            elif status == "emptied":
                stats["emptied"] += group.rows
        self._nulled[path] = self._nulled.get(path, 0) + stats["cleared"] + stats["emptied"]
        blocking = None
        if stats["unresolved"]:
            n = stats["unresolved"]
            blocking = {
                "en": f"{n:,} row(s) hold values that do not convert; correct those records or "
                      "give a backfill (map the values, or 'else' for all the others)",
                "zh": f"有 {n:,} 行的数据无法转换；请修改这些记录，或提供回填规则（map 指定替换值，"
                      "else 处理其余无法转换的值）",
            }
        return OpReport(op, total, stats["affected"], stats["bad"], stats["unresolved"],
                        stats["mapped"], stats["cleared"], stats["emptied"],
                        samples=tuple(samples), blocking_reason=blocking)

    def visit_make_required(self, op: Operation) -> OpReport:
        stored = self._stored_field(op)
        total = self.total(op.at)
        t = field_table(op.at, stored)
        col = t.c[stored.key]
        empty = empty_condition(col, column_type(stored))
        rows = count(self.conn, t, empty)
        record = t.c.parent_id if op.at.subtable else t.c.id
        found = self.conn.execute(select(t.c.id, record).where(empty).order_by(t.c.id)
                                  .limit(self.limit)).all()
        samples = tuple(Sample(rec, None, resolution="empty",
                               row_id=row if op.at.subtable else None) for row, rec in found)
        rows += self._nulled.get(op.path or "", 0)
        fill = self.backfill.get(op.path or "")
        return OpReport(op, total, rows, samples=samples,
                        rows_filled=rows if fill and fill.has_fill else 0)

    def visit_make_unique(self, op: Operation) -> OpReport:
        assert isinstance(op, MakeUnique) and op.field is not None
        stored = self._stored_field(op)
        key = hash_column_for(stored.key) if stored.has_lookup_hash else stored.key
        return self._duplicates(op, op.at, [key], encrypted=stored.sensitive)

    def visit_add_form_index(self, op: Operation) -> OpReport:
        assert isinstance(op, AddFormIndex) and op.index is not None
        if not op.index.unique:
            return OpReport(op)
        return self._duplicates(op, op.at, list(op.index.fields), encrypted=False)

    def _duplicates(self, op: Operation, at: Where, keys: list[str],
                    encrypted: bool) -> OpReport:
        t: TableClause = form_table(at, {k: NullType() for k in keys})
        cols = [t.c[k] for k in keys]
        record = t.c.parent_id if at.subtable else t.c.id
        present = [c.is_not(None) for c in cols]
        key_expr = cols[0] if len(cols) == 1 else tuple_(*cols)
        dup_keys = (select(*cols).where(*present).group_by(*cols)
                    .having(func.count() > 1))
        rows = count(self.conn, t, key_expr.in_(dup_keys), *present)
        samples: list[Sample] = []
        if rows:
            groups = self.conn.execute(
                select(*cols, func.count(), func.min(record)).where(*present)
                .group_by(*cols).having(func.count() > 1)
                .order_by(func.count().desc(), func.min(record)).limit(self.limit)).all()
            for g in groups:
                values = g[:len(cols)]
                shown: Any = _ENCRYPTED if encrypted else (
                    values[0] if len(cols) == 1 else dict(zip(keys, values, strict=True)))
                samples.append(Sample(int(g[-1]), shown, int(g[-2]), resolution="duplicate"))
        blocking = None
        if rows:
            blocking = {"en": f"{rows:,} row(s) share a value with another row; make the values "
                              "unique first",
                        "zh": f"有 {rows:,} 行的数据与其他行重复；请先处理重复数据"}
        return OpReport(op, self.total(at), rows, rows_duplicate=rows, samples=tuple(samples),
                        blocking_reason=blocking)

    def visit_unsupported(self, op: Operation) -> OpReport:
        return OpReport(op, blocking_reason={"en": op.describe("en"), "zh": op.describe("zh")})
