"""Compile form definitions into SQLAlchemy tables (pure: no database access).

Every field column is nullable at the database level: "required" is a rule of the record
validator, because a field hidden by its visibility condition is neither required nor saved, and
because a migration must be able to add a column to a table that already holds rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from lendbase import db
from lendbase.errors import CompileError
from lendbase.forms.model import FieldDef, FormDef
from lendbase.forms.naming import (
    child_table_name_for,
    hash_column_for,
    index_name_for,
    table_name_for,
)

SYSTEM_COLUMNS = ("id", "created_at", "created_by", "updated_at", "updated_by", "version",
                  "owner_id")


@dataclass(frozen=True)
class CompiledForm:
    """A published form with its table, its sub-tables and the archived fields it still holds."""

    form: FormDef
    table: Table
    child_tables: Mapping[str, Table]
    archived: tuple[FieldDef, ...] = ()
    checksum: str = ""
    version: int = 0

    @property
    def key(self) -> str:
        return self.form.key


@dataclass
class CompiledSchema:
    """All published forms compiled into one ``MetaData`` so that references resolve."""

    metadata: MetaData
    forms: dict[str, CompiledForm] = field(default_factory=dict)

    def __getitem__(self, key: str) -> CompiledForm:
        return self.forms[key]


def column_type(f: FieldDef) -> TypeEngine:
    """The SQL type that stores a field's value."""
    if f.sensitive:
        return Text()  # ciphertext
    t = f.type
    if t in {"text", "phone", "email", "id_number", "uscc", "region"}:
        return String(f.text_length())
    if t == "textarea":
        return Text()
    if t == "integer":
        return db.IdType
    if t == "decimal":
        return Numeric(f.digits or 18, f.decimals if f.decimals is not None else 2)
    if t == "money":
        return Numeric(18, f.decimals if f.decimals is not None else 2)
    if t == "percent":
        decimals = f.decimals if f.decimals is not None else 4
        return Numeric(8 + decimals, decimals)
    if t == "date":
        return Date()
    if t == "datetime":
        return DateTime(timezone=True)
    if t == "boolean":
        return Boolean()
    if t == "select":
        return String(64)
    if t == "multiselect":
        return db.JsonType
    if t in {"reference", "user", "file"}:
        return db.IdType
    if t == "auto_number":
        return String(64)
    raise CompileError(f"field '{f.key}': type '{t}' has no column type")


def _foreign_key(f: FieldDef, form_key: str, known: Iterable[str]) -> ForeignKey | None:
    if f.type == "reference":
        if f.target not in set(known):
            raise CompileError(
                f"field '{f.key}' of form '{form_key}' refers to form '{f.target}', which is not "
                "published; publish it first or fix the target"
            )
        ondelete = {"restrict": "RESTRICT", "set_null": "SET NULL", "cascade": "CASCADE"}
        return ForeignKey(f"{table_name_for(f.target or '')}.id",
                          ondelete=ondelete[f.on_delete])
    if f.type == "user":
        return ForeignKey(db.user.c.id, ondelete="SET NULL")
    if f.type == "file":
        return ForeignKey(db.stored_file.c.id, ondelete="SET NULL")
    return None


def field_columns(f: FieldDef, form_key: str, known: Iterable[str],
                  archived: bool = False) -> list[Column]:
    """Columns (value, and keyed hash for sensitive unique/indexed fields) for one field."""
    args: list = []
    fk = None if archived else _foreign_key(f, form_key, known)
    if fk is not None:
        args.append(fk)
    columns = [Column(f.key, column_type(f), *args, nullable=True,
                      index=fk is not None and not archived)]
    if f.has_lookup_hash:
        columns.append(Column(hash_column_for(f.key), String(64), nullable=True))
    return columns


def _constraints(table_name: str, fields: Iterable[FieldDef]) -> list:
    items: list = []
    for f in fields:
        col = hash_column_for(f.key) if f.has_lookup_hash else f.key
        if f.unique or f.type == "auto_number":
            # a unique index, not a table constraint: SQLite can drop an index later
            items.append(Index(index_name_for(table_name, col, prefix="uq"), col, unique=True))
        elif f.indexed and f.type not in {"reference", "user", "file"}:
            # (value, id) so that sorting by the field pages by keyset on the index.
            items.append(Index(index_name_for(table_name, col), col, "id"))
        if f.searchable and not f.sensitive:
            items.append(Index(
                index_name_for(table_name, f.key, suffix="trgm"), f.key,
                postgresql_using="gin", postgresql_ops={f.key: "gin_trgm_ops"},
            ))
    return items


def _sort_indexes(table_name: str, form: FormDef) -> list[Index]:
    """An index on (column, id) for the list's default sort, so its first page and every
    later page are index scans on a big table."""
    if not form.default_sort:
        return []
    key = form.default_sort[0].lstrip("-")
    if key == "id":
        return []
    if form.has_field(key):
        f = form.field(key)
        if not f.stored or f.sensitive or f.indexed or f.unique or f.type == "auto_number":
            return []
    return [Index(index_name_for(table_name, key, suffix="sort"), key, "id")]


def _system_columns() -> list[Column]:
    return [
        Column("id", db.IdType, primary_key=True, autoincrement=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("created_by", db.IdType, nullable=True),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("updated_by", db.IdType, nullable=True),
        Column("version", Integer, nullable=False, default=1),
        Column("owner_id", db.IdType, nullable=True, index=True),
    ]


def compile_form(form: FormDef, metadata: MetaData, known_forms: Iterable[str],
                 archived: tuple[FieldDef, ...] = (), checksum: str = "",
                 version: int = 0) -> CompiledForm:
    """Add the form's table and sub-tables to ``metadata``."""
    known = set(known_forms) | {form.key}
    name = table_name_for(form.key)
    columns: list = _system_columns()
    for f in form.stored_fields:
        columns += field_columns(f, form.key, known)
    for f in archived:
        columns += field_columns(f, form.key, known, archived=True)
    items = _constraints(name, form.stored_fields)
    for index in form.indexes:
        cols = [hash_column_for(k) if form.field(k).has_lookup_hash else k for k in index.fields]
        prefix = "uq" if index.unique else "ix"
        items.append(Index(index_name_for(name, *cols, prefix=prefix), *cols,
                           unique=index.unique))
    items += _sort_indexes(name, form)
    table = Table(name, metadata, *columns, *items)
    children: dict[str, Table] = {}
    for sub in form.subtables:
        child_name = child_table_name_for(form.key, sub.key)
        child_cols: list = [
            Column("id", db.IdType, primary_key=True, autoincrement=True),
            Column("parent_id", db.IdType, ForeignKey(f"{name}.id", ondelete="CASCADE"),
                   nullable=False, index=True),
            Column("seq", Integer, nullable=False),
        ]
        for f in sub.fields:
            if f.stored:
                child_cols += field_columns(f, form.key, known)
        children[sub.key] = Table(child_name, metadata, *child_cols,
                                  *_constraints(child_name, [f for f in sub.fields if f.stored]))
    return CompiledForm(form, table, children, archived, checksum, version)


def compile_schema(forms: Iterable[tuple[FormDef, tuple[FieldDef, ...], str, int]]
                   ) -> CompiledSchema:
    """Compile every published form (definition, archived fields, checksum, version)."""
    items = list(forms)
    metadata = MetaData(naming_convention=db.NAMING_CONVENTION)
    schema = CompiledSchema(metadata)
    known = [f.key for f, *_ in items]
    for form, archived, checksum, version in items:
        schema.forms[form.key] = compile_form(form, metadata, known, archived, checksum, version)
    return schema
