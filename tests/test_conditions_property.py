"""Property: the SQL compiler and the Python predicate give the same answer.

Hypothesis draws random customers (NULLs included) with sub-table rows and referencing loans,
a fixed injected clock, and random condition trees: and / or / not, comparisons, between, in,
text matching with and without case, booleans, multiselect any / all / none, relative dates,
field against field, arithmetic formulas and functions, and related-record EXISTS / count /
sum / min / max over the child table and the referencing form. Each tree runs as one SQL
statement on SQLite and on PostgreSQL and as a predicate over the same records in memory.

Numbers are whole or halves and divisions stand at the top of a formula, so SQLite's binary
floating point cannot round differently from PostgreSQL's exact decimals (see
docs/conditions.md, "Numbers").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from lendbase.conditions import compile_predicate, compile_sql
from tests.test_conditions_language import (  # noqa: F401 - the db fixture
    NOW,
    Data,
    context,
    customer,
    db,
    store,
)

CLOCKS = [NOW, datetime(2024, 2, 29, 20, 30, tzinfo=UTC), datetime(2023, 12, 31, 16, 0, tzinfo=UTC),
          datetime(2024, 6, 15, 9, 0, tzinfo=UTC)]
_START, _END = date(2022, 6, 1), date(2025, 6, 30)

numbers = st.one_of(st.none(), st.integers(-20, 200).map(Decimal),
                    st.integers(-40, 400).map(lambda n: Decimal(n) / 2))
days = st.one_of(st.none(), st.dates(_START, _END))
moments = st.one_of(st.none(), st.integers(0, (_END - _START).days * 24 * 4).map(
    lambda q: datetime.combine(_START, datetime.min.time(), UTC) + timedelta(minutes=15 * q)))
names = st.sampled_from([None, "", "alice", "Alice Wang", "bob", "ab", "B"])
tags = st.one_of(st.none(), st.lists(st.sampled_from(["vip", "new", "老客"]), unique=True,
                                     max_size=3))


@st.composite
def datasets(draw: Any) -> Data:
    data = Data()
    item_id = loan_id = 0
    for cid in range(1, draw(st.integers(0, 6)) + 1):
        data.customers.append(customer(
            cid, name=draw(names), rating=draw(st.sampled_from([None, "A", "B", "C"])),
            balance=draw(numbers), credit_limit=draw(numbers),
            score=draw(st.one_of(st.none(), st.integers(-5, 20))), opened_on=draw(days),
            seen_at=draw(moments), active=draw(st.sampled_from([None, True, False])),
            tags=draw(tags)))
        for seq in range(draw(st.integers(0, 3))):
            item_id += 1
            data.items.append({"id": item_id, "parent_id": cid, "seq": seq,
                               "status": draw(st.sampled_from([None, "due", "paid", "overdue"])),
                               "amount": draw(numbers), "due_on": draw(days)})
        for _ in range(draw(st.integers(0, 2))):
            loan_id += 1
            data.loans.append({"id": loan_id, "customer": cid, "amount": draw(numbers),
                               "disbursed_on": draw(days)})
    return data


# --- trees ----------------------------------------------------------------------------------

COMPARE = ["=", "!=", "<", "<=", ">", ">="]
NUMERIC_FIELDS = ["balance", "credit_limit", "score"]
small = st.sampled_from(["0", "1", "2", "3", "0.5", "10", "100"])
literal_numbers = st.sampled_from([0, 1, 2, -1, "0.5", "1.5", 10, 50, 100, "99.5"])
whole_numbers = st.sampled_from([0, 1, 2, -1, 3, "10", 15])
units = st.sampled_from(["day", "week", "month", "quarter", "year"])


@st.composite
def arithmetic(draw: Any, depth: int = 2) -> str:
    """Whole-and-half arithmetic: exact in binary floating point too."""
    if depth == 0 or draw(st.booleans()):
        return str(draw(st.one_of(st.sampled_from(NUMERIC_FIELDS), small)))
    op = draw(st.sampled_from(["+", "-", "*"]))
    return f"({draw(arithmetic(depth - 1))} {op} {draw(arithmetic(depth - 1))})"


@st.composite
def formulas(draw: Any) -> tuple[str, Any]:
    """A numeric formula and a value to compare it with."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        text = f"{draw(arithmetic())} / {draw(st.sampled_from([*NUMERIC_FIELDS, '2', '0']))}"
    elif kind == 1:
        text = (f"IF({draw(st.sampled_from(NUMERIC_FIELDS))} {draw(st.sampled_from(COMPARE))} "
                f"{draw(small)}, {draw(arithmetic(1))}, {draw(small)})")
    elif kind == 2:
        text = f"COALESCE(score, {draw(small)}) + ABS({draw(arithmetic(1))})"
    elif kind == 3:
        text = f"{draw(st.sampled_from(['MIN', 'MAX']))}(balance, credit_limit, {draw(small)})"
    elif kind == 4:
        unit = draw(st.sampled_from(["D", "M", "Y"]))
        end = draw(st.sampled_from(["TODAY()", "DATE(seen_at)"]))
        text = f'DATEDIF(opened_on, {end}, "{unit}")'
    elif kind == 5:
        text = f"{draw(st.sampled_from(['YEAR', 'MONTH', 'DAY']))}(seen_at)"
    elif kind == 6:
        text = "LEN(name)"
    elif kind == 7:
        text = f"ROUND(balance * 0.5 - {draw(small)}, 0)"
    elif kind == 8:
        text = f"ROUND(balance / 3, {draw(st.integers(0, 2))})"
    else:
        text = draw(arithmetic())
    return text, draw(st.one_of(literal_numbers, st.integers(2000, 2030)))


@st.composite
def numeric_leaf(draw: Any) -> dict[str, Any]:
    left: dict[str, Any]
    literals = literal_numbers
    if draw(st.booleans()):
        left = {"field": draw(st.sampled_from(NUMERIC_FIELDS))}
        if left["field"] == "score":  # an integer field takes whole numbers only
            literals = whole_numbers
        value: Any = draw(st.one_of(literals,
                                    st.sampled_from(NUMERIC_FIELDS).map(lambda k: {"field": k}),
                                    arithmetic().map(lambda f: {"formula": f})))
    else:
        text, value = draw(formulas())
        left = {"formula": text}
    op = draw(st.sampled_from([*COMPARE, "between", "in", "not_in", "is_empty"]))
    if op == "between":
        return {**left, "op": op, "value": [value, draw(literals)]}
    if op in ("in", "not_in"):
        return {**left, "op": op, "value": draw(st.lists(literals, min_size=1, max_size=3))}
    if op == "is_empty":
        return {**left, "op": op}
    return {**left, "op": op, "value": value}


@st.composite
def date_leaf(draw: Any, key: str = "opened_on") -> dict[str, Any]:
    op = draw(st.sampled_from(["in_last", "in_next", "more_than_ago", "in_period", "<", ">=",
                               "between", "is_empty"]))
    node: dict[str, Any] = {"field": key, "op": op}
    if op in ("in_last", "in_next", "more_than_ago"):
        node["value"] = [draw(st.integers(0, 14)), draw(units)]
        if draw(st.booleans()):
            node["include_current"] = draw(st.booleans())
    elif op == "in_period":
        node["value"] = draw(st.sampled_from(["today", "week", "month", "quarter", "year"]))
        node["offset"] = draw(st.integers(-2, 1))
        if draw(st.booleans()):
            node["to_date"] = True
    elif op in ("<", ">="):
        node["value"] = draw(st.dates(_START, _END)).isoformat()
    elif op == "between":
        low = draw(st.dates(_START, _END))
        node["value"] = [low.isoformat(), (low + timedelta(days=draw(st.integers(0, 90))))
                         .isoformat()]
    return node


@st.composite
def moment_leaf(draw: Any) -> dict[str, Any]:
    if draw(st.booleans()):
        return draw(date_leaf("seen_at"))
    moment = draw(moments.filter(lambda m: m is not None))
    return {"field": "seen_at", "op": draw(st.sampled_from(COMPARE)),
            "value": moment.isoformat()}


@st.composite
def text_leaf(draw: Any) -> dict[str, Any]:
    op = draw(st.sampled_from(["=", "!=", "in", "not_in", "contains", "starts_with",
                               "ends_with", "is_empty", "is_not_empty"]))
    node: dict[str, Any] = {"field": "name", "op": op}
    words = st.sampled_from(["a", "A", "alice", "b", "Wang", "", "ang"])
    if op in ("in", "not_in"):
        node["value"] = draw(st.lists(words, min_size=1, max_size=3))
    elif op in ("contains", "starts_with", "ends_with"):
        node["value"] = draw(st.one_of(words, st.just({"field": "rating"}),
                                       st.just({"formula": "CONCAT(\"a\", rating)"})))
        if draw(st.booleans()):
            node["case_sensitive"] = draw(st.booleans())
    elif op in ("=", "!="):
        node["value"] = draw(words)
    return node


@st.composite
def misc_leaf(draw: Any) -> dict[str, Any]:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        op = draw(st.sampled_from(["=", "!=", "in", "not_in"]))
        ratings = st.sampled_from(["A", "B", "C"])
        return {"field": "rating", "op": op,
                "value": draw(ratings if op in ("=", "!=") else st.lists(ratings, min_size=1))}
    if choice == 1:
        return {"field": "active", "op": draw(st.sampled_from(["is_true", "is_false",
                                                                "is_empty"]))}
    if choice == 2:
        op = draw(st.sampled_from(["any_of", "all_of", "none_of", "=", "!=", "is_empty"]))
        node: dict[str, Any] = {"field": "tags", "op": op}
        if op != "is_empty":
            options = st.sampled_from(["vip", "new", "老客"])
            node["value"] = (draw(options) if op in ("=", "!=")
                             else draw(st.lists(options, min_size=1, max_size=3)))
        return node
    if choice == 3:
        return {"formula": draw(st.sampled_from([
            "ISBLANK(name)", "AND(active, score > 3)", "NOT(OR(rating = \"A\", balance > 50))",
            "DATE_ADD(opened_on, 1, \"M\") < TODAY()",
            "EDATE(opened_on, -3) >= DATE(\"2023-01-31\")",
            "CONCAT(name, rating) = \"aliceA\"", "IF(active, score, 0) > 2"])),
            "op": draw(st.sampled_from(["is_true", "is_false"]))}
    if choice == 4:
        return draw(moment_leaf())
    return draw(text_leaf())


@st.composite
def item_leaf(draw: Any) -> dict[str, Any]:
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return {"field": "status", "op": "in",
                "value": draw(st.lists(st.sampled_from(["due", "paid", "overdue"]),
                                       min_size=1, max_size=2))}
    if choice == 1:
        return {"field": "amount", "op": draw(st.sampled_from(COMPARE)),
                "value": draw(literal_numbers)}
    return draw(date_leaf("due_on"))


@st.composite
def lookup_leaf(draw: Any) -> dict[str, Any]:
    """A loan's condition on its customer's fields (``customer.rating``...), loans without a
    customer or pointing at a missing one included."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        op = draw(st.sampled_from(["=", "!=", "in", "not_in", "is_empty", "is_not_empty"]))
        node: dict[str, Any] = {"field": "customer.rating", "op": op}
        if op in ("=", "!="):
            node["value"] = draw(st.sampled_from(["A", "B", "C"]))
        elif op in ("in", "not_in"):
            node["value"] = draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=1))
        return node
    if choice == 1:
        return {"field": "customer.tags", "op": draw(st.sampled_from(["any_of", "none_of"])),
                "value": draw(st.lists(st.sampled_from(["vip", "new"]), min_size=1))}
    if choice == 2:
        return {"field": "amount", "op": draw(st.sampled_from(COMPARE)),
                "value": {"formula": draw(st.sampled_from([
                    "customer.balance", "0.5 * customer.credit_limit",
                    "IF(customer.active, customer.score, 0)"]))}}
    return {"field": "customer.score", "op": draw(st.sampled_from(COMPARE)),
            "value": draw(st.one_of(whole_numbers, st.just({"field": "amount"})))}


@st.composite
def related_leaf(draw: Any) -> dict[str, Any]:
    relation = draw(st.sampled_from([("customer", "items", "amount", "due_on"),
                                     ("loan", "customer", "amount", "disbursed_on")]))
    form, link, amount, when = relation
    spec: dict[str, Any] = {"form": form, "link": link}
    if draw(st.booleans()):
        spec["where"] = (draw(item_leaf()) if form == "customer"
                         else draw(st.one_of(date_leaf("disbursed_on"), lookup_leaf())))
    kind = draw(st.sampled_from(["exists", "not_exists", "count", "sum", "min", "max"]))
    if kind == "exists":
        return {"exists": spec}
    if kind == "not_exists":
        return {"not": {"exists": spec}}
    if kind == "count":
        return {"count": spec, "op": draw(st.sampled_from(COMPARE)),
                "value": draw(st.integers(0, 3))}
    if kind in ("min", "max") and draw(st.booleans()):
        op = draw(st.sampled_from(["<", ">=", "in_last", "more_than_ago"]))
        return {kind: {**spec, "field": when}, "op": op,
                "value": ([draw(st.integers(0, 12)), draw(units)] if op.isalpha() or "_" in op
                          else draw(st.dates(_START, _END)).isoformat())}
    value = draw(st.one_of(literal_numbers, st.just({"field": "balance"}),
                           st.just({"formula": "0.5 * credit_limit"})))
    return {kind: {**spec, "field": amount}, "op": draw(st.sampled_from(COMPARE)),
            "value": value}


leaves = st.one_of(numeric_leaf(), date_leaf(), misc_leaf(), related_leaf())


def _groups(children: Any) -> Any:
    return st.one_of(st.lists(children, min_size=1, max_size=3).map(lambda c: {"and": c}),
                     st.lists(children, min_size=1, max_size=3).map(lambda c: {"or": c}),
                     children.map(lambda c: {"not": c}))


trees = st.recursive(leaves, _groups, max_leaves=6)


def test_sql_and_python_agree_on_random_trees_and_data(db) -> None:  # noqa: F811
    engine, schema, cs = db
    table = schema.forms["customer"].table

    @settings(max_examples=500, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=datasets(), tree=trees, now=st.sampled_from(CLOCKS))
    def agree(data: Data, tree: dict[str, Any], now: datetime) -> None:
        ctx = context(cs, now)
        clause = compile_sql(tree, ctx)
        predicate = compile_predicate(tree, ctx)
        with engine.begin() as conn:
            store(conn, schema, data)
            in_sql = sorted(r.id for r in conn.execute(select(table.c.id).where(clause)))
        in_python = sorted(c["id"] for c in data.customers if predicate(c, data.related))
        assert in_sql == in_python, (tree, now)

    agree()
