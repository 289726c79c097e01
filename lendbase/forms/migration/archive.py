"""Archived fields: their JSON form in ``lb_form_schema.archived`` and their compiled columns.

A top-level archived field is a column kept in the form's table (``compile_form`` adds it). A
sub-table entry (a ``subtable`` field whose ``fields`` are the archived columns) is either a set
of columns kept in a live child table or, when the sub-table left the form, the whole child
table; ``attach_archived`` adds those to the compiled metadata so history and export can read them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, Table

from lendbase import db
from lendbase.forms.compile import CompiledForm, field_columns
from lendbase.forms.model import FieldDef, Option, load_field
from lendbase.forms.naming import child_table_name_for

_DEFAULTS = {f.name: f.default for f in fields(FieldDef)}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Option):
        return {"value": value.value, "label": _plain(value.label)}
    if isinstance(value, FieldDef):
        return field_to_doc(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def field_to_doc(f: FieldDef) -> dict[str, Any]:
    """The field document of a ``FieldDef`` (properties left at their default are omitted)."""
    doc: dict[str, Any] = {}
    for name, default in _DEFAULTS.items():
        value = getattr(f, name)
        if name in {"key", "type", "label"} or (value != default and value != ()):
            doc[name] = _plain(value)
    return doc


def fields_from_docs(docs: Sequence[Mapping[str, Any]]) -> tuple[FieldDef, ...]:
    """Load field documents (archived fields were valid when their form was published)."""
    return tuple(load_field(doc) for doc in docs)


def stored_archived(archived: Iterable[FieldDef]) -> tuple[FieldDef, ...]:
    """The archived fields that are columns of the form's own table (``compile_form``'s)."""
    return tuple(f for f in archived if f.stored)


def attach_archived(compiled: CompiledForm, archived: Iterable[FieldDef],
                    known_forms: Iterable[str]) -> None:
    """Add archived sub-table columns and archived child tables to the compiled metadata."""
    known = set(known_forms) | {compiled.key}
    metadata = compiled.table.metadata
    for entry in archived:
        if entry.type != "subtable":
            continue
        children = [c for c in entry.fields if c.stored]
        live = compiled.child_tables.get(entry.key)
        if live is not None:
            for c in children:
                if c.key not in live.c:
                    for col in field_columns(c, compiled.key, known, archived=True):
                        live.append_column(col)
            continue
        name = child_table_name_for(compiled.key, entry.key)
        if name in metadata.tables:
            continue
        columns = [col for c in children
                   for col in field_columns(c, compiled.key, known, archived=True)]
        Table(
            name, metadata,
            Column("id", db.IdType, primary_key=True, autoincrement=True),
            Column("parent_id", db.IdType,
                   ForeignKey(f"{compiled.table.name}.id", ondelete="CASCADE"),
                   nullable=False, index=True),
            Column("seq", Integer, nullable=False),
            *columns,
        )


def archived_child_table(compiled: CompiledForm, subtable_key: str) -> Table | None:
    """The kept child table of an archived sub-table, once ``attach_archived`` ran."""
    return compiled.table.metadata.tables.get(child_table_name_for(compiled.key, subtable_key))
