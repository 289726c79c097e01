"""Validate metadata documents against their JSON Schema meta-schemas.

Every error is reported at once, keyed by its JSON pointer, with a message that says how to fix it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from lendbase.errors import MetadataError
from lendbase.meta.kinds import KINDS, SPECS, semantic_check

__all__ = ["KINDS", "pointer", "schema_errors", "validate_document"]


@cache
def _validator(kind: str) -> Draft202012Validator:
    spec = SPECS.get(kind)
    name = spec.schema_file if spec else None
    if name is None:
        raise MetadataError(
            f"documents of kind {kind!r} are not supported yet; supported: "
            + ", ".join(sorted(SPECS))
        )
    text = resources.files("lendbase.meta").joinpath(f"schemas/{name}").read_text("utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def pointer(path: Any) -> str:
    """JSON pointer (RFC 6901) for a jsonschema path."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else ""


def _message(error: ValidationError) -> str:
    validator = error.validator
    value = error.validator_value
    if validator == "required":
        return error.message.replace("is a required property", "is required: add it")
    if validator == "additionalProperties":
        return error.message + "; remove it or check its spelling"
    if validator == "pattern":
        hint = (error.schema or {}).get("description") if isinstance(error.schema, dict) else None
        return f"{error.instance!r} does not match the required pattern" + (
            f": use {hint}" if hint else f" {value}"
        )
    if validator == "enum":
        return f"{error.instance!r} is not allowed; use one of: " + ", ".join(map(str, value))
    if validator == "type":
        return f"{error.instance!r} should be of type {value}"
    return error.message


def schema_errors(kind: str, doc: Any) -> dict[str, list[str]]:
    """All meta-schema violations of ``doc`` as {json_pointer: [messages]}."""
    errors: dict[str, list[str]] = {}
    found = _validator(kind).iter_errors(doc)
    for error in sorted(found, key=lambda e: [str(p) for p in e.absolute_path]):
        # For if/then branches jsonschema reports the inner error; keep the most specific ones.
        leaves = [error]
        if error.context:
            leaves = [e for e in error.context if not e.context] or leaves
        for leaf in leaves:
            errors.setdefault(pointer(leaf.absolute_path), []).append(_message(leaf))
    return errors


def validate_document(kind: str, doc: Any) -> None:
    """Raise ``MetadataError`` listing every problem of ``doc`` (meta-schema, then semantics)."""
    errors = schema_errors(kind, doc)
    check = semantic_check(kind)
    if not errors and check is not None:
        errors = check(doc)
    if errors:
        count = sum(len(v) for v in errors.values())
        raise MetadataError(f"the {kind[:-1]} document has {count} problem(s)", errors)
