"""Reference lookups in the condition language: ``customer.rating`` on a loan reads the field
of the record the loan's ``customer`` reference points at. SQL (a correlated scalar subquery
by primary key) and the Python predicate (through the related-rows resolver) must agree, on
SQLite and PostgreSQL, NULL references and dangling ones included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from lendbase.conditions import (
    ConditionContext,
    SqlRelatedRows,
    UnsupportedNode,
    compile_predicate,
    compile_sql,
    evaluate_formula,
)
from tests.test_conditions_language import NOW, Data, customer, db, fake_hash, store

__all__ = ["db"]  # the fixture, shared with the language tests


def loan_context(cs: Any) -> ConditionContext:
    return ConditionContext.for_form(cs, "loan", now=NOW, lookup_hash=fake_hash)


def loans_matching(db: Any, data: Data, tree: Mapping[str, Any]) -> set[int]:
    """Loan ids matching ``tree`` in SQL; asserts the in-memory and the SQL-backed Python
    predicates agree with it."""
    engine, schema, cs = db
    ctx = loan_context(cs)
    table = schema.forms["loan"].table
    predicate = compile_predicate(tree, ctx)
    with engine.begin() as conn:
        store(conn, schema, data)
        in_sql = {r.id for r in conn.execute(select(table.c.id).where(compile_sql(tree, ctx)))}
        resolver = SqlRelatedRows(conn, cs)
        through_sql_rows = {loan["id"] for loan in data.loans if predicate(loan, resolver)}
    in_memory = {loan["id"] for loan in data.loans if predicate(loan, data.related)}
    assert in_sql == in_memory == through_sql_rows, tree
    return in_sql


def sample() -> Data:
    return Data(
        customers=[
            customer(1, rating="A", credit_limit=Decimal("100"), opened_on=date(2024, 3, 1),
                     tags=["vip"], id_number="11010519491231002X", active=True),
            customer(2, rating="C", credit_limit=Decimal("1000"), opened_on=date(2020, 1, 1),
                     tags=["new"], active=False),
            customer(3),  # every field empty
        ],
        loans=[
            {"id": 10, "customer": 1, "amount": Decimal("60"), "disbursed_on": date(2024, 3, 5)},
            {"id": 11, "customer": 2, "amount": Decimal("60"), "disbursed_on": date(2024, 3, 5)},
            {"id": 12, "customer": 3, "amount": Decimal("60"), "disbursed_on": None},
            {"id": 13, "customer": None, "amount": Decimal("60"), "disbursed_on": None},
        ])


def test_lookup_leaves_match_in_sql_and_python(db) -> None:
    data = sample()
    assert loans_matching(db, data, {"field": "customer.rating", "op": "=", "value": "A"}) \
        == {10}
    assert loans_matching(db, data, {"field": "customer.rating", "op": "in",
                                     "value": ["A", "C"]}) == {10, 11}
    # NOT of an unknown (empty rating, no customer) holds, as for a field of the loan itself
    assert loans_matching(db, data, {"not": {"field": "customer.rating", "op": "=",
                                             "value": "A"}}) == {11, 12, 13}
    assert loans_matching(db, data, {"field": "customer.rating", "op": "is_empty"}) \
        == {12, 13}
    assert loans_matching(db, data, {"field": "customer.active", "op": "is_true"}) == {10}
    assert loans_matching(db, data, {"field": "customer.opened_on", "op": "in_last",
                                     "value": [30, "day"]}) == {10}
    assert loans_matching(db, data, {"field": "customer.tags", "op": "any_of",
                                     "value": ["vip"]}) == {10}


def test_lookups_in_values_and_formulas(db) -> None:
    data = sample()
    # a loan field against the customer's field, and a formula across the reference
    assert loans_matching(db, data, {"field": "amount", "op": ">",
                                     "value": {"formula": "0.5 * customer.credit_limit"}}) \
        == {10}
    assert loans_matching(db, data, {"field": "customer.credit_limit", "op": ">",
                                     "value": {"field": "amount"}}) == {10, 11}
    assert loans_matching(db, data, {"formula": "amount / customer.credit_limit", "op": ">=",
                                     "value": 0.5}) == {10}
    assert loans_matching(db, data, {"field": "disbursed_on", "op": ">=",
                                     "value": {"field": "customer.opened_on"}}) == {10, 11}
    _, _, cs = db
    assert evaluate_formula("amount / customer.credit_limit", data.loans[1], loan_context(cs),
                            data.related) == Decimal("0.06")


def test_two_references_deep(db) -> None:
    data = sample()
    data.repayments = [{"id": 100, "loan": 10, "amount": Decimal("1"), "paid_on": None},
                       {"id": 101, "loan": 11, "amount": Decimal("1"), "paid_on": None}]
    engine, schema, cs = db
    ctx = ConditionContext.for_form(cs, "repayment", now=NOW, lookup_hash=fake_hash)
    tree = {"field": "loan.customer.rating", "op": "=", "value": "C"}
    with engine.begin() as conn:
        store(conn, schema, data)
        table = schema.forms["repayment"].table
        ids = {r.id for r in conn.execute(select(table.c.id).where(compile_sql(tree, ctx)))}
    assert ids == {101}
    predicate = compile_predicate(tree, ctx)
    assert [predicate(r, data.related) for r in data.repayments] == [False, True]


def test_encrypted_field_of_the_referenced_record_compares_by_its_keyed_hash(db) -> None:
    data = sample()
    tree = {"field": "customer.id_number", "op": "=", "value": "11010519491231002x"}
    _, _, cs = db
    compiled = compile_sql(tree, loan_context(cs)).compile()
    assert "id_number__h" in str(compiled)
    engine, schema, _ = db
    with engine.begin() as conn:
        store(conn, schema, data)
        table = schema.forms["loan"].table
        ids = {r.id for r in conn.execute(select(table.c.id)
                                          .where(compile_sql(tree, loan_context(cs))))}
    assert ids == {10}
    with pytest.raises(UnsupportedNode, match="formulas cannot read it"):
        compile_sql({"field": "amount", "op": "=", "value": {"field": "customer.id_number"}},
                    loan_context(cs))


@pytest.mark.parametrize(("tree", "message"), [
    ({"field": "amount.rating", "op": "=", "value": "A"},
     "'amount' is not a reference field of 'loan'; a dotted key starts with one of: customer"),
    ({"field": "customer.nope", "op": "=", "value": "A"}, "unknown field 'nope' of 'customer'"),
    ({"field": "customer.", "op": "=", "value": "A"}, "name the field of 'customer'"),
    ({"formula": "customer.rating + 1", "op": ">", "value": 1}, "each side of '+'"),
])
def test_bad_lookups_are_refused_with_the_fix(db, tree, message) -> None:
    _, _, cs = db
    with pytest.raises(UnsupportedNode, match=re.escape(message)):
        compile_sql(tree, loan_context(cs))
    with pytest.raises(UnsupportedNode, match=re.escape(message)):
        compile_predicate(tree, loan_context(cs))
