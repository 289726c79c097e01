"""Who may do what to which records: actions, row scope, field read/write, unmask.

A form's ``permissions`` map role keys to rights; superuser roles bypass them. Row scope "own"
means records the actor owns, "team" records owned by anyone in the actor's team (their
department plus every department they head, with sub-departments), "all" every record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Table, false, true

from lendbase.errors import PermissionDenied
from lendbase.forms.model import FormDef

ACTIONS = ("create", "read", "update", "delete", "export")
_SCOPE_RANK = {"own": 0, "team": 1, "all": 2}


@dataclass(frozen=True)
class Actor:
    """The user on whose behalf a service acts (never ambient: passed explicitly)."""

    user_id: int | None
    username: str
    roles: frozenset[str] = frozenset()
    superuser: bool = False
    team_user_ids: frozenset[int] = field(default_factory=frozenset)
    lang: str = "zh"

    @classmethod
    def system(cls) -> Actor:
        return cls(None, "system", frozenset({"system"}), superuser=True)


@dataclass(frozen=True)
class FormAccess:
    """The combined rights of an actor's roles on one form."""

    actions: frozenset[str]
    scope: str
    hidden_fields: frozenset[str]
    readonly_fields: frozenset[str]
    unmask: bool

    def require(self, action: str, form: FormDef, lang: str = "en") -> None:
        if action not in self.actions:
            raise PermissionDenied(
                f"you may not {action} records of '{form.label.get(lang) or form.key}'; "
                "ask an administrator for the right")

    def can(self, action: str) -> bool:
        return action in self.actions


def access_for(actor: Actor, form: FormDef) -> FormAccess:
    if actor.superuser:
        return FormAccess(frozenset(ACTIONS), "all", frozenset(), frozenset(), True)
    grants = [form.permissions[r] for r in actor.roles if r in form.permissions]
    if not grants:
        return FormAccess(frozenset(), "own", frozenset(), frozenset(), False)
    actions = frozenset().union(*(g.actions for g in grants))
    scope = max((g.scope for g in grants if "read" in g.actions or g.actions),
                key=_SCOPE_RANK.__getitem__, default="own")
    # A field is hidden (or read-only) only if every granting role hides it.
    hidden = frozenset.intersection(*(g.hidden_fields for g in grants))
    readonly = frozenset.intersection(*(g.readonly_fields | g.hidden_fields for g in grants))
    return FormAccess(actions, scope, hidden, readonly, any(g.unmask for g in grants))


def scope_clause(actor: Actor, access: FormAccess, table: Table) -> ColumnElement[bool]:
    """The WHERE clause limiting rows to the actor's row scope."""
    if access.scope == "all":
        return true()
    if actor.user_id is None:
        return false()
    if access.scope == "team":
        ids = set(actor.team_user_ids) | {actor.user_id}
        return table.c.owner_id.in_(sorted(ids))
    return table.c.owner_id == actor.user_id
