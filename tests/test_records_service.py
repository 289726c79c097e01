"""The record service on SQLite and PostgreSQL: validation, audit, concurrency, permissions,
encryption and masking, keyset pagination."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.auth.users import create_user, ensure_department, ensure_role, load_actor
from lendbase.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lendbase.forms.compile import compile_schema
from lendbase.forms.model import check_form
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService
from lendbase.security import FieldCipher, generate_key_string
from tests.sample_forms import loan_form, person_form

CIPHER = FieldCipher.from_key_string(generate_key_string())
VALID_ID = "11010519491231002X"
OTHER_ID = "360426199101010071"


@pytest.fixture
def schema(engine):
    compiled = compile_schema([(check_form(person_form()), (), "p", 1),
                               (check_form(loan_form()), (), "l", 1)])
    compiled.metadata.create_all(engine)
    return compiled


@pytest.fixture
def users(session: Session) -> dict[str, Actor]:
    for role in ("manager", "auditor"):
        ensure_role(session, role)
    ensure_role(session, "admin", superuser=True)
    team = ensure_department(session, "华东一组", None)
    ids = {
        "admin": create_user(session, "admin", "admin-pass-1", ["admin"]),
        "am1": create_user(session, "am1", "manager-pass-1", ["manager"], department_id=team),
        "am2": create_user(session, "am2", "manager-pass-2", ["manager"]),
        "auditor": create_user(session, "auditor", "auditor-pass-1", ["auditor"]),
    }
    return {name: load_actor(session, uid, "en") for name, uid in ids.items()}


def service(session, schema, actor) -> RecordService:
    return RecordService(session, schema, actor, CIPHER,
                         clock=lambda: datetime(2026, 11, 28, 8, 0, tzinfo=UTC))


def new_person(svc: RecordService, **values):
    data = {"name": "张三", "kind": "individual", "id_number": VALID_ID,
            "mobile": "13812345678", "income": "8000.50"}
    data.update(values)
    return svc.create("person", data)


def test_create_validates_every_field_at_once(session, schema, users) -> None:
    svc = service(session, schema, users["am1"])
    with pytest.raises(ValidationFailed) as info:
        svc.create("person", {"name": "x" * 21, "kind": "individual",
                              "id_number": "110105194912310021", "income": "1.234",
                              "contacts": [{"phone": "123"}], "bogus": 1})
    fields = info.value.fields
    assert set(fields) == {"name", "id_number", "income", "contacts.0.name", "contacts.0.phone",
                           "bogus"}
    assert "check character" in fields["id_number"][0]
    assert "3 decimals; money allows 2" in fields["income"][0]


def test_create_read_masked_and_audited(session, schema, users) -> None:
    svc = service(session, schema, users["am1"])
    record = new_person(svc, contacts=[{"name": "李四", "phone": "13900001111"}],
                        tags=["new", "vip"])
    assert record["person_no"] == "P-2026-0001"
    assert record["id_number"] == "110105********002X"
    assert record["mobile"] == "138****5678"
    assert record["income"] == Decimal("8000.50")
    assert record["tags"] == ["vip", "new"]  # option order
    assert record["contacts"][0]["name"] == "李四"
    raw = session.execute(select(schema["person"].table.c.id_number)).scalar()
    assert VALID_ID not in raw and raw.startswith("v1:")
    history = svc.history("person", record["id"])
    assert history[0]["action"] == "create"
    assert history[0]["changes"]["id_number"] == [None, "110105********002X"]


def test_hidden_field_is_neither_required_nor_saved(session, schema, users) -> None:
    svc = service(session, schema, users["am1"])
    record = svc.create("person", {"name": "某公司", "kind": "enterprise", "id_number": "junk"})
    assert record["id_number"] is None


def test_unique_sensitive_value_checked_through_keyed_hash(session, schema, users) -> None:
    svc = service(session, schema, users["am1"])
    new_person(svc)
    with pytest.raises(ValidationFailed) as info:
        new_person(svc, name="李四")
    assert "already used" in info.value.fields["id_number"][0]


def test_stale_version_conflicts_and_update_is_audited(session, schema, users) -> None:
    svc = service(session, schema, users["am1"])
    record = new_person(svc)
    updated = svc.update("person", record["id"], {"income": "9000"}, expected_version=1)
    assert updated["version"] == 2
    with pytest.raises(Conflict):
        svc.update("person", record["id"], {"income": "9500"}, expected_version=1)
    # sending the masked value back means "unchanged"
    same = svc.update("person", record["id"], {"id_number": "110105********002X"},
                      expected_version=2)
    assert same["version"] == 2
    history = svc.history("person", record["id"])
    assert history[0]["changes"] == {"income": ["8000.50", "9000.00"]}


def test_row_scope_gives_404_not_data(session, schema, users) -> None:
    mine = new_person(service(session, schema, users["am1"]))
    other = service(session, schema, users["am2"])
    with pytest.raises(NotFound):
        other.get("person", mine["id"])
    assert other.list_page("person").items == []
    with pytest.raises(PermissionDenied):
        other.delete("person", mine["id"])  # manager has no delete right at all


def test_unmask_needs_right_and_reason_and_is_logged(session, schema, users) -> None:
    record = new_person(service(session, schema, users["am1"]))
    with pytest.raises(PermissionDenied):
        service(session, schema, users["am1"]).unmask("person", record["id"], "id_number",
                                                      "need it")
    auditor = service(session, schema, users["auditor"])
    assert "income" not in auditor.get("person", record["id"])  # hidden field
    with pytest.raises(ValidationFailed):
        auditor.unmask("person", record["id"], "id_number", "")
    assert auditor.unmask("person", record["id"], "id_number", "KYC review") == VALID_ID
    log = session.execute(select(db.access_log)).one()
    assert (log.action, log.field_key, log.reason) == ("unmask", "id_number", "KYC review")


def test_keyset_pages_filters_and_search(session, schema, users) -> None:
    svc = service(session, schema, users["admin"])
    for i in range(25):
        svc.create("person", {"name": f"客户{i:02d}", "kind": "enterprise",
                              "income": str(1000 + (i % 5) * 100),
                              "mobile": f"1381234{i:04d}",
                              "tags": ["vip"] if i % 2 else []})
    seen: list[int] = []
    after = None
    while True:
        page = svc.list_page("person", order_by=["income", "-name"], after=after, limit=7)
        seen += [r["id"] for r in page.items]
        incomes = [r["income"] for r in page.items]
        assert incomes == sorted(incomes)
        if not page.has_more:
            break
        after = page.next_cursor
    assert len(seen) == 25 and len(set(seen)) == 25
    rich = svc.list_page("person", where={"field": "income", "op": ">=", "value": "1400"})
    assert len(rich.items) == 5
    vip = svc.list_page("person", where={"and": [{"field": "tags", "op": "in", "value": ["vip"]},
                                            {"field": "income", "op": "<", "value": 1200}]})
    # odd i are VIP; income < 1200 means i % 5 in (0, 1)
    assert {r["name"] for r in vip.items} == {f"客户{i:02d}" for i in range(25)
                                              if i % 2 and i % 5 in (0, 1)}
    assert [r["name"] for r in svc.list_page("person", search="客户07").items] == ["客户07"]
    # an encrypted, indexed phone number is found by exact value through its keyed hash
    found = svc.list_page("person", search="138 1234 0013").items
    assert [r["name"] for r in found] == ["客户13"]


def test_reference_must_exist_and_be_visible(session, schema, users) -> None:
    person = new_person(service(session, schema, users["am1"]))
    admin = service(session, schema, users["admin"])
    loan = admin.create("loan", {"person": person["id"], "amount": "100000"})
    assert loan["person"] == person["id"]
    with pytest.raises(ValidationFailed) as info:
        admin.create("loan", {"person": 999999, "amount": "1"})
    assert "does not exist" in info.value.fields["person"][0]
    with pytest.raises(Conflict):  # referenced by a loan: the database refuses, we answer 409
        admin.delete("person", person["id"])
    admin.delete("loan", loan["id"], expected_version=1)
    admin.delete("person", person["id"])
    entries = session.execute(select(db.audit.c.action).where(db.audit.c.form_key == "loan")
                              ).scalars().all()
    assert entries == ["create", "delete"]


def test_masked_subtable_cells_sent_back_keep_their_value(session, schema, users) -> None:
    svc = service(session, schema, users["am1"])
    record = new_person(svc, contacts=[{"name": "李四", "phone": "13900001111"}])
    row = record["contacts"][0]
    assert row["phone"] == "139****1111"
    updated = svc.update("person", record["id"], {"contacts": [
        {**row, "name": "李四四"}, {"name": "王五", "phone": "13700002222"}]})
    assert [c["name"] for c in updated["contacts"]] == ["李四四", "王五"]
    assert updated["contacts"][0]["id"] == row["id"]  # the kept row keeps its id
    table = schema["person"].child_tables["contacts"]
    stored = session.execute(select(table.c.phone).order_by(table.c.seq)).scalars().all()
    plain = [CIPHER.decrypt(v, "person.contacts.phone") for v in stored]
    assert plain == ["13900001111", "13700002222"]


@pytest.mark.parametrize("order_by", [None, ["created_at"], ["-created_at"], ["id"]])
def test_keyset_on_not_null_columns_walks_every_row_once(session, schema, users,
                                                         order_by) -> None:
    """Sorts on columns that cannot be NULL page with a row-value comparison."""
    svc = service(session, schema, users["admin"])
    for i in range(11):
        svc.create("person", {"name": f"p{i}", "kind": "enterprise"})
    seen, after = [], None
    while True:
        page = svc.list_page("person", order_by=order_by, after=after, limit=4)
        seen += [r["id"] for r in page.items]
        if not page.has_more:
            break
        after = page.next_cursor
    assert len(seen) == 11 and len(set(seen)) == 11
    if order_by in (None, ["-created_at"]):
        assert seen == sorted(seen, reverse=True)  # same timestamps: id breaks the tie
    else:
        assert seen == sorted(seen)
