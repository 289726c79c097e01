"""Fixes from the fuzzing and security review (/tmp/review/REPORT.md): sub-table masking in the
audit trail, read-only fields on create, file row scope, id ranges, and smaller items. The
service-level tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.auth.users import create_user, ensure_role, load_actor
from lendbase.errors import ValidationFailed
from lendbase.forms.compile import compile_schema
from lendbase.forms.model import check_form
from lendbase.records.files import StoredFile, load_file, may_download
from lendbase.records.permissions import Actor, access_for
from lendbase.records.service import RecordService
from lendbase.security import FieldCipher, generate_key_string
from lendbase.web.widgets import editable_keys, is_editable
from tests.sample_forms import label, loan_form, person_form

CIPHER = FieldCipher.from_key_string(generate_key_string())
VALID_ID = "11010519491231002X"


def doc_form() -> dict[str, Any]:
    return {
        "key": "doc",
        "label": label("资料", "Document"),
        "fields": [
            {"key": "title", "type": "text", "label": label("标题", "Title"), "required": True},
            {"key": "scan", "type": "file", "label": label("扫描件", "Scan")},
            {"key": "pages", "type": "subtable", "label": label("附页", "Pages"),
             "fields": [
                 {"key": "note", "type": "text", "label": label("说明", "Note")},
                 {"key": "att", "type": "file", "label": label("附件", "Attachment")}]},
        ],
        "permissions": {
            "clerk": {"actions": ["create", "read", "update"], "scope": "own"},
            "reader": {"actions": ["read"], "scope": "all"},
            "blind": {"actions": ["read"], "scope": "all", "hidden_fields": ["pages", "scan"]},
        },
    }


@pytest.fixture
def schema(engine):
    person = person_form()
    person["permissions"]["manager"]["readonly_fields"] = ["income"]
    person["permissions"]["auditor"].update(actions=["read", "export"],
                                            hidden_fields=["income", "name"])
    compiled = compile_schema([(check_form(person), (), "p", 1),
                               (check_form(loan_form()), (), "l", 1),
                               (check_form(doc_form()), (), "d", 1)])
    compiled.metadata.create_all(engine)
    return compiled


@pytest.fixture
def users(session: Session) -> dict[str, Actor]:
    for role in ("manager", "auditor", "clerk", "reader", "blind"):
        ensure_role(session, role)
    ensure_role(session, "admin", superuser=True)
    ids = {
        "admin": create_user(session, "admin", "admin-pass-1", ["admin"]),
        "am1": create_user(session, "am1", "manager-pass-1", ["manager"]),
        "auditor": create_user(session, "auditor", "auditor-pass-1", ["auditor"]),
        "c1": create_user(session, "c1", "clerk-pass-1", ["clerk"]),
        "c2": create_user(session, "c2", "clerk-pass-2", ["clerk"]),
        "reader": create_user(session, "reader", "reader-pass-1", ["reader"]),
        "blind": create_user(session, "blind", "blind-pass-1", ["blind"]),
    }
    return {name: load_actor(session, uid, "en") for name, uid in ids.items()}


def service(session, schema, actor) -> RecordService:
    return RecordService(session, schema, actor, CIPHER,
                         clock=lambda: datetime(2026, 11, 28, 8, 0, tzinfo=UTC))


def new_person(svc: RecordService, **values):
    data = {"name": "张三", "kind": "individual", "id_number": VALID_ID,
            "mobile": "13812345678"}
    data.update(values)
    return svc.create("person", data)


# --- review 2: sub-table sensitive cells in the audit trail ---------------------------------

def _audit_rows(session: Session, record_id: int) -> list[Any]:
    return session.execute(select(db.audit).where(db.audit.c.form_key == "person",
                                                  db.audit.c.record_id == record_id)
                           .order_by(db.audit.c.id)).all()


def test_subtable_sensitive_cells_are_masked_in_the_audit_trail(session, schema, users) -> None:
    svc = service(session, schema, users["am1"])
    record = new_person(svc, contacts=[{"name": "李四", "phone": "13900001111"}])
    (created,) = svc.history("person", record["id"])
    assert created["changes"]["contacts"] == [None, [{"name": "李四", "phone": "139****1111"}]]
    updated = svc.update("person", record["id"], {"contacts": [
        {**record["contacts"][0], "phone": "13700002222"}]})
    assert updated["version"] == 2
    change = svc.history("person", record["id"])[0]["changes"]["contacts"]
    assert change == [[{"name": "李四", "phone": "139****1111"}],
                      [{"name": "李四", "phone": "137****2222"}]]
    stored = json.dumps([r.changes for r in _audit_rows(session, record["id"])],
                        ensure_ascii=False)
    assert "13900001111" not in stored and "13700002222" not in stored


def test_sending_a_record_back_unchanged_is_no_new_version(session, schema, users) -> None:
    svc = service(session, schema, users["am1"])
    record = new_person(svc, contacts=[{"name": "李四", "phone": "13900001111"},
                                       {"name": "王五", "phone": "13700002222"}])
    again = svc.update("person", record["id"], {"contacts": record["contacts"]})
    assert again["version"] == 1
    # the plaintext sent back (as an unmasking caller would) is no change either
    same = svc.update("person", record["id"], {"contacts": [
        {"id": record["contacts"][0]["id"], "name": "李四", "phone": "13900001111"},
        {"id": record["contacts"][1]["id"], "name": "王五", "phone": "13700002222"}]})
    assert same["version"] == 1
    assert [r.action for r in _audit_rows(session, record["id"])] == ["create"]


# --- review 4: read-only fields on create ---------------------------------------------------

def test_readonly_fields_are_refused_on_create(session, schema, users) -> None:
    svc = service(session, schema, users["am1"])
    with pytest.raises(ValidationFailed) as info:
        new_person(svc, income="50000")
    assert set(info.value.fields) == {"income"}
    assert new_person(svc)["income"] is None
    admin = service(session, schema, users["admin"])
    assert new_person(admin, id_number="360426199101010071", income="50000")["income"] == \
        pytest.approx(50000)


def test_is_editable_follows_the_service_on_create(schema, users) -> None:
    form = schema["person"].form
    access = access_for(users["am1"], form)
    income = form.field("income")
    assert not is_editable(income, access, users["am1"], creating=True)
    assert not is_editable(income, access, users["am1"], creating=False)
    assert "income" not in editable_keys(form, access, users["am1"], creating=True)
    assert "name" in editable_keys(form, access, users["am1"], creating=True)


# --- review 3: files follow row scope ---------------------------------------------------------

def _file(session: Session, uploaded_by: int | None, field_key: str = "scan") -> int:
    return int(session.execute(insert(db.stored_file).values(
        form_key="doc", field_key=field_key, filename="id.pdf", content_type="application/pdf",
        size=3, sha256="0" * 64, path="2026/01/x.pdf", uploaded_by=uploaded_by,
        uploaded_at=datetime(2026, 1, 1, tzinfo=UTC)).returning(db.stored_file.c.id)
    ).scalar_one())


def _may(session, schema, actor: Actor, file_id: int) -> bool:
    stored: StoredFile = load_file(session, file_id)
    return may_download(session, actor, schema, stored)


def test_download_follows_row_scope(session, schema, users) -> None:
    c1, c2 = users["c1"], users["c2"]
    scan = _file(session, c1.user_id)
    att = _file(session, c1.user_id, "att")
    # not attached yet: the uploader only
    assert _may(session, schema, c1, scan)
    assert not _may(session, schema, c2, scan)
    assert not _may(session, schema, users["reader"], scan)
    assert _may(session, schema, users["admin"], scan)
    svc = service(session, schema, c1)
    svc.create("doc", {"title": "合同", "scan": scan, "pages": [{"note": "p1", "att": att}]})
    for file_id in (scan, att):  # top-level and in a sub-table
        assert _may(session, schema, c1, file_id)
        assert not _may(session, schema, c2, file_id)  # scope "own": not c2's record
        assert _may(session, schema, users["reader"], file_id)  # scope "all"
        assert not _may(session, schema, users["blind"], file_id)  # field hidden
        assert not _may(session, schema, users["am1"], file_id)  # no right on the form


def test_a_file_attaches_only_for_its_uploader_and_to_one_record(session, schema,
                                                                 users) -> None:
    c1, c2 = users["c1"], users["c2"]
    scan = _file(session, c1.user_id)
    att = _file(session, c1.user_id, "att")
    with pytest.raises(ValidationFailed) as info:
        service(session, schema, c2).create("doc", {"title": "借用", "scan": scan,
                                                    "pages": [{"att": att}]})
    assert set(info.value.fields) == {"scan", "pages.0.att"}
    svc = service(session, schema, c1)
    record = svc.create("doc", {"title": "合同", "scan": scan, "pages": [{"att": att}]})
    # already on this record: sending it back is fine
    updated = svc.update("doc", record["id"], {"title": "合同二", "scan": scan,
                                               "pages": record["pages"]})
    assert updated["version"] == 2
    # but not onto a second record, even by its uploader
    with pytest.raises(ValidationFailed) as info:
        svc.create("doc", {"title": "复制", "scan": scan, "pages": [{"att": att}]})
    assert set(info.value.fields) == {"scan", "pages.0.att"}
    other = svc.create("doc", {"title": "另一份"})
    with pytest.raises(ValidationFailed):
        svc.update("doc", other["id"], {"scan": scan})


def test_out_of_range_link_ids_never_reach_the_database(session, schema, users) -> None:
    svc = service(session, schema, users["c1"])
    with pytest.raises(ValidationFailed) as info:
        svc.create("doc", {"title": "大", "scan": 2**63})
    assert set(info.value.fields) == {"scan"}


# --- review 5: hidden fields cannot be filtered, sorted or searched ---------------------------

def test_hidden_fields_are_not_filtered_sorted_or_searched(session, schema, users) -> None:
    from lendbase.api.lookup import lookup_page
    from lendbase.records.export import export_records

    admin = service(session, schema, users["admin"])
    new_person(admin, income="9000")
    new_person(admin, name="李四", id_number="360426199101010071", income="3000")
    auditor = service(session, schema, users["auditor"])
    with pytest.raises(ValidationFailed) as info:
        auditor.list_page("person", where={"field": "income", "op": ">", "value": "7000"})
    assert set(info.value.fields) == {"where"}
    with pytest.raises(ValidationFailed) as info:
        auditor.list_page("person", order_by=["-income"])
    assert set(info.value.fields) == {"order_by"}
    with pytest.raises(ValidationFailed):
        list(auditor.iter_chunks("person", where={"field": "income", "op": ">", "value": 1}))
    with pytest.raises(ValidationFailed):
        export_records(session, schema, users["auditor"], CIPHER, "person",
                       where={"field": "income", "op": ">", "value": 1}, fmt="csv",
                       reason="核对", lang="en")
    # "name" is searchable but hidden from auditors: their search does not look at it
    assert len(admin.list_page("person", search="李四").items) == 1
    assert auditor.list_page("person", search="李四").items == []
    assert lookup_page(admin, "person", "李四")["items"] != []
    assert lookup_page(auditor, "person", "李四")["items"] == []


# --- the API and pages (both databases) -------------------------------------------------------

BIG = 9223372036854775808  # 2**63: one more than any id column holds


@pytest.fixture
def app(tmp_path, engine):
    import dataclasses

    from sqlalchemy.orm import sessionmaker

    from lendbase.app import create_app
    from lendbase.config import load_settings
    from lendbase.forms.publish import publish_form
    from lendbase.meta.store import MetadataStore

    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path / "var")}), TESTING=True,
                     WTF_CSRF_ENABLED=False)
    state = app.extensions["lendbase"]
    state.engine.dispose()
    state = dataclasses.replace(state, engine=engine,
                                sessions=sessionmaker(engine, expire_on_commit=False))
    app.extensions["lendbase"] = state
    with state.sessions.begin() as session:
        ensure_role(session, "admin", superuser=True)
        for role in ("manager", "auditor", "clerk", "reader"):
            ensure_role(session, role)
        create_user(session, "admin", "admin-pass-1", ["admin"])
        create_user(session, "am1", "manager-pass-1", ["manager"])
        create_user(session, "auditor", "auditor-pass-1", ["auditor"])
        create_user(session, "c1", "clerk-pass-1", ["clerk"])
        store = MetadataStore(session, None)
        for doc in (person_form(), doc_form()):
            store.create("forms", doc)
            publish_form(session, None, doc["key"], dry_run=False, confirm=True,
                         backfill=None, note=None)
    return app


def _token(client, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username,
                                                        "password": password})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def test_out_of_range_ids_are_404_or_422_never_500(app) -> None:
    client = app.test_client()
    admin = _token(client, "admin", "admin-pass-1")
    for path in (f"/api/v1/records/person/{BIG}", f"/api/v1/records/person/{BIG}/history",
                 f"/api/v1/users/{BIG}", f"/api/v1/files/{BIG}", f"/api/v1/files/{'9' * 5000}",
                 f"/api/v1/meta/forms/person/versions/{BIG}"):
        assert client.get(path, headers=admin).status_code == 404, path
    assert client.patch(f"/api/v1/records/person/{BIG}", headers=admin,
                        json={"name": "x"}).status_code in {404, 405}
    assert client.post(f"/api/v1/users/{BIG}/unlock", headers=admin).status_code == 404
    assert client.delete(f"/api/v1/org/departments/{BIG}",
                         headers=admin).status_code in {404, 405}
    for body in ({"name": "一部", "parent_id": BIG}, {"name": "一部", "head_user_id": 10**30}):
        response = client.post("/api/v1/org/departments", headers=admin, json=body)
        assert response.status_code == 422, response.json
        assert set(response.json["error"]["fields"]) <= {"parent_id", "head_user_id"}
    response = client.get(f"/api/v1/users?department_id={BIG}", headers=admin)
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"department_id"}
    response = client.post("/api/v1/meta/forms/person/restore", headers=admin,
                           json={"version": BIG})
    assert response.status_code == 422
    response = client.get(f"/api/v1/meta/forms/person/diff?from={BIG}", headers=admin)
    assert response.status_code == 422
    response = client.post("/api/v1/records/person", headers=admin,
                           json={"name": "x", "kind": "enterprise",
                                 "contacts": [{"id": BIG, "name": "y"}]})
    assert response.status_code in {201, 422}
    for q in ("9" * 25, "²", "9" * 5000, str(BIG)):
        response = client.get("/api/v1/records/person/lookup", headers=admin,
                              query_string={"q": q})
        assert response.status_code in {200, 422}, (q[:30], response.json)


def test_admin_pages_refuse_bad_ids_with_422(app) -> None:
    client = app.test_client()
    page = client.post("/login", data={"username": "admin", "password": "admin-pass-1"})
    assert page.status_code == 302
    for value in ("²", "9" * 30, str(BIG)):
        response = client.post("/admin/org/departments",
                               data={"name": "一部", "parent_id": value})
        assert response.status_code == 422, value
        response = client.post("/admin/org/departments",
                               data={"name": "一部", "head_user_id": value})
        assert response.status_code == 422, value
    assert client.get(f"/admin/org/users/{BIG}").status_code in {404, 405}
    assert client.get(f"/f/person/{BIG}").status_code == 404
    assert client.get(f"/files/{BIG}").status_code == 404


def test_page_subtable_row_id_like_superscript_two_is_refused(app) -> None:
    client = app.test_client()
    assert client.post("/login", data={"username": "admin",
                                       "password": "admin-pass-1"}).status_code == 302
    for value in ("²", "9" * 30):
        response = client.post("/f/person/new", data={
            "name": "张三", "kind": "enterprise", "contacts.__present": "1",
            "contacts.0.id": value, "contacts.0.name": "李四"})
        assert response.status_code == 422, value


def test_api_unmask_is_not_cached(app) -> None:
    client = app.test_client()
    admin = _token(client, "admin", "admin-pass-1")
    created = client.post("/api/v1/records/person", headers=admin,
                          json={"name": "张三", "kind": "individual", "id_number": VALID_ID})
    assert created.status_code == 201, created.json
    response = client.post(f"/api/v1/records/person/{created.json['id']}/unmask",
                           headers=admin, json={"field": "id_number", "reason": "核对身份"})
    assert response.status_code == 200 and response.json["value"] == VALID_ID
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_drafts_and_versions_are_for_administrators(app) -> None:
    client = app.test_client()
    am1 = _token(client, "am1", "manager-pass-1")
    admin = _token(client, "admin", "admin-pass-1")
    for path in ("/api/v1/meta/forms/person", "/api/v1/meta/forms/person/versions/1"):
        assert client.get(path, headers=am1).status_code == 403, path
        response = client.get(path, headers=admin)
        assert response.status_code == 200 and "permissions" in response.json["doc"]


def test_lock_out_does_not_reveal_that_an_account_exists(app) -> None:
    client = app.test_client()

    def attempt(username: str, password: str) -> tuple[int, str]:
        response = client.post("/api/v1/auth/token",
                               json={"username": username, "password": password})
        return response.status_code, (response.json.get("error") or {}).get("message", "")

    for _ in range(5):
        assert attempt("am1", "wrong-pass") == (401, "wrong username or password")
    # locked now: a wrong password still gets the answer a missing account gets
    assert attempt("am1", "wrong-pass") == attempt("nobody", "wrong-pass") \
        == (401, "wrong username or password")
    status, text = attempt("am1", "manager-pass-1")
    assert status == 401 and "too many failed logins" in text


def test_upload_filename_loses_control_characters(app) -> None:
    import io

    client = app.test_client()
    c1 = _token(client, "c1", "clerk-pass-1")
    boundary = "lbBoundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"form\"\r\n\r\ndoc\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nscan\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            "filename*=UTF-8''a%0D%0AX-Evil%3A%201%00.pdf\r\n"
            "Content-Type: application/pdf\r\n\r\n%PDF\r\n"
            f"--{boundary}--\r\n").encode()
    response = client.post("/api/v1/files", headers=c1, data=io.BytesIO(body),
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 201, response.json
    assert response.json["filename"] == "aX-Evil: 1.pdf"
    download = client.get(response.json["url"], headers=c1)
    assert download.status_code == 200 and download.data == b"%PDF"


def test_csv_export_has_one_charset_and_leaves_no_file_when_logging_fails(
        app, monkeypatch, tmp_path) -> None:
    import tempfile

    from lendbase.records import export

    client = app.test_client()
    admin = _token(client, "admin", "admin-pass-1")
    client.post("/api/v1/records/person", headers=admin,
                json={"name": "张三", "kind": "enterprise"})
    response = client.post("/api/v1/records/person/export", headers=admin,
                           json={"format": "csv", "reason": "月度报表"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def failing_log(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the access log is down")

    monkeypatch.setattr(export, "log_access", failing_log)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.post("/api/v1/records/person/export", headers=admin,
                           json={"format": "csv", "reason": "月度报表"})
    assert response.status_code == 500
    assert list(tmp_path.glob("lendbase-export-*")) == []
