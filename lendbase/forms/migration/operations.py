"""Schema-migration operations: what a publish changes, as frozen dataclasses (pure, no I/O).

Each operation knows its ``risk`` ("safe" applies at once, "confirm" needs an explicit
confirmation, "refused" cannot be applied at all) and describes itself in plain words in both UI
languages. The inspector (``inspect.py``) adds the data-dependent facts: rows affected, values that
would not convert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from lendbase.forms.model import FieldDef, FormDef, IndexDef
from lendbase.forms.naming import child_table_name_for, table_name_for

Risk = Literal["safe", "confirm", "refused"]
Lang = Literal["zh", "en"]

_TYPE_NOUN: dict[str, tuple[str, str]] = {
    "text": ("text", "文本"),
    "textarea": ("long text", "多行文本"),
    "integer": ("a whole number", "整数"),
    "decimal": ("a number", "数字"),
    "money": ("an amount of money", "金额"),
    "percent": ("a percentage", "百分比"),
    "date": ("a date", "日期"),
    "datetime": ("a date and time", "日期时间"),
    "boolean": ("yes/no", "是/否"),
    "select": ("a single choice", "单选"),
    "multiselect": ("a multiple choice", "多选"),
    "reference": ("a link to another form", "关联记录"),
    "subtable": ("a sub-table", "子表"),
    "user": ("a user", "用户"),
    "file": ("a file", "文件"),
    "phone": ("a mobile number", "手机号"),
    "email": ("an e-mail address", "电子邮箱"),
    "id_number": ("a resident ID number", "身份证号"),
    "uscc": ("a unified social credit code", "统一社会信用代码"),
    "region": ("a region", "行政区划"),
    "auto_number": ("an automatic number", "自动编号"),
    "computed": ("a computed value", "计算值"),
}


def type_noun(field_type: str, lang: str) -> str:
    en, zh = _TYPE_NOUN.get(field_type, (field_type, field_type))
    return zh if lang == "zh" else en


def _text(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


def label_of(label: Mapping[str, str] | None, lang: str, fallback: str) -> str:
    if not label:
        return fallback
    return label.get(lang) or label.get("en") or fallback


@dataclass(frozen=True)
class Where:
    """The table an operation works on: the form's own table or one of its sub-tables."""

    form_key: str
    subtable: str | None = None
    subtable_label: Mapping[str, str] | None = None

    @property
    def table_name(self) -> str:
        if self.subtable is None:
            return table_name_for(self.form_key)
        return child_table_name_for(self.form_key, self.subtable)

    def path(self, field_key: str) -> str:
        """The field's path as used in backfill documents: ``key`` or ``subtable.key``."""
        return f"{self.subtable}.{field_key}" if self.subtable else field_key

    def name(self, f: FieldDef, lang: str) -> str:
        """The field as a user reads it: 'Monthly income' or 'Items › Amount'."""
        text = label_of(f.label, lang, f.key)
        if self.subtable:
            text = f"{label_of(self.subtable_label, lang, self.subtable)} › {text}"
        return f"“{text}”" if lang == "zh" else f"'{text}'"


@dataclass(frozen=True)
class Operation:
    """Base of every operation. ``field`` is the field as it will be after the publish."""

    at: Where
    kind: ClassVar[str] = "operation"
    risk: ClassVar[Risk] = "safe"
    #: True when the operation changes nothing in the database.
    metadata_only: ClassVar[bool] = False

    @property
    def field_key(self) -> str | None:
        f = getattr(self, "field", None)
        return f.key if isinstance(f, FieldDef) else None

    @property
    def path(self) -> str | None:
        key = self.field_key
        return self.at.path(key) if key else None

    @property
    def requires_empty(self) -> bool:
        """The operation can only run while the column holds no value (see ``empty_reason``)."""
        return False

    def empty_reason(self, lang: str = "en") -> str:
        return ""

    def describe(self, lang: str = "en") -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def title(self, lang: str = "en") -> str:
        """The change in a few words, to lead a sentence about the rows it affects."""
        return self.describe(lang)

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "kind": self.kind,
            "risk": self.risk,
            "form": self.at.form_key,
            "subtable": self.at.subtable,
            "field": self.field_key,
            "path": self.path,
            "metadata_only": self.metadata_only,
            "description": self.describe(lang),
        }


# --- tables --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateForm(Operation):
    form: FormDef | None = None
    kind: ClassVar[str] = "create_form"

    def describe(self, lang: str = "en") -> str:
        assert self.form is not None
        name = label_of(self.form.label, lang, self.form.key)
        subs = [label_of(s.label, lang, s.key) for s in self.form.subtables]
        if lang == "zh":
            extra = f"，含子表：{'、'.join(subs)}" if subs else ""
            return f"创建表单“{name}”（{len(self.form.stored_fields)} 个字段{extra}）"
        extra = f", with sub-tables: {', '.join(subs)}" if subs else ""
        return f"create form '{name}' ({len(self.form.stored_fields)} fields{extra})"


@dataclass(frozen=True)
class AddSubtable(Operation):
    field: FieldDef | None = None
    kind: ClassVar[str] = "add_subtable"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"add sub-table {n}", f"新增子表{n}")


@dataclass(frozen=True)
class RestoreSubtable(Operation):
    field: FieldDef | None = None
    archived: FieldDef | None = None
    kind: ClassVar[str] = "restore_subtable"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"restore archived sub-table {n}: its rows come back",
                     f"恢复已归档的子表{n}，原有数据重新可用")


@dataclass(frozen=True)
class ArchiveSubtable(Operation):
    field: FieldDef | None = None
    kind: ClassVar[str] = "archive_subtable"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"archive sub-table {n}: its rows are kept, readable in history and "
                           "export", f"归档子表{n}：数据保留，可在历史和导出中查看")


# --- fields ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddField(Operation):
    field: FieldDef | None = None
    kind: ClassVar[str] = "add_field"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        t = type_noun(self.field.type, lang)
        return _text(lang, f"add field {n} ({t}); existing rows have it empty",
                     f"新增字段{n}（{t}），现有记录此字段为空")


@dataclass(frozen=True)
class RestoreField(Operation):
    field: FieldDef | None = None
    archived: FieldDef | None = None
    kind: ClassVar[str] = "restore_field"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"restore archived field {n}: its values come back",
                     f"恢复已归档的字段{n}，原有数据重新可用")


@dataclass(frozen=True)
class ArchiveField(Operation):
    field: FieldDef | None = None
    kind: ClassVar[str] = "archive_field"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"archive field {n}: the column and its values are kept, readable in "
                           "history and export", f"归档字段{n}：列和数据保留，可在历史和导出中查看")


# --- value conversions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion(Operation):
    """A change of what a column may hold; ``checks_values`` ops test every value."""

    old: FieldDef | None = None
    field: FieldDef | None = None
    risk: ClassVar[Risk] = "confirm"
    checks_values: ClassVar[bool] = True
    #: backfill (map/else) may be given for the values that do not convert
    accepts_backfill: ClassVar[bool] = True

    @property
    def requires_empty(self) -> bool:
        assert self.old is not None and self.field is not None
        return self.old.sensitive or self.field.sensitive

    def empty_reason(self, lang: str = "en") -> str:
        return _text(lang, "the values are encrypted; checking or converting them needs the "
                           "re-encryption job, which does not exist yet. Clear the field first or "
                           "add a new field instead",
                     "该字段已加密，检查或转换其数据需要重新加密任务（尚未提供）；请先清空该字段，"
                     "或改为新增字段")


def _convertible(old: FieldDef, new: FieldDef) -> bool:
    fixed = {"reference", "user", "file", "multiselect"}
    return not (old.type in fixed or new.type in fixed or new.type == "auto_number"
                or old.sensitive or new.sensitive)


@dataclass(frozen=True)
class ChangeType(Conversion):
    kind: ClassVar[str] = "change_type"

    @property
    def requires_empty(self) -> bool:
        assert self.old is not None and self.field is not None
        return not _convertible(self.old, self.field)

    def empty_reason(self, lang: str = "en") -> str:
        assert self.old is not None and self.field is not None
        if self.old.sensitive or self.field.sensitive:
            return super().empty_reason(lang)
        return _text(
            lang,
            f"values cannot be converted from {type_noun(self.old.type, lang)} to "
            f"{type_noun(self.field.type, lang)}; clear the field first, or archive it and add a "
            "new field with another key",
            f"无法从{type_noun(self.old.type, lang)}转换为{type_noun(self.field.type, lang)}；"
            "请先清空该字段，或归档该字段并以新的字段标识新增")

    def describe(self, lang: str = "en") -> str:
        assert self.old is not None and self.field is not None
        n = self.at.name(self.field, lang)
        new_t, old_t = type_noun(self.field.type, lang), type_noun(self.old.type, lang)
        return _text(lang, f"{n} becomes {new_t} (was {old_t}); every value is checked",
                     f"{n}由{old_t}改为{new_t}，将逐一检查现有数据")

    def title(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} becomes {type_noun(self.field.type, lang)}",
                     f"{n}改为{type_noun(self.field.type, lang)}")


@dataclass(frozen=True)
class NarrowLength(Conversion):
    kind: ClassVar[str] = "narrow_length"

    def describe(self, lang: str = "en") -> str:
        assert self.old is not None and self.field is not None
        n = self.at.name(self.field, lang)
        new_len = self.field.max_length or self.field.text_length()
        return _text(lang, f"{n} allows at most {new_len} characters (was "
                           f"{self.old.max_length or self.old.text_length()}); longer values are "
                           "listed", f"{n}最多允许 {new_len} 个字符，超长的数据将被列出")

    def title(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        new_len = self.field.max_length or self.field.text_length()
        return _text(lang, f"{n} allows at most {new_len} characters",
                     f"{n}最多允许 {new_len} 个字符")


@dataclass(frozen=True)
class WidenLength(Conversion):
    kind: ClassVar[str] = "widen_length"
    risk: ClassVar[Risk] = "safe"
    checks_values: ClassVar[bool] = False
    accepts_backfill: ClassVar[bool] = False

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} allows up to {self.field.text_length()} characters",
                     f"{n}最多允许 {self.field.text_length()} 个字符")


@dataclass(frozen=True)
class ChangePrecision(Conversion):
    """Fewer decimals or fewer digits: values with more places or digits do not convert."""

    kind: ClassVar[str] = "change_precision"

    def describe(self, lang: str = "en") -> str:
        assert self.old is not None and self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} changes precision ({_precision(self.old)} → "
                           f"{_precision(self.field)}); every value is checked",
                     f"{n}精度调整（{_precision(self.old)} → {_precision(self.field)}），将逐一检查"
                     "现有数据")

    def title(self, lang: str = "en") -> str:
        assert self.old is not None and self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} changes precision to {_precision(self.field)}",
                     f"{n}精度改为 {_precision(self.field)}")


@dataclass(frozen=True)
class WidenPrecision(Conversion):
    kind: ClassVar[str] = "widen_precision"
    risk: ClassVar[Risk] = "safe"
    checks_values: ClassVar[bool] = False
    accepts_backfill: ClassVar[bool] = False

    def describe(self, lang: str = "en") -> str:
        assert self.old is not None and self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} widens precision ({_precision(self.old)} → "
                           f"{_precision(self.field)})",
                     f"{n}扩大精度（{_precision(self.old)} → {_precision(self.field)}）")


def _precision(f: FieldDef) -> str:
    from lendbase.forms.compile import column_type

    t = column_type(f)
    return f"{getattr(t, 'precision', '?')},{getattr(t, 'scale', '?')}"


@dataclass(frozen=True)
class RemoveOptions(Conversion):
    removed: tuple[str, ...] = ()
    kind: ClassVar[str] = "remove_options"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        values = ", ".join(repr(v) for v in self.removed)
        return _text(lang, f"{n} drops option(s) {values}; rows that still use them are listed",
                     f"{n}删除选项 {values}，仍在使用这些选项的记录将被列出")

    def title(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        values = ", ".join(repr(v) for v in self.removed)
        return _text(lang, f"{n} drops option(s) {values}", f"{n}删除选项 {values}")


@dataclass(frozen=True)
class ChangeRules(Conversion):
    """Stricter validation (min, max, pattern...): values are checked and listed, never changed."""

    what: tuple[str, ...] = ()
    kind: ClassVar[str] = "change_rules"
    accepts_backfill: ClassVar[bool] = False

    @property
    def requires_empty(self) -> bool:
        return False

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} gets stricter rules ({', '.join(self.what)}); values that no "
                           "longer pass are listed but kept unchanged",
                     f"{n}校验规则变严（{'、'.join(self.what)}），不再符合的现有数据将被列出，但保持"
                     "不变")

    def title(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} gets stricter rules ({', '.join(self.what)}); values are kept",
                     f"{n}校验规则变严（{'、'.join(self.what)}），现有数据保持不变")


# --- column rebuilds that need an empty column -----------------------------------------------


def _reencryption_reason(lang: str) -> str:
    return _text(lang, "encrypting or decrypting existing values needs the re-encryption job, "
                       "which does not exist yet; clear the field first or add a new field",
                 "加密或解密现有数据需要重新加密任务（尚未提供）；请先清空该字段，或改为新增字段")


@dataclass(frozen=True)
class _EmptyOnly(Operation):
    old: FieldDef | None = None
    field: FieldDef | None = None
    risk: ClassVar[Risk] = "confirm"

    @property
    def requires_empty(self) -> bool:
        return True


@dataclass(frozen=True)
class RetargetReference(_EmptyOnly):
    kind: ClassVar[str] = "retarget_reference"

    def empty_reason(self, lang: str = "en") -> str:
        return _text(lang, "rows still link to records of the old target form; clear the field "
                           "first, or add a new field for the new target",
                     "仍有记录关联到原目标表单；请先清空该字段，或为新目标新增字段")

    def describe(self, lang: str = "en") -> str:
        assert self.old is not None and self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} links to form '{self.field.target}' instead of "
                           f"'{self.old.target}'", f"{n}的关联目标由“{self.old.target}”改为"
                           f"“{self.field.target}”")


@dataclass(frozen=True)
class ChangeOnDelete(_EmptyOnly):
    kind: ClassVar[str] = "change_on_delete"

    def empty_reason(self, lang: str = "en") -> str:
        return _text(lang, "changing what happens on delete rebuilds the link column, which is "
                           "only possible while it is empty",
                     "修改删除时的处理方式需要重建关联列，仅在该字段为空时可以进行")

    def describe(self, lang: str = "en") -> str:
        assert self.old is not None and self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n}: on delete of the linked record '{self.old.on_delete}' becomes "
                           f"'{self.field.on_delete}'", f"{n}：关联记录删除时的处理由"
                           f"“{self.old.on_delete}”改为“{self.field.on_delete}”")


@dataclass(frozen=True)
class ToggleSensitive(_EmptyOnly):
    kind: ClassVar[str] = "toggle_sensitive"

    def empty_reason(self, lang: str = "en") -> str:
        return _reencryption_reason(lang)

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        if self.field.sensitive:
            return _text(lang, f"{n} becomes sensitive (stored encrypted)",
                         f"{n}改为敏感字段（加密存储）")
        return _text(lang, f"{n} is no longer sensitive (stored in clear)",
                     f"{n}取消敏感（明文存储）")


@dataclass(frozen=True)
class AddLookupHash(_EmptyOnly):
    kind: ClassVar[str] = "add_lookup_hash"

    def empty_reason(self, lang: str = "en") -> str:
        return _reencryption_reason(lang)

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} gets a lookup hash (for unique checks and exact search on "
                           "encrypted values)",
                     f"{n}新增查找哈希列（用于加密数据的唯一校验和精确查找）")


@dataclass(frozen=True)
class DropLookupHash(Operation):
    old: FieldDef | None = None
    field: FieldDef | None = None
    kind: ClassVar[str] = "drop_lookup_hash"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} no longer needs its lookup hash column; it is removed (it only "
                           "holds hashes derived from the encrypted values)",
                     f"{n}不再需要查找哈希列，将删除该列（其中只有由加密数据派生的哈希）")


# --- constraints and indexes -------------------------------------------------------------------


@dataclass(frozen=True)
class MakeRequired(Operation):
    field: FieldDef | None = None
    kind: ClassVar[str] = "make_required"
    risk: ClassVar[Risk] = "confirm"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} becomes required; rows where it is empty are listed (they stay "
                           "empty unless a fill value is given)",
                     f"{n}改为必填；该字段为空的记录将被列出（除非指定填充值，否则保持为空）")

    def title(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} becomes required", f"{n}改为必填")


@dataclass(frozen=True)
class MakeUnique(Operation):
    field: FieldDef | None = None
    kind: ClassVar[str] = "make_unique"
    risk: ClassVar[Risk] = "confirm"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} becomes unique; duplicate values are listed and must be fixed "
                           "first", f"{n}改为唯一；重复的数据将被列出，需先处理")

    def title(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} becomes unique", f"{n}改为唯一")


@dataclass(frozen=True)
class DropUnique(Operation):
    field: FieldDef | None = None
    kind: ClassVar[str] = "drop_unique"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        return _text(lang, f"{n} no longer needs to be unique", f"{n}取消唯一约束")


@dataclass(frozen=True)
class AddIndex(Operation):
    field: FieldDef | None = None
    search: bool = False
    kind: ClassVar[str] = "add_index"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        if self.search:
            return _text(lang, f"{n} becomes searchable (text search index)",
                         f"{n}支持模糊搜索（新增搜索索引）")
        return _text(lang, f"index {n} for fast filtering and sorting",
                     f"为{n}新增索引，加快筛选和排序")


@dataclass(frozen=True)
class DropIndex(Operation):
    field: FieldDef | None = None
    search: bool = False
    kind: ClassVar[str] = "drop_index"

    def describe(self, lang: str = "en") -> str:
        assert self.field is not None
        n = self.at.name(self.field, lang)
        if self.search:
            return _text(lang, f"{n} is no longer searchable (search index removed)",
                         f"{n}取消模糊搜索（删除搜索索引）")
        return _text(lang, f"remove the index of {n}", f"删除{n}的索引")


@dataclass(frozen=True)
class AddFormIndex(Operation):
    index: IndexDef | None = None
    kind: ClassVar[str] = "add_form_index"

    @property
    def risk(self) -> Risk:  # type: ignore[override]
        return "confirm" if self.index is not None and self.index.unique else "safe"

    def describe(self, lang: str = "en") -> str:
        assert self.index is not None
        cols = ", ".join(self.index.fields)
        if self.index.unique:
            return _text(lang, f"make the combination ({cols}) unique; duplicates are listed",
                         f"组合（{cols}）改为唯一；重复的数据将被列出")
        return _text(lang, f"add an index on ({cols})", f"新增组合索引（{cols}）")


@dataclass(frozen=True)
class DropFormIndex(Operation):
    index: IndexDef | None = None
    kind: ClassVar[str] = "drop_form_index"

    def describe(self, lang: str = "en") -> str:
        assert self.index is not None
        cols = ", ".join(self.index.fields)
        what = _text(lang, "unique constraint", "唯一约束") if self.index.unique else \
            _text(lang, "index", "索引")
        return _text(lang, f"remove the {what} on ({cols})", f"删除（{cols}）上的{what}")


# --- no database change -------------------------------------------------------------------------


@dataclass(frozen=True)
class MetadataOnly(Operation):
    """Labels, layout, permissions, relaxed rules...: nothing changes in the database."""

    key: str | None = None
    label: Mapping[str, str] | None = None
    what: tuple[str, ...] = ()
    kind: ClassVar[str] = "metadata_only"
    metadata_only: ClassVar[bool] = True

    @property
    def field_key(self) -> str | None:
        return self.key

    def describe(self, lang: str = "en") -> str:
        names = [_PROPERTY_NAMES.get(w, {}).get(lang, w) for w in self.what]
        if self.key is None:
            return _text(lang, f"form settings: {', '.join(names)} change; the data stays as it is",
                         f"表单设置：{'、'.join(names)}有变化，数据不受影响")
        text = label_of(self.label, lang, self.key)
        if self.at.subtable:
            text = f"{label_of(self.at.subtable_label, lang, self.at.subtable)} › {text}"
        n = f"“{text}”" if lang == "zh" else f"'{text}'"
        return _text(lang, f"{n}: {', '.join(names)} change; the data stays as it is",
                     f"{n}：{'、'.join(names)}有变化，数据不受影响")


#: What a changed property is called in the plan, for people rather than programmers.
_PROPERTY_NAMES: dict[str, dict[str, str]] = {
    "label": {"en": "label", "zh": "名称"},
    "help": {"en": "help text", "zh": "帮助说明"},
    "description": {"en": "description", "zh": "说明"},
    "icon": {"en": "icon", "zh": "图标"},
    "layout": {"en": "layout", "zh": "布局"},
    "list": {"en": "list page", "zh": "列表页设置"},
    "permissions": {"en": "role permissions", "zh": "角色权限"},
    "lifecycle": {"en": "lifecycle stages", "zh": "生命周期阶段"},
    "title_field": {"en": "title field", "zh": "标题字段"},
    "visible_when": {"en": "visibility condition", "zh": "显示条件"},
    "options": {"en": "options", "zh": "选项"},
    "required": {"en": "required", "zh": "必填"},
    "readonly": {"en": "read-only", "zh": "只读"},
    "default": {"en": "default value", "zh": "默认值"},
    "min": {"en": "minimum", "zh": "最小值"},
    "max": {"en": "maximum", "zh": "最大值"},
    "min_length": {"en": "minimum length", "zh": "最短长度"},
    "max_length": {"en": "maximum length", "zh": "最大长度"},
    "pattern": {"en": "format pattern", "zh": "格式规则"},
    "mask": {"en": "mask style", "zh": "脱敏方式"},
    "searchable": {"en": "searchable", "zh": "可搜索"},
    "min_rows": {"en": "minimum rows", "zh": "最少行数"},
    "max_rows": {"en": "maximum rows", "zh": "最多行数"},
    "min_items": {"en": "minimum choices", "zh": "最少选择项"},
    "max_items": {"en": "maximum choices", "zh": "最多选择项"},
    "max_size_mb": {"en": "maximum file size", "zh": "文件大小上限"},
    "accept": {"en": "accepted file types", "zh": "允许的文件类型"},
    "formula": {"en": "formula", "zh": "公式"},
    "format": {"en": "number format", "zh": "编号格式"},
    "level": {"en": "region level", "zh": "区划级别"},
    "on_delete": {"en": "on delete", "zh": "删除关联记录时"},
}


@dataclass(frozen=True)
class Unsupported(Operation):
    old: FieldDef | None = None
    field: FieldDef | None = None
    kind: ClassVar[str] = "unsupported"
    risk: ClassVar[Risk] = "refused"

    def describe(self, lang: str = "en") -> str:
        assert self.old is not None and self.field is not None
        n = self.at.name(self.field, lang)
        return _text(
            lang,
            f"{n} cannot change from {type_noun(self.old.type, lang)} to "
            f"{type_noun(self.field.type, lang)}; archive it (remove it from the form) and add a "
            "new field with another key",
            f"{n}无法由{type_noun(self.old.type, lang)}改为{type_noun(self.field.type, lang)}；"
            "请删除（归档）该字段，并以新的字段标识新增")


def field_of(op: Operation) -> FieldDef:
    """The field an operation works on (as it will be after the publish)."""
    f = getattr(op, "field", None)
    if not isinstance(f, FieldDef):
        raise TypeError(f"{op.kind} does not work on a field")
    return f


def old_and_new(op: Operation) -> tuple[FieldDef, FieldDef]:
    """The field before and after, for operations that change a field."""
    old = getattr(op, "old", None)
    if not isinstance(old, FieldDef):
        raise TypeError(f"{op.kind} does not change a field")
    return old, field_of(op)


#: Operations whose column is rebuilt empty (dropped and added again) when applied.
REBUILD_KINDS = frozenset({"retarget_reference", "change_on_delete", "toggle_sensitive"})
