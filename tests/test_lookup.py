"""The reference picker's lookup on SQLite and PostgreSQL: title prefix and searchable-field
matches, row scope, limit and keyset cursor; and the HTTP endpoint with the page cookie."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from lendbase.api.lookup import lookup_page, prefix_clause
from lendbase.auth.users import create_user, ensure_role, load_actor
from lendbase.errors import PermissionDenied, ValidationFailed
from lendbase.forms.compile import compile_schema
from lendbase.forms.model import check_form
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService
from lendbase.security import FieldCipher, generate_key_string
from tests.sample_forms import label, loan_form, person_form
from tests.test_web_pages import customer_data, login, site  # noqa: F401 - the fixture

CIPHER = FieldCipher.from_key_string(generate_key_string())


def lead_form() -> dict:
    """A title that is not searchable: only the prefix test can find it by name."""
    return {
        "key": "lead", "label": label("线索", "Lead"), "title_field": "name",
        "fields": [
            {"key": "name", "type": "text", "label": label("名称", "Name"), "required": True},
            {"key": "code", "type": "text", "label": label("代码", "Code"), "searchable": True},
        ],
        "permissions": {"manager": {"actions": ["create", "read"], "scope": "own"}},
    }


@pytest.fixture
def schema(engine):
    compiled = compile_schema([(check_form(person_form()), (), "p", 1),
                               (check_form(loan_form()), (), "l", 1),
                               (check_form(lead_form()), (), "d", 1)])
    compiled.metadata.create_all(engine)
    return compiled


@pytest.fixture
def users(session: Session) -> dict[str, Actor]:
    ensure_role(session, "manager")
    ensure_role(session, "admin", superuser=True)
    ids = {"admin": create_user(session, "admin", "admin-pass-1", ["admin"]),
           "am1": create_user(session, "am1", "manager-pass-1", ["manager"]),
           "am2": create_user(session, "am2", "manager-pass-2", ["manager"]),
           "nobody": create_user(session, "nobody", "nobody-pass-1", [])}
    return {name: load_actor(session, uid, "en") for name, uid in ids.items()}


def service(session, schema, actor) -> RecordService:
    return RecordService(session, schema, actor, CIPHER,
                         clock=lambda: datetime(2026, 11, 28, 8, 0, tzinfo=UTC))


def person(svc: RecordService, name: str, **values):
    return svc.create("person", {"name": name, "kind": "enterprise", **values})


def titles(page: dict) -> list[str]:
    return [item["title"] for item in page["items"]]


@pytest.fixture
def people(session, schema, users) -> dict[str, dict]:
    mine = service(session, schema, users["am1"])
    theirs = service(session, schema, users["am2"])
    created = {name: person(mine, name) for name in ("张一二", "张一", "李张", "王五")}
    created["张一二三"] = person(mine, "张一二三", mobile="13812345678")
    created["theirs"] = person(theirs, "张一")  # same name, another owner
    return created


def test_title_prefix_and_searchable_contains_in_title_order(session, schema, users,
                                                              people) -> None:
    svc = service(session, schema, users["am1"])
    page = lookup_page(svc, "person", "张")
    assert set(titles(page)) == {"张一", "张一二", "张一二三", "李张"}  # "李张" by contains
    chain = [t for t in titles(page) if t.startswith("张")]
    assert chain == ["张一", "张一二", "张一二三"]
    assert page["next_cursor"] is None and page["has_more"] is False
    assert set(page["items"][0]) == {"id", "title", "subtitle"}
    assert titles(lookup_page(svc, "person", "一二")) == ["张一二", "张一二三"]
    assert titles(lookup_page(svc, "person", "nobody here")) == []
    # no text: the first page of everything in scope, by title
    assert len(lookup_page(svc, "person", "")["items"]) == 5


def test_other_owners_records_never_appear(session, schema, users, people) -> None:
    mine = lookup_page(service(session, schema, users["am1"]), "person", "张一", limit=50)
    ids = {item["id"] for item in mine["items"]}
    assert people["theirs"]["id"] not in ids and people["张一"]["id"] in ids
    theirs = lookup_page(service(session, schema, users["am2"]), "person", "张")
    assert [item["id"] for item in theirs["items"]] == [people["theirs"]["id"]]
    everyone = lookup_page(service(session, schema, users["admin"]), "person", "张一")
    assert {people["theirs"]["id"], people["张一"]["id"]} <= {i["id"] for i in everyone["items"]}
    with pytest.raises(PermissionDenied):
        lookup_page(service(session, schema, users["nobody"]), "person", "张")


def test_auto_number_and_indexed_sensitive_values_match_exactly(session, schema, users,
                                                                 people) -> None:
    svc = service(session, schema, users["am1"])
    number = people["王五"]["person_no"]
    page = lookup_page(svc, "person", number.lower())
    assert titles(page) == ["王五"]
    assert page["items"][0]["subtitle"] == number  # the subtitle shows the auto number
    assert titles(lookup_page(svc, "person", "13812345678")) == ["张一二三"]  # keyed hash
    assert titles(lookup_page(svc, "person", "1381234")) == []  # no partial sensitive match


def test_limit_and_cursor_walk_every_match_once(session, schema, users, people) -> None:
    svc = service(session, schema, users["am1"])
    first = lookup_page(svc, "person", "张", limit=2)
    assert len(first["items"]) == 2 and first["has_more"] and first["next_cursor"]
    second = lookup_page(svc, "person", "张", after=first["next_cursor"], limit=2)
    assert len(second["items"]) == 2 and second["next_cursor"] is None
    walked = [i["id"] for i in first["items"] + second["items"]]
    assert len(set(walked)) == 4
    assert walked == [i["id"] for i in lookup_page(svc, "person", "张")["items"]]
    with pytest.raises(ValidationFailed):
        lookup_page(svc, "person", "张", limit=0)
    with pytest.raises(ValidationFailed):
        lookup_page(svc, "person", "张", after="not-a-cursor")


def test_prefix_finds_a_title_that_is_not_searchable(session, schema, users) -> None:
    svc = service(session, schema, users["am1"])
    for name, code in (("Acme", "X1"), ("Acme_2", "X2"), ("Bacme", "X3"), ("Ac%", "X4")):
        svc.create("lead", {"name": name, "code": code})
    assert titles(lookup_page(svc, "lead", "Acm")) == ["Acme", "Acme_2"]  # no contains
    assert titles(lookup_page(svc, "lead", "Ac%")) == ["Ac%"]  # wildcards are literal
    assert titles(lookup_page(svc, "lead", "x3")) == ["Bacme"]  # the searchable code
    assert lookup_page(svc, "lead", "Acm")["items"][0]["subtitle"] == "X1"


def test_prefix_clause_is_a_range_an_index_can_seek() -> None:
    from sqlalchemy import column
    from sqlalchemy.dialects import postgresql

    sql = str(prefix_clause(column("name"), "张三").compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    assert "name >= '张三'" in sql and "name < '张上'" in sql and "LIKE '张三%" in sql


# --- the HTTP endpoint (SQLite, the page cookie) ---------------------------------------------


def _id_number(prefix17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(prefix17, weights, strict=True))
    return prefix17 + "10X98765432"[total % 11]


def test_lookup_endpoint_respects_scope_and_pages(site) -> None:  # noqa: F811
    from tests.test_web_pages import create_records

    mine = create_records(site, "am1", "customer", [
        customer_data(site, name=f"张客户{i}", id_number=_id_number(f"11010519900101{i:03d}"))
        for i in range(3)])
    (theirs,) = create_records(site, "am2", "customer", [customer_data(
        site, name="张客户9", id_number=_id_number("11010519900109990"),
        account_manager=site.lb_users["am2"])])
    client = site.test_client()
    assert client.get("/api/v1/records/customer/lookup?q=张").status_code == 401
    login(client, "am1")
    response = client.get("/api/v1/records/customer/lookup?q=张客&limit=2")
    assert response.status_code == 200
    body = response.get_json()
    assert [i["title"] for i in body["items"]] == ["张客户0", "张客户1"]
    assert body["items"][0]["id"] == mine[0]["id"] and body["has_more"] is True
    assert body["items"][0]["subtitle"].startswith("C")  # the customer number
    rest = client.get(f"/api/v1/records/customer/lookup?q=张客&limit=2"
                      f"&after={body['next_cursor']}").get_json()
    assert [i["title"] for i in rest["items"]] == ["张客户2"] and rest["has_more"] is False
    assert theirs["id"] not in {i["id"] for i in body["items"] + rest["items"]}
    assert client.get("/api/v1/records/customer/lookup?limit=500").status_code == 422
    assert client.get("/api/v1/records/nope/lookup?q=x").status_code == 404
