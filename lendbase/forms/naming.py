"""The one place that derives SQL names from metadata keys."""

from __future__ import annotations

import hashlib

_MAX_IDENT = 60  # PostgreSQL truncates identifiers at 63 bytes; keep a margin.


def _fit(name: str) -> str:
    if len(name) <= _MAX_IDENT:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: _MAX_IDENT - 9]}_{digest}"


def table_name_for(form_key: str) -> str:
    return _fit(f"f_{form_key}")


def child_table_name_for(form_key: str, subtable_key: str) -> str:
    return _fit(f"f_{form_key}__{subtable_key}")


def hash_column_for(field_key: str) -> str:
    """Keyed-hash column kept beside an encrypted value for uniqueness and exact lookup."""
    return f"{field_key}__h"


def sequence_name_for(form_key: str, field_key: str, prefix: str) -> str:
    return f"{form_key}.{field_key}:{prefix}"


def index_name_for(table_name: str, *columns: str, prefix: str = "ix", suffix: str = "") -> str:
    """Index names that stay unique when long names are shortened (a digest, not a cut)."""
    tail = f"_{suffix}" if suffix else ""
    return _fit(f"{prefix}_{table_name}_{'_'.join(columns)}{tail}")
