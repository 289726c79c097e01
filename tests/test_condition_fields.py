"""What the visual condition builder may offer on a form (lendbase.web.condition_fields) and
the condition playground's endpoints (lendbase.web.condition_views): fields with their types,
options and flags, related records (sub-tables and referencing forms, two levels deep), the
fields of referenced records (``loan.borrower.rating``), and that everything offered is
accepted by the condition compilers; then the playground page and
its count through Flask's test client on SQLite."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from lendbase import db
from lendbase.conditions import ConditionContext, ConditionSchema, compile_sql
from lendbase.errors import NotFound
from lendbase.forms.compile import CompiledSchema, compile_schema
from lendbase.forms.model import check_form
from lendbase.web.condition_fields import related_field_groups

PASSWORD = "secret-pass-7"
_NOW = datetime(2024, 5, 15, 4, 0, tzinfo=UTC)


def _label(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def _option(value: str, zh: str, en: str) -> dict[str, Any]:
    return {"value": value, "label": _label(zh, en)}


def customer_form() -> dict[str, Any]:
    return {"key": "customer", "label": _label("客户", "Customer"), "title_field": "name",
            "fields": [
                {"key": "name", "type": "text", "label": _label("名称", "Name"),
                 "required": True},
                {"key": "rating", "type": "select", "label": _label("评级", "Rating"),
                 "options": [_option("A", "A 级", "Grade A"), _option("B", "B 级", "Grade B"),
                             _option("C", "C 级", "Grade C")]},
                {"key": "balance", "type": "money", "label": _label("贷款余额", "Balance")},
                {"key": "credit_limit", "type": "money",
                 "label": _label("授信额度", "Credit limit")},
                {"key": "utilisation", "type": "computed",
                 "label": _label("额度使用率", "Utilisation"),
                 "formula": "balance / credit_limit", "result_type": "decimal"},
                {"key": "tags", "type": "multiselect", "label": _label("标签", "Tags"),
                 "options": [_option("vip", "贵宾", "VIP"),
                             _option("salary", "代发工资", "Payroll")]},
                {"key": "id_no", "type": "id_number", "label": _label("身份证号", "ID number"),
                 "sensitive": True, "indexed": True},
                {"key": "memo", "type": "text", "label": _label("备注", "Memo"),
                 "sensitive": True},
                {"key": "opened_on", "type": "date", "label": _label("开户日", "Opened on")},
                {"key": "blacklisted", "type": "boolean",
                 "label": _label("黑名单", "Blacklisted")},
                {"key": "photo", "type": "file", "label": _label("照片", "Photo")},
                {"key": "contacts", "type": "subtable", "label": _label("联系人", "Contacts"),
                 "fields": [
                     {"key": "name", "type": "text", "label": _label("姓名", "Name")},
                     {"key": "phone", "type": "phone", "label": _label("电话", "Phone")}]},
            ]}


def installment_form() -> dict[str, Any]:
    return {"key": "installment", "label": _label("还款计划", "Installment"),
            "fields": [
                {"key": "customer", "type": "reference", "label": _label("客户", "Customer"),
                 "target": "customer", "required": True},
                {"key": "status", "type": "select", "label": _label("状态", "Status"),
                 "options": [_option("due", "待还", "Due"), _option("paid", "已还", "Paid"),
                             _option("overdue", "逾期", "Overdue")]},
                {"key": "due_date", "type": "date", "label": _label("到期日", "Due date")},
                {"key": "amount", "type": "money", "label": _label("金额", "Amount")},
            ]}


def _loan_forms() -> list[dict[str, Any]]:
    """A loan referencing the customer (by its borrower and its guarantor) and a repayment
    referencing the loan: related records two levels down."""
    return [
        {"key": "loan", "label": _label("贷款", "Loan"), "fields": [
            {"key": "borrower", "type": "reference", "label": _label("借款人", "Borrower"),
             "target": "customer"},
            {"key": "guarantor", "type": "reference", "label": _label("担保人", "Guarantor"),
             "target": "customer"},
            {"key": "principal", "type": "money", "label": _label("本金", "Principal")}]},
        {"key": "repayment", "label": _label("还款", "Repayment"), "fields": [
            {"key": "loan", "type": "reference", "label": _label("贷款", "Loan"),
             "target": "loan"},
            {"key": "paid_on", "type": "date", "label": _label("还款日", "Paid on")}]},
    ]


@pytest.fixture(scope="module")
def schema() -> CompiledSchema:
    docs = [customer_form(), installment_form(), *_loan_forms()]
    return compile_schema([(check_form(doc), (), "", 1) for doc in docs])


def by_key(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in items}


def groups_by_link(groups: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The related-records groups (the fields of referenced records left aside)."""
    return {(g["form"], g["link"]): g for g in groups if "form" in g}


def lookups(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The groups of fields of referenced records, by reference path."""
    return {g["key"]: g for g in groups if g.get("kind") == "lookup"}


def test_fields_carry_type_options_and_flags_in_the_language(schema: CompiledSchema) -> None:
    zh = related_field_groups(schema, "customer", "zh")
    fields = by_key(zh["fields"])
    # files and sub-tables are not compared; system times are offered
    assert list(fields) == ["name", "rating", "balance", "credit_limit", "utilisation", "tags",
                            "id_no", "memo", "opened_on", "blacklisted", "created_at",
                            "updated_at"]
    assert fields["rating"] == {"key": "rating", "label": "评级", "type": "select", "options": [
        {"value": "A", "label": "A 级"}, {"value": "B", "label": "B 级"},
        {"value": "C", "label": "C 级"}]}
    assert fields["utilisation"] == {"key": "utilisation", "label": "额度使用率",
                                     "type": "decimal", "computed": True}
    # encrypted: equality only through the keyed hash, which only indexed / unique fields have
    assert fields["id_no"]["sensitive"] is True and fields["id_no"]["hashed"] is True
    assert fields["memo"]["sensitive"] is True and "hashed" not in fields["memo"]
    assert fields["created_at"] == {"key": "created_at", "label": "创建时间", "type": "datetime"}
    en = related_field_groups(schema, "customer", "en")
    assert by_key(en["fields"])["tags"]["options"][1] == {"value": "salary", "label": "Payroll"}
    assert json.loads(json.dumps(en)) == en  # plain JSON for the page


def test_related_records_are_sub_tables_and_referencing_forms(schema: CompiledSchema) -> None:
    groups = groups_by_link(related_field_groups(schema, "customer", "en")["fieldGroups"])
    assert list(groups) == [("customer", "contacts"), ("installment", "customer"),
                            ("loan", "borrower"), ("loan", "guarantor")]
    contacts = groups[("customer", "contacts")]
    assert contacts["kind"] == "subtable" and contacts["label"] == "Contacts"
    assert [f["key"] for f in contacts["fields"]] == ["name", "phone"]
    assert "fieldGroups" not in contacts  # sub-table rows relate to nothing further
    installment = groups[("installment", "customer")]
    assert (installment["kind"], installment["label"], installment["linkLabel"]) == (
        "reference", "Installment", "Customer")
    # the link itself is left out: it always points at the record the condition is about
    assert [f["key"] for f in installment["fields"]] == ["status", "due_date", "amount",
                                                         "created_at", "updated_at"]
    assert installment["fieldGroups"] == []
    borrower = groups[("loan", "borrower")]
    assert "guarantor" in by_key(borrower["fields"]) and "borrower" not in by_key(
        borrower["fields"])
    nested = groups_by_link(borrower["fieldGroups"])
    assert list(nested) == [("repayment", "loan")]
    assert nested[("repayment", "loan")]["fieldGroups"] == []  # two levels by default
    one_level = related_field_groups(schema, "customer", "en", depth=1)["fieldGroups"]
    assert all(groups_by_link(g.get("fieldGroups", [])) == {} for g in one_level)


def test_hidden_fields_and_unknown_forms(schema: CompiledSchema) -> None:
    hidden = {"customer": {"balance", "contacts"}, "installment": {"amount"},
              "loan": {"guarantor"}}
    out = related_field_groups(schema, "customer", "en", hidden_fields=hidden)
    assert "balance" not in by_key(out["fields"])
    groups = groups_by_link(out["fieldGroups"])
    assert ("customer", "contacts") not in groups and ("loan", "guarantor") not in groups
    assert "amount" not in by_key(groups[("installment", "customer")]["fields"])
    with pytest.raises(NotFound):
        related_field_groups(schema, "nope", "en")


@pytest.mark.parametrize("form_key", ["customer", "loan", "repayment"])
def test_everything_offered_is_accepted_by_the_sql_compiler(schema: CompiledSchema,
                                                            form_key: str) -> None:
    """Each offered field, field of a referenced record and related group, used the way the
    builder would, compiles."""
    conditions = ConditionSchema.from_compiled(schema)
    context = ConditionContext.for_form(conditions, form_key, now=_NOW,
                                        lookup_hash=lambda scope, key, text: f"h:{text}")

    def check(field: dict[str, Any], wrap: Any) -> None:
        compile_sql(wrap({"field": field["key"], "op": "is_empty"}), context)
        if field.get("hashed"):  # encrypted, compared through the keyed hash
            compile_sql(wrap({"field": field["key"], "op": "=",
                              "value": "11010519491231002X"}), context)

    def walk(groups: list[dict[str, Any]], wrap: Any) -> int:
        n = 0
        for group in groups:
            if group.get("kind") == "lookup":  # fields of a referenced record: dotted keys
                for field in group["fields"]:
                    check(field, wrap)
                    n += 1
                continue
            spec = {"form": group["form"], "link": group["link"]}
            for field in group["fields"]:
                check(field, lambda node, spec=spec: wrap({"exists": {**spec, "where": node}}))
                n += 1
            inner = group.get("fieldGroups", [])
            n += walk(inner, lambda node, spec=spec: wrap(
                {"exists": {**spec, "where": node}}))
        return n

    offered = related_field_groups(schema, form_key, "en")
    for field in offered["fields"]:
        check(field, lambda node: node)
    assert walk(offered["fieldGroups"], lambda node: node) > 10


def test_fields_of_referenced_records_two_references_deep(schema: CompiledSchema) -> None:
    zh = related_field_groups(schema, "repayment", "zh")["fieldGroups"]
    found = lookups(zh)
    # each reference's group, then the groups of its target's references right after it
    assert list(found) == ["loan", "loan.borrower", "loan.guarantor"]
    loan = found["loan"]
    assert (loan["kind"], loan["target"], loan["label"]) == ("lookup", "loan", "贷款")
    assert "form" not in loan and "link" not in loan  # a group of the field menu
    assert [f["key"] for f in loan["fields"]] == [
        "loan.borrower", "loan.guarantor", "loan.principal", "loan.created_at",
        "loan.updated_at"]
    borrower = found["loan.borrower"]
    assert (borrower["target"], borrower["label"]) == ("customer", "贷款 › 借款人")
    fields = by_key(borrower["fields"])
    # files and sub-tables of the customer are not offered, as on the customer itself
    assert list(fields) == [f"loan.borrower.{k}" for k in (
        "name", "rating", "balance", "credit_limit", "utilisation", "tags", "id_no", "memo",
        "opened_on", "blacklisted", "created_at", "updated_at")]
    assert fields["loan.borrower.rating"] == {
        "key": "loan.borrower.rating", "label": "贷款 › 借款人 › 评级", "type": "select",
        "options": [{"value": "A", "label": "A 级"}, {"value": "B", "label": "B 级"},
                    {"value": "C", "label": "C 级"}]}
    assert fields["loan.borrower.utilisation"]["computed"] is True
    # encrypted fields keep their flags: equality only with the keyed hash
    assert fields["loan.borrower.id_no"]["sensitive"] is True
    assert fields["loan.borrower.id_no"]["hashed"] is True
    assert fields["loan.borrower.memo"]["sensitive"] is True
    assert "hashed" not in fields["loan.borrower.memo"]
    en = lookups(related_field_groups(schema, "repayment", "en")["fieldGroups"])
    assert en["loan"]["label"] == "Loan"
    assert by_key(en["loan.guarantor"]["fields"])["loan.guarantor.rating"]["label"] == (
        "Loan › Guarantor › Rating")
    # on the loan: one reference deep (the customer references nothing)
    on_loan = lookups(related_field_groups(schema, "loan", "en")["fieldGroups"])
    assert list(on_loan) == ["borrower", "guarantor"]
    assert by_key(on_loan["borrower"]["fields"])["borrower.credit_limit"] == {
        "key": "borrower.credit_limit", "label": "Borrower › Credit limit", "type": "money"}
    assert lookups(related_field_groups(schema, "customer", "en")["fieldGroups"]) == {}


def test_fields_of_referenced_records_inside_related_records(schema: CompiledSchema) -> None:
    """A referencing form's group offers its own references' fields, one reference deep and
    without the link back to the record the condition is about."""
    groups = groups_by_link(related_field_groups(schema, "customer", "zh")["fieldGroups"])
    borrower = lookups(groups[("loan", "borrower")]["fieldGroups"])
    assert list(borrower) == ["guarantor"]
    assert by_key(borrower["guarantor"]["fields"])["guarantor.rating"]["label"] == "担保人 › 评级"
    nested = groups_by_link(groups[("loan", "borrower")]["fieldGroups"])
    assert lookups(nested[("repayment", "loan")]["fieldGroups"]) == {}
    assert lookups(groups[("installment", "customer")]["fieldGroups"]) == {}


def test_fields_of_referenced_records_respect_hidden_fields_and_readable_forms(
        schema: CompiledSchema) -> None:
    hidden = {"customer": {"balance", "id_no"}, "loan": {"guarantor"}}
    found = lookups(related_field_groups(schema, "repayment", "en",
                                         hidden_fields=hidden)["fieldGroups"])
    # a hidden reference is not followed; hidden fields of the target are not offered
    assert list(found) == ["loan", "loan.borrower"]
    assert "loan.guarantor" not in by_key(found["loan"]["fields"])
    borrower = by_key(found["loan.borrower"]["fields"])
    assert "loan.borrower.balance" not in borrower and "loan.borrower.id_no" not in borrower
    assert "loan.borrower.rating" in borrower
    # a form the reader cannot read is neither followed nor related
    readable = related_field_groups(schema, "repayment", "en", forms={"loan", "repayment"})
    assert list(lookups(readable["fieldGroups"])) == ["loan"]
    on_customer = related_field_groups(schema, "customer", "en", forms={"customer", "loan"})
    assert list(groups_by_link(on_customer["fieldGroups"])) == [
        ("customer", "contacts"), ("loan", "borrower"), ("loan", "guarantor")]


def test_deeper_references_stay_within_the_budget(schema: CompiledSchema, monkeypatch) -> None:
    from lendbase.web import condition_fields

    monkeypatch.setattr(condition_fields, "MAX_LOOKUP_FIELDS", 20)
    found = lookups(related_field_groups(schema, "repayment", "en")["fieldGroups"])
    # the loan's own fields (5) always; one customer (12) fits, the second does not
    assert list(found) == ["loan", "loan.borrower"]
    assert sum(len(g["fields"]) for g in found.values()) <= 20
    monkeypatch.setattr(condition_fields, "MAX_LOOKUP_FIELDS", 1)
    assert list(lookups(related_field_groups(schema, "repayment", "en")["fieldGroups"])) == [
        "loan"]
    one = related_field_groups(schema, "repayment", "en")
    assert lookups(condition_fields.lookup_field_groups(
        schema, schema.forms["repayment"].form, "en", depth=1)) == lookups(one["fieldGroups"])


# --- the playground ------------------------------------------------------------------------

@pytest.fixture
def site(tmp_path):
    from lendbase.app import create_app
    from lendbase.auth.users import create_user, ensure_role
    from lendbase.config import load_settings
    from lendbase.forms.publish import publish_form
    from lendbase.meta.store import MetadataStore
    from lendbase.records.permissions import Actor
    from lendbase.records.service import RecordService

    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path)}))
    app.config["TESTING"] = True
    state = app.extensions["lendbase"]
    db.platform_metadata.create_all(state.engine)
    with state.sessions.begin() as session:
        ensure_role(session, "admin", _label("管理员", "Administrator"), superuser=True)
        ensure_role(session, "account_manager")
        create_user(session, "admin", PASSWORD, ["admin"])
        create_user(session, "am1", PASSWORD, ["account_manager"])
        for doc in (customer_form(), installment_form()):
            MetadataStore(session, None).create("forms", doc)
            publish_form(session, None, doc["key"], confirm=True)
    with state.sessions.begin() as session:
        service = RecordService(session, state.registry.schema(session), Actor.system(),
                                state.cipher)
        recent = (date.today() - timedelta(days=40)).isoformat()
        for name, rating, overdue in (("a1", "A", False), ("a2", "A", True), ("b1", "B", False)):
            rec = service.create("customer", {"name": name, "rating": rating,
                                              "id_no": "11010519491231002X"})
            if overdue:
                service.create("installment", {"customer": rec["id"], "status": "overdue",
                                               "due_date": recent})
    yield app
    state.engine.dispose()


def _login(client, username: str = "admin") -> str:
    page = client.get("/login")
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": form_token})
    assert response.status_code == 302
    home = client.get("/").text
    return re.search(r'name="csrf-token" content="([^"]+)"', home).group(1)


def _boot(html: str) -> dict[str, Any]:
    raw = re.search(r'<script type="application/json" id="pg-boot">(.*?)</script>', html, re.S)
    assert raw, "the page has no boot data"
    return json.loads(raw.group(1))


def test_the_playground_page_offers_the_form_and_its_related_records(site) -> None:
    client = site.test_client()
    _login(client)
    page = client.get("/admin/conditions/try?form=customer")
    assert page.status_code == 200
    boot = _boot(page.text)
    assert boot["form"] == "customer" and boot["lang"] == "zh"
    assert [(g["form"], g["link"]) for g in boot["fieldGroups"]] == [
        ("customer", "contacts"), ("installment", "customer")]
    assert boot["strings"]["add_related"] == "添加关联记录条件"
    assert boot["value"] is None
    tree = {"field": "rating", "op": "=", "value": "A"}
    shared = client.get("/admin/conditions/try", query_string={
        "form": "customer", "value": json.dumps(tree)})
    assert _boot(shared.text)["value"] == tree
    broken = client.get("/admin/conditions/try?form=customer&value=[1")
    assert _boot(broken.text)["value"] is None and 'id="pg-notice"' in broken.text
    assert client.get("/admin/conditions/try?form=nope").status_code == 404
    assert client.get("/admin/conditions/try").status_code == 200  # the first form


def test_count_matches_with_related_records_and_refuses_bad_conditions(site) -> None:
    client = site.test_client()
    csrf = _login(client)

    def count(where: Any, form: Any = "customer") -> Any:
        return client.post("/admin/conditions/count", json={"form": form, "where": where},
                           headers={"X-CSRFToken": csrf})

    no_overdue = {"and": [{"field": "rating", "op": "=", "value": "A"}, {"not": {"exists": {
        "form": "installment", "link": "customer", "where": {"and": [
            {"field": "status", "op": "=", "value": "overdue"},
            {"field": "due_date", "op": "in_last", "value": [12, "month"]}]}}}}]}
    response = count(no_overdue)
    assert response.status_code == 200
    assert response.json["count"] == 1
    assert [r["title"] for r in response.json["sample"]] == ["a1"]
    assert response.json["sample"][0]["url"].startswith("/f/customer/")
    assert count(None).json["count"] == 3
    # the encrypted field compares through its keyed hash
    assert count({"field": "id_no", "op": "=", "value": "11010519491231002X"}).json[
        "count"] == 3
    refused = count({"field": "balance", "op": "<", "value": {"formula": "0.5 * "}})
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "formula_syntax"
    assert "does not parse" in refused.json["error"]["message"]
    typed = count({"field": "balance", "op": "<", "value": {"formula": "0.5 * name"}})
    assert typed.status_code == 422 and "name" in typed.json["error"]["message"]
    assert count({"field": "memo", "op": "=", "value": "x"}).status_code == 422  # no hash
    assert count([1]).status_code == 422
    assert count(None, form="nope").status_code == 404
    no_csrf = client.post("/admin/conditions/count", json={"form": "customer", "where": None})
    assert no_csrf.status_code == 400


def test_the_playground_is_for_administrators_only(site) -> None:
    client = site.test_client()
    csrf = _login(client, "am1")
    assert client.get("/admin/conditions/try?form=customer").status_code == 403
    response = client.post("/admin/conditions/count", json={"form": "customer", "where": None},
                           headers={"X-CSRFToken": csrf})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "permission_denied"
