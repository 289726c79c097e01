"""Bad input never corrupts data and never yields a 500: it gets a clear error naming the field
and the fix (review items 1, 5, 6, 7, 8 and 11)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Numeric, String, Table, select

from lendbase.conditions.predicate import UnsupportedNode, evaluate
from lendbase.conditions.sql import SqlConditionCompiler
from lendbase.errors import ValidationFailed
from lendbase.forms.model import FieldDef, check_form
from lendbase.forms.values import FieldValueError, LiteralValueError, coerce_value, literal_coercer
from lendbase.records import query as q
from lendbase.records.validator import validate_record
from tests.sample_forms import label, person_form
from tests.test_api import app, error_of, login  # noqa: F401 - the app fixture
from tests.test_records_service import CIPHER, VALID_ID, schema, service, users  # noqa: F401


def field(type_: str, **kwargs: Any) -> FieldDef:
    return FieldDef("x", type_, {"en": "x", "zh": "x"}, **kwargs)


def refused(f: FieldDef, value: Any, lang: str = "en") -> str:
    with pytest.raises(FieldValueError) as caught:
        coerce_value(f, value, lang)
    return caught.value.text


# --- 1. values --------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1e999999", "-1e999999", "1E9999999", "9" * 5000, 10**30,
                                   2**63, "9223372036854775808"])
def test_huge_integers_are_refused_at_once_with_a_short_message(value) -> None:
    started = time.monotonic()
    text = refused(field("integer"), value)
    assert time.monotonic() - started < 0.5
    assert "at most 18 digits" in text and len(text) < 120


@pytest.mark.parametrize("type_", ["money", "decimal", "percent"])
@pytest.mark.parametrize("value", ["1e30", 10**30, "9" * 5000, "1e999999", "123456789012345678"])
def test_huge_decimals_are_too_many_digits_not_invalid_operation(type_, value) -> None:
    text = refused(field(type_), value)
    assert "too large" in text and len(text) < 120


def test_numbers_in_range_still_convert() -> None:
    assert coerce_value(field("integer"), "9e18") == 9 * 10**18
    assert coerce_value(field("integer"), 2**63 - 1) == 2**63 - 1
    assert coerce_value(field("money"), "1,234.5") == Decimal("1234.50")
    assert coerce_value(field("money"), "9999999999999999.99") == Decimal("9999999999999999.99")
    assert coerce_value(field("percent"), "1e2") == Decimal("100.00")


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), True, False,
                                   "NaN", "Infinity", [1], {"a": 1}])
def test_non_finite_and_non_numbers_are_refused(value) -> None:
    for type_ in ("integer", "money"):
        refused(field(type_), value)


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_non_finite_floats_are_not_text(value) -> None:
    assert refused(field("text"), value) == "should be text"


@pytest.mark.parametrize("value", ["a\x00b", "bell\x07", "esc\x1b[0m", "\ud800", "x\udfffy"])
def test_control_characters_and_lone_surrogates_are_refused(value) -> None:
    for type_ in ("text", "textarea"):
        text = refused(field(type_), value)
        assert "control characters" in text or "surrogate" in text
    assert "控制字符" in refused(field("text"), "a\x00b", "zh")
    assert "代理项" in refused(field("text"), "\ud800", "zh")


def test_tab_and_newline_stay_allowed_in_text() -> None:
    assert coerce_value(field("textarea"), "a\tb\nc") == "a\tb\nc"


@pytest.mark.parametrize(("type_", "value"), [
    ("date", "0001-01-01"), ("date", "9999-12-31"), ("date", "1899-12-31"),
    ("datetime", "0001-01-01T00:00:00+14:00"), ("datetime", "9999-12-31T23:59:59-12:00"),
    ("datetime", "2201-01-01T00:00:00"),
])
def test_dates_out_of_range_are_refused(type_, value) -> None:
    assert "between 1900 and 2200" in refused(field(type_), value)


def test_dates_in_range_convert() -> None:
    assert coerce_value(field("date"), "1900-01-01").year == 1900
    stamp = coerce_value(field("datetime"), "2200-12-31T23:59:59-12:00")
    assert stamp.astimezone(UTC).year == 2201  # stored as UTC without overflow


@pytest.mark.parametrize("value", [0, -1, 2**63, "99999999999999999999", "²", "1.5", True,
                                   {"id": 2**64}])
def test_ids_outside_int64_are_not_ids(value) -> None:
    assert "is not a record id" in refused(field("reference"), value)
    assert coerce_value(field("reference"), {"id": "42"}) == 42
    assert coerce_value(field("user"), 2**63 - 1) == 2**63 - 1


# --- 2. validator -----------------------------------------------------------------------------

def _sectioned_person() -> Any:
    doc = person_form()
    for f in doc["fields"]:
        if f["key"] == "kind":
            f["default"] = "individual"
        if f["key"] == "id_number":
            f.pop("visible_when")
    doc["layout"] = {"sections": [
        {"key": "basic", "label": label("基本", "Basic"), "fields": ["name", "kind"]},
        {"key": "individual", "label": label("个人", "Individual"),
         "fields": ["id_number", "income"],
         "visible_when": {"field": "kind", "op": "=", "value": "individual"}},
    ]}
    return check_form(doc)


def test_defaults_apply_before_section_visibility() -> None:
    form = _sectioned_person()
    cleaned = validate_record(form, {"name": "张三", "id_number": VALID_ID, "income": "5000"})
    assert cleaned["kind"] == "individual"
    assert cleaned["id_number"] == VALID_ID and cleaned["income"] == Decimal("5000.00")
    # stripped input is what visibility sees
    cleaned = validate_record(form, {"name": "张三", "kind": " individual ",
                                     "id_number": VALID_ID})
    assert cleaned["id_number"] == VALID_ID
    # a value for a field that ends up hidden is still dropped
    cleaned = validate_record(form, {"name": "李四", "kind": "enterprise", "income": "1"})
    assert "income" not in cleaned and "id_number" not in cleaned


@pytest.mark.parametrize("value", [0, False, "", "x", {"name": "a"}, 5])
def test_subtable_given_a_non_list_is_not_rows(value) -> None:
    form = check_form(person_form())
    with pytest.raises(ValidationFailed) as caught:
        validate_record(form, {"contacts": value}, existing={"name": "a", "kind": "enterprise"})
    assert caught.value.fields == {"contacts": ["should be a list of rows"]}


@pytest.mark.parametrize("value", [None, []])
def test_subtable_null_or_empty_list_clears_rows(value) -> None:
    form = check_form(person_form())
    cleaned = validate_record(form, {"contacts": value},
                              existing={"name": "a", "kind": "enterprise"})
    assert cleaned == {"contacts": []}


def test_subtable_row_id_must_be_an_id() -> None:
    form = check_form(person_form())
    with pytest.raises(ValidationFailed) as caught:
        validate_record(form, {"contacts": [{"id": 2**64, "name": "a"}]},
                        existing={"name": "a", "kind": "enterprise"})
    assert set(caught.value.fields) == {"contacts.0.id"}


# --- 3. conditions ----------------------------------------------------------------------------

_META = MetaData()
_TABLE = Table("t", _META, Column("id", Integer, primary_key=True), Column("name", String(20)),
               Column("amount", Numeric(18, 2)))


@pytest.mark.parametrize("node", [
    {"field": "name", "op": "=", "value": ["a", "b"]},
    {"field": "name", "op": "=", "value": {"a": 1}},
    {"field": "name", "op": "in", "value": "abc"},
    {"field": "name", "op": "in", "value": []},
    {"field": "name", "op": "in", "value": [[1], [2]]},
    {"field": "name", "op": "not_in", "value": [{"a": 1}]},
    {"field": "amount", "op": "between", "value": [1, 2, 3]},
    {"field": "amount", "op": "between", "value": "12"},
    {"field": "amount", "op": "<", "value": True},
    {"field": "amount", "op": "<", "value": None},
    {"field": "amount", "op": ">", "value": [1]},
    {"field": "name", "op": "is_empty", "value": "x"},
    {"field": "name", "op": "contains", "value": 5},
    {"field": "name", "op": "starts_with", "value": ["a"]},
    {"and": {"field": "name"}},
])
def test_wrong_value_shapes_are_refused_by_both_compilers(node) -> None:
    with pytest.raises(UnsupportedNode):
        SqlConditionCompiler(_TABLE).compile(node)
    with pytest.raises(UnsupportedNode):
        evaluate(node, {"name": "a", "amount": 1})


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"field": "name", "op": "=", "value": "a"}
    for _ in range(depth):
        node = {"not": node}
    return node


def test_depth_and_width_are_capped() -> None:
    compiler = SqlConditionCompiler(_TABLE)
    compiler.compile(_nested(19))
    with pytest.raises(UnsupportedNode, match="nested more than 20"):
        compiler.compile(_nested(5000))
    leaves = [{"field": "name", "op": "=", "value": str(i)} for i in range(201)]
    compiler.compile({"or": leaves[:200]})
    with pytest.raises(UnsupportedNode, match="more than 200"):
        compiler.compile({"or": leaves})


def test_literal_coercer_raises_naming_the_field() -> None:
    coerce = literal_coercer({"amount": FieldDef("amount", "money", {"en": "a"})})
    assert coerce("amount", "12.5") == Decimal("12.50")
    with pytest.raises(LiteralValueError) as caught:
        coerce("amount", "abc")
    assert (caught.value.key, caught.value.type) == ("amount", "money")
    with pytest.raises(LiteralValueError):
        coerce("amount", "1e999999")


VALID_TREES = [
    {"field": "name", "op": "=", "value": "b"},
    {"field": "name", "op": "!=", "value": "b"},
    {"field": "amount", "op": ">", "value": "1.5"},
    {"field": "amount", "op": "between", "value": [1, "3"]},
    {"field": "name", "op": "in", "value": ["a", "c"]},
    {"field": "name", "op": "not_in", "value": ["a", "c"]},
    {"field": "name", "op": "contains", "value": "B"},
    {"field": "amount", "op": "contains", "value": "2"},
    {"field": "name", "op": "is_empty"},
    {"not": {"field": "amount", "op": "<", "value": 2}},
    {"and": [{"field": "amount", "op": ">=", "value": 1},
             {"or": [{"field": "name", "op": "starts_with", "value": "a"},
                     {"field": "name", "op": "ends_with", "value": "c"}]}]},
]


@pytest.mark.parametrize("node", VALID_TREES)
def test_sql_and_predicate_agree_on_valid_trees(engine, node) -> None:
    from lendbase.forms.model import FieldDef as F

    fields = {"name": F("name", "text", {"en": "n"}), "amount": F("amount", "money", {"en": "a"})}
    coerce = literal_coercer(fields)
    rows = [{"id": 1, "name": "a", "amount": Decimal("1.00")},
            {"id": 2, "name": "b", "amount": Decimal("2.00")},
            {"id": 3, "name": "c", "amount": Decimal("3.00")},
            {"id": 4, "name": None, "amount": None}]
    metadata = MetaData()
    table = Table("agree", metadata, Column("id", Integer, primary_key=True),
                  Column("name", String(20)), Column("amount", Numeric(18, 2)))
    metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(table.insert(), rows)
            clause = SqlConditionCompiler(table, coerce=coerce).compile(node)
            in_sql = {r.id for r in conn.execute(select(table.c.id).where(clause))}
        in_python = {r["id"] for r in rows if evaluate(node, r, coerce)}
        assert in_sql == in_python
    finally:
        metadata.drop_all(engine)


def _where_error(form: Any, table: Table, where: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        q.filter_clause(form, table, where, **kwargs)
    assert set(caught.value.fields) == {"where"}
    return caught.value.fields["where"]


BAD_WHERE = [
    ({"field": "income", "op": ">", "value": "abc"}, "'income' compares with an amount"),
    ({"field": "income", "op": ">", "value": "1e999999"}, "'income' compares with an amount"),
    ({"field": "income", "op": ">", "value": "1e30"}, "too large"),
    ({"field": "id", "op": "=", "value": "x"}, "'id' compares with a whole number"),
    ({"field": "id", "op": "=", "value": 2**63}, "at most 18 digits"),
    ({"field": "created_at", "op": ">", "value": "yesterday"}, "'created_at' compares"),
    ({"field": "name", "op": "=", "value": True}, "is not text"),
    ({"field": "name", "op": "contains", "value": "a\x00b"}, "control characters"),
    ({"field": "name", "op": "=", "value": ["a", "b"]}, "needs a single value"),
    ({"field": "name", "op": "in", "value": "abc"}, "non-empty list"),
    ({"field": "income", "op": "between", "value": [1, 2, 3]}, "two values"),
    ({"field": "id_number", "op": "=", "value": VALID_ID}, "unknown field 'id_number'"),
    ({"field": "nope", "op": "="}, "unknown field 'nope'"),
    ({"or": [{"field": "name", "op": "=", "value": "a"}] * 201}, "more than 200"),
]


@pytest.mark.parametrize(("where", "expected"), BAD_WHERE)
def test_bad_where_is_a_422_on_where(session, schema, users, where, expected) -> None:  # noqa: F811
    cf = schema.forms["person"]
    (text,) = _where_error(cf.form, cf.table, where)
    assert expected in text
    svc = service(session, schema, users["admin"])
    with pytest.raises(ValidationFailed) as caught:
        svc.list_page("person", where=where)
    assert set(caught.value.fields) == {"where"}


def _cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("order_by", "values"), [
    (None, [{"x": 1}]), (None, [[1]]), (None, ["1"]), (None, [2**64]), (None, [True]),
    (["income"], [{"d": "abc"}, 1]), (["income"], [{"d": "1e999999"}, 1]),
    (["income"], [{"x": 1}, 1]), (["income"], ["12", 1]), (["name"], [5, 1]),
    (["name"], ["a\x00", 1]), (["created_at"], [{"t": "junk"}, 1]),
    (["created_at"], [{"D": "2020-01-01"}, 1]),
])
def test_forged_cursors_are_a_422_on_after(session, schema, users, order_by, values) -> None:  # noqa: F811
    svc = service(session, schema, users["admin"])
    svc.create("person", {"name": "甲", "kind": "enterprise", "income": "1"})
    with pytest.raises(ValidationFailed) as caught:
        svc.list_page("person", order_by=order_by, after=_cursor(values))
    assert set(caught.value.fields) == {"after"}
    # a cursor decoding to [[[...]]] 5000 deep
    deep = base64.urlsafe_b64encode(("[" * 5000 + "]" * 5000).encode()).decode()
    with pytest.raises(ValidationFailed):
        svc.list_page("person", after=deep)


def test_valid_cursors_still_page(session, schema, users) -> None:  # noqa: F811
    svc = service(session, schema, users["admin"])
    for i in range(5):
        svc.create("person", {"name": f"客户{i}", "kind": "enterprise", "income": str(i)})
    for order_by in (None, ["income"], ["-name"], ["created_at"]):
        page = svc.list_page("person", order_by=order_by, limit=2)
        seen = [r["id"] for r in page.items]
        while page.has_more:
            page = svc.list_page("person", order_by=order_by, limit=2, after=page.next_cursor)
            seen += [r["id"] for r in page.items]
        assert len(set(seen)) == 5, order_by


# --- 4. hidden fields -------------------------------------------------------------------------

def test_hidden_fields_cannot_be_sorted_filtered_or_searched(session, schema) -> None:  # noqa: F811
    cf = schema.forms["person"]
    hidden = frozenset({"income", "name"})
    with pytest.raises(ValidationFailed) as caught:
        q.parse_sort(cf.form, ["-income"], hidden_fields=hidden)
    assert set(caught.value.fields) == {"order_by"}
    assert q.parse_sort(cf.form, ["-income"])[0].column == "income"
    (text,) = _where_error(cf.form, cf.table, {"field": "income", "op": ">", "value": "7000"},
                           hidden_fields=hidden)
    assert "unknown field 'income'" in text
    assert q.filter_clause(cf.form, cf.table, {"field": "income", "op": ">", "value": "1"}) \
        is not None
    searched = q.search_clause(cf.form, cf.table, "张", CIPHER.keyed_hash, hidden_fields=hidden)
    assert "name" not in str(searched)
    assert "name" in str(q.search_clause(cf.form, cf.table, "张", CIPHER.keyed_hash))


def test_search_with_nul_is_a_422(session, schema) -> None:  # noqa: F811
    cf = schema.forms["person"]
    with pytest.raises(ValidationFailed) as caught:
        q.search_clause(cf.form, cf.table, "a\x00b", CIPHER.keyed_hash)
    assert set(caught.value.fields) == {"q"}


# --- records end to end on both databases -----------------------------------------------------

@pytest.mark.parametrize(("values", "bad"), [
    ({"income": "1e999999"}, "income"), ({"income": "1e30"}, "income"),
    ({"income": 10**30}, "income"), ({"name": "a\x00b"}, "name"), ({"name": "\ud800"}, "name"),
    ({"name": float("inf")}, "name"), ({"contacts": [{"name": "a\x00"}]}, "contacts.0.name"),
])
def test_bad_values_are_422_not_database_errors(session, schema, users, values, bad) -> None:  # noqa: F811
    svc = service(session, schema, users["admin"])
    with pytest.raises(ValidationFailed) as caught:
        svc.create("person", {"name": "甲", "kind": "enterprise", **values})
    assert set(caught.value.fields) == {bad}


def test_falsy_subtable_value_keeps_the_rows(session, schema, users) -> None:  # noqa: F811
    svc = service(session, schema, users["admin"])
    record = svc.create("person", {"name": "甲", "kind": "enterprise",
                                   "contacts": [{"name": "乙"}]})
    for value in (0, False, ""):
        with pytest.raises(ValidationFailed):
            svc.update("person", record["id"], {"contacts": value}, record["version"])
    assert [c["name"] for c in svc.get("person", record["id"])["contacts"]] == ["乙"]


# --- 5. API -----------------------------------------------------------------------------------

def _post_raw(client: Any, path: str, body: str, headers: dict[str, str] | None = None) -> Any:
    return client.post(path, data=body.encode(), headers={**(headers or {}),
                                                          "Content-Type": "application/json"})


def test_deeply_nested_json_is_a_400(app) -> None:  # noqa: F811
    client = app.test_client()
    body = '{"username": ' + "[" * 5000 + "]" * 5000 + ', "password": "x"}'
    response = _post_raw(client, "/api/v1/auth/token", body)
    assert response.status_code == 400
    assert "nested" in error_of(response)["message"]
    headers = login(client, "admin", "admin-pass-1")
    where = json.dumps(_nested(500))
    response = _post_raw(client, "/api/v1/records/person/query", '{"where": ' + where + "}",
                         headers)
    assert response.status_code in (400, 422)
    assert set(response.json) == {"error"}


def test_lone_surrogates_in_json_are_refused(app) -> None:  # noqa: F811
    client = app.test_client()
    response = _post_raw(client, "/api/v1/auth/token",
                         '{"username": "\\ud800", "password": "x"}')
    assert response.status_code == 400
    assert "surrogate" in error_of(response)["message"]
    headers = login(client, "admin", "admin-pass-1")
    response = _post_raw(client, "/api/v1/records/person",
                         '{"name": "a\\udfffb", "kind": "enterprise"}', headers)
    assert response.status_code == 400
    assert "surrogate" in error_of(response)["message"]
    # a proper pair (an emoji) is fine
    response = _post_raw(client, "/api/v1/records/person",
                         '{"name": "a\\ud83d\\ude00", "kind": "enterprise"}', headers)
    assert response.status_code == 201, response.json


def test_api_query_errors_are_422_naming_where(app) -> None:  # noqa: F811
    client = app.test_client()
    headers = login(client, "admin", "admin-pass-1")
    for where in ({"field": "income", "op": ">", "value": "1e999999"},
                  {"field": "income", "op": ">", "value": "abc"},
                  {"field": "name", "op": "=", "value": {"a": 1}},
                  {"or": [{"field": "name", "op": "=", "value": "a"}] * 300}):
        started = time.monotonic()
        response = client.post("/api/v1/records/person/query", headers=headers,
                               json={"where": where})
        assert time.monotonic() - started < 2
        assert response.status_code == 422, response.json
        assert set(error_of(response)["fields"]) == {"where"}


def test_openapi_documents_the_real_error_shape(app) -> None:  # noqa: F811
    spec = app.test_client().get("/api/openapi.json").json
    schemas = spec["components"]["schemas"]
    assert "Error" not in schemas
    default = spec["components"]["responses"]["DEFAULT_ERROR"]
    ref = default["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[-1]
    assert set(schemas[name]["properties"]) == {"error"}
    detail = schemas[name]["properties"]["error"]
    detail = schemas[detail["$ref"].rsplit("/", 1)[-1]] if "$ref" in detail else detail
    assert {"code", "message", "fields"} <= set(detail["properties"])
    unprocessable = spec["components"]["responses"]["UNPROCESSABLE_ENTITY"]
    assert unprocessable["content"]["application/json"]["schema"]["$ref"] == ref

