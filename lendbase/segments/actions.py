"""The bridge to the rule engine's actions: a segment's on-enter and on-leave actions are the
rule engine's action objects, executed by ``lendbase.rules.actions.apply_actions`` for a set of
records given as a SELECT. Segments have no executor of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from lendbase.errors import ConfigError, MetadataError
from lendbase.forms.compile import CompiledSchema

#: Where the executor lives (``apply_actions(session, actions, *, form_key, ids, cause, source,
#: clock, schema, dry_run=False) -> ActionReport``).
EXECUTOR = "lendbase.rules.actions"


def _executor() -> Callable[..., Any]:
    try:
        from lendbase.rules.actions import apply_actions
    except ImportError as exc:
        raise ConfigError(f"segment actions need the rule engine ({EXECUTOR}), which is not "
                          f"installed ({exc}); remove the on_enter / on_leave actions or "
                          "install the rule engine") from None
    return apply_actions  # type: ignore[no-any-return]


def executor_available() -> bool:
    try:
        _executor()
    except ConfigError:
        return False
    return True


def run_actions(session: Session, actions: Sequence[Mapping[str, Any]], *, form_key: str,
                ids: Select[Any], cause: str, source: str, clock: Callable[[], datetime],
                schema: CompiledSchema, dry_run: bool = False, pointer: str = "/actions"
                ) -> Any:
    """``apply_actions`` of the rule engine for the records ``ids`` selects (``pointer``: where
    the actions sit in the segment document, for its errors); None without actions."""
    if not actions:
        return None
    return _executor()(session, [dict(a) for a in actions], form_key=form_key, ids=ids,
                       cause=cause, source=source, clock=clock, schema=schema, dry_run=dry_run,
                       pointer=pointer)


def action_document_errors(actions: Sequence[Mapping[str, Any]],
                           pointer: str) -> dict[str, list[str]]:
    """The rule engine's checks of action documents (meta-schema and semantics), by JSON
    pointer under ``pointer``; without the rule engine, one error saying so."""
    try:
        from lendbase.rules.actions import parse_actions
    except ImportError as exc:
        return {pointer: [f"actions run through the rule engine ({EXECUTOR}), which is not "
                          f"installed ({exc}); remove the actions"]}
    try:
        parse_actions(actions, pointer=pointer)
    except MetadataError as exc:
        return exc.errors or {pointer: [exc.message]}
    return {}


__all__ = ["EXECUTOR", "action_document_errors", "executor_available", "run_actions"]
