"""Turn one raw input value (from JSON or an HTML form) into a field's Python value.

``coerce_value`` raises ``FieldValueError`` with a message in the caller's language. The same
function serves record validation and the migration dry-run, so "would this value convert?" has
exactly one answer.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from lendbase.forms import checks
from lendbase.forms.messages import message
from lendbase.forms.model import FieldDef

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
_TRUE = {"true", "1", "yes", "on", "y", "t", "是"}
_FALSE = {"false", "0", "no", "off", "n", "f", "否"}
_TEXT_TYPES = {"text", "textarea"}
_CHECKED_TYPES = {"phone", "email", "id_number", "uscc", "region"}


#: Integers are stored as 64-bit; ids are 1..2^63-1.
INT64_MAX = 2**63 - 1
#: Numeric input beyond this many digits or this exponent is refused before any conversion
#: (``int(Decimal("1e999999"))`` would build a million-digit integer and hold the GIL).
MAX_NUMBER_CHARS = 100
MAX_EXPONENT = 100
#: Dates and datetimes outside these years are refused (and UTC conversion cannot overflow).
MIN_YEAR, MAX_YEAR = 1900, 2200
#: C0 control characters other than tab, newline and carriage return (PostgreSQL refuses NUL).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class FieldValueError(ValueError):
    def __init__(self, text: str, code: str = "") -> None:
        super().__init__(text)
        self.text = text
        self.code = code


class LiteralValueError(FieldValueError):
    """A condition literal that does not convert to its field's type."""

    def __init__(self, key: str, type_: str, text: str) -> None:
        super().__init__(text, "bad_literal")
        self.key = key
        self.type = type_


def shown(value: Any, limit: int = 40) -> Any:
    """``value`` for a message: itself when short, else truncated text (never formats a huge
    number in full, never passes a lone surrogate on)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) < 10**limit:
            return value
        return f"{str(value)[:limit]}…"  # int.__str__ of at most 4300 digits: bounded
    if isinstance(value, (float, Decimal)):
        text = str(value)
        return value if len(text) <= limit else f"{text[:limit]}…"
    text = value if isinstance(value, str) else repr(value)[: limit * 4]
    text = _SURROGATE.sub("\ufffd", text)
    if len(text) > limit:
        return f"{text[:limit]}…"
    return value if isinstance(value, str) and text == value else text


def text_problem(text: str, lang: str = "en") -> str | None:
    """A message when ``text`` holds control characters or lone surrogates, else None."""
    if _SURROGATE.search(text):
        return message("bad_surrogate", lang)
    if _CONTROL.search(text):
        return message("control_chars", lang)
    return None


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or value == []


def _fail(code: str, lang: str, **params: Any) -> FieldValueError:
    return FieldValueError(message(code, lang, **params), code)


def _decimal(value: Any, lang: str, digits: int = 18) -> Decimal:
    """A finite Decimal of at most ``MAX_NUMBER_CHARS`` characters and a sane exponent."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise _fail("not_number", lang, value=shown(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail("not_number", lang, value=shown(value))
        value = repr(value)
    elif isinstance(value, int):
        if abs(value) > INT64_MAX:  # compare, never convert a huge int to text
            raise _fail("too_many_digits", lang, value=shown(value), digits=digits)
        value = str(value)
    text = str(value).strip().replace(",", "").replace("，", "")
    if len(text) > MAX_NUMBER_CHARS:
        raise _fail("too_many_digits", lang, value=shown(text), digits=digits)
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        raise _fail("not_number", lang, value=shown(value)) from None
    if not number.is_finite():
        raise _fail("not_number", lang, value=shown(value))
    if number and number.adjusted() > MAX_EXPONENT:
        raise _fail("too_many_digits", lang, value=shown(text), digits=digits)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_EXPONENT:  # 1e-999999: no field keeps it
        raise _fail("not_number", lang, value=shown(text))
    return number


def _bounds(f: FieldDef, value: Any, lang: str, convert: Any = None) -> None:
    low = convert(f.min) if (convert and f.min is not None) else f.min
    high = convert(f.max) if (convert and f.max is not None) else f.max
    if low is not None and value < low:
        raise _fail("below_min", lang, min=f.min)
    if high is not None and value > high:
        raise _fail("above_max", lang, max=f.max)


def _coerce_text(f: FieldDef, value: Any, lang: str) -> str:
    if not isinstance(value, (str, int, float, Decimal)) or isinstance(value, bool):
        raise _fail("not_text", lang)
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail("not_text", lang)
    if isinstance(value, int) and abs(value) > INT64_MAX:
        raise _fail("too_long", lang, length=f"{MAX_NUMBER_CHARS}+", max=f.text_length())
    text = str(value).strip()
    problem = text_problem(text, lang)
    if problem:
        raise FieldValueError(problem)
    limit = f.max_length or (None if f.type == "textarea" else f.text_length())
    if limit and len(text) > limit:
        raise _fail("too_long", lang, length=len(text), max=limit)
    if f.min_length and len(text) < f.min_length:
        raise _fail("too_short", lang, length=len(text), min=f.min_length)
    if f.pattern and not re.fullmatch(f.pattern, text):
        if f.pattern_message:
            raise FieldValueError(f.pattern_message.get(lang) or f.pattern_message["en"])
        raise _fail("pattern", lang, value=shown(text))
    return text


def _coerce_integer(f: FieldDef, value: Any, lang: str) -> int:
    if isinstance(value, bool):
        raise _fail("not_integer", lang, value=shown(value))
    if isinstance(value, int):
        number = value
        if abs(number) > INT64_MAX:
            raise _fail("too_many_digits", lang, value=shown(value), digits=18)
    else:
        try:
            dec = _decimal(value, lang)
        except FieldValueError as exc:
            if exc.code == "too_many_digits":
                raise
            raise _fail("not_integer", lang, value=shown(value)) from None
        # Size first: int() of 1e100 is cheap, but the check must come before any conversion.
        if dec and dec.adjusted() >= 19:
            raise _fail("too_many_digits", lang, value=shown(value), digits=18)
        if dec != dec.to_integral_value():
            raise _fail("not_integer", lang, value=shown(value))
        number = int(dec)
        if abs(number) > INT64_MAX:
            raise _fail("too_many_digits", lang, value=shown(value), digits=18)
    _bounds(f, number, lang)
    return number


def _coerce_decimal(f: FieldDef, value: Any, lang: str) -> Decimal:
    decimals = f.decimals if f.decimals is not None else 2
    digits = f.digits or (18 if f.type != "percent" else 8 + decimals)
    number = _decimal(value, lang, digits)
    value = shown(value)
    exponent = number.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > decimals:
        trimmed = number.normalize()
        t_exp = trimmed.as_tuple().exponent
        places = -t_exp if isinstance(t_exp, int) and t_exp < 0 else 0
        if places > decimals:
            raise _fail("decimals", lang, value=value, places=places, type=f.type,
                        decimals=decimals)
    # Digits before the point + the decimals kept must fit; checked before quantize, which
    # raises InvalidOperation when the result exceeds the context precision.
    if number and number.adjusted() + 1 + decimals > digits:
        raise _fail("too_many_digits", lang, value=value, digits=digits)
    try:
        number = number.quantize(Decimal(1).scaleb(-decimals))
    except InvalidOperation:
        raise _fail("too_many_digits", lang, value=value, digits=digits) from None
    if len(number.as_tuple().digits) > digits:
        raise _fail("too_many_digits", lang, value=value, digits=digits)
    _bounds(f, number, lang, convert=lambda b: Decimal(str(b)))
    return number


def _out_of_range(lang: str, value: Any) -> FieldValueError:
    return _fail("date_range", lang, value=shown(value), min=MIN_YEAR, max=MAX_YEAR)


def _coerce_date(f: FieldDef, value: Any, lang: str) -> date:
    if isinstance(value, datetime):
        result = value.date()
    elif isinstance(value, date):
        result = value
    else:
        if not isinstance(value, str):
            raise _fail("not_date", lang, value=shown(value))
        try:
            result = date.fromisoformat(value.strip())
        except ValueError:
            raise _fail("not_date", lang, value=shown(value)) from None
    if not MIN_YEAR <= result.year <= MAX_YEAR:
        raise _out_of_range(lang, value)
    _bounds(f, result, lang, convert=lambda b: date.fromisoformat(str(b)))
    return result


def _coerce_datetime(f: FieldDef, value: Any, lang: str, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        result = value
    else:
        if not isinstance(value, str):
            raise _fail("not_datetime", lang, value=shown(value))
        text = value.strip().replace(" ", "T", 1)
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            result = datetime.fromisoformat(text)
        except ValueError:
            raise _fail("not_datetime", lang, value=shown(value)) from None
    if not MIN_YEAR <= result.year <= MAX_YEAR:
        raise _out_of_range(lang, value)
    if result.tzinfo is None:
        result = result.replace(tzinfo=tz)
    try:
        result.astimezone(UTC)  # stored as UTC; must not overflow
    except (OverflowError, ValueError):
        raise _out_of_range(lang, value) from None
    return result


def _coerce_boolean(value: Any, lang: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _fail("not_boolean", lang, value=shown(value))


def _coerce_select(f: FieldDef, value: Any, lang: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _fail("not_option", lang, value=shown(value), options=", ".join(f.option_values))
    text = str(value).strip() if isinstance(value, str) else shown(value)
    if text not in f.option_values:
        raise _fail("not_option", lang, value=shown(text), options=", ".join(f.option_values))
    return text


def _coerce_multiselect(f: FieldDef, value: Any, lang: str) -> list[str]:
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not isinstance(value, (list, tuple)):
        raise _fail("not_list", lang)
    chosen: list[str] = []
    for item in value:
        item = _coerce_select(f, item, lang)
        if item not in chosen:
            chosen.append(item)
    if f.min_items is not None and len(chosen) < f.min_items:
        raise _fail("too_few_items", lang, min=f.min_items)
    if f.max_items is not None and len(chosen) > f.max_items:
        raise _fail("too_many_items", lang, max=f.max_items)
    order = {v: i for i, v in enumerate(f.option_values)}
    return sorted(chosen, key=order.__getitem__)


def _coerce_id(value: Any, lang: str) -> int:
    if isinstance(value, dict) and "id" in value:
        value = value["id"]
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() \
            and len(value.strip()) <= 19:
        number = int(value.strip())
    else:
        raise _fail("not_id", lang, value=shown(value))
    if not 1 <= number <= INT64_MAX:
        raise _fail("not_id", lang, value=shown(value))
    return number


def _checked(code: str, error: str | None, lang: str) -> None:
    if error:
        raise _fail(code, lang, detail=error)


def _coerce_region(f: FieldDef, value: Any, lang: str) -> str:
    code = checks.normalize_region(str(value))
    _checked("region", checks.check_region(code), lang)
    level = f.level
    if level == "province" and not code.endswith("0000"):
        raise _fail("region_level", lang, value=code, level=level)
    if level == "city" and (not code.endswith("00") or code.endswith("0000")):
        raise _fail("region_level", lang, value=code, level=level)
    return code


def coerce_value(f: FieldDef, value: Any, lang: str = "en", tz: ZoneInfo = DEFAULT_TZ) -> Any:
    """The field's Python value for a non-empty raw ``value``; raises ``FieldValueError``."""
    t = f.type
    if t in _TEXT_TYPES:
        return _coerce_text(f, value, lang)
    if t == "integer":
        return _coerce_integer(f, value, lang)
    if t in {"decimal", "money", "percent"}:
        return _coerce_decimal(f, value, lang)
    if t == "date":
        return _coerce_date(f, value, lang)
    if t == "datetime":
        return _coerce_datetime(f, value, lang, tz)
    if t == "boolean":
        return _coerce_boolean(value, lang)
    if t == "select":
        return _coerce_select(f, value, lang)
    if t == "multiselect":
        return _coerce_multiselect(f, value, lang)
    if t in {"reference", "user", "file"}:
        return _coerce_id(value, lang)
    if t in _CHECKED_TYPES:
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise _fail("not_text", lang)
        problem = text_problem(str(value), lang) if isinstance(value, str) else None
        if problem:
            raise FieldValueError(problem)
    if t == "phone":
        number = checks.normalize_mobile(str(value))
        _checked("phone", checks.check_mobile(number), lang)
        return number
    if t == "email":
        address = checks.normalize_email(str(value))
        _checked("email", checks.check_email(address), lang)
        return address
    if t == "id_number":
        number = checks.normalize_id_number(str(value))
        _checked("id_number", checks.check_id_number(number), lang)
        return number
    if t == "uscc":
        code = checks.normalize_uscc(str(value))
        _checked("uscc", checks.check_uscc(code), lang)
        return code
    if t == "region":
        return _coerce_region(f, value, lang)
    if t == "auto_number":
        return _coerce_text(f, value, lang)
    raise FieldValueError(f"fields of type {t} take no direct input")



def literal_coercer(fields: dict[str, FieldDef]) -> Any:
    """A ``coerce(field_key, literal)`` for condition evaluation.

    Converts a literal to its field's Python type; raises ``LiteralValueError`` (naming the field
    and its type) when it does not convert, so a wrong-typed literal never reaches the database.
    Keys that are not in ``fields`` keep their literal (it is still checked to be plain text).
    """
    def coerce(key: str, literal: Any) -> Any:
        f = fields.get(key)
        type_ = f.type if f is not None else "value"
        if isinstance(literal, str):
            problem = text_problem(literal)
            if problem:
                raise LiteralValueError(key, type_, problem)
        if f is None:
            return literal
        if f.type in {"select", "multiselect", "text", "textarea", "auto_number"}:
            if isinstance(literal, bool) or not isinstance(literal, (str, int, Decimal)):
                raise LiteralValueError(key, f.type, f"{shown(literal)} is not text")
            return literal if isinstance(literal, str) else shown(literal)
        if f.type == "boolean" and isinstance(literal, bool):
            return literal
        try:
            return coerce_value(f, literal)
        except FieldValueError as exc:
            raise LiteralValueError(key, f.type, exc.text) from None
    return coerce


def lenient(coerce: Any) -> Any:
    """``coerce`` that keeps a literal it cannot convert (for metadata conditions on input)."""
    def run(key: str, literal: Any) -> Any:
        try:
            return coerce(key, literal)
        except FieldValueError:
            return literal
    return run
