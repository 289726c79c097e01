"""The demo portfolio: counts, reproducibility, valid identities, consistent loan books."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from apps.credit_template.amortization import add_months, schedule
from apps.credit_template.demo import DEMO_PASSWORD, bucket_for, generate_demo
from lendbase import db
from lendbase.errors import Conflict
from lendbase.forms.checks import check_id_number, check_mobile, check_uscc
from lendbase.forms.compile import CompiledSchema, compile_schema
from lendbase.forms.model import check_form
from lendbase.records.codec import context_for
from lendbase.security import FieldCipher, generate_key_string, verify_password

TEMPLATE = Path(__file__).resolve().parents[1] / "apps" / "credit_template"
TODAY = date(2026, 3, 15)
LOCAL = ZoneInfo("Asia/Shanghai")


def template_schema() -> CompiledSchema:
    app = json.loads((TEMPLATE / "app.json").read_text(encoding="utf-8"))
    forms = [check_form(json.loads((TEMPLATE / "forms" / f"{key}.json").read_text("utf-8")))
             for key in app["forms"]]
    return compile_schema([(form, (), "", 1) for form in forms])


def _run(session: Session, schema: CompiledSchema, cipher: FieldCipher, **kwargs: Any):
    db.platform_metadata.create_all(session.get_bind())  # no-op if the fixture made them
    schema.metadata.create_all(session.get_bind())
    return generate_demo(session, schema, cipher, today=TODAY, **kwargs)


def _rows(session: Session, schema: CompiledSchema, form: str) -> list[Any]:
    table = schema[form].table
    return list(session.execute(select(table).order_by(table.c.id)).mappings())


def _plain(cipher: FieldCipher, form: str, field_key: str, token: str | None) -> str | None:
    return None if token is None else cipher.decrypt(token, context_for(form, field_key))


def _local_date(value: Any) -> date:
    if value.tzinfo is None:  # SQLite gives naive UTC
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(LOCAL).date()


@pytest.fixture(scope="module")
def schema() -> CompiledSchema:
    return template_schema()


def test_demo_portfolio(session: Session, schema: CompiledSchema) -> None:
    cipher = FieldCipher.from_key_string(generate_key_string())
    stages: list[str] = []
    summary = _run(session, schema, cipher, seed=7, customers=60, progress=stages.append)

    # counts: what the summary says is what the tables hold, every form has records
    app = json.loads((TEMPLATE / "app.json").read_text(encoding="utf-8"))
    for form in app["forms"]:
        held = session.execute(select(func.count()).select_from(schema[form].table)).scalar()
        assert summary.counts[form] == held > 0, form
    assert summary.counts["customer"] == 60
    assert 6 <= summary.counts["loan_product"] <= 8
    assert summary.business_date == TODAY
    assert len(stages) == len(app["forms"]) + 1
    audit = session.execute(select(func.count()).select_from(db.audit)).scalar()
    assert audit == summary.records  # every record went through the service

    # organisation: app.json roles and departments, staff sharing one password hash
    role_keys = set(session.execute(select(db.role.c.key)).scalars())
    assert {r["key"] for r in app["roles"]} <= role_keys
    users = {r.username: r for r in session.execute(select(db.user))}
    assert summary.users == len(users) and {f"am{i:02d}" for i in range(1, 13)} <= set(users)
    assert len({u.password_hash for u in users.values()}) == 1
    assert verify_password(users["am01"].password_hash, DEMO_PASSWORD)
    ams = set(session.execute(
        select(db.user_role.c.user_id).join(db.role, db.role.c.id == db.user_role.c.role_id)
        .where(db.role.c.key == "account_manager")).scalars())
    departments = set(session.execute(select(db.department.c.name)).scalars())
    assert {"总部", "华东一组", "催收一组"} <= departments

    # customers: valid identities, owned by their account manager
    customers = _rows(session, schema, "customer")
    for c in customers:
        assert c["owner_id"] == c["account_manager"] and c["owner_id"] in ams
        assert check_mobile(_plain(cipher, "customer", "mobile", c["mobile"])) is None
        if c["customer_type"] == "individual":
            number = _plain(cipher, "customer", "id_number", c["id_number"])
            assert check_id_number(number, TODAY) is None
            assert number[6:14] == f"{c['birth_date']:%Y%m%d}"
            assert int(number[16]) % 2 == (1 if c["gender"] == "male" else 0)
        else:
            assert check_uscc(c["uscc"]) is None
            rep = _plain(cipher, "customer", "legal_rep_id_number", c["legal_rep_id_number"])
            assert check_id_number(rep, TODAY) is None
    assert 0 < sum(c["customer_type"] == "enterprise" for c in customers) < 30
    for g in _rows(session, schema, "guarantor"):
        if g["id_number"] is not None:
            assert check_id_number(_plain(cipher, "guarantor", "id_number", g["id_number"]),
                                   TODAY) is None

    # applications: disbursed ones have exactly one loan
    apps = _rows(session, schema, "loan_application")
    statuses = {a["status"] for a in apps}
    assert "disbursed" in statuses and len(statuses) >= 3
    loans = _rows(session, schema, "loan")
    disbursed = {a["id"] for a in apps if a["status"] == "disbursed"}
    assert sorted(loan["application"] for loan in loans) == sorted(disbursed)

    # schedules: real amortization, principal sums to the loan principal
    by_loan: dict[int, list[Any]] = defaultdict(list)
    for inst in _rows(session, schema, "installment"):
        by_loan[inst["loan"]].append(inst)
    repaid: dict[int, list[Any]] = defaultdict(list)
    repayments = _rows(session, schema, "repayment")
    for r in repayments:
        repaid[r["loan"]].append(r)
    assert set(by_loan) == {loan["id"] for loan in loans}
    for loan in loans:
        insts = sorted(by_loan[loan["id"]], key=lambda i: i["period_no"])
        assert sum(i["principal_due"] for i in insts) == loan["principal"]
        first_due = add_months(loan["disbursed_on"], 1, loan["repayment_day"])
        expected = schedule(loan["principal"], loan["annual_rate"], loan["term_months"],
                            loan["amortization"], first_due)
        assert [i["principal_due"] for i in insts] == [p.principal_due for p in expected]
        assert [i["due_date"] for i in insts] == [p.due_date for p in expected]
        assert loan["maturity_date"] == insts[-1]["due_date"]
        _check_loan_state(loan, insts, repaid[loan["id"]])

    # repayment histories: each kind of timing occurs
    due_of = {i["id"]: i["due_date"] for insts in by_loan.values() for i in insts}
    kinds: dict[str, int] = defaultdict(int)
    for r in repayments:
        assert r["amount"] == r["principal"] + r["interest"] + r["fee"] + r["penalty"] > 0
        assert _local_date(r["paid_at"]) <= TODAY
        if r["payment_type"] == "early":
            kinds["early"] += 1
            continue
        paid, due = _local_date(r["paid_at"]), due_of[r["installment"]]
        kinds["on_time" if paid < due else "last_day" if paid == due else "late"] += 1
    assert set(kinds) == {"early", "on_time", "last_day", "late"}
    assert dict(kinds) == summary.repayment_kinds
    assert any(r["payment_type"] == "partial" for r in repayments)
    assert {loan["status"] for loan in loans} >= {"active", "overdue", "settled"}

    # customers: balance and stage follow their loans
    open_balance: dict[int, Decimal] = defaultdict(Decimal)
    for loan in loans:
        if loan["status"] in ("active", "overdue"):
            open_balance[loan["customer"]] += loan["outstanding_principal"]
    for c in customers:
        assert c["balance"] == open_balance[c["id"]]
        if open_balance[c["id"]]:
            assert c["lifecycle_stage"] in ("disbursed", "repaying")
        assert c["credit_limit"] >= max((loan["principal"] for loan in loans
                                         if loan["customer"] == c["id"]), default=0)


def _check_loan_state(loan: Any, insts: list[Any], repayments: list[Any]) -> None:
    """Installments agree with the repayments; the loan agrees with its installments."""
    parts = ("principal", "interest", "fee", "penalty")
    for part in parts:
        assert sum(i[f"{part}_paid"] for i in insts) == sum(r[part] for r in repayments)
    for r in repayments:
        if r["installment"] is not None:
            inst = next(i for i in insts if i["id"] == r["installment"])
            assert _local_date(r["paid_at"]) <= (inst["paid_in_full_on"] or TODAY)
    overdue = []
    for i in insts:
        unpaid = sum(i[f"{p}_due"] - i[f"{p}_paid"] for p in parts)
        assert unpaid >= 0
        assert (i["status"] == "paid") == (unpaid == 0) == (i["paid_in_full_on"] is not None)
        if i["status"] == "overdue":
            assert i["due_date"] < TODAY and i["overdue_days"] == (TODAY - i["due_date"]).days
            overdue.append(i)
        if i["status"] == "pending":
            assert i["principal_paid"] + i["interest_paid"] == 0
    oldest = min((i["due_date"] for i in overdue), default=None)
    dpd = (TODAY - oldest).days if oldest else 0
    assert loan["dpd"] == dpd and loan["bucket"] == bucket_for(dpd)
    paid_principal = sum(i["principal_paid"] for i in insts)
    assert loan["outstanding_principal"] == loan["principal"] - paid_principal
    assert (loan["status"] == "settled") == all(i["status"] == "paid" for i in insts)
    if loan["status"] in ("active", "settled"):
        assert dpd == 0
    else:
        assert dpd > 0
    if repayments:
        assert loan["last_repaid_on"] == max(_local_date(r["paid_at"]) for r in repayments)
    overdue_amount = sum((sum(i[f"{p}_due"] - i[f"{p}_paid"] for p in parts) for i in overdue),
                         Decimal(0))
    assert loan["overdue_amount"] == overdue_amount


def _fingerprint(engine: Engine, schema: CompiledSchema, cipher: FieldCipher) -> list[Any]:
    with Session(engine) as s:
        customers = [(c["customer_no"], c["name"],
                      _plain(cipher, "customer", "id_number", c["id_number"]),
                      _plain(cipher, "customer", "mobile", c["mobile"]), c["credit_limit"])
                     for c in _rows(s, schema, "customer")]
        loans = [(r["loan_no"], r["contract_no"], r["principal"], r["disbursed_on"], r["dpd"])
                 for r in _rows(s, schema, "loan")]
        payments = [(r["repayment_no"], r["amount"], r["paid_at"])
                    for r in _rows(s, schema, "repayment")]
    return [customers, loans, payments]


def _fresh_sqlite(path: Path) -> Engine:
    engine = db.make_engine(f"sqlite:///{path}")
    db.platform_metadata.create_all(engine)
    return engine


def test_demo_is_reproducible_from_its_seed(tmp_path: Path, schema: CompiledSchema) -> None:
    prints = []
    for run, seed in enumerate((11, 11, 12)):
        engine = _fresh_sqlite(tmp_path / f"demo{run}.db")
        cipher = FieldCipher.from_key_string(generate_key_string())  # other key, same data
        with Session(engine) as s:
            _run(s, schema, cipher, seed=seed, customers=25)
            s.commit()
        prints.append(_fingerprint(engine, schema, cipher))
        engine.dispose()
    assert prints[0] == prints[1]
    assert len(prints[0][0]) == 25 and prints[0][1] and prints[0][2]
    assert [c[1:3] for c in prints[0][0]] != [c[1:3] for c in prints[2][0]]


def test_demo_refuses_a_database_that_has_customers(tmp_path: Path,
                                                    schema: CompiledSchema) -> None:
    engine = _fresh_sqlite(tmp_path / "twice.db")
    cipher = FieldCipher.from_key_string(generate_key_string())
    with Session(engine) as s:
        _run(s, schema, cipher, customers=2)
        with pytest.raises(Conflict, match="fresh database"):
            _run(s, schema, cipher, customers=2)
    engine.dispose()
