"""Lifecycle stages of a form: the checks of the ``lifecycle`` document (part of the form's
semantic checks) and the rule that says whether a record may move from one stage to another.

A lifecycle names a select field of the form; its options are the stages. ``transitions`` are
the allowed moves, ``initial`` the stage every new record starts at, ``terminal`` the stages
nothing moves out of. Each stage may carry a conversion target (``target_days``) and standard
actions (``sop``: tasks created when a record enters it). Nothing here touches a database: the
record service asks ``stage_refusal`` and writes the history itself
(``lendbase.records.lifecycle``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lendbase.forms.messages import message
from lendbase.forms.model import FieldDef, Lifecycle

#: Assignee rules a lifecycle may use (``lendbase.work.assignment.parse_assignee``).
ASSIGNEE_RULES = ("field", "department_head", "round_robin", "user")
#: The user column every record has, besides its ``user`` fields.
OWNER = "owner_id"


def _assignee_errors(rule: Any, ptr: str, user_fields: set[str],
                     errors: dict[str, list[str]]) -> None:
    def add(msg: str) -> None:
        errors.setdefault(ptr, []).append(msg)

    if isinstance(rule, Sequence) and not isinstance(rule, (str, bytes)):
        if not rule:
            add("give at least one assignee rule, or remove 'assignee'")
        for i, part in enumerate(rule):
            if not isinstance(part, Mapping):
                errors.setdefault(f"{ptr}/{i}", []).append(
                    "each entry of the list is an assignee rule object")
            else:
                _assignee_errors(part, f"{ptr}/{i}", user_fields, errors)
        return
    if not isinstance(rule, Mapping):
        add('write the assignee rule as an object, e.g. {"rule": "field", "field": '
            '"account_manager"}')
        return
    kind = rule.get("rule")
    shapes = {"user": {"rule", "user_id"}, "field": {"rule", "field"},
              "department_head": {"rule", "field"}, "round_robin": {"rule", "role"}}
    if kind not in shapes:
        add(f"unknown assignee rule {kind!r}; use one of: {', '.join(ASSIGNEE_RULES)}")
        return
    extra = sorted(set(rule) - shapes[kind])
    if extra:
        add(f"{', '.join(extra)} does not apply to the rule '{kind}'; remove it")
    if kind == "user":
        user_id = rule.get("user_id")
        if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 1:
            add("the rule 'user' needs the user's id in 'user_id'; pick a user")
    elif kind == "round_robin":
        role = rule.get("role")
        if not isinstance(role, str) or not role:
            add("the rule 'round_robin' needs the role whose members take turns in 'role'")
    else:
        name = rule.get("field", OWNER)
        if name not in user_fields:
            known = ", ".join(sorted(user_fields))
            add(f"{name!r} is not a user field of this form; use one of: {known}")


def lifecycle_errors(doc: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    """Add to ``errors`` what is wrong with the ``lifecycle`` of a schema-valid form document,
    each problem under its JSON pointer."""
    lc = doc.get("lifecycle")
    if not lc:
        return

    def add(ptr: str, msg: str) -> None:
        errors.setdefault(f"/lifecycle{ptr}", []).append(msg)

    top = {f["key"]: f for f in doc["fields"]}
    field_doc = top.get(lc["field"])
    options: list[str] | None = None
    if field_doc is None:
        selects = ", ".join(k for k, f in top.items() if f["type"] == "select") or "none"
        add("/field", f"'{lc['field']}' is not a field of this form; choose the select field "
                      f"that holds the stage (select fields: {selects})")
    elif field_doc["type"] != "select":
        add("/field", f"'{lc['field']}' is a {field_doc['type']} field; the stage is held by a "
                      "select field, whose options are the stages")
    else:
        options = [o["value"] for o in field_doc.get("options", ())]

    keys: list[str] = []
    for i, stage in enumerate(lc["stages"]):
        key = stage["key"]
        if key in keys:
            add(f"/stages/{i}/key", f"stage '{key}' is listed twice; keep one")
        elif options is not None and key not in options:
            add(f"/stages/{i}/key", f"'{key}' is not an option of '{lc['field']}'; add the "
                                    "option to the field or remove the stage")
        keys.append(key)
    if options is not None:
        missing = [o for o in options if o not in keys]
        if missing:
            add("/stages", f"option(s) {', '.join(repr(o) for o in missing)} of "
                           f"'{lc['field']}' are not stages; every option is a stage: add them")
    known = set(keys)

    def need(ptr: str, key: str, what: str) -> bool:
        if key not in known:
            add(ptr, f"'{key}' is not a stage of this lifecycle ({what}); use one of: "
                     + ", ".join(keys))
            return False
        return True

    if "initial" in lc:
        need("/initial", lc["initial"], "the initial stage")
    terminal = set(lc.get("terminal", ()))
    for i, key in enumerate(lc.get("terminal", ())):
        need(f"/terminal/{i}", key, "a terminal stage")
    seen: set[tuple[str, str]] = set()
    for i, move in enumerate(lc.get("transitions", ())):
        source, target = move["from"], move["to"]
        ok = need(f"/transitions/{i}/from", source, "where a move starts")
        ok = need(f"/transitions/{i}/to", target, "where a move ends") and ok
        if not ok:
            continue
        if source == target:
            add(f"/transitions/{i}", f"a move from '{source}' to itself is no move; remove it")
        elif (source, target) in seen:
            add(f"/transitions/{i}", f"the move '{source}' -> '{target}' is listed twice; "
                                     "keep one")
        elif source in terminal:
            add(f"/transitions/{i}/from", f"'{source}' is a terminal stage: nothing moves out "
                                          "of it; remove this move or make the stage "
                                          "not terminal")
        seen.add((source, target))
    user_fields = {k for k, f in top.items() if f["type"] == "user"} | {OWNER}
    for i, stage in enumerate(lc["stages"]):
        if "target_days" in stage and stage["key"] in terminal:
            add(f"/stages/{i}/target_days", f"'{stage['key']}' is a terminal stage: a record "
                                            "stays there, so it has no target; remove it")
        for j, task in enumerate(stage.get("sop", ())):
            if "assignee" in task:
                _assignee_errors(task["assignee"], f"/lifecycle/stages/{i}/sop/{j}/assignee",
                                 user_fields, errors)


# --- moves ------------------------------------------------------------------------------------


def _names(f: FieldDef, keys: Sequence[str], lang: str) -> str:
    if not keys:
        return "无" if lang == "zh" else "none"
    return ("、" if lang == "zh" else ", ").join(f.option_label(k, lang) for k in keys)


def stage_refusal(lifecycle: Lifecycle, f: FieldDef, before: str | None, after: str | None,
                  *, creating: bool, importing: bool = False, lang: str = "en") -> str | None:
    """Why the stage may not go from ``before`` to ``after`` (a message in ``lang`` naming
    the stages allowed instead), or None when it may.

    A new record starts at ``initial`` (when the lifecycle sets one) unless it is imported
    (brought in mid-life by the system, e.g. from another system or the demo generator). A
    record without a stage enters at ``initial`` too; one whose value is not a stage (an option
    that was no stage when it was saved) may move anywhere. Otherwise the move must be one of
    ``transitions``; nothing leaves a terminal stage and the stage is never emptied.
    """
    if not creating and before == after:
        return None
    label = f.option_label
    if creating or before is None:
        if after is None or lifecycle.initial is None or after == lifecycle.initial \
                or (creating and importing):
            return None
        return message("stage_start", lang, target=label(lifecycle.initial, lang))
    if before not in lifecycle.keys:
        return None
    allowed = lifecycle.allowed_next(before)
    if before in lifecycle.terminal:
        return message("stage_terminal", lang, value=label(before, lang))
    if after is None:
        return message("stage_cleared", lang, options=_names(f, allowed, lang))
    if after in allowed:
        return None
    return message("stage_transition", lang, value=label(before, lang),
                   target=label(after, lang), options=_names(f, allowed, lang))


__all__ = ["ASSIGNEE_RULES", "lifecycle_errors", "stage_refusal"]
