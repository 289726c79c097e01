"""Apply a migration plan with Alembic's operations API, inside the caller's transaction.

How the schema changes without ever losing a value, on PostgreSQL and on SQLite alike:

- **No table is ever recreated.** Alembic's SQLite batch mode copies a table into a new one and
  drops the old; with ``PRAGMA foreign_keys=ON`` (``lendbase.db.make_engine``) that DROP runs an
  implicit DELETE which cascades into the child tables (sub-table rows vanish) or fails on
  RESTRICT references, and the pragma cannot be switched off inside a transaction. So only
  native ALTERs are used: ADD COLUMN, DROP COLUMN and RENAME COLUMN (SQLite >= 3.35).
- **Uniqueness is a unique index, not a table constraint**, on both databases, so it can be added
  and dropped later (SQLite cannot drop a table constraint without recreating the table).
  Reference columns are added with an inline REFERENCES clause so that SQLite can drop them.
- **A type change writes a new column**: ADD ``<key>__lbconv``, fill it set-based (``CAST`` for
  the values whose CAST is exact, a temporary mapping table joined in one UPDATE for the values
  ``coerce_value`` converts differently and for the backfill), verify that no value became NULL
  unintentionally, DROP the old column, RENAME the new one.
- **Indexes are reconciled**: indexes of the affected tables that the new compiled tables do not
  declare (or that cover a rebuilt column) are dropped first and the declared ones created last.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
    and_,
    column,
    exists,
    func,
    insert,
    select,
    table,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, cast
from sqlalchemy.types import Date, DateTime, TypeEngine

from lendbase.errors import MigrationRefused
from lendbase.forms.compile import CompiledForm, column_type
from lendbase.forms.migration._sql import count, empty_condition, field_table, scan_values
from lendbase.forms.migration.archive import archived_child_table
from lendbase.forms.migration.backfill import parse_backfill
from lendbase.forms.migration.convert import (
    FieldBackfill,
    ValueConverter,
    same_storage,
)
from lendbase.forms.migration.operations import (
    AddField,
    AddSubtable,
    Conversion,
    MakeRequired,
    Operation,
    RestoreField,
    Where,
    old_and_new,
)
from lendbase.forms.migration.plan import MigrationPlan
from lendbase.forms.model import FieldDef
from lendbase.forms.naming import hash_column_for

_OUR_INDEX_PREFIXES = ("ix_", "uq_")
_CONVERTED_SUFFIX = "__lbconv"


@dataclass(frozen=True)
class ApplyResult:
    #: indexes declared by the forms but not created (pg_trgm missing on PostgreSQL)
    skipped_indexes: tuple[str, ...] = ()


class convert_to(ColumnElement[Any]):
    """``CAST(expr AS type)``, except where the database stores the target as text already.

    SQLite keeps dates as ISO text (SQLAlchemy's storage format) and gives ``DATE`` numeric
    affinity, so ``CAST('2024-01-05' AS DATE)`` would yield 2024: there the value is copied as is.
    """

    inherit_cache = False

    def __init__(self, expr: ColumnElement[Any], type_: TypeEngine) -> None:
        self.expr = expr
        self.type = type_


@compiles(convert_to)
def _convert_default(element: convert_to, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(cast(element.expr, element.type), **kw)


@compiles(convert_to, "sqlite")
def _convert_sqlite(element: convert_to, compiler: SQLCompiler, **kw: Any) -> str:
    if isinstance(element.type, (Date, DateTime)):
        return compiler.process(element.expr, **kw)
    return compiler.process(cast(element.expr, element.type), **kw)


def apply_plan(session: Session, plan: MigrationPlan, old_compiled: CompiledForm | None,
               new_compiled: CompiledForm, backfill: Mapping[str, Any] | None = None, *,
               chunk_size: int = 1000) -> ApplyResult:
    """Apply ``plan`` in the session's transaction (never commits).

    ``new_compiled`` is the form compiled with its new definition and archived fields (and
    ``attach_archived`` run on it); its tables say which columns and indexes must exist.
    Raises ``MigrationRefused`` when the data changed since the dry-run so that a value would
    not convert; the caller then rolls back.
    """
    if old_compiled is None and not plan.creates_form:
        raise ValueError(f"form '{plan.form_key}' is not published: only a plan that creates it "
                         "can be applied without its compiled tables")
    conn = session.connection()
    ops = Operations(MigrationContext.configure(conn))
    executor = _Executor(conn, ops, plan, new_compiled, parse_backfill(plan, backfill),
                         chunk_size)
    return executor.run()


def _copy_column(col: Column[Any], name: str | None = None) -> Column[Any]:
    fks = [ForeignKey(fk.target_fullname, ondelete=fk.ondelete) for fk in col.foreign_keys]
    return Column(name or col.name, col.type, *fks, primary_key=col.primary_key,
                  nullable=col.nullable, autoincrement=col.autoincrement)


@dataclass(frozen=True)
class _IndexSpec:
    name: str
    columns: tuple[str, ...]
    unique: bool
    kwargs: Mapping[str, Any]

    @property
    def needs_trgm(self) -> bool:
        return self.kwargs.get("postgresql_using") == "gin"


class _Executor:
    def __init__(self, conn: Connection, ops: Operations, plan: MigrationPlan,
                 new: CompiledForm, backfill: Mapping[str, FieldBackfill],
                 chunk_size: int) -> None:
        self.conn = conn
        self.ops = ops
        self.plan = plan
        self.new = new
        self.backfill = backfill
        self.chunk = chunk_size
        self.tables = self._tables()
        #: columns dropped or rebuilt, per table: their indexes go first
        self.rebuilt: dict[str, set[str]] = {}

    def _tables(self) -> dict[str, Table]:
        out = {self.new.table.name: self.new.table}
        for child in self.new.child_tables.values():
            out[child.name] = child
        for entry in self.plan.archived:
            if entry.type == "subtable":
                kept = archived_child_table(self.new, entry.key)
                if kept is not None:
                    out[kept.name] = kept
        return out

    # --- driver --------------------------------------------------------------------------------
    def run(self) -> ApplyResult:
        if self.plan.creates_form:
            for t in self.tables.values():
                self._create_table(t)
            return ApplyResult(self._create_indexes())
        if not self.plan.changes_schema:
            return ApplyResult()
        for op in self.plan.operations:
            if isinstance(op, AddSubtable) and op.field is not None:
                self._create_table(self.new.child_tables[op.field.key])
        self._collect_rebuilt()
        self._drop_indexes()
        for op in self.plan.operations:
            method = getattr(self, f"visit_{op.kind}", None)
            if isinstance(op, Conversion):
                self.visit_conversion(op)
            elif method is not None:
                method(op)
            elif op.requires_empty:
                self.visit_rebuild(op)
        self._fill()
        return ApplyResult(self._create_indexes())

    def _collect_rebuilt(self) -> None:
        dialect = self.conn.dialect
        for op in self.plan.operations:
            old, new = getattr(op, "old", None), getattr(op, "field", None)
            if not isinstance(old, FieldDef) or not isinstance(new, FieldDef):
                continue
            cols = self.rebuilt.setdefault(op.at.table_name, set())
            if op.kind == "drop_lookup_hash":
                cols.add(hash_column_for(old.key))
            elif op.requires_empty or (isinstance(op, Conversion)
                                       and not same_storage(old, new, dialect)):
                cols.update({old.key, hash_column_for(old.key)})

    # --- tables and columns --------------------------------------------------------------------
    def _create_table(self, t: Table) -> None:
        linked = [c for c in t.columns if c.foreign_keys and c.name != "parent_id"]
        self.ops.create_table(t.name, *[_copy_column(c) for c in t.columns if c not in linked])
        for c in linked:
            self._add_column(t.name, c)

    def _add_column(self, table_name: str, col: Column[Any], name: str | None = None) -> None:
        self.ops.add_column(table_name, _copy_column(col, name),
                            inline_references=bool(col.foreign_keys))

    def _field_columns(self, at: Where, f: FieldDef) -> list[Column[Any]]:
        t = self.tables[at.table_name]
        names = [f.key] + ([hash_column_for(f.key)] if f.has_lookup_hash else [])
        return [t.c[n] for n in names]

    def visit_add_field(self, op: Operation) -> None:
        assert isinstance(op, AddField) and op.field is not None
        if op.field.stored:
            for col in self._field_columns(op.at, op.field):
                self._add_column(op.at.table_name, col)

    def _require_empty(self, op: Operation, f: FieldDef) -> None:
        t = field_table(op.at, f)
        values = count(self.conn, t, t.c[f.key].is_not(None))
        if values:
            raise MigrationRefused(
                f"{op.describe('en')}: {values} row(s) hold values; {op.empty_reason('en')}")

    def visit_rebuild(self, op: Operation) -> None:
        """Drop and add again a column that holds no value (checked under the table lock)."""
        old, new = old_and_new(op)
        self._require_empty(op, old)
        if isinstance(op, Conversion) and same_storage(old, new, self.conn.dialect) and \
                old.has_lookup_hash == new.has_lookup_hash:
            return
        if old.has_lookup_hash:
            self.ops.drop_column(op.at.table_name, hash_column_for(old.key))
        self.ops.drop_column(op.at.table_name, old.key)
        for col in self._field_columns(op.at, new):
            self._add_column(op.at.table_name, col)

    def visit_add_lookup_hash(self, op: Operation) -> None:
        old, new = old_and_new(op)
        self._require_empty(op, old)
        t = self.tables[op.at.table_name]
        self._add_column(op.at.table_name, t.c[hash_column_for(new.key)])

    def visit_drop_lookup_hash(self, op: Operation) -> None:
        old, _ = old_and_new(op)
        self.ops.drop_column(op.at.table_name, hash_column_for(old.key))

    # --- conversions ---------------------------------------------------------------------------
    def visit_conversion(self, op: Conversion) -> None:
        assert op.old is not None and op.field is not None
        if op.requires_empty:
            self.visit_rebuild(op)
            return
        if op.kind == "change_rules":
            return
        old, new = op.old, op.field
        in_place = same_storage(old, new, self.conn.dialect)
        if in_place and not op.checks_values:
            return
        key = old.key
        target = key if in_place else key + _CONVERTED_SUFFIX
        new_type = column_type(new)
        if not in_place:
            # Taken first: on PostgreSQL ADD COLUMN locks the table, so the values read below
            # are all the values there are until commit (SQLite serialises writers anyway).
            self.ops.add_column(op.at.table_name, Column(target, new_type, nullable=True))
        t = field_table(op.at, old, {target: new_type} if not in_place else None)
        converter = ValueConverter(old, new, self.backfill.get(op.path or ""), in_place)
        # A widening keeps every value as it is: CAST alone carries them over.
        mapping = list(self._mapping(op, converter, t, key)) if op.checks_values else []
        tmp = self._mapping_table(column_type(old), new_type, mapping) if mapping else None
        if tmp is not None:
            self.conn.execute(update(t).values({t.c[target]: tmp.c.new})
                              .where(t.c[key] == tmp.c.old))
        if not in_place:
            cond: list[ColumnElement[bool]] = [t.c[key].is_not(None)]
            if tmp is not None:
                cond.append(~exists().where(tmp.c.old == t.c[key]))
            self.conn.execute(update(t).values({t.c[target]: convert_to(t.c[key], new_type)})
                              .where(and_(*cond)))
            self._verify(op, t, key, target, tmp)
            self.ops.drop_column(op.at.table_name, key)
            self.ops.alter_column(op.at.table_name, target, new_column_name=key)
        if tmp is not None:
            tmp.drop(self.conn)

    def _mapping(self, op: Conversion, converter: ValueConverter, t: Any,
                 key: str) -> Iterator[dict[str, Any]]:
        """Old -> new pairs for every value the database cannot convert by itself."""
        failed: list[str] = []
        old_type = column_type(converter.old)
        for group in scan_values(self.conn, t, key, old_type, self.chunk):
            outcome = converter.outcome(group.value)
            if outcome.status == "failed":
                reason = outcome.reason["en"] if outcome.reason else ""
                failed.append(f"record #{group.first_record} {group.value!r}: {reason}")
            elif outcome.status != "same":
                yield {"old": group.value, "new": outcome.value}
        if failed:
            raise MigrationRefused(
                f"{op.describe('en')}: {len(failed)} value(s) do not convert (the data changed "
                f"since the dry-run?): " + "; ".join(failed[:5]))

    def _mapping_table(self, old_type: TypeEngine, new_type: TypeEngine,
                       rows: list[dict[str, Any]]) -> Table:
        tmp = Table(f"lb_tmp_{uuid.uuid4().hex[:12]}", MetaData(),
                    Column("old", old_type), Column("new", new_type), prefixes=["TEMPORARY"])
        tmp.create(self.conn)
        for start in range(0, len(rows), self.chunk):
            self.conn.execute(insert(tmp), rows[start:start + self.chunk])
        return tmp

    def _verify(self, op: Operation, t: Any, key: str, target: str, tmp: Table | None) -> None:
        """No row may have lost its value unless the conversion meant it (cleared / empty)."""
        lost = [t.c[key].is_not(None), t.c[target].is_(None)]
        if tmp is not None:
            lost.append(~exists().where(and_(tmp.c.old == t.c[key], tmp.c.new.is_(None))))
        n = count(self.conn, t, *lost)
        if n:
            raise MigrationRefused(f"{op.describe('en')}: {n} value(s) would be lost by the "
                                   "conversion; nothing was changed")

    # --- backfill fills ------------------------------------------------------------------------
    def _fill(self) -> None:
        for path, fb in self.backfill.items():
            if not fb.has_fill:
                continue
            for op in self.plan.operations_for(path):
                if isinstance(op, (AddField, RestoreField, MakeRequired)) and op.field:
                    f = op.field
                    t = field_table(op.at, f)
                    self.conn.execute(update(t).values({t.c[f.key]: fb.fill_value})
                                      .where(empty_condition(t.c[f.key], column_type(f))))
                    break

    # --- indexes -------------------------------------------------------------------------------
    def _db_name(self, item: Index | UniqueConstraint) -> str:
        preparer = self.conn.dialect.identifier_preparer
        return str(preparer.format_constraint(item, _alembic_quote=False))

    def _declared(self, t: Table) -> dict[str, _IndexSpec]:
        specs: dict[str, _IndexSpec] = {}
        for index in t.indexes:
            name = self._db_name(index)
            specs[name] = _IndexSpec(name, tuple(c.name for c in index.columns),
                                     bool(index.unique), dict(index.dialect_kwargs))
        for cons in t.constraints:
            if isinstance(cons, UniqueConstraint):
                name = self._db_name(cons)
                specs[name] = _IndexSpec(name, tuple(c.name for c in cons.columns), True, {})
        return specs

    def _existing(self, table_name: str) -> list[Any]:
        inspector = sa_inspect(self.conn)
        if not inspector.has_table(table_name):
            return []
        return [ix for ix in inspector.get_indexes(table_name)
                if str(ix.get("name") or "").startswith(_OUR_INDEX_PREFIXES)]

    def _drop_indexes(self) -> None:
        for name, t in self.tables.items():
            declared = self._declared(t)
            rebuilt = self.rebuilt.get(name, set())
            for ix in self._existing(name):
                covers_rebuilt = any(c in rebuilt for c in ix.get("column_names") or ())
                if ix["name"] not in declared or covers_rebuilt:
                    self.ops.drop_index(ix["name"], table_name=name)

    def _create_indexes(self) -> tuple[str, ...]:
        skipped: list[str] = []
        trgm: bool | None = None
        for name, t in self.tables.items():
            present = {ix["name"] for ix in self._existing(name)}
            for spec in self._declared(t).values():
                if spec.name in present:
                    continue
                if spec.needs_trgm:
                    trgm = _trgm_available(self.conn) if trgm is None else trgm
                    if not trgm:
                        skipped.append(spec.name)
                        continue
                try:
                    self.ops.create_index(spec.name, name, list(spec.columns),
                                          unique=spec.unique, **spec.kwargs)
                except IntegrityError as exc:
                    raise MigrationRefused(
                        f"cannot make ({', '.join(spec.columns)}) of '{self.plan.form_key}' "
                        "unique: some rows share a value (after conversion); fix them first"
                    ) from exc
        return tuple(skipped)


def _trgm_available(conn: Connection) -> bool:
    """Trigram indexes are PostgreSQL's; elsewhere the declared index is a plain one."""
    if conn.dialect.name != "postgresql":
        return True
    ext = table("pg_extension", column("extname"))
    found = conn.execute(select(func.count()).select_from(ext)
                         .where(ext.c.extname == "pg_trgm")).scalar_one()
    return bool(found)
