"""The LendBase error hierarchy.

Every error carries a stable ``code``; the API layer maps codes to HTTP statuses in one table
(``lendbase.api.errors``). Messages say what was wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping


class LendBaseError(Exception):
    """Root of every error LendBase raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(LendBaseError):
    """A setting is missing or malformed; the message says which and how to fix it."""

    code = "config_error"


class MetadataError(LendBaseError):
    """A metadata document is invalid. ``errors`` maps JSON pointers to messages."""

    code = "invalid_metadata"

    def __init__(self, message: str, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}


class CompileError(LendBaseError):
    """Metadata that passed the meta-schema still cannot be compiled (e.g. unknown target)."""

    code = "compile_error"


class ValidationFailed(LendBaseError):
    """Record data is invalid; ``fields`` holds every failing field at once."""

    code = "validation_failed"

    def __init__(self, fields: Mapping[str, list[str]], message: str | None = None) -> None:
        self.fields: dict[str, list[str]] = {k: list(v) for k, v in fields.items()}
        names = ", ".join(sorted(self.fields))
        super().__init__(message or f"{len(self.fields)} field(s) need attention: {names}")


class PermissionDenied(LendBaseError):
    code = "permission_denied"


class NotAuthenticated(LendBaseError):
    code = "not_authenticated"


class NotFound(LendBaseError):
    code = "not_found"


class Conflict(LendBaseError):
    """A stale version was written (optimistic concurrency) or a unique value is taken."""

    code = "conflict"


class MigrationRefused(LendBaseError):
    """A publish would lose data or needs confirmation; ``plan`` explains why."""

    code = "migration_refused"

    def __init__(self, message: str, plan: object | None = None, lang: str = "en") -> None:
        super().__init__(message)
        self.plan = plan
        self.lang = lang  # the language of the message and of the plan in the error body


class FlowError(LendBaseError):
    code = "flow_error"
