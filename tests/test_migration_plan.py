"""Schema evolution by plan, pure part: diff -> operations, backfill parsing, value outcomes.

No database here: ``plan_migration`` and the converters only read form definitions.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from lendbase.errors import MetadataError
from lendbase.forms.migration import (
    AddField,
    AddFormIndex,
    AddIndex,
    AddSubtable,
    ArchiveField,
    ArchiveSubtable,
    ChangePrecision,
    ChangeRules,
    ChangeType,
    CreateForm,
    DropUnique,
    MakeRequired,
    MakeUnique,
    MetadataOnly,
    MigrationPlan,
    NarrowLength,
    RemoveOptions,
    RestoreField,
    RestoreSubtable,
    RetargetReference,
    ToggleSensitive,
    Unsupported,
    ValueConverter,
    WidenLength,
    WidenPrecision,
    field_to_doc,
    fields_from_docs,
    parse_backfill,
    plan_migration,
)
from lendbase.forms.migration.convert import cast_is_exact
from lendbase.forms.model import FieldDef, FormDef, check_form


def L(text: str) -> dict[str, str]:
    return {"zh": f"{text}（中）", "en": text}


def fld(key: str, type_: str = "text", **props: Any) -> dict[str, Any]:
    return {"key": key, "type": type_, "label": L(key.replace("_", " ").title()), **props}


def opts(*values: str) -> list[dict[str, Any]]:
    return [{"value": v, "label": L(v)} for v in values]


BASE = {
    "key": "customer",
    "label": L("Customer"),
    "fields": [
        fld("name", max_length=100),
        fld("income"),
        fld("grade", "select", options=opts("A", "B", "C")),
        fld("limit_amount", "money"),
        fld("items", "subtable", fields=[fld("amount", "money"), fld("memo")]),
    ],
}


def form(doc: dict[str, Any]) -> FormDef:
    return check_form(doc)


def changed(**edits: Any) -> FormDef:
    """BASE with top-level fields replaced/added (value dict) or removed (None)."""
    doc = copy.deepcopy(BASE)
    by_key = {f["key"]: f for f in doc["fields"]}
    for key, value in edits.items():
        if value is None:
            by_key.pop(key)
        else:
            by_key[key] = value
    doc["fields"] = list(by_key.values())
    return form(doc)


def kinds(plan: MigrationPlan) -> list[str]:
    return [op.kind for op in plan.operations]


def only(plan: MigrationPlan, cls: type) -> Any:
    found = [op for op in plan.operations if isinstance(op, cls)]
    assert len(found) == 1, kinds(plan)
    return found[0]


# --- structure ----------------------------------------------------------------------------------


def test_first_publish_creates_the_form_with_its_subtables() -> None:
    plan = plan_migration(None, form(BASE))
    assert kinds(plan) == ["create_form"]
    op = only(plan, CreateForm)
    assert op.risk == "safe" and not plan.needs_confirmation
    assert "Items" in op.describe("en") and "创建表单" in op.describe("zh")


def test_identical_forms_plan_nothing() -> None:
    plan = plan_migration(form(BASE), form(BASE))
    assert plan.operations == () and not plan.changes_schema


def test_add_field_is_safe() -> None:
    plan = plan_migration(form(BASE), changed(phone=fld("phone", "phone")))
    op = only(plan, AddField)
    assert op.risk == "safe" and op.field.key == "phone" and not plan.needs_confirmation


def test_removed_field_is_archived_not_dropped() -> None:
    plan = plan_migration(form(BASE), changed(income=None))
    op = only(plan, ArchiveField)
    assert op.risk == "safe" and op.field.key == "income"
    assert [f.key for f in plan.archived] == ["income"]
    assert "kept" in op.describe("en") and "保留" in op.describe("zh")


def test_readded_archived_field_is_restored_with_its_data() -> None:
    without = changed(income=None)
    archived = plan_migration(form(BASE), without).archived
    plan = plan_migration(without, form(BASE), archived)
    assert kinds(plan) == ["restore_field"]
    assert only(plan, RestoreField).archived.key == "income"
    assert plan.archived == ()


def test_readded_archived_field_with_another_type_is_restored_and_converted() -> None:
    without = changed(income=None)
    archived = plan_migration(form(BASE), without).archived
    plan = plan_migration(without, changed(income=fld("income", "integer")), archived)
    assert kinds(plan) == ["restore_field", "change_type"]
    assert only(plan, ChangeType).risk == "confirm"


def test_archived_fields_accumulate_over_publishes() -> None:
    first = plan_migration(form(BASE), changed(income=None))
    second = plan_migration(changed(income=None), changed(income=None, grade=None),
                            first.archived)
    assert [f.key for f in second.archived] == ["income", "grade"]


# --- conversions --------------------------------------------------------------------------------


def test_text_to_integer_is_a_confirmed_type_change() -> None:
    plan = plan_migration(form(BASE), changed(income=fld("income", "integer")))
    op = only(plan, ChangeType)
    assert op.risk == "confirm" and op.checks_values and not op.requires_empty
    assert op.old.type == "text" and op.field.type == "integer"
    assert op.title("en") == "'Income' becomes a whole number"
    assert "整数" in op.describe("zh")
    assert plan.needs_confirmation


def test_one_conversion_per_field() -> None:
    """A type change covers length, options and rules: coerce_value checks them all."""
    plan = plan_migration(form(BASE), changed(
        name=fld("name", "integer", min=0)))
    assert kinds(plan) == ["change_type"]


@pytest.mark.parametrize(("before", "after", "cls"), [
    (fld("name", max_length=100), fld("name", max_length=20), NarrowLength),
    (fld("name", max_length=100), fld("name", max_length=200), WidenLength),
    (fld("name", max_length=100), fld("name"), WidenLength),  # default 255
])
def test_length_changes(before: dict, after: dict, cls: type) -> None:
    plan = plan_migration(changed(name=before), changed(name=after))
    op = only(plan, cls)
    assert op.risk == ("confirm" if cls is NarrowLength else "safe")


def test_textarea_narrowing_is_checked_though_the_column_stays_text() -> None:
    plan = plan_migration(changed(income=fld("income", "textarea")),
                          changed(income=fld("income", "textarea", max_length=50)))
    assert only(plan, NarrowLength).risk == "confirm"


@pytest.mark.parametrize(("before", "after", "cls"), [
    (fld("x", "decimal", decimals=4), fld("x", "decimal", decimals=2), ChangePrecision),
    (fld("x", "decimal", decimals=2), fld("x", "decimal", decimals=4, digits=20),
     WidenPrecision),
    (fld("x", "decimal", digits=18), fld("x", "decimal", digits=12), ChangePrecision),
    # money keeps 18 digits: 2 -> 4 decimals leaves 14 integer digits instead of 16
    (fld("x", "money"), fld("x", "money", decimals=4), ChangePrecision),
    (fld("x", "percent", decimals=2), fld("x", "percent", decimals=4), WidenPrecision),
])
def test_numeric_precision(before: dict, after: dict, cls: type) -> None:
    plan = plan_migration(changed(x=before), changed(x=after))
    op = only(plan, cls)
    assert op.risk == ("confirm" if cls is ChangePrecision else "safe")


def test_removed_options_in_use_need_confirmation_added_ones_do_not() -> None:
    plan = plan_migration(form(BASE), changed(grade=fld("grade", "select",
                                                       options=opts("A", "B"))))
    op = only(plan, RemoveOptions)
    assert op.removed == ("C",) and op.risk == "confirm"
    assert kinds(plan) == ["remove_options"]
    plan = plan_migration(form(BASE), changed(grade=fld("grade", "select",
                                                       options=opts("A", "B", "C", "D"))))
    assert kinds(plan) == ["metadata_only"] and plan.operations[0].what == ("options",)


# --- constraints --------------------------------------------------------------------------------


def test_required_unique_and_index_flags() -> None:
    plan = plan_migration(form(BASE), changed(name=fld("name", max_length=100, required=True,
                                                       unique=True)))
    assert kinds(plan) == ["make_required", "make_unique"]
    assert all(op.risk == "confirm" for op in plan.operations)
    strict = changed(name=fld("name", max_length=100, required=True, unique=True))
    back = plan_migration(strict, form(BASE))
    assert isinstance(only(back, DropUnique), DropUnique)
    assert only(back, MetadataOnly).what == ("required",)
    assert all(op.risk == "safe" for op in back.operations)


def test_index_and_search_flags_are_safe() -> None:
    plan = plan_migration(form(BASE), changed(name=fld("name", max_length=100, indexed=True,
                                                       searchable=True)))
    ops = [op for op in plan.operations if isinstance(op, AddIndex)]
    assert sorted(op.search for op in ops) == [False, True]
    assert not plan.needs_confirmation


def test_unique_form_index_needs_confirmation() -> None:
    doc = copy.deepcopy(BASE)
    doc["indexes"] = [{"fields": ["name", "grade"], "unique": True}]
    plan = plan_migration(form(BASE), form(doc))
    op = only(plan, AddFormIndex)
    assert op.risk == "confirm"


def test_stricter_rules_are_checked_relaxed_rules_are_metadata() -> None:
    plan = plan_migration(changed(limit_amount=fld("limit_amount", "money", min=0)),
                          changed(limit_amount=fld("limit_amount", "money", min=100)))
    op = only(plan, ChangeRules)
    assert op.what == ("min",) and op.risk == "confirm"
    plan = plan_migration(changed(limit_amount=fld("limit_amount", "money", min=100)),
                          changed(limit_amount=fld("limit_amount", "money", min=0)))
    assert only(plan, MetadataOnly).what == ("min",)


# --- refusals and empty-only changes -----------------------------------------------------------


def test_reference_retarget_needs_an_empty_column() -> None:
    a = changed(owner=fld("owner", "reference", target="branch"))
    b = changed(owner=fld("owner", "reference", target="agency"))
    op = only(plan_migration(a, b), RetargetReference)
    assert op.risk == "confirm" and op.requires_empty
    assert "clear the field" in op.empty_reason("en")


def test_toggling_sensitive_needs_the_reencryption_job() -> None:
    plan = plan_migration(form(BASE), changed(name=fld("name", max_length=100, sensitive=True)))
    op = only(plan, ToggleSensitive)
    assert op.requires_empty and "re-encryption job" in op.empty_reason("en")
    assert "重新加密" in op.empty_reason("zh")
    assert not any(isinstance(o, (ChangeType, NarrowLength)) for o in plan.operations)


def test_conversions_that_cannot_be_done_need_an_empty_column() -> None:
    plan = plan_migration(form(BASE), changed(grade=fld("grade", "multiselect",
                                                       options=opts("A", "B", "C"))))
    op = only(plan, ChangeType)
    assert op.requires_empty and "cannot be converted" in op.empty_reason("en")


def test_field_to_subtable_is_refused() -> None:
    plan = plan_migration(form(BASE), changed(income=fld("income", "subtable",
                                                         fields=[fld("a")])))
    op = only(plan, Unsupported)
    assert op.risk == "refused" and plan.refused == (op,)


# --- metadata only ------------------------------------------------------------------------------


def test_label_layout_and_permission_changes_are_metadata_only() -> None:
    doc = copy.deepcopy(BASE)
    doc["label"] = L("Client")
    doc["fields"][0]["label"] = L("Full name")
    doc["layout"] = {"sections": [{"key": "main", "fields": ["name", "income"]}]}
    doc["permissions"] = {"officer": {"actions": ["read"]}}
    plan = plan_migration(form(BASE), form(doc))
    assert all(isinstance(op, MetadataOnly) for op in plan.operations)
    assert not plan.changes_schema and not plan.needs_confirmation
    form_level = [op for op in plan.operations if op.key is None][0]
    assert set(form_level.what) == {"label", "layout", "permissions"}
    # in words for people: the properties by name, and that the data is not touched
    en, zh = form_level.describe("en"), form_level.describe("zh")
    assert "the data stays as it is" in en and "数据不受影响" in zh
    assert "role permissions" in en and "布局" in zh and "角色权限" in zh
    field_level = [op for op in plan.operations if op.key == "name"][0]
    assert field_level.describe("zh") == "“Full name（中）”：名称有变化，数据不受影响"


# --- sub-tables ---------------------------------------------------------------------------------


def test_subtable_field_changes_follow_the_same_rules() -> None:
    doc = copy.deepcopy(BASE)
    doc["fields"][4]["fields"] = [fld("amount", "money", decimals=1), fld("qty", "integer")]
    plan = plan_migration(form(BASE), form(doc))
    assert kinds(plan) == ["change_precision", "add_field", "archive_field"]
    assert all(op.at.subtable == "items" for op in plan.operations)
    assert plan.operations[0].path == "items.amount"
    assert "Items › Amount" in plan.operations[0].describe("en")
    (entry,) = plan.archived
    assert entry.type == "subtable" and [f.key for f in entry.fields] == ["memo"]


def test_subtable_archive_and_restore() -> None:
    removed = plan_migration(form(BASE), changed(items=None))
    assert isinstance(only(removed, ArchiveSubtable), ArchiveSubtable)
    (entry,) = removed.archived
    assert [f.key for f in entry.fields] == ["amount", "memo"]
    added = plan_migration(form(BASE), changed(lines=fld("lines", "subtable",
                                                         fields=[fld("a")])))
    assert isinstance(only(added, AddSubtable), AddSubtable)
    restored = plan_migration(changed(items=None), form(BASE), removed.archived)
    assert kinds(restored) == ["restore_subtable", "restore_field", "restore_field"]
    assert isinstance(restored.operations[0], RestoreSubtable)
    assert restored.archived == ()


# --- descriptions and serialisation -------------------------------------------------------------


def test_every_operation_describes_itself_in_both_languages() -> None:
    doc = copy.deepcopy(BASE)
    doc["fields"] = [fld("name", "integer", unique=True, required=True, indexed=True),
                     fld("grade", "select", options=opts("A")),
                     fld("limit_amount", "money", decimals=1),
                     fld("items", "subtable", fields=[fld("amount", "money")]),
                     fld("email", "email")]
    plan = plan_migration(form(BASE), form(doc))
    assert len(plan.operations) >= 6
    for op in plan.operations:
        en, zh = op.describe("en"), op.describe("zh")
        assert en and zh and en != zh
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)
    json.dumps(plan.to_dict("zh"), ensure_ascii=False)


def test_archived_fields_round_trip_through_json() -> None:
    fields = form(BASE).fields + (FieldDef("flag", "boolean", {"zh": "标志", "en": "Flag"},
                                           required=True),)
    docs = [field_to_doc(f) for f in fields]
    assert fields_from_docs(json.loads(json.dumps(docs))) == fields


# --- value outcomes and backfill ----------------------------------------------------------------


def _conv(old: dict, new: dict) -> tuple[FieldDef, FieldDef]:
    return form({"key": "x", "label": L("x"), "fields": [old]}).fields[0], \
        form({"key": "x", "label": L("x"), "fields": [new]}).fields[0]


@pytest.mark.parametrize(("value", "status", "converted"), [
    ("12", "same", 12),
    (" 12 ", "changed", 12),
    ("1,000", "changed", 1000),
    ("+7", "changed", 7),
    ("١٢", "changed", 12),  # Arabic-Indic digits: Python converts them, a SQL CAST would not
    ("12.0", "changed", 12),
    ("", "emptied", None),
    ("about 8k", "failed", None),
    ("12.5", "failed", None),
])
def test_text_to_integer_outcomes(value: str, status: str, converted: Any) -> None:
    old, new = _conv(fld("v"), fld("v", "integer"))
    outcome = ValueConverter(old, new).outcome(value)
    assert (outcome.status, outcome.value) == (status, converted)
    assert (outcome.reason is not None) == (status == "failed")


def test_cast_is_exact_only_for_canonical_text() -> None:
    _, dec = _conv(fld("v"), fld("v", "decimal"))
    _, day = _conv(fld("v"), fld("v", "date"))
    assert cast_is_exact("8000.5", Decimal("8000.50"), dec)
    assert not cast_is_exact("1e3", Decimal("1000.00"), dec)
    assert cast_is_exact("2024-02-29", date(2024, 2, 29), day)
    assert not cast_is_exact("20240229", date(2024, 2, 29), day)


def test_backfill_map_else_and_fill_are_validated_against_the_plan() -> None:
    plan = plan_migration(form(BASE), changed(
        income=fld("income", "integer"),
        limit_amount=fld("limit_amount", "money", required=True)))
    parsed = parse_backfill(plan, {"income": {"map": {"about 8k": "8000"}, "else": None},
                                   "limit_amount": {"fill": "0"}})
    assert parsed["income"].mapping == {"about 8k": 8000} and parsed["income"].has_else
    assert parsed["limit_amount"].fill_value == Decimal("0.00")
    old, new = only(plan, ChangeType).old, only(plan, ChangeType).field
    converter = ValueConverter(old, new, parsed["income"])
    assert converter.outcome("about 8k").status == "mapped"
    assert converter.outcome("n/a").status == "cleared"
    assert converter.outcome("12").status == "same"
    with pytest.raises(MetadataError) as exc:
        parse_backfill(plan, {"income": {"map": {"x": "not a number"}, "oops": 1},
                              "name": {"fill": "x"}})
    assert set(exc.value.errors) == {"/backfill/income/map/x", "/backfill/income/oops",
                                     "/backfill/name"}


def test_backfill_map_keys_match_numbers_by_value() -> None:
    plan = plan_migration(form(BASE), changed(limit_amount=fld("limit_amount", "integer")))
    parsed = parse_backfill(plan, {"limit_amount": {"map": {"12.5": "13"}}})
    op = only(plan, ChangeType)
    converter = ValueConverter(op.old, op.field, parsed["limit_amount"])
    assert converter.outcome(Decimal("12.50")).value == 13
    assert converter.outcome(Decimal("12.00")).status == "same"


def test_make_required_lists_itself_in_plain_words() -> None:
    plan = plan_migration(form(BASE), changed(income=fld("income", required=True)))
    op = only(plan, MakeRequired)
    assert op.title("en") == "'Income' becomes required"
    assert isinstance(only(plan_migration(form(BASE), changed(
        name=fld("name", max_length=100, unique=True))), MakeUnique), MakeUnique)
