"""The REST API over real HTTP semantics (Flask test client): tokens, errors, records,
metadata publish with dry-run, OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from lendbase.app import create_app
from lendbase.auth.users import create_user, ensure_role
from lendbase.config import load_settings
from lendbase.forms.publish import publish_form
from lendbase.meta.store import MetadataStore
from lendbase.migrate import upgrade_database
from tests.sample_forms import label, loan_form, person_form

VALID_ID = "11010519491231002X"


@pytest.fixture
def app(tmp_path):
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path)}), TESTING=True)
    state = app.extensions["lendbase"]
    upgrade_database(state.engine)
    with state.sessions.begin() as session:
        ensure_role(session, "admin", superuser=True)
        for role in ("manager", "auditor"):
            ensure_role(session, role)
        create_user(session, "admin", "admin-pass-1", ["admin"])
        create_user(session, "am1", "manager-pass-1", ["manager"])
        store = MetadataStore(session, None)
        for doc in (person_form(), loan_form()):
            store.create("forms", doc)
            publish_form(session, None, doc["key"], dry_run=False, confirm=True, backfill=None,
                         note=None)
    return app


def login(client: FlaskClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username,
                                                        "password": password})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def error_of(response: Any) -> dict[str, Any]:
    assert set(response.json) == {"error"}, response.json
    return response.json["error"]


def test_auth_errors_have_one_shape(app) -> None:
    client = app.test_client()
    response = client.get("/api/v1/records/person")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    response = client.post("/api/v1/auth/token", json={"username": "admin"})
    assert response.status_code == 422
    assert error_of(response)["fields"] == {"password": ["Missing data for required field."]}
    response = client.post("/api/v1/auth/token", json={"username": "admin", "password": "x"})
    assert response.status_code == 401


def test_record_crud_with_if_match_and_history(app) -> None:
    client = app.test_client()
    headers = login(client, "am1", "manager-pass-1")
    bad = client.post("/api/v1/records/person", headers=headers,
                      json={"name": "张三", "kind": "individual",
                            "id_number": "110105194912310021", "income": "12.345"})
    assert bad.status_code == 422
    fields = error_of(bad)["fields"]
    assert set(fields) == {"id_number", "income"}
    created = client.post("/api/v1/records/person", headers=headers,
                          json={"name": "张三", "kind": "individual", "id_number": VALID_ID,
                                "income": "8000.5", "contacts": [{"name": "李四"}]})
    assert created.status_code == 201
    record = created.json
    assert created.headers["ETag"] == '"1"'
    assert record["id_number"] == "110105********002X"
    assert record["income"] == "8000.50"  # exact decimal as a string
    url = f"/api/v1/records/person/{record['id']}"
    ok = client.patch(url, headers={**headers, "If-Match": '"1"'}, json={"income": "9000"})
    assert ok.status_code == 200 and ok.json["version"] == 2
    stale = client.patch(url, headers={**headers, "If-Match": '"1"'}, json={"income": "1"})
    assert stale.status_code == 409
    assert error_of(stale)["code"] == "conflict"
    history = client.get(url + "/history", headers=headers).json
    assert [h["action"] for h in history] == ["update", "create"]
    assert history[0]["changes"] == {"income": ["8000.50", "9000.00"]}
    forbidden = client.delete(url, headers=headers)
    assert forbidden.status_code == 403
    missing = client.get("/api/v1/records/person/999", headers=headers)
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    unknown = client.get("/api/v1/records/nothing", headers=headers)
    assert unknown.status_code == 404


def test_query_and_keyset_pages(app) -> None:
    client = app.test_client()
    headers = login(client, "admin", "admin-pass-1")
    for i in range(7):
        client.post("/api/v1/records/person", headers=headers,
                    json={"name": f"客户{i}", "kind": "enterprise", "income": 1000 * i})
    page = client.post("/api/v1/records/person/query", headers=headers,
                       json={"where": {"field": "income", "op": ">=", "value": 2000},
                             "order_by": ["-income"], "limit": 3}).json
    assert [r["name"] for r in page["items"]] == ["客户6", "客户5", "客户4"]
    rest = client.post("/api/v1/records/person/query", headers=headers,
                       json={"where": {"field": "income", "op": ">=", "value": 2000},
                             "order_by": ["-income"], "limit": 3,
                             "after": page["next_cursor"]}).json
    assert [r["name"] for r in rest["items"]] == ["客户3", "客户2"]
    assert rest["has_more"] is False
    bad = client.post("/api/v1/records/person/query", headers=headers,
                      json={"where": {"field": "nope", "op": "="}})
    assert bad.status_code == 422
    listed = client.get("/api/v1/records/person?q=客户3", headers=headers).json
    assert [r["name"] for r in listed["items"]] == ["客户3"]


def test_metadata_publish_dry_run_then_confirm(app) -> None:
    client = app.test_client()
    headers = login(client, "admin", "admin-pass-1")
    for i, income in enumerate(["8000", "9000"]):
        client.post("/api/v1/records/person", headers=headers,
                    json={"name": f"n{i}", "kind": "enterprise", "income": income})
    draft = client.get("/api/v1/meta/forms/person", headers=headers).json
    doc = draft["doc"]
    doc["fields"].append({"key": "note", "type": "text", "label": label("备注", "Note")})
    saved = client.put("/api/v1/meta/forms/person", headers=headers,
                       json={"doc": doc, "lock_version": draft["lock_version"]})
    assert saved.status_code == 200
    stale = client.put("/api/v1/meta/forms/person", headers=headers,
                       json={"doc": doc, "lock_version": draft["lock_version"]})
    assert stale.status_code == 409
    plan = client.post("/api/v1/meta/forms/person/publish?dry_run=1", headers=headers)
    assert plan.status_code == 200
    assert client.get("/api/v1/meta/forms/person/versions", headers=headers).json[0][
        "version"] == 1  # dry run published nothing
    done = client.post("/api/v1/meta/forms/person/publish", headers=headers, json={})
    assert done.status_code == 200, done.json
    versions = client.get("/api/v1/meta/forms/person/versions", headers=headers).json
    assert [v["version"] for v in versions] == [2, 1]
    diff = client.get("/api/v1/meta/forms/person/diff?from=1&to=2", headers=headers).json
    assert diff["changes"][0]["path"] == "/fields[key=note]"
    record = client.post("/api/v1/records/person", headers=headers,
                         json={"name": "x", "kind": "enterprise", "note": "新字段"})
    assert record.status_code == 201 and record.json["note"] == "新字段"
    invalid = client.put("/api/v1/meta/forms/person", headers=headers,
                         json={"doc": {**doc, "fields": [{"key": "a", "type": "select",
                                                          "label": label("a", "a")}]}})
    assert invalid.status_code == 422
    assert "/fields/0" in error_of(invalid)["fields"]
    manager = login(client, "am1", "manager-pass-1")
    assert client.put("/api/v1/meta/forms/person", headers=manager,
                      json={"doc": doc}).status_code == 403


def test_refused_publish_speaks_the_requested_language(app) -> None:
    client = app.test_client()
    headers = login(client, "admin", "admin-pass-1")
    client.post("/api/v1/records/person", headers=headers,
                json={"name": "about 8k", "kind": "enterprise"})
    draft = client.get("/api/v1/meta/forms/person", headers=headers).json
    doc = draft["doc"]
    doc["fields"] = [{"key": "name", "type": "integer", "label": f["label"]}
                     if f["key"] == "name" else f for f in doc["fields"]]
    client.put("/api/v1/meta/forms/person", headers=headers,
               json={"doc": doc, "lock_version": draft["lock_version"]})
    zh = client.post("/api/v1/meta/forms/person/publish?confirm=1&lang=zh", headers=headers,
                     json={})
    assert zh.status_code == 409
    assert error_of(zh)["message"].startswith("发布表单“person”被拒绝")
    assert "不是整数" in error_of(zh)["plan"]["operations"][0]["samples"][0]["reason"]
    en = client.post("/api/v1/meta/forms/person/publish?confirm=1", headers=headers, json={})
    assert "was refused" in error_of(en)["message"]
    bad = client.post("/api/v1/meta/forms/person/publish?lang=fr", headers=headers, json={})
    assert bad.status_code == 422 and "lang" in str(error_of(bad)["fields"])


def test_openapi_document(app) -> None:
    spec = app.test_client().get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/records/{form}/{record_id}" in spec["paths"]
    assert "/api/v1/meta/{kind}/{key}/publish" in spec["paths"]
    assert "TokenRequest" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_unexpected_error_is_json_500_not_html(app) -> None:
    @app.route("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    response = app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"
    assert "boom" not in response.get_data(as_text=True)
