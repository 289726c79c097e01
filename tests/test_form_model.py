"""Form documents: meta-schema and semantic errors with JSON pointers; loading; compiling."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from lendbase.errors import MetadataError
from lendbase.forms.compile import compile_schema
from lendbase.forms.model import check_form
from tests.sample_forms import label, loan_form, person_form


def errors_of(doc: dict) -> dict[str, list[str]]:
    with pytest.raises(MetadataError) as info:
        check_form(doc)
    return info.value.errors


def test_valid_form_loads_with_layout_fallback() -> None:
    form = check_form(person_form())
    assert form.field("income").decimals == 2
    assert form.tabs[0].sections[-1].fields[0] == "person_no"  # unplaced fields still shown
    assert form.title_of({"name": "张三", "id": 1}) == "张三"


def test_schema_errors_are_all_reported_with_pointers() -> None:
    doc = person_form(key="Bad Key")
    doc["label"] = {"zh": "客户"}
    doc["fields"][2] = {"key": "kind", "type": "select", "label": label("a", "b")}
    errors = errors_of(doc)
    assert set(errors) >= {"/key", "/label", "/fields/2"}
    assert "lower-case letters" in errors["/key"][0]
    assert "'en' is required" in errors["/label"][0]
    assert "'options' is required" in errors["/fields/2"][0]


def test_semantic_errors() -> None:
    doc = person_form()
    doc["fields"].append({"key": "name", "type": "integer", "label": label("a", "b"),
                          "max_length": 3})
    doc["fields"].append({"key": "version", "type": "text", "label": label("a", "b")})
    doc["title_field"] = "nope"
    doc["layout"] = {"sections": [{"key": "s", "fields": ["name", "name", "ghost"]}]}
    errors = errors_of(doc)
    assert any("used by another field" in m for m in errors["/fields/8/key"])
    assert any("does not apply to a integer" in m for m in errors["/fields/8/max_length"])
    assert any("reserved" in m for m in errors["/fields/9/key"])
    assert "/title_field" in errors
    assert any("placed twice" in m for m in errors["/layout/sections/0/fields/1"])
    assert "/layout/sections/0/fields/2" in errors


def test_visibility_conditions_are_checked_where_they_are_written() -> None:
    """The browser, the page renderer and the record service evaluate visible_when, so a save
    refuses a tree any of them could not: each problem under its own pointer."""
    doc = person_form()
    keys = [f["key"] for f in doc["fields"]]
    note = {"key": "memo", "type": "text", "label": label("备注", "Memo"), "visible_when": {"or": [
        {"field": "income", "op": ">", "value": 5000},
        {"field": "nope", "op": "=", "value": 1},
        {"field": "income", "op": "in_last", "value": [1, "month"]},
        {"field": "income", "op": "between", "value": [1]},
        {"field": "memo", "op": "is_empty"},
        {"field": "income", "op": "<", "value": {"formula": "2 * income"}},
        {"exists": {"form": "loan", "link": "customer"}}]}}
    doc["fields"].append(note)
    at = f"/fields/{len(keys)}/visible_when/or"
    errors = errors_of(doc)
    assert set(errors) == {f"{at}/1/field", f"{at}/2/op", f"{at}/3/value", f"{at}/4/field",
                           f"{at}/5/value", f"{at}/6"}
    assert "'nope' is not a field this condition can test" in errors[f"{at}/1/field"][0]
    assert "'memo'" not in errors[f"{at}/1/field"][0].split("use one of:")[1]
    assert "not available for visibility" in errors[f"{at}/2/op"][0]
    assert "two values" in errors[f"{at}/3/value"][0]
    assert "depending on itself" in errors[f"{at}/4/field"][0]
    assert "fixed value" in errors[f"{at}/5/value"][0]
    note["visible_when"] = {"or": note["visible_when"]["or"][:1]}
    check_form(doc)  # the first comparison alone is fine


def test_auto_number_format_needs_one_seq() -> None:
    doc = person_form()
    doc["fields"][0]["format"] = "P-{YYYY}-{SEQ:4}-{SEQ:2}"
    assert "/fields/0/format" in errors_of(doc)


def test_compile_tables_on_both_dialects() -> None:
    person = check_form(person_form())
    loan = check_form(loan_form())
    schema = compile_schema([(person, (), "a", 1), (loan, (), "b", 1)])
    table = schema["person"].table
    expected = {"id", "version", "owner_id", "id_number", "id_number__h", "income"}
    assert expected <= set(table.c.keys())
    assert "contacts" not in table.c  # sub-table rows live in their own table
    child = schema["person"].child_tables["contacts"]
    pg = str(CreateTable(child).compile(dialect=postgresql.dialect()))
    assert "REFERENCES f_person (id) ON DELETE CASCADE" in pg
    loan_sql = str(CreateTable(schema["loan"].table).compile(dialect=sqlite.dialect()))
    assert "REFERENCES f_person (id) ON DELETE RESTRICT" in loan_sql
    assert "amount NUMERIC(18, 2)" in loan_sql
    person_pg = str(CreateTable(table).compile(dialect=postgresql.dialect()))
    assert "id_number TEXT" in person_pg  # ciphertext, never the plain value
    indexes = {ix.name: ([c.name for c in ix.columns], ix.unique) for ix in table.indexes}
    assert indexes["uq_f_person_id_number__h"] == (["id_number__h"], True)
    assert indexes["ix_f_person_income"] == (["income", "id"], False)
