"""Small SQLAlchemy Core helpers shared by the inspector and the executor.

Statements address form tables through lightweight ``TableClause`` objects built from the
operation's ``Where`` and the field definitions, so they work for archived columns and archived
sub-tables too, whatever the compiled ``Table`` objects hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from sqlalchemy import Connection, String, Text, and_, column, func, or_, select, table
from sqlalchemy.sql.expression import ColumnElement, TableClause
from sqlalchemy.types import JSON, TypeEngine

from lendbase import db
from lendbase.forms.compile import column_type
from lendbase.forms.migration.operations import Where
from lendbase.forms.model import FieldDef
from lendbase.forms.naming import hash_column_for


def form_table(at: Where, columns: dict[str, TypeEngine] | None = None) -> TableClause:
    """A ``TableClause`` for the operation's table with id (and parent_id) plus ``columns``."""
    cols = [column("id", db.IdType)]
    if at.subtable is not None:
        cols.append(column("parent_id", db.IdType))
    cols += [column(name, type_) for name, type_ in (columns or {}).items()]
    return table(at.table_name, *cols)


def field_table(at: Where, f: FieldDef, extra: dict[str, TypeEngine] | None = None
                ) -> TableClause:
    cols: dict[str, TypeEngine] = {f.key: column_type(f)}
    if f.has_lookup_hash:
        cols[hash_column_for(f.key)] = String(64)
    cols.update(extra or {})
    return form_table(at, cols)


def is_json(type_: TypeEngine) -> bool:
    return isinstance(type_, JSON)


def is_string(type_: TypeEngine) -> bool:
    return isinstance(type_, (String, Text))


def empty_condition(col: ColumnElement[Any], type_: TypeEngine) -> ColumnElement[bool]:
    """The column holds no value: NULL, or an empty string for text columns."""
    if is_string(type_):
        return or_(col.is_(None), col == "")
    return col.is_(None)


def count(conn: Connection, t: TableClause, *where: ColumnElement[bool]) -> int:
    stmt = select(func.count()).select_from(t)
    if where:
        stmt = stmt.where(and_(*where))
    return int(conn.execute(stmt).scalar_one())


class ValueGroup(NamedTuple):
    value: Any
    rows: int
    first_id: int
    first_record: int


def scan_values(conn: Connection, t: TableClause, key: str, type_: TypeEngine,
                chunk_size: int = 1000) -> Iterator[ValueGroup]:
    """Every distinct non-null value of a column, with its row count and first row, in chunks.

    Scalars are read by keyset on the value (``GROUP BY value ORDER BY value``), JSON documents
    by keyset on the id (their text form does not order reliably), so no chunk loads the table.
    """
    col = t.c[key]
    record = t.c.parent_id if "parent_id" in t.c else t.c.id
    if is_json(type_):
        last_id: int | None = None
        while True:
            stmt = select(col, t.c.id, record).where(col.is_not(None)).order_by(t.c.id)
            if last_id is not None:
                stmt = stmt.where(t.c.id > last_id)
            rows = conn.execute(stmt.limit(chunk_size)).all()
            for value, row_id, record_id in rows:
                yield ValueGroup(value, 1, row_id, record_id)
            if len(rows) < chunk_size:
                return
            last_id = rows[-1][1]
    started = False
    last: Any = None
    while True:
        stmt = (select(col, func.count(), func.min(t.c.id), func.min(record))
                .where(col.is_not(None)).group_by(col).order_by(col))
        if started:
            stmt = stmt.where(col > last)
        rows = conn.execute(stmt.limit(chunk_size)).all()
        for value, rows_count, first_id, first_record in rows:
            yield ValueGroup(value, int(rows_count), int(first_id), int(first_record))
        if len(rows) < chunk_size:
            return
        started, last = True, rows[-1][0]
