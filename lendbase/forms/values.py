"""Turn one raw input value (from JSON or an HTML form) into a field's Python value.

``coerce_value`` raises ``FieldValueError`` with a message in the caller's language. The same
function serves record validation and the migration dry-run, so "would this value convert?" has
exactly one answer.
"""

from __future__ import annotations

import re
from datetime import date, datetime
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


class FieldValueError(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or value == []


def _fail(code: str, lang: str, **params: Any) -> FieldValueError:
    return FieldValueError(message(code, lang, **params))


def _decimal(value: Any, lang: str) -> Decimal:
    if isinstance(value, bool):
        raise _fail("not_number", lang, value=value)
    if isinstance(value, float):
        value = repr(value)
    text = str(value).strip().replace(",", "").replace("，", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _fail("not_number", lang, value=value) from None
    if not number.is_finite():
        raise _fail("not_number", lang, value=value)
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
    text = str(value).strip()
    limit = f.max_length or (None if f.type == "textarea" else f.text_length())
    if limit and len(text) > limit:
        raise _fail("too_long", lang, length=len(text), max=limit)
    if f.min_length and len(text) < f.min_length:
        raise _fail("too_short", lang, length=len(text), min=f.min_length)
    if f.pattern and not re.fullmatch(f.pattern, text):
        if f.pattern_message:
            raise FieldValueError(f.pattern_message.get(lang) or f.pattern_message["en"])
        raise _fail("pattern", lang, value=text)
    return text


def _coerce_integer(f: FieldDef, value: Any, lang: str) -> int:
    if isinstance(value, bool):
        raise _fail("not_integer", lang, value=value)
    if isinstance(value, int):
        number = value
    else:
        try:
            dec = _decimal(value, lang)
        except FieldValueError:
            raise _fail("not_integer", lang, value=value) from None
        if dec != dec.to_integral_value():
            raise _fail("not_integer", lang, value=value)
        number = int(dec)
    if abs(number) >= 2**63:
        raise _fail("too_many_digits", lang, value=number, digits=18)
    _bounds(f, number, lang)
    return number


def _coerce_decimal(f: FieldDef, value: Any, lang: str) -> Decimal:
    number = _decimal(value, lang)
    decimals = f.decimals if f.decimals is not None else 2
    exponent = number.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > decimals:
        trimmed = number.normalize()
        t_exp = trimmed.as_tuple().exponent
        places = -t_exp if isinstance(t_exp, int) and t_exp < 0 else 0
        if places > decimals:
            raise _fail("decimals", lang, value=value, places=places, type=f.type,
                        decimals=decimals)
    number = number.quantize(Decimal(1).scaleb(-decimals))
    digits = f.digits or (18 if f.type != "percent" else 8 + decimals)
    if len(number.as_tuple().digits) > digits:
        raise _fail("too_many_digits", lang, value=value, digits=digits)
    _bounds(f, number, lang, convert=lambda b: Decimal(str(b)))
    return number


def _coerce_date(f: FieldDef, value: Any, lang: str) -> date:
    if isinstance(value, datetime):
        result = value.date()
    elif isinstance(value, date):
        result = value
    else:
        try:
            result = date.fromisoformat(str(value).strip())
        except ValueError:
            raise _fail("not_date", lang, value=value) from None
    _bounds(f, result, lang, convert=lambda b: date.fromisoformat(str(b)))
    return result


def _coerce_datetime(f: FieldDef, value: Any, lang: str, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        result = value
    else:
        text = str(value).strip().replace(" ", "T", 1)
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            result = datetime.fromisoformat(text)
        except ValueError:
            raise _fail("not_datetime", lang, value=value) from None
    if result.tzinfo is None:
        result = result.replace(tzinfo=tz)
    return result


def _coerce_boolean(value: Any, lang: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _fail("not_boolean", lang, value=value)


def _coerce_select(f: FieldDef, value: Any, lang: str) -> str:
    text = str(value).strip()
    if text not in f.option_values:
        raise _fail("not_option", lang, value=text, options=", ".join(f.option_values))
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
    if isinstance(value, bool):
        raise _fail("not_id", lang, value=value)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _fail("not_id", lang, value=value) from None
    if number <= 0:
        raise _fail("not_id", lang, value=value)
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
    """A ``coerce(field_key, literal)`` for condition evaluation; leaves unknown values as is."""
    def coerce(key: str, literal: Any) -> Any:
        f = fields.get(key)
        if f is None or f.type in {"select", "multiselect", "text", "textarea"}:
            return literal
        try:
            return coerce_value(f, literal)
        except FieldValueError:
            return literal
    return coerce
