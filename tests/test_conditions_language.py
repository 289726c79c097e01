"""The condition language: relative dates with an injected clock, field against field and
formulas, multiselects, text case, related records (EXISTS / aggregates), encrypted fields,
and the errors every malformed node gets. Agreement of SQL and Python is asserted on SQLite
and PostgreSQL (``engine`` fixture); ``tests/test_conditions_property.py`` adds random trees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from lendbase.conditions import (
    ConditionContext,
    ConditionSchema,
    SqlRelatedRows,
    UnsupportedNode,
    compile_predicate,
    compile_sql,
    rows_resolver,
)
from lendbase.conditions.dates import (
    add_months,
    date_difference,
    local_midnight,
    period_start,
    relative_window,
)
from lendbase.errors import ValidationFailed
from lendbase.forms.compile import CompiledSchema, compile_schema
from lendbase.forms.model import FormDef, load_form
from lendbase.forms.values import DEFAULT_TZ
from lendbase.records import query as q

NOW = datetime(2024, 3, 31, 2, 0, tzinfo=UTC)  # 10:00 on 31 March in Shanghai


def _label(text: str) -> dict[str, str]:
    return {"zh": text, "en": text}


def _options(*values: str) -> list[dict[str, Any]]:
    return [{"value": v, "label": _label(v)} for v in values]


def _field(key: str, type_: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "type": type_, "label": _label(key), **extra}


def condition_forms() -> list[FormDef]:
    """customer (with an ``items`` sub-table), and installment / loan referencing it;
    repayment references loan (two levels of related records)."""
    customer = load_form({"key": "customer", "label": _label("customer"), "fields": [
        _field("name", "text"),
        _field("rating", "select", options=_options("A", "B", "C")),
        _field("balance", "money"),
        _field("credit_limit", "money"),
        _field("score", "integer"),
        _field("opened_on", "date"),
        _field("seen_at", "datetime"),
        _field("active", "boolean"),
        _field("tags", "multiselect", options=_options("vip", "new", "老客")),
        _field("id_number", "id_number", sensitive=True, unique=True),
        _field("mobile", "phone", sensitive=True),
        _field("usage", "computed", formula="balance / credit_limit", result_type="decimal"),
        _field("items", "subtable", fields=[
            _field("status", "select", options=_options("due", "paid", "overdue")),
            _field("amount", "money"),
            _field("due_on", "date")]),
    ]})
    installment = load_form({"key": "installment", "label": _label("installment"), "fields": [
        _field("customer", "reference", target="customer"),
        _field("status", "select", options=_options("due", "paid", "overdue")),
        _field("due_date", "date"),
        _field("amount", "money"),
    ]})
    loan = load_form({"key": "loan", "label": _label("loan"), "fields": [
        _field("customer", "reference", target="customer"),
        _field("amount", "money"),
        _field("disbursed_on", "date"),
    ]})
    repayment = load_form({"key": "repayment", "label": _label("repayment"), "fields": [
        _field("loan", "reference", target="loan"),
        _field("amount", "money"),
        _field("paid_on", "date"),
    ]})
    return [customer, installment, loan, repayment]


def compiled_forms() -> CompiledSchema:
    return compile_schema((form, (), "", 1) for form in condition_forms())


def fake_hash(scope: str, key: str, text: str) -> str:
    """Stands in for the keyed hash of ``FieldCipher`` (scope.field context)."""
    return hashlib.sha256(f"{scope}.{key}:{text}".encode()).hexdigest()


@dataclass
class Data:
    """Rows per table: customers as Python records (plain values), the rest keyed by form."""

    customers: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    installments: list[dict[str, Any]] = field(default_factory=list)
    loans: list[dict[str, Any]] = field(default_factory=list)
    repayments: list[dict[str, Any]] = field(default_factory=list)

    def related(self, form: str, link: str, record_id: Any) -> list[dict[str, Any]]:
        if link == "id":  # the record a reference points at
            records = {"customer": self.customers, "loan": self.loans}[form]
            return [r for r in records if r["id"] == record_id]
        rows = {("customer", "items"): (self.items, "parent_id"),
                ("installment", "customer"): (self.installments, "customer"),
                ("loan", "customer"): (self.loans, "customer"),
                ("repayment", "loan"): (self.repayments, "loan")}[(form, link)]
        return [r for r in rows[0] if r[rows[1]] == record_id]


_SYSTEM = {"created_at": NOW, "updated_at": NOW, "version": 1}
_CUSTOMER_KEYS = ("name", "rating", "balance", "credit_limit", "score", "opened_on", "seen_at",
                  "active", "tags")


def store(conn: Any, schema: CompiledSchema, data: Data) -> None:
    """Write ``data`` as the record service would (encrypted fields as fake ciphertext)."""
    tables = {k: cf.table for k, cf in schema.forms.items()}
    for table in reversed(schema.metadata.sorted_tables):
        conn.execute(table.delete())
    rows = []
    for c in data.customers:
        row = {"id": c["id"], **_SYSTEM, **{k: c.get(k) for k in _CUSTOMER_KEYS}}
        for key in ("id_number", "mobile"):
            plain = c.get(key)
            row[key] = None if plain is None else f"cipher:{plain[::-1]}"
        row["id_number__h"] = (None if c.get("id_number") is None
                               else fake_hash("customer", "id_number", c["id_number"]))
        rows.append(row)
    if rows:
        conn.execute(insert(tables["customer"]), rows)
    if data.items:
        conn.execute(insert(schema.forms["customer"].child_tables["items"]), data.items)
    for key, items in (("installment", data.installments), ("loan", data.loans),
                       ("repayment", data.repayments)):
        if items:
            conn.execute(insert(tables[key]), [{**_SYSTEM, **r} for r in items])


@pytest.fixture
def db(engine: Engine) -> Iterator[tuple[Engine, CompiledSchema, ConditionSchema]]:
    schema = compiled_forms()
    schema.metadata.create_all(engine)
    try:
        yield engine, schema, ConditionSchema.from_compiled(schema)
    finally:
        schema.metadata.drop_all(engine)


def context(cs: ConditionSchema, now: datetime | None = NOW, **kwargs: Any) -> ConditionContext:
    return ConditionContext.for_form(cs, "customer", now=now, lookup_hash=fake_hash, **kwargs)


def both(db: Any, data: Data, tree: Mapping[str, Any], now: datetime = NOW) -> set[int]:
    """Ids matching ``tree`` in SQL; asserts the Python predicate agrees."""
    engine, schema, cs = db
    ctx = context(cs, now)
    table = schema.forms["customer"].table
    with engine.begin() as conn:
        store(conn, schema, data)
        in_sql = {r.id for r in conn.execute(select(table.c.id).where(compile_sql(tree, ctx)))}
    predicate = compile_predicate(tree, ctx)
    in_python = {c["id"] for c in data.customers if predicate(c, data.related)}
    assert in_sql == in_python, tree
    return in_sql


def customer(id_: int, **values: Any) -> dict[str, Any]:
    return {"id": id_, **{k: None for k in _CUSTOMER_KEYS}, **values}


# --- the brief's segments -----------------------------------------------------------------

UPSELL_POOL = {"and": [
    {"field": "rating", "op": "=", "value": "A"},
    {"not": {"exists": {"form": "installment", "link": "customer",
             "where": {"and": [{"field": "status", "op": "=", "value": "overdue"},
                               {"field": "due_date", "op": "in_last", "value": [12, "month"]}]}}}},
    {"field": "balance", "op": "<", "value": {"formula": "0.5 * credit_limit"}},
]}


def test_upsell_pool_from_the_design(db) -> None:
    data = Data(
        customers=[
            customer(1, rating="A", balance=Decimal("10"), credit_limit=Decimal("100")),
            customer(2, rating="A", balance=Decimal("10"), credit_limit=Decimal("100")),
            customer(3, rating="A", balance=Decimal("60"), credit_limit=Decimal("100")),
            customer(4, rating="B", balance=Decimal("10"), credit_limit=Decimal("100")),
            customer(5, rating="A", balance=Decimal("10"), credit_limit=None),
            customer(6, rating="A", balance=Decimal("10"), credit_limit=Decimal("100")),
        ],
        installments=[
            {"id": 1, "customer": 2, "status": "overdue", "due_date": date(2023, 6, 1)},
            # overdue, but 13 months ago: outside the window
            {"id": 2, "customer": 6, "status": "overdue", "due_date": date(2023, 2, 27)},
            {"id": 3, "customer": 1, "status": "paid", "due_date": date(2024, 1, 1)},
        ])
    assert both(db, data, UPSELL_POOL) == {1, 6}


def test_high_risk_pool_new_overdue_this_month(db) -> None:
    tree = {"and": [{"field": "rating", "op": "=", "value": "C"},
                    {"exists": {"form": "installment", "link": "customer", "where": {"and": [
                        {"field": "status", "op": "=", "value": "overdue"},
                        {"field": "due_date", "op": "in_period", "value": "month"}]}}}]}
    data = Data(customers=[customer(1, rating="C"), customer(2, rating="C"),
                           customer(3, rating="A")],
                installments=[
                    {"id": 1, "customer": 1, "status": "overdue", "due_date": date(2024, 3, 5)},
                    {"id": 2, "customer": 2, "status": "overdue", "due_date": date(2024, 2, 29)},
                    {"id": 3, "customer": 3, "status": "overdue", "due_date": date(2024, 3, 5)}])
    assert both(db, data, tree) == {1}


# --- relative dates (pure) ----------------------------------------------------------------

def test_month_arithmetic_clamps_to_the_month_end() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)


def test_period_starts() -> None:
    day = date(2024, 5, 15)  # a Wednesday
    assert period_start(day, "week") == date(2024, 5, 13)
    assert period_start(day, "month") == date(2024, 5, 1)
    assert period_start(day, "quarter") == date(2024, 4, 1)
    assert period_start(day, "year") == date(2024, 1, 1)


def _window(op: str, amount: int, unit: str, kind: str = "date", **kw: Any) -> tuple[Any, ...]:
    w = relative_window(op, amount, unit, kind=kind, now=NOW, tz=DEFAULT_TZ, **kw)
    return (w.low, w.low_exclusive, w.high, w.high_exclusive)


def test_relative_windows_for_dates() -> None:
    today = date(2024, 3, 31)
    assert _window("in_last", 12, "month") == (date(2023, 3, 31), False, today, False)
    assert _window("in_last", 1, "month") == (date(2024, 2, 29), False, today, False)
    assert _window("in_last", 3, "month", include_current=False) == (
        date(2023, 12, 1), False, date(2024, 3, 1), True)
    assert _window("in_next", 7, "day") == (today, False, date(2024, 4, 7), False)
    assert _window("in_next", 1, "quarter", include_current=False) == (
        date(2024, 4, 1), False, date(2024, 7, 1), True)
    assert _window("more_than_ago", 7, "day") == (None, False, date(2024, 3, 24), True)
    assert _window("more_than_ago", 1, "month", include_current=False) == (
        None, False, date(2024, 2, 1), True)
    assert _window("in_period", 0, "month", offset=-1) == (
        date(2024, 2, 1), False, date(2024, 3, 1), True)
    assert _window("in_period", 0, "week") == (date(2024, 3, 25), False, date(2024, 4, 1), True)
    assert _window("in_period", 0, "month", offset=-1, to_date=True) == (
        date(2024, 2, 1), False, date(2024, 2, 29), False)


def test_relative_windows_for_datetimes_use_local_midnight_and_now() -> None:
    low, _, high, _ = _window("in_last", 1, "month", kind="datetime")
    assert (low, high) == (datetime(2024, 2, 29, 2, 0, tzinfo=UTC), NOW)
    low, _, high, exclusive = _window("in_period", 0, "day", kind="datetime")
    assert low == local_midnight(date(2024, 3, 31), DEFAULT_TZ) == datetime(
        2024, 3, 30, 16, 0, tzinfo=UTC)
    assert high == datetime(2024, 3, 31, 16, 0, tzinfo=UTC) and exclusive


def test_datedif_counts_whole_units() -> None:
    assert date_difference(date(2024, 1, 31), date(2024, 2, 29), "month") == 0
    assert date_difference(date(2024, 1, 31), date(2024, 3, 31), "month") == 2
    assert date_difference(date(2024, 3, 31), date(2024, 1, 31), "month") == -2
    assert date_difference(date(2020, 2, 29), date(2024, 2, 28), "year") == 3
    assert date_difference(date(2024, 3, 1), date(2024, 2, 1), "day") == -29


# --- relative dates, text, multiselect, booleans on both databases --------------------------

def test_relative_dates_against_the_injected_clock(db) -> None:
    data = Data(customers=[
        customer(1, opened_on=date(2024, 3, 31), seen_at=datetime(2024, 3, 30, 17, tzinfo=UTC)),
        customer(2, opened_on=date(2024, 2, 29), seen_at=datetime(2024, 3, 30, 15, tzinfo=UTC)),
        customer(3, opened_on=date(2024, 3, 24), seen_at=datetime(2023, 3, 31, 3, tzinfo=UTC)),
        customer(4, opened_on=date(2024, 3, 23), seen_at=None),
    ])
    assert both(db, data, {"field": "opened_on", "op": "in_period", "value": "month"}) == {1, 3,
                                                                                         4}
    assert both(db, data, {"field": "opened_on", "op": "in_period", "value": "month",
                           "offset": -1}) == {2}
    assert both(db, data, {"field": "opened_on", "op": "more_than_ago",
                           "value": [7, "day"]}) == {2, 4}
    assert both(db, data, {"field": "opened_on", "op": "in_last", "value": [7, "days"]}) == {1, 3}
    # 17:00 UTC on 30 March is 01:00 on 31 March in Shanghai: "today"
    assert both(db, data, {"field": "seen_at", "op": "in_period", "value": "today"}) == {1}
    assert both(db, data, {"field": "seen_at", "op": "in_last", "value": [1, "year"]}) == {1, 2,
                                                                                          3}
    # another clock, another answer: nothing reads the system time
    later = datetime(2025, 1, 1, tzinfo=UTC)
    assert both(db, data, {"field": "opened_on", "op": "in_period", "value": "month"},
                now=later) == set()


def test_text_operators_case_option(db) -> None:
    data = Data(customers=[customer(1, name="Alice Wang"), customer(2, name="alice"),
                           customer(3, name=None), customer(4, name="100%_sure")])
    assert both(db, data, {"field": "name", "op": "starts_with", "value": "ALICE"}) == {1, 2}
    assert both(db, data, {"field": "name", "op": "starts_with", "value": "Alice",
                           "case_sensitive": True}) == {1}
    assert both(db, data, {"field": "name", "op": "contains", "value": "wang",
                           "case_sensitive": True}) == set()
    assert both(db, data, {"field": "name", "op": "ends_with", "value": "Wang",
                           "case_sensitive": True}) == {1}
    assert both(db, data, {"field": "name", "op": "contains", "value": "%_"}) == {4}
    assert both(db, data, {"not": {"field": "name", "op": "contains", "value": "a"}}) == {3, 4}


def test_multiselect_any_all_none(db) -> None:
    data = Data(customers=[customer(1, tags=["vip", "老客"]), customer(2, tags=["new"]),
                           customer(3, tags=[]), customer(4, tags=None)])
    assert both(db, data, {"field": "tags", "op": "any_of", "value": ["老客", "new"]}) == {1, 2}
    assert both(db, data, {"field": "tags", "op": "all_of", "value": ["vip", "老客"]}) == {1}
    assert both(db, data, {"field": "tags", "op": "all_of", "value": ["vip", "vip"]}) == {1}
    assert both(db, data, {"field": "tags", "op": "none_of", "value": ["vip"]}) == {2, 3, 4}
    assert both(db, data, {"field": "tags", "op": "=", "value": "老客"}) == {1}
    assert both(db, data, {"field": "tags", "op": "not_in", "value": ["new"]}) == {1, 3, 4}
    assert both(db, data, {"field": "tags", "op": "is_empty"}) == {3, 4}
    assert both(db, data, {"field": "tags", "op": "is_not_empty"}) == {1, 2}


def test_booleans_is_true_and_is_false(db) -> None:
    data = Data(customers=[customer(1, active=True), customer(2, active=False),
                           customer(3, active=None)])
    assert both(db, data, {"field": "active", "op": "is_true"}) == {1}
    assert both(db, data, {"field": "active", "op": "is_false"}) == {2}
    assert both(db, data, {"not": {"field": "active", "op": "is_true"}}) == {2, 3}


# --- field against field, formulas, computed fields ----------------------------------------

def test_field_against_field_and_formulas(db) -> None:
    data = Data(customers=[
        customer(1, balance=Decimal("40"), credit_limit=Decimal("100"), score=3),
        customer(2, balance=Decimal("60"), credit_limit=Decimal("100"), score=9),
        customer(3, balance=Decimal("5"), credit_limit=Decimal("0"), score=None),
        customer(4, balance=None, credit_limit=Decimal("10"), score=2)])
    assert both(db, data, {"field": "balance", "op": "<", "value": {"field": "credit_limit"}}) \
        == {1, 2}
    assert both(db, data, {"field": "balance", "op": "between",
                           "value": [{"formula": "score * 10"}, 100]}) == {1}
    assert both(db, data, {"field": "usage", "op": ">", "value": "0.5"}) == {2}
    # division by zero is NULL in both: neither < nor >= holds, is_empty does
    assert both(db, data, {"formula": "balance / credit_limit", "op": "is_empty"}) == {3, 4}
    assert both(db, data, {"formula": "IF(usage > 0.5, 1, 0) + COALESCE(score, 0)",
                           "op": ">=", "value": 3}) == {1, 2}


def test_computed_field_cycles_are_refused() -> None:
    forms = condition_forms()
    doc = {"key": "loop", "label": _label("loop"), "fields": [
        _field("a", "computed", formula="b + 1", result_type="integer"),
        _field("b", "computed", formula="a + 1", result_type="integer")]}
    cs = ConditionSchema.from_forms([*forms, load_form(doc)])
    with pytest.raises(UnsupportedNode, match="refers to itself"):
        compile_predicate({"field": "a", "op": ">", "value": 1},
                          ConditionContext.for_form(cs, "loop"))


# --- related records ------------------------------------------------------------------------

def test_aggregates_over_a_child_table_and_a_referencing_form(db) -> None:
    data = Data(
        customers=[customer(1), customer(2), customer(3)],
        items=[{"id": 1, "parent_id": 1, "seq": 1, "status": "overdue",
                "amount": Decimal("10"), "due_on": date(2024, 3, 1)},
               {"id": 2, "parent_id": 1, "seq": 2, "status": "paid", "amount": Decimal("5"),
                "due_on": date(2023, 1, 1)},
               {"id": 3, "parent_id": 2, "seq": 1, "status": "paid", "amount": None,
                "due_on": None}],
        loans=[{"id": 1, "customer": 1, "amount": Decimal("1000"),
                "disbursed_on": date(2024, 1, 1)},
               {"id": 2, "customer": 1, "amount": Decimal("500"),
                "disbursed_on": date(2023, 1, 1)},
               {"id": 3, "customer": 3, "amount": Decimal("200"),
                "disbursed_on": date(2024, 3, 1)}],
        repayments=[{"id": 1, "loan": 1, "amount": Decimal("700"), "paid_on": date(2024, 3, 1)},
                    {"id": 2, "loan": 3, "amount": Decimal("50"), "paid_on": date(2024, 3, 2)}])
    items = {"form": "customer", "link": "items"}
    assert both(db, data, {"count": items, "op": "=", "value": 0}) == {3}
    assert both(db, data, {"count": {**items, "where": {"field": "status", "op": "=",
                                                         "value": "paid"}},
                           "op": ">=", "value": 1}) == {1, 2}
    assert both(db, data, {"sum": {**items, "field": "amount"}, "op": "=", "value": 0}) == {2, 3}
    assert both(db, data, {"max": {**items, "field": "due_on"}, "op": "in_last",
                           "value": [1, "month"]}) == {1}
    assert both(db, data, {"min": {**items, "field": "amount"}, "op": "<", "value": 100}) == {1}
    loans = {"form": "loan", "link": "customer"}
    assert both(db, data, {"sum": {**loans, "field": "amount"}, "op": ">", "value": 1000}) == {1}
    assert both(db, data, {"sum": {**loans, "field": "amount",
                                   "where": {"field": "disbursed_on", "op": "in_last",
                                             "value": [6, "month"]}},
                           "op": ">", "value": 1000}) == set()
    # two levels: a customer with a loan repaid more than half of
    repaid = {"exists": {**loans, "where": {"sum": {"form": "repayment", "link": "loan",
                                                    "field": "amount"},
                                            "op": ">", "value": {"formula": "amount / 2"}}}}
    assert both(db, data, repaid) == {1}


def test_related_sql_is_a_correlated_exists_on_the_link_column() -> None:
    schema = compiled_forms()
    cs = ConditionSchema.from_compiled(schema)
    customers = schema.forms["customer"].table
    query = select(customers.c.id).where(compile_sql(UPSELL_POOL, context(cs)))
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        text = " ".join(str(query.compile(dialect=dialect)).split())
        assert "NOT (EXISTS (SELECT 1 FROM f_installment AS f_installment_1 WHERE " \
               "f_installment_1.customer = f_customer.id AND f_installment_1.status = " in text
        assert "f_customer.balance < " in text and "* f_customer.credit_limit" in text
    aggregate = compile_sql({"sum": {"form": "loan", "link": "customer", "field": "amount"},
                             "op": ">", "value": 1}, context(cs))
    query = select(customers.c.id).where(aggregate)
    text = " ".join(str(query.compile(dialect=postgresql.dialect())).split())
    assert ("coalesce((SELECT sum(f_loan_1.amount) AS sum_1 FROM f_loan AS f_loan_1 "
            "WHERE f_loan_1.customer = f_customer.id)") in text


def test_sql_resolver_reads_related_rows_for_the_predicate(db) -> None:
    engine, schema, cs = db
    data = Data(customers=[customer(1), customer(2)],
                items=[{"id": 1, "parent_id": 1, "seq": 1, "status": "overdue",
                        "amount": Decimal("3"), "due_on": date(2024, 3, 1)}],
                loans=[{"id": 1, "customer": 2, "amount": Decimal("9"),
                        "disbursed_on": date(2024, 1, 1)}])
    tree = {"or": [{"exists": {"form": "customer", "link": "items",
                               "where": {"field": "status", "op": "=", "value": "overdue"}}},
                   {"count": {"form": "loan", "link": "customer"}, "op": ">", "value": 1}]}
    predicate = compile_predicate(tree, context(cs))
    with engine.begin() as conn:
        store(conn, schema, data)
        resolver = SqlRelatedRows(conn, cs)
        assert [predicate(c, resolver) for c in data.customers] == [True, False]
    memory = rows_resolver({("customer", "items"): {1: data.items}})
    assert predicate({"id": 1}, memory) and not predicate({"id": 2}, memory)
    # an unsaved record has no related rows (the resolver is not even called)
    assert not predicate({"id": None}, None)


# --- encrypted fields -----------------------------------------------------------------------

def test_encrypted_fields_compare_by_keyed_hash_only(db) -> None:
    data = Data(customers=[customer(1, id_number="11010519491231002X"),
                           customer(2, id_number="360426199101010071"), customer(3)])
    assert both(db, data, {"field": "id_number", "op": "=",
                           "value": "11010519491231002x"}) == {1}
    assert both(db, data, {"field": "id_number", "op": "not_in",
                           "value": ["11010519491231002X"]}) == {2}
    assert both(db, data, {"field": "id_number", "op": "is_empty"}) == {3}
    _, _, cs = db
    clause = compile_sql({"field": "id_number", "op": "=", "value": "360426199101010071"},
                         context(cs))
    compiled = clause.compile()
    assert "id_number__h" in str(compiled)
    assert fake_hash("customer", "id_number", "360426199101010071") in compiled.params.values()
    with pytest.raises(UnsupportedNode, match="encrypted: conditions can only compare"):
        compile_sql({"field": "id_number", "op": "starts_with", "value": "1101"}, context(cs))
    with pytest.raises(UnsupportedNode, match="unique or indexed"):  # no lookup hash column
        compile_sql({"field": "mobile", "op": "=", "value": "13800138000"}, context(cs))
    with pytest.raises(UnsupportedNode, match="formulas cannot read it"):
        compile_sql({"formula": "LEN(id_number)", "op": ">", "value": 1}, context(cs))


# --- errors ---------------------------------------------------------------------------------

BAD_TREES = [
    ({"field": "nope", "op": "="}, "unknown field 'nope' of 'customer'; use one of:"),
    ({"field": "name", "op": "like", "value": "a"}, "operator 'like' is not supported"),
    ({"field": "name", "op": "in_last", "value": [1, "month"]}, "relative dates apply to date"),
    ({"field": "opened_on", "op": "in_last", "value": [1, "fortnight"]}, "needs [n, unit]"),
    ({"field": "opened_on", "op": "in_last", "value": 3}, "needs [n, unit]"),
    ({"field": "opened_on", "op": "in_period", "value": "decade"}, "needs a period"),
    ({"field": "opened_on", "op": "in_last", "value": [99999, "year"]}, "beyond the calendar"),
    ({"field": "opened_on", "op": "in_period", "value": "month", "include_current": False},
     "'include_current' applies to in_last, in_next, more_than_ago"),
    ({"field": "name", "op": "=", "value": "a", "case_sensitive": True},
     "'case_sensitive' applies to contains, ends_with, starts_with"),
    ({"field": "active", "op": "<", "value": "yes"}, "cannot order yes/no"),
    ({"field": "balance", "op": "<", "value": {"field": "name"}},
     "cannot compare a number with text"),
    ({"field": "opened_on", "op": "=", "value": {"field": "seen_at"}},
     "use DATE(x) to take the date"),
    ({"field": "rating", "op": "is_true"}, "'is_true' applies to yes/no fields"),
    ({"field": "rating", "op": "any_of", "value": ["A"]}, "applies to multiple-choice"),
    ({"field": "tags", "op": "<", "value": "vip"}, "does not apply to a multiple choice"),
    ({"field": "balance", "op": ">", "value": "lots"}, "'balance' compares with an amount"),
    ({"field": "balance", "op": ">", "value": {"formula": "credit_limit *"}},
     "does not parse at column 15"),
    ({"formula": "rating + 1", "op": ">", "value": 1}, "each side of '+' must be"),
    ({"exists": {"form": "nowhere", "link": "customer"}}, "unknown form 'nowhere'"),
    ({"exists": {"form": "loan", "link": "amount"}},
     "\"link\" must be a reference field of 'loan' pointing at 'customer' (customer)"),
    ({"exists": {"form": "customer", "link": "tags"}}, "one of its sub-tables (items)"),
    ({"exists": {"form": "loan", "link": "customer", "were": {}}}, "does not take were"),
    ({"exists": {"form": "loan", "link": "customer"}, "op": "="}, "stands alone"),
    ({"count": {"form": "loan", "link": "customer", "field": "amount"}, "op": "=", "value": 1},
     "counts rows and takes no field"),
    ({"sum": {"form": "loan", "link": "customer"}, "op": "=", "value": 1}, "needs \"field\""),
    ({"sum": {"form": "customer", "link": "items", "field": "status"}, "op": "=", "value": 1},
     "\"sum\" of customer.status needs numbers"),
    ({"exists": {"form": "loan", "link": "customer",
                 "where": {"field": "balance", "op": "=", "value": 1}}},
     "unknown field 'balance' of 'loan'"),
    ({"field": "name", "formula": "1", "op": "="}, "a comparison has one left side"),
    ({"bogus": 1}, "unknown condition node"),
    ([], "a condition must be a non-empty object"),
]


@pytest.mark.parametrize(("tree", "message"), BAD_TREES)
def test_malformed_trees_get_a_clear_error_from_both_compilers(tree, message) -> None:
    cs = ConditionSchema.from_compiled(compiled_forms())
    for compile_ in (compile_sql, compile_predicate):
        with pytest.raises(UnsupportedNode) as caught:
            compile_(tree, context(cs))
        assert message in caught.value.message, caught.value.message


def test_context_is_required_for_clock_and_related_records() -> None:
    cs = ConditionSchema.from_compiled(compiled_forms())
    with pytest.raises(UnsupportedNode, match="need the current time"):
        compile_sql({"field": "opened_on", "op": "in_last", "value": [1, "day"]},
                    context(cs, now=None))
    with pytest.raises(UnsupportedNode, match="TODAY\\(\\) and NOW\\(\\) need the current"):
        compile_predicate({"formula": "DATEDIF(opened_on, TODAY(), \"D\")", "op": ">",
                           "value": 1}, context(cs, now=None))
    bare = ConditionContext(cs.form("customer"), now=NOW)
    with pytest.raises(UnsupportedNode, match="needs the schema of the installed forms"):
        compile_sql({"exists": {"form": "loan", "link": "customer"}}, bare)
    with pytest.raises(ValueError, match="timezone-aware"):
        ConditionContext(cs.form("customer"), now=datetime(2024, 1, 1))
    predicate = compile_predicate({"exists": {"form": "loan", "link": "customer"}}, context(cs))
    with pytest.raises(UnsupportedNode, match="pass related="):
        predicate({"id": 1})


def _nested_related(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"field": "amount", "op": ">", "value": 1}
    for _ in range(levels):
        node = {"exists": {"form": "customer", "link": "items", "where": {"not": node}}}
    return node


def test_caps_count_nested_related_conditions() -> None:
    cs = ConditionSchema.from_compiled(compiled_forms())
    leaf = {"field": "amount", "op": ">", "value": 1}
    deep = leaf
    for _ in range(10):  # 10 x (exists + not) = 21 levels
        deep = {"exists": {"form": "customer", "link": "items", "where": {"not": deep}}}
    with pytest.raises(UnsupportedNode, match="nested more than 20 levels"):
        compile_sql(deep, context(cs))
    wide = {"exists": {"form": "customer", "link": "items", "where": {"or": [leaf] * 200}}}
    with pytest.raises(UnsupportedNode, match="more than 200 comparisons"):
        compile_sql(wide, context(cs))
    assert compile_sql({"exists": {"form": "customer", "link": "items",
                                   "where": {"or": [leaf] * 199}}}, context(cs)) is not None


# --- list filters (lendbase.records.query) --------------------------------------------------

def test_list_filters_take_relative_dates_and_keep_their_limits(db) -> None:
    engine, schema, _ = db
    cf = schema.forms["customer"]
    data = Data(customers=[customer(1, tags=["老客"], opened_on=date(2024, 3, 30)),
                           customer(2, tags=["new"], opened_on=date(2023, 1, 1))])
    where = {"and": [{"field": "created_at", "op": "in_last", "value": [1, "day"]},
                     {"field": "tags", "op": "in", "value": ["老客"]},
                     {"field": "opened_on", "op": "in_period", "value": "month"}]}
    clause = q.filter_clause(cf.form, cf.table, where, now=NOW)
    with engine.begin() as conn:
        store(conn, schema, data)
        assert [r.id for r in conn.execute(select(cf.table.c.id).where(clause))] == [1]
    for bad, message in (
            ({"field": "id_number", "op": "=", "value": "x"}, "unknown field 'id_number'"),
            ({"exists": {"form": "loan", "link": "customer"}}, "use a segment or a report")):
        with pytest.raises(ValidationFailed) as caught:
            q.filter_clause(cf.form, cf.table, bad, now=NOW)
        assert message in caught.value.fields["where"][0]


def test_dialect_specific_sql_goes_through_compiles_constructs() -> None:
    cs = ConditionSchema.from_compiled(compiled_forms())
    cases = [
        ({"field": "tags", "op": "any_of", "value": ["vip"]},
         "EXISTS (SELECT 1 FROM json_each(f_customer.tags) AS lb_item WHERE lb_item.value IN (",
         "coalesce((f_customer.tags) ?| ARRAY["),
        ({"formula": "balance / score", "op": ">", "value": 1},
         "(CAST(f_customer.balance AS REAL) / NULLIF(f_customer.score, 0))",
         "(CAST(f_customer.balance AS NUMERIC) / NULLIF(f_customer.score, 0))"),
        ({"formula": "EDATE(opened_on, 1)", "op": ">", "value": "2024-01-01"},
         "min(date(f_customer.opened_on, 'start of month'",
         "CAST((f_customer.opened_on) + make_interval(months => CAST("),
        ({"formula": "DATE(seen_at)", "op": "=", "value": "2024-01-01"},
         "date(f_customer.seen_at, ", "CAST(timezone("),
    ]
    for tree, in_sqlite, in_postgresql in cases:
        clause = compile_sql(tree, context(cs))
        assert in_sqlite in " ".join(str(clause.compile(dialect=sqlite.dialect())).split())
        assert in_postgresql in " ".join(
            str(clause.compile(dialect=postgresql.dialect())).split())


def test_hidden_fields_and_forms_are_out_of_reach() -> None:
    cs = ConditionSchema.from_compiled(
        compiled_forms(), forms={"customer", "loan"},
        hidden_fields={"loan": ["amount"], "customer.items": ["amount"], "customer": ["score"]})
    ctx = ConditionContext.for_form(cs, "customer", now=NOW)
    for tree, message in (
            ({"sum": {"form": "loan", "link": "customer", "field": "amount"}, "op": ">",
              "value": 1}, "unknown field 'amount' of 'loan'"),
            ({"exists": {"form": "customer", "link": "items",
                         "where": {"field": "amount", "op": ">", "value": 1}}},
             "unknown field 'amount' of 'customer.items'"),
            ({"exists": {"form": "installment", "link": "customer"}},
             "unknown form 'installment'"),
            ({"formula": "score + 1", "op": ">", "value": 1}, "unknown field 'score'")):
        with pytest.raises(UnsupportedNode) as caught:
            compile_sql(tree, ctx)
        assert message in caught.value.message
        assert "score" not in caught.value.message.split("use one of:")[-1]
