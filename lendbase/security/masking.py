"""Display masks for sensitive values (PIPL: masked by default).

``mask_value(kind, value)`` keeps the few characters staff need to recognise a
value (``138****5678``) and never returns the whole value: when a value is too
short for its kind's pattern to hide at least ``MIN_HIDDEN`` characters, the
generic text mask is used instead.
"""

from __future__ import annotations

from collections.abc import Callable

MASK_CHAR = "*"
MIN_HIDDEN = 4
_TEXT_MIN_LENGTH_TO_KEEP_ENDS = 5


def _mask_text(value: str) -> str:
    """First and last character when longer than 4, else all stars (same length)."""
    n = len(value)
    if n < _TEXT_MIN_LENGTH_TO_KEEP_ENDS:
        return MASK_CHAR * n
    return value[0] + MASK_CHAR * (n - 2) + value[-1]


def _keep_ends(value: str, head: int, tail: int) -> str:
    """Keep ``head`` leading and ``tail`` trailing characters, stars between."""
    n = len(value)
    hidden = n - head - tail
    if hidden < MIN_HIDDEN:
        return _mask_text(value)
    return value[:head] + MASK_CHAR * hidden + value[n - tail :]


def _mask_id_number(value: str) -> str:
    return _keep_ends(value, 6, 4)


def _mask_phone(value: str) -> str:
    return _keep_ends(value, 3, 4)


def _mask_bank_account(value: str) -> str:
    return _keep_ends(value, 0, 4)


def _mask_uscc(value: str) -> str:
    return _keep_ends(value, 6, 4)


def _mask_email(value: str) -> str:
    """``z***@example.com``; the fixed ``***`` also hides the local part's length."""
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return _mask_text(value)
    head = local[0] if len(local) > 1 else ""
    return f"{head}***@{domain}"


def _mask_name(value: str) -> str:
    """``张三丰`` -> ``张**``; a one-character name is fully hidden."""
    if len(value) <= 1:
        return MASK_CHAR * len(value)
    return value[0] + MASK_CHAR * (len(value) - 1)


_MASKERS: dict[str, Callable[[str], str]] = {
    "id_number": _mask_id_number,
    "phone": _mask_phone,
    "bank_account": _mask_bank_account,
    "uscc": _mask_uscc,
    "email": _mask_email,
    "name": _mask_name,
    "text": _mask_text,
}

MASK_KINDS: frozenset[str] = frozenset(_MASKERS)


def mask_value(kind: str, value: str | None) -> str | None:
    """Mask ``value`` for display by ``kind``; unknown kinds mask as "text"."""
    if value is None:
        return None
    return _MASKERS.get(kind, _mask_text)(value)
