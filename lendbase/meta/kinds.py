"""What each kind of metadata document needs: its meta-schema, its semantic checks and its
publisher. A kind's issue registers it here; the store, the validator and the metadata API
read this table instead of special-casing kinds.

A publisher is ``publish(session, actor_id, key, *, dry_run, confirm, backfill, note, lang)``
returning an object with ``to_dict(lang)`` (``lendbase.forms.publish.publish_form`` is the
model); semantic checks are ``check(doc) -> {json_pointer: [messages]}`` run when the document
passes its meta-schema. Both are dotted paths, imported on first use (no import cycles).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KINDS = ("forms", "flows", "rules", "segments", "reports", "dashboards")


@dataclass(frozen=True)
class KindSpec:
    schema_file: str
    semantic_check: str | None = None
    publisher: str | None = None


SPECS: dict[str, KindSpec] = {
    "forms": KindSpec("form.schema.json", "lendbase.forms.model.semantic_errors",
                      "lendbase.forms.publish.publish_form"),
    "rules": KindSpec("rule.schema.json", "lendbase.rules.model.semantic_errors",
                      "lendbase.rules.publish.publish_rule"),
    "segments": KindSpec("segment.schema.json", "lendbase.segments.model.semantic_errors",
                         "lendbase.segments.publish.publish_segment"),
}


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def semantic_check(kind: str) -> Callable[[Any], dict[str, list[str]]] | None:
    spec = SPECS.get(kind)
    return _resolve(spec.semantic_check) if spec and spec.semantic_check else None


def publisher(kind: str) -> Callable[..., Any] | None:
    spec = SPECS.get(kind)
    return _resolve(spec.publisher) if spec and spec.publisher else None
