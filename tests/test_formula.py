"""The formula syntax: parsing into the JSON expression tree, syntax errors with position and
expectation, type errors, and every function's value in Python and in SQL (SQLite and
PostgreSQL) from the same tree."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from lendbase.conditions import (
    ConditionSchema,
    FormulaError,
    UnsupportedNode,
    compile_formula_sql,
    evaluate_formula,
    format_formula,
    parse_formula,
)
from lendbase.conditions.formula import MAX_FORMULA_CHARS
from tests.test_conditions_language import (  # noqa: F401 - the db fixture
    NOW,
    Data,
    compiled_forms,
    context,
    customer,
    db,
    store,
)

# --- parsing ----------------------------------------------------------------------------------


def test_examples_parse_into_the_documented_tree() -> None:
    assert parse_formula("balance / credit_limit") == {
        "op": "/", "args": [{"ref": "balance"}, {"ref": "credit_limit"}]}
    assert parse_formula('IF(rating = "A", 1, 0)') == {"fn": "IF", "args": [
        {"op": "=", "args": [{"ref": "rating"}, {"str": "A"}]}, {"num": "1"}, {"num": "0"}]}
    assert parse_formula('datedif(disbursed_on, today(), "M")') == {"fn": "DATEDIF", "args": [
        {"ref": "disbursed_on"}, {"fn": "TODAY", "args": []}, {"str": "M"}]}
    tree = parse_formula("0.5 * credit_limit")
    assert json.loads(json.dumps(tree)) == tree  # JSON-serialisable


def test_precedence_parentheses_and_unary_minus() -> None:
    assert parse_formula("1 + 2 * 3") == {"op": "+", "args": [
        {"num": "1"}, {"op": "*", "args": [{"num": "2"}, {"num": "3"}]}]}
    assert parse_formula("(1 + 2) * 3")["op"] == "*"
    assert parse_formula("a - b - c") == {"op": "-", "args": [
        {"op": "-", "args": [{"ref": "a"}, {"ref": "b"}]}, {"ref": "c"}]}
    assert parse_formula("-a * b") == {"op": "*", "args": [
        {"op": "neg", "args": [{"ref": "a"}]}, {"ref": "b"}]}
    assert parse_formula("a + b > c * 2")["op"] == ">"


def test_literals_keywords_and_operator_spellings() -> None:
    assert parse_formula(".5") == {"num": "0.5"}
    assert parse_formula("'it''s'") == {"str": "it's"}
    assert parse_formula('"say ""hi"""') == {"str": 'say "hi"'}
    assert parse_formula("true") == {"bool": True}
    assert parse_formula("NULL") == {"null": True}
    assert parse_formula("a <> b")["op"] == "!="
    assert parse_formula("a == b")["op"] == "="


@pytest.mark.parametrize(("text", "column", "expected", "found"), [
    ("0.5 * ", 7, "a number", "the end of the formula"),
    ("IF(a, 1", 8, "\")\"", "the end of the formula"),
    ("a $ b", 3, "\"+\"", "the character '$'"),
    ("a < b < c", 7, "the end of the formula", "comparisons cannot be chained"),
    ("f(,)", 3, "a field key or function name", "','"),
    ("a..b", 2, "\"(\"", "the character '.'"),
])
def test_syntax_errors_say_where_and_what_was_expected(text, column, expected, found) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    error = caught.value
    assert error.column == column
    assert expected in error.expected or expected in error.message
    assert f"column {column}" in error.message and found in error.message


def test_formula_limits() -> None:
    with pytest.raises(FormulaError, match="longer than"):
        parse_formula("a + " * (MAX_FORMULA_CHARS // 4) + "a")
    with pytest.raises(UnsupportedNode, match="nested more than 40"):
        parse_formula("+".join(["a"] * 60))
    with pytest.raises(FormulaError, match="non-empty text"):
        parse_formula("   ")


_KEY = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda k: k.upper() not in {"TRUE", "FALSE", "NULL"})
_LEAF = st.one_of(
    st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,3})?", fullmatch=True).map(lambda n: {"num": n}),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
            max_size=6).map(lambda s: {"str": s}),
    st.booleans().map(lambda b: {"bool": b}),
    st.just({"null": True}),
    _KEY.map(lambda k: {"ref": k}),
)


def _trees(children: Any) -> Any:
    return st.one_of(
        st.tuples(st.sampled_from(["+", "-", "*", "/", "=", "!=", "<", "<=", ">", ">="]),
                  children, children).map(lambda t: {"op": t[0], "args": [t[1], t[2]]}),
        children.map(lambda c: {"op": "neg", "args": [c]}),
        st.tuples(st.sampled_from(["IF", "ROUND", "CONCAT", "TODAY"]),
                  st.lists(children, max_size=3)).map(lambda t: {"fn": t[0], "args": t[1]}),
    )


@settings(max_examples=300, deadline=None)
@given(st.recursive(_LEAF, _trees, max_leaves=12))
def test_format_then_parse_gives_the_same_tree(tree) -> None:
    assert parse_formula(format_formula(tree)) == tree


# --- values in Python and in SQL -----------------------------------------------------------

RECORD = customer(1, name="Alice", rating="A", balance=Decimal("40"),
                  credit_limit=Decimal("100"), score=7, opened_on=date(2024, 1, 31),
                  seen_at=datetime(2024, 3, 31, 17, 0, tzinfo=UTC), active=True)

VALUES = [
    ("balance / credit_limit", Decimal("0.4")),
    ("score / 2", Decimal("3.5")),
    ("balance / (credit_limit - 100)", None),  # division by zero is NULL
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("-score + 10", 3),
    ("balance + NULL", None),
    ('IF(rating = "A", 1, 0)', 1),
    ("IF(name = NULL, 1, 2)", 2),  # a comparison with NULL is unknown: the else branch
    ("IF(AND(score > 5, NOT(active)), 1, 0)", 0),
    ('IF(OR(score > 100, active), "y", "n")', "y"),
    ("IF(OR(score > 100, NULL = 1), 1, 0)", 0),
    ("ROUND(balance / 3, 2)", Decimal("13.33")),
    ("ROUND(2.5)", 3),
    ("ROUND(0.125, 2)", Decimal("0.13")),
    ("ABS(0 - score)", 7),
    ("MIN(score, 3, NULL)", 3),
    ("MAX(score, NULL)", 7),
    ("MAX(opened_on, DATE(\"2024-02-01\"))", date(2024, 2, 1)),
    ("COALESCE(NULL, score)", 7),
    ('DATEDIF(opened_on, DATE("2024-02-29"), "M")', 0),
    ('DATEDIF(opened_on, DATE("2024-03-31"), "M")', 2),
    ('DATEDIF(opened_on, TODAY(), "D")', 60),
    ('DATEDIF(DATE("2020-02-29"), opened_on, "Y")', 3),
    ('DATEDIF(TODAY(), opened_on, "M")', -2),
    ('DATEDIF(seen_at, TODAY(), "D")', -1),  # 17:00 UTC is 01:00 next day in Shanghai
    ("YEAR(seen_at) * 10000 + MONTH(seen_at) * 100 + DAY(seen_at)", 20240401),
    ("DATE(seen_at)", date(2024, 4, 1)),
    ("EDATE(opened_on, 1)", date(2024, 2, 29)),
    ("EDATE(opened_on, score)", date(2024, 8, 31)),
    ('DATE_ADD(opened_on, -2, "Q")', date(2023, 7, 31)),
    ('DATE_ADD(opened_on, 1, "year")', date(2025, 1, 31)),
    ('DATE_ADD(opened_on, 30, "D")', date(2024, 3, 1)),
    ('DATE_ADD(opened_on, -2, "W")', date(2024, 1, 17)),
    ('DATE_ADD(opened_on, NULL, "M")', None),
    ("LEN(name)", 5),
    ('LEN("贷款")', 2),
    ('CONCAT(name, "-", score, NULL)', "Alice-7"),
    ("ISBLANK(name)", False),
    ('ISBLANK("")', True),
    ("ISBLANK(NULL)", True),
    ("TODAY()", date(2024, 3, 31)),
    ("NOW()", NOW),
    ("score >= 7", True),
    ('name != "alice"', True),
    ('opened_on < "2024-02-01"', True),
]


def _same(value: Any) -> Any:
    """Results as compared: SQLite hands back floats and naive UTC datetimes."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@pytest.mark.parametrize(("formula", "expected"), VALUES)
def test_function_values_in_python(formula, expected) -> None:
    cs = ConditionSchema.from_compiled(compiled_forms())
    assert evaluate_formula(formula, RECORD, context(cs)) == expected


def test_function_values_in_sql(db) -> None:  # noqa: F811
    engine, schema, cs = db
    table = schema.forms["customer"].table
    with engine.begin() as conn:
        store(conn, schema, Data(customers=[RECORD]))
        for formula, expected in VALUES:
            value = conn.execute(select(compile_formula_sql(formula, context(cs)))
                                 .select_from(table)).scalar_one()
            assert _same(value) == expected, formula


@pytest.mark.parametrize(("formula", "message"), [
    ("rating + 1", "each side of '+' must be a number or a whole number, not text"),
    ("IF(score, 1, 0)", "the condition of IF must be yes/no"),
    ('IF(active, 1, "x")', "both results of IF must be of one kind"),
    ('DATEDIF(opened_on, TODAY(), "W")', "the unit of DATEDIF must be"),
    ("ROUND(balance, 11)", "the decimals of ROUND must be a whole number from 0 to 10"),
    ("ROUND(balance, score)", "the decimals of ROUND"),
    ("LEN(score)", "the argument of LEN must be text"),
    ("opened_on = seen_at", "use DATE(x) to take the date"),
    ('tags = "vip"', "cannot compare a multiple choice with text"),
    ("active < TRUE", "'<' cannot order yes/no"),
    ("FOO(1)", "unknown function 'FOO'"),
    ('__import__("os")', "unknown function '__IMPORT__'"),
    ("ABS(1, 2)", "ABS takes 1 argument(s), got 2"),
    ("nope + 1", "unknown field 'nope'"),
    ('DATE("31/01/2024")', "is not a date"),
    ('DATE_ADD(opened_on, 1.5, "D")', "the number of units to add must be a whole number"),
    ("LEN(id_number)", "field 'id_number' is encrypted"),
])
def test_type_errors_quote_the_formula_part(formula, message) -> None:
    cs = ConditionSchema.from_compiled(compiled_forms())
    with pytest.raises(UnsupportedNode) as caught:
        evaluate_formula(formula, RECORD, context(cs))
    assert message in caught.value.message, caught.value.message


@pytest.mark.parametrize(("tree", "message"), [
    ({"op": "%", "args": [{"num": "1"}, {"num": "2"}]}, "unknown operator '%'"),
    ({"fn": "IF", "args": "x"}, "\"args\" must be a list"),
    ({"num": "abc"}, "'abc' is not a number"),
    ({"num": True}, "holds its digits as text"),
    ({"weird": 1}, "unknown expression node"),
    ({"op": "+", "args": [{"num": "1"}]}, "'+' takes two arguments"),
])
def test_malformed_expression_trees_are_refused(tree, message) -> None:
    cs = ConditionSchema.from_compiled(compiled_forms())
    with pytest.raises(UnsupportedNode) as caught:
        evaluate_formula(tree, RECORD, context(cs))
    assert message in caught.value.message, caught.value.message
    deep: dict[str, Any] = {"ref": "score"}
    for _ in range(5000):
        deep = {"op": "neg", "args": [deep]}
    with pytest.raises(UnsupportedNode, match="nested more than 40"):
        evaluate_formula(deep, RECORD, context(cs))
