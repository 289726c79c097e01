"""Domain value checks for Chinese identity, company, contact and region fields.

Each ``check_*`` function returns ``None`` when the value is valid, or one short message
that says what is wrong and how to fix it; the form validator collects these per field.
Checks accept anything their ``normalize_*`` counterpart turns into a valid value
(lower-case ``x``, spaces, full-width digits typed with a Chinese IME...), so callers
check the raw input and store ``normalize_*(value)``.

Pure: the only I/O is reading the packaged ``data/regions.json``, lazily, once.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date
from functools import cache
from importlib import resources

__all__ = [
    "ID_PROVINCE_CODES",
    "USCC_ALPHABET",
    "birth_date_from_id",
    "check_email",
    "check_id_number",
    "check_mobile",
    "check_region",
    "check_uscc",
    "normalize_email",
    "normalize_id_number",
    "normalize_mobile",
    "normalize_region",
    "normalize_uscc",
    "region_children",
    "region_name",
    "region_path",
]

# --- Resident ID number (GB 11643) -----------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID_PATTERN = re.compile(r"[0-9]{17}[0-9X]")
_EARLIEST_BIRTH = date(1900, 1, 1)

#: First two digits an ID number may start with: the 34 province-level divisions of
#: GB/T 2260, plus 83, which residence permits of Taiwan residents use (81 and 82 serve
#: Hong Kong and Macao residents' permits).
ID_PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)


def _squash(value: str) -> str:
    """Fold full-width characters to ASCII (NFKC) and drop all whitespace."""
    return "".join(unicodedata.normalize("NFKC", value).split())


def normalize_id_number(value: str) -> str:
    """Stored form of an ID number: no spaces, ASCII, upper-case ``X``."""
    return _squash(value).upper()


def _id_check_char(body: str) -> str:
    total = sum(
        int(digit) * weight for digit, weight in zip(body, _ID_WEIGHTS, strict=True)
    )
    return _ID_CHECK_CHARS[total % 11]


def complete_id_number(region: str, born: date, sequence: int) -> str:
    """A well-formed ID number for a 6-digit region, a birth date and a 3-digit sequence
    (odd for men, even for women): for demo data and benchmarks, never for real people."""
    body = f"{region}{born:%Y%m%d}{sequence % 1000:03d}"
    return body + _id_check_char(body)


def _parse_birth_date(digits: str) -> date | None:
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def check_id_number(value: str, today: date | None = None) -> str | None:
    """Check an 18-character resident ID number; ``today`` bounds the birth date."""
    number = normalize_id_number(value)
    if not number:
        return "ID number is empty: enter the 18-character resident ID number"
    if len(number) != 18:
        hint = (
            "15-digit first-generation numbers are no longer accepted"
            if len(number) == 15
            else "re-check for missing or extra digits"
        )
        return f"ID number has {len(number)} characters, expected 18: {hint}"
    if not _ID_PATTERN.fullmatch(number):
        return (
            "ID number may contain only digits, with X allowed as the last character: "
            f"remove or correct {_first_bad_char(number)!r}"
        )
    if number[:2] not in ID_PROVINCE_CODES:
        return (
            f"ID number starts with {number[:2]}, which is not a province code: "
            "re-check the first two digits"
        )
    birth_error = _birth_date_error(number[6:14], today or date.today())
    if birth_error:
        return birth_error
    expected = _id_check_char(number[:17])
    if number[17] != expected:
        return (
            f"ID number check character should be {expected}, got {number[17]}: "
            "re-check every digit, a typo anywhere changes it"
        )
    return None


def _first_bad_char(number: str) -> str:
    for position, char in enumerate(number):
        allowed = "0123456789X" if position == 17 else "0123456789"
        if char not in allowed:
            return char
    return ""


def _birth_date_error(digits: str, today: date) -> str | None:
    born = _parse_birth_date(digits)
    where = "re-check characters 7-14 (YYYYMMDD)"
    if born is None:
        return f"ID number birth date {digits} is not a real date: {where}"
    if born < _EARLIEST_BIRTH:
        return f"ID number birth date {digits} is before 1900: {where}"
    if born > today:
        return f"ID number birth date {digits} is in the future: {where}"
    return None


def birth_date_from_id(value: str) -> date:
    """Birth date encoded in a valid ID number.

    Raises ``ValueError`` with the ``check_id_number`` message for an invalid number:
    validate user input first, this is for values already accepted.
    """
    error = check_id_number(value)
    if error:
        raise ValueError(error)
    born = _parse_birth_date(normalize_id_number(value)[6:14])
    assert born is not None  # check_id_number rejected unreal dates
    return born


# --- Unified social credit code (GB 32100) ----------------------------------------

#: The 31 code characters in value order; I, O, Z, S and V are never used.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {char: index for index, char in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
#: Letters the alphabet leaves out because they look like digits.
_USCC_LOOKALIKES = {"I": "1", "O": "0", "Z": "2", "S": "5"}


def normalize_uscc(value: str) -> str:
    """Stored form of a USCC: no spaces, ASCII, upper-case."""
    return _squash(value).upper()


def _uscc_check_char(body: str) -> str:
    total = sum(_USCC_VALUES[c] * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc(value: str) -> str | None:
    """Check an 18-character unified social credit code (统一社会信用代码)."""
    code = normalize_uscc(value)
    if not code:
        return "credit code is empty: enter the 18-character unified social credit code"
    if len(code) != 18:
        return (
            f"credit code has {len(code)} characters, expected 18: "
            "re-check for missing or extra characters"
        )
    bad = next((char for char in code if char not in _USCC_VALUES), None)
    if bad is not None:
        lookalike = _USCC_LOOKALIKES.get(bad)
        fix = f"did you mean {lookalike}?" if lookalike else "re-check that character"
        return (
            f"credit code contains {bad!r}, which these codes never use "
            f"(only digits and {USCC_ALPHABET[10:]}): {fix}"
        )
    expected = _uscc_check_char(code[:17])
    if code[17] != expected:
        return (
            f"credit code check character should be {expected}, got {code[17]}: "
            "re-check every character, a typo anywhere changes it"
        )
    return None


# --- Mainland mobile number --------------------------------------------------------

_MOBILE_SEPARATORS = re.compile(r"[\s\-()]")
_MOBILE_PATTERN = re.compile(r"1[3-9][0-9]{9}")


def normalize_mobile(value: str) -> str:
    """Bare 11 digits of a mobile number, without separators or a +86/0086/86 prefix.

    Input that is not a mobile number comes back cleaned but otherwise as it was, so
    that ``check_mobile`` can say what is wrong with it.
    """
    number = _MOBILE_SEPARATORS.sub("", unicodedata.normalize("NFKC", value))
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            return number[len(prefix) :]
    if number.startswith("86") and len(number) == 13:
        return number[2:]
    return number


def check_mobile(value: str) -> str | None:
    """Check a mainland China mobile number (11 digits starting 13-19)."""
    number = normalize_mobile(value)
    if not number:
        return "mobile number is empty: enter the 11-digit mobile number"
    bad = next((char for char in number if char not in "0123456789"), None)
    if bad is not None:
        return (
            f"mobile number contains {bad!r}: use digits only, optionally with "
            "spaces, dashes and a +86 prefix"
        )
    if len(number) != 11:
        return (
            f"mobile number has {len(number)} digits, expected 11: "
            "re-check for missing or extra digits"
        )
    if not _MOBILE_PATTERN.fullmatch(number):
        return (
            f"mobile number starts with {number[:2]}: mainland mobile numbers start "
            "with 13-19, re-check the first digits"
        )
    return None


# --- E-mail address -----------------------------------------------------------------

_EMAIL_MAX_LENGTH = 254  # RFC 5321 path limit less the angle brackets


def normalize_email(value: str) -> str:
    """Stored form of an address: ASCII ``@``, trimmed, lower-case domain."""
    address = unicodedata.normalize("NFKC", value).strip()
    local, at, domain = address.rpartition("@")
    return f"{local}{at}{domain.lower()}" if at else address


def check_email(value: str) -> str | None:
    """Pragmatic e-mail check: one @, a dotted domain, no spaces, at most 254 chars."""
    address = normalize_email(value)
    if not address:
        return "e-mail address is empty: enter an address like name@example.com"
    if len(address) > _EMAIL_MAX_LENGTH:
        return (
            f"e-mail address has {len(address)} characters, at most "
            f"{_EMAIL_MAX_LENGTH} are allowed: re-check it"
        )
    if any(char.isspace() for char in address):
        return "e-mail address contains a space: remove it"
    if address.count("@") != 1:
        return (
            f"e-mail address has {address.count('@')} @ signs, expected exactly one: "
            "use the form name@example.com"
        )
    local, _, domain = address.partition("@")
    if not local:
        return "e-mail address has nothing before the @: add the mailbox name"
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        return (
            f"e-mail domain {domain!r} is not a domain name like example.com: "
            "re-check the part after the @"
        )
    return None


# --- Administrative divisions (GB/T 2260) ----------------------------------------

_REGION_PATTERN = re.compile(r"[0-9]{6}")


@cache
def _regions() -> dict[str, tuple[str, str | None]]:
    """Code -> (Chinese name, parent code), read once from the packaged data."""
    text = (
        resources.files("lendbase.forms")
        .joinpath("data", "regions.json")
        .read_text(encoding="utf-8")
    )
    return {code: (row["zh"], row["parent"]) for code, row in json.loads(text).items()}


@cache
def _children() -> dict[str | None, tuple[tuple[str, str], ...]]:
    """Parent code (None for the top level) -> its (code, name) children, by code."""
    grouped: dict[str | None, list[tuple[str, str]]] = {}
    for code, (name, parent) in sorted(_regions().items()):
        grouped.setdefault(parent, []).append((code, name))
    return {parent: tuple(children) for parent, children in grouped.items()}


def normalize_region(value: str) -> str:
    """Stored form of a division code: ASCII digits, no spaces."""
    return _squash(value)


def check_region(value: str) -> str | None:
    """Check a 6-digit administrative division code against the shipped code list."""
    code = normalize_region(value)
    if not code:
        return "region code is empty: pick a province, city and county"
    if not _REGION_PATTERN.fullmatch(code):
        return (
            f"region code {code!r} is not 6 digits: pick the region from the list "
            "or enter its 6-digit code, e.g. 110105"
        )
    if code not in _regions():
        return (
            f"region code {code} is not a current administrative division: pick the "
            "region from the list (merged or renamed divisions lose their codes)"
        )
    return None


def region_name(code: str) -> str | None:
    """Chinese name of a division, or None for a code not in the list."""
    entry = _regions().get(normalize_region(code))
    return entry[0] if entry else None


def region_children(parent_code: str | None) -> list[tuple[str, str]]:
    """(code, name) pairs under a division, by code; None gives the provinces.

    A leaf or unknown code has no children. Municipalities (Beijing, Shanghai...) and
    county-level cities governed by their province list their counties directly.
    """
    parent = None if parent_code is None else normalize_region(parent_code)
    return list(_children().get(parent, ()))


def region_path(code: str) -> list[str]:
    """Codes from the province down to ``code`` (at most province, city, county).

    Empty for an unknown code; two long where a county hangs straight off its
    province (e.g. Beijing's districts).
    """
    regions = _regions()
    current: str | None = normalize_region(code)
    path: list[str] = []
    while current is not None and current in regions:
        path.append(current)
        current = regions[current][1]
    return path[::-1]
