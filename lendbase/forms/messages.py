"""Validation messages in both UI languages. Codes are stable; texts say how to fix the value."""

from __future__ import annotations

from typing import Any

CATALOG: dict[str, dict[str, str]] = {
    "required": {"en": "is required", "zh": "必填"},
    "unknown_field": {"en": "is not a field of this form; remove it (fields: {fields})",
                      "zh": "不是此表单的字段，请删除（可用字段：{fields}）"},
    "too_long": {"en": "has {length} characters; at most {max} allowed",
                 "zh": "长度为 {length} 个字符，最多允许 {max} 个"},
    "too_short": {"en": "has {length} characters; at least {min} needed",
                  "zh": "长度为 {length} 个字符，至少需要 {min} 个"},
    "pattern": {"en": "{value!r} does not have the expected format", "zh": "格式不正确"},
    "not_text": {"en": "should be text", "zh": "应为文本"},
    "not_integer": {"en": "{value!r} is not a whole number; enter digits only, e.g. 12",
                    "zh": "“{value}” 不是整数，请只输入数字，例如 12"},
    "not_number": {"en": "{value!r} is not a number; enter digits with an optional decimal "
                         "point, e.g. 8000.50", "zh": "“{value}” 不是数字，例如 8000.50"},
    "decimals": {"en": "{value} has {places} decimals; {type} allows {decimals}",
                 "zh": "{value} 有 {places} 位小数，最多允许 {decimals} 位"},
    "too_many_digits": {"en": "{value} is too large; at most {digits} digits",
                        "zh": "{value} 超出范围，最多 {digits} 位数字"},
    "below_min": {"en": "must be at least {min}", "zh": "不能小于 {min}"},
    "above_max": {"en": "must be at most {max}", "zh": "不能大于 {max}"},
    "not_date": {"en": "{value!r} is not a date; use YYYY-MM-DD, e.g. 2026-03-31",
                 "zh": "“{value}” 不是有效日期，格式为 YYYY-MM-DD，例如 2026-03-31"},
    "not_datetime": {"en": "{value!r} is not a date and time; use YYYY-MM-DDTHH:MM, "
                           "e.g. 2026-03-31T14:30", "zh": "“{value}” 不是有效的日期时间"},
    "date_range": {"en": "{value!r} is out of range; use a year between {min} and {max}",
                   "zh": "“{value}” 超出范围，年份应在 {min} 至 {max} 之间"},
    "control_chars": {"en": "contains control characters (such as NUL); remove them and "
                            "send plain text (tab and line breaks are fine)",
                      "zh": "包含控制字符（如 NUL），请删除后重新输入纯文本（可使用制表符和换行）"},
    "bad_surrogate": {"en": "contains an invalid character (a lone UTF-16 surrogate); send "
                            "valid Unicode text",
                      "zh": "包含无效字符（孤立的 UTF-16 代理项），请输入有效的 Unicode 文本"},
    "not_boolean": {"en": "{value!r} is not yes/no; use true or false",
                    "zh": "“{value}” 不是是/否值"},
    "not_option": {"en": "{value!r} is not one of the options: {options}",
                   "zh": "“{value}” 不是可选项之一：{options}"},
    "not_list": {"en": "should be a list of option values", "zh": "应为选项值的列表"},
    "too_few_items": {"en": "choose at least {min}", "zh": "至少选择 {min} 项"},
    "too_many_items": {"en": "choose at most {max}", "zh": "最多选择 {max} 项"},
    "not_id": {"en": "{value!r} is not a record id; pick a record", "zh": "请选择一条记录"},
    "no_such_record": {"en": "record {value} of '{target}' does not exist or is not visible "
                             "to you; pick another", "zh": "所选记录不存在或无权查看"},
    "id_number": {"en": "{detail}", "zh": "请输入有效的18位身份证号码（校验位或出生日期不正确）"},
    "uscc": {"en": "{detail}", "zh": "请输入有效的18位统一社会信用代码（校验位不正确）"},
    "phone": {"en": "{detail}", "zh": "请输入有效的11位手机号码"},
    "email": {"en": "{detail}", "zh": "请输入有效的电子邮箱地址"},
    "region": {"en": "{detail}", "zh": "请选择有效的行政区划"},
    "region_level": {"en": "{value} is not a {level}-level division code",
                     "zh": "{value} 不是{level_zh}级行政区划代码"},
    "not_rows": {"en": "should be a list of rows", "zh": "应为行的列表"},
    "too_few_rows": {"en": "needs at least {min} row(s)", "zh": "至少需要 {min} 行"},
    "too_many_rows": {"en": "allows at most {max} row(s)", "zh": "最多允许 {max} 行"},
    "unique": {"en": "{value!r} is already used by another record; it must be unique",
               "zh": "该值已被其他记录使用，必须唯一"},
    "readonly": {"en": "is read-only and cannot be changed", "zh": "只读，不能修改"},
    "file_type": {"en": "files of type {ext} are not allowed; use {accept}",
                  "zh": "不允许上传 {ext} 类型的文件，允许：{accept}"},
    "file_size": {"en": "the file is {size_mb:.1f} MB; at most {max_mb} MB allowed",
                  "zh": "文件大小 {size_mb:.1f} MB，最多允许 {max_mb} MB"},
    # lifecycle stages (lendbase.forms.lifecycle)
    "stage_start": {"en": "a new record starts at the stage '{target}'; later stages are "
                          "reached by moving through the lifecycle",
                    "zh": "新记录须从“{target}”阶段开始，之后按流程逐步推进"},
    "stage_transition": {"en": "cannot move from '{value}' to '{target}'; allowed next "
                               "stages: {options}",
                         "zh": "不能从“{value}”转到“{target}”；可转到：{options}"},
    "stage_terminal": {"en": "'{value}' is a final stage; a record does not move out of it",
                       "zh": "“{value}”是终止阶段，不能再转出"},
    "stage_cleared": {"en": "the stage cannot be emptied; move to one of: {options}",
                      "zh": "阶段不能清空；可转到：{options}"},
}

#: Refusals of form guards (``lendbase.forms.guards``), which only the server judges: kept out
#: of ``CATALOG``, which the record form sends to the browser. A guard's own ``message``
#: replaces them and may use the same placeholders.
GUARD_CATALOG: dict[str, dict[str, str]] = {
    "guard_quiet_hours": {"en": "{field} {time} ({zone}) is within the no-contact hours "
                                "{from}–{to}; choose a time outside them",
                          "zh": "{field} {time}（{zone}）在禁止联系时段 {from}–{to} 内，"
                                "请选择该时段以外的时间"},
    "guard_daily_cap": {"en": "{same} {value} already has {count} record(s) counted on {day} "
                              "({zone}); at most {max} a day are allowed, so no more can be "
                              "saved for that day",
                        "zh": "{same}（{value}）在 {day}（{zone}）已有 {count} 条计入的记录，"
                              "每天最多 {max} 条，当天不能再保存"},
    "guard_require": {"en": "{field} does not meet the form's rule; check it and try again",
                      "zh": "{field}不符合本表单的保存规则，请检查后重试"},
}

_LEVEL_ZH = {"province": "省", "city": "市", "county": "区县"}


def message(code: str, lang: str = "en", **params: Any) -> str:
    texts = CATALOG[code]
    template = texts.get(lang) or texts["en"]
    if "level" in params:
        params.setdefault("level_zh", _LEVEL_ZH.get(params["level"], params["level"]))
    return template.format(**params)


def guard_message(code: str, lang: str = "en", **params: Any) -> str:
    """The default refusal of a form guard in ``lang``."""
    texts = GUARD_CATALOG[code]
    return (texts.get(lang) or texts["en"]).format(**params)


def catalog_for(lang: str) -> dict[str, str]:
    """Every message template in ``lang`` (English where a code has no text in it), keyed by
    code: what ``message`` would format. The record form sends it to the browser so that its
    checks show the server's very words."""
    return {code: texts.get(lang) or texts["en"] for code, texts in CATALOG.items()}
