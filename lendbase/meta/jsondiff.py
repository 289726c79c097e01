"""A readable structural diff between two JSON documents.

Arrays of objects that carry a ``key`` (fields, options by ``value``, sections) are matched by that
key, so moving a field shows as a move and not as a cascade of changes.
"""

from __future__ import annotations

from typing import Any

_ID_PROPS = ("key", "value")


def _identity(old: list[Any], new: list[Any]) -> str | None:
    """The property that identifies items in both lists (unique within each), if any."""
    for prop in _ID_PROPS:
        lists = [old, new]
        if (old or new) and all(isinstance(i, dict) and prop in i for i in old + new) and all(
                len({str(i[prop]) for i in items}) == len(items) for items in lists):
            return prop
    return None


def _escape(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def diff_documents(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Changes from ``old`` to ``new``: dicts with ``op`` (add/remove/change/move) and ``path``."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[dict[str, Any]] = []
        for k in old:
            if k not in new:
                changes.append({"op": "remove", "path": f"{path}/{_escape(k)}", "old": old[k]})
        for k in new:
            sub = f"{path}/{_escape(k)}"
            if k not in old:
                changes.append({"op": "add", "path": sub, "new": new[k]})
            else:
                changes += diff_documents(old[k], new[k], sub)
        return changes
    if isinstance(old, list) and isinstance(new, list):
        prop = _identity(old, new)
        if prop is None:
            return [] if old == new else [{"op": "change", "path": path, "old": old, "new": new}]
        changes = []
        old_by = {str(i[prop]): (n, i) for n, i in enumerate(old)}
        new_by = {str(i[prop]): (n, i) for n, i in enumerate(new)}
        for ident, (_, item) in old_by.items():
            if ident not in new_by:
                changes.append({"op": "remove", "path": f"{path}[{prop}={ident}]", "old": item})
        old_order = [i for i in old_by if i in new_by]
        new_order = [i for i in new_by if i in old_by]
        for ident, (n, item) in new_by.items():
            sub = f"{path}[{prop}={ident}]"
            if ident not in old_by:
                changes.append({"op": "add", "path": sub, "new": item, "index": n})
                continue
            if old_order.index(ident) != new_order.index(ident):
                changes.append({"op": "move", "path": sub, "old": old_by[ident][0], "new": n})
            changes += diff_documents(old_by[ident][1], item, sub)
        # a pure swap of two items shows both as moved; that is what happened
        return changes
    if old != new:
        return [{"op": "change", "path": path, "old": old, "new": new}]
    return []
