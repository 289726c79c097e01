"""Which linked records an actor may read, by the record service's own rules: the form's
``read`` right and the actor's row scope (``lendbase.records.permissions``).

Tags, tasks, alerts and notifications are about a record: whoever cannot read the record does
not learn that it has them. A record out of reach answers 404 (``NotFound``), exactly like a
record that does not exist, so the answer never confirms that it exists.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from lendbase.errors import NotFound
from lendbase.forms.compile import CompiledSchema
from lendbase.records.permissions import Actor, access_for, scope_clause


class RecordAccess:
    """Read checks for records of any form. Without ``schema`` (a rule or a job running as
    the system) only a superuser passes, and nothing is checked for them."""

    def __init__(self, session: Session, actor: Actor,
                 schema: CompiledSchema | None = None) -> None:
        self.session = session
        self.actor = actor
        self.schema = schema

    def _missing(self, form_key: str, record_id: int) -> NotFound:
        return NotFound(f"{form_key} record {record_id} not found (or you may not read it)")

    def can_read(self, form_key: str, record_id: int) -> bool:
        if self.schema is None:
            return self.actor.superuser
        cf = self.schema.forms.get(form_key)
        if cf is None:
            return False
        access = access_for(self.actor, cf.form)
        if not access.can("read"):
            return False
        found = self.session.execute(
            select(cf.table.c.id).where(cf.table.c.id == record_id,
                                        scope_clause(self.actor, access, cf.table))).first()
        return found is not None

    def require_readable(self, form_key: str, record_id: int) -> None:
        """``NotFound`` unless the record exists and the actor may read it."""
        if not self.can_read(form_key, record_id):
            raise self._missing(form_key, record_id)

    def readable_clause(self, form_col: ColumnElement[str],
                        id_col: ColumnElement[int]) -> ColumnElement[bool]:
        """A WHERE clause for rows pointing at (form_col, id_col): true where the actor may
        read that record; one ``IN (SELECT id ... row scope)`` per form they may read."""
        if self.actor.superuser:
            return true()
        if self.schema is None:
            return false()
        parts = []
        for key, cf in sorted(self.schema.forms.items()):
            access = access_for(self.actor, cf.form)
            if not access.can("read"):
                continue
            scope = scope_clause(self.actor, access, cf.table)
            if access.scope == "all":
                parts.append(form_col == key)
            else:
                parts.append((form_col == key) & id_col.in_(
                    select(cf.table.c.id).where(scope)))
        return or_(*parts) if parts else false()
