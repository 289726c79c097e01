"""Resolvers of related records for the Python predicate (``expr_py.RelatedRows``).

The predicate itself never reads the database: a caller hands it one of these.

* ``rows_resolver(rows)``: related rows already in memory (tests, simulations of a rule
  against past applications, a record being edited with its sub-table rows).
* ``SqlRelatedRows(connection, schema)``: reads them with one indexed SELECT per
  (form, link, record), on the caller's connection or session and inside its transaction.
  Values come back as stored: encrypted fields stay ciphertext, so conditions on them are
  only meaningful in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from lendbase.conditions.context import ConditionSchema
from lendbase.conditions.errors import UnsupportedNode

Record = Mapping[str, Any]


def rows_resolver(rows: Mapping[tuple[str, str], Mapping[Any, Sequence[Record]]]
                  ) -> Any:
    """A resolver over ``{(form, link): {record_id: [row, ...]}}``."""
    def related(form: str, link: str, record_id: Any) -> Sequence[Record]:
        return rows.get((form, link), {}).get(record_id, ())
    return related


class SqlRelatedRows:
    """Related rows read on demand through ``connection`` (a ``Connection`` or ``Session``)."""

    def __init__(self, connection: Connection | Session, schema: ConditionSchema) -> None:
        self.connection = connection
        self.schema = schema
        self._cache: dict[tuple[str, str, Any], list[Record]] = {}

    def __call__(self, form: str, link: str, record_id: Any) -> Sequence[Record]:
        key = (form, link, record_id)
        if key not in self._cache:
            self._cache[key] = self._fetch(form, link, record_id)
        return self._cache[key]

    def _fetch(self, form: str, link: str, record_id: Any) -> list[Record]:
        relation = self.schema.rows_of(form, link)
        table = relation.scope.table
        if table is None:
            raise UnsupportedNode(f"form {form!r} has no table to read")
        query = select(table).where(table.c[relation.link_column] == record_id)
        query = query.order_by(table.c.seq if "seq" in table.c else table.c.id)
        return [dict(r) for r in self.connection.execute(query).mappings()]
