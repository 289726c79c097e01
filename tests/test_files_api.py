"""Files through the API: upload against a file field's limits, download with the form's read
right, and the returned id used in a record's file field. Both databases."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from lendbase import db
from lendbase.app import create_app
from lendbase.auth.users import create_user, ensure_role
from lendbase.config import load_settings
from lendbase.forms.publish import publish_form
from lendbase.meta.store import MetadataStore
from tests.sample_forms import label


def contract_form() -> dict[str, Any]:
    return {
        "key": "contract",
        "label": label("合同", "Contract"),
        "title_field": "title",
        "fields": [
            {"key": "title", "type": "text", "label": label("标题", "Title"), "required": True},
            {"key": "scan", "type": "file", "label": label("扫描件", "Scan"),
             "accept": [".pdf", ".jpg"], "max_size_mb": 0.01},
            {"key": "secret", "type": "file", "label": label("内部", "Internal")},
        ],
        "permissions": {
            "clerk": {"actions": ["create", "read", "update"], "scope": "all",
                      "hidden_fields": ["secret"]},
            "reader": {"actions": ["read"], "scope": "all"},
        },
    }


@pytest.fixture
def app(tmp_path, engine):
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path / "var")}), TESTING=True)
    state = app.extensions["lendbase"]
    state.engine.dispose()
    state = dataclasses.replace(state, engine=engine,
                                sessions=sessionmaker(engine, expire_on_commit=False))
    app.extensions["lendbase"] = state
    with state.sessions.begin() as session:
        for role in ("clerk", "reader", "stranger"):
            ensure_role(session, role)
        for name in ("clerk", "reader", "stranger"):
            create_user(session, name, f"{name}-pass-1", [name])
        ensure_role(session, "admin", superuser=True)
        create_user(session, "admin", "admin-pass-1", ["admin"])
        MetadataStore(session, None).create("forms", contract_form())
        publish_form(session, None, "contract", dry_run=False, confirm=True, backfill=None,
                     note=None)
    return app


def _login(client, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username,
                                                        "password": f"{username}-pass-1"})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def _upload(client, headers, data: bytes, filename: str, form: str = "contract",
            field: str = "scan", **extra: Any):
    return client.post("/api/v1/files", headers=headers, content_type="multipart/form-data",
                       data={"form": form, "field": field,
                             "file": (io.BytesIO(data), filename), **extra})


def _stored_files(app) -> list:
    return list((app.extensions["lendbase"].settings.upload_dir).rglob("*.*"))


def test_upload_then_download(app) -> None:
    client = app.test_client()
    clerk = _login(client, "clerk")
    response = _upload(client, clerk, b"%PDF-1.4 contract", "合同.pdf")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["form"] == "contract" and body["field"] == "scan"
    assert body["filename"] == "合同.pdf" and body["size"] == 17
    assert len(body["sha256"]) == 64 and body["url"] == f"/api/v1/files/{body['id']}"
    assert response.headers["Location"] == body["url"]
    download = client.get(body["url"], headers=clerk)
    assert download.status_code == 200 and download.data == b"%PDF-1.4 contract"
    assert "attachment" in download.headers["Content-Disposition"]
    # not attached to a record yet: only the uploader may fetch it (row scope, review 3)
    reader_headers = _login(client, "reader")
    assert client.get(body["url"], headers=reader_headers).status_code == 404
    created = client.post("/api/v1/records/contract", headers=clerk,
                          json={"title": "合同一", "scan": body["id"]})
    assert created.status_code == 201, created.json
    reader = client.get(body["url"], headers=reader_headers)
    assert reader.status_code == 200
    stranger = client.get(body["url"], headers=_login(client, "stranger"))
    assert stranger.status_code == 404 and stranger.json["error"]["code"] == "not_found"
    assert client.get(body["url"]).status_code == 401


def test_unknown_file_id_is_404(app) -> None:
    client = app.test_client()
    response = client.get("/api/v1/files/424242", headers=_login(client, "clerk"))
    assert response.status_code == 404
    assert set(response.json) == {"error"} and response.json["error"]["code"] == "not_found"


def test_wrong_type_is_refused_naming_the_file(app) -> None:
    client = app.test_client()
    response = _upload(client, _login(client, "clerk"), b"MZ", "tool.exe")
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {
        "file": ["files of type .exe are not allowed; use .pdf, .jpg"]}
    assert _stored_files(app) == []


def test_too_large_is_refused_and_leaves_nothing(app) -> None:
    client = app.test_client()
    # 1.5 MB, many chunks past the 0.01 MB limit: the message states the real size
    response = _upload(client, _login(client, "clerk"), b"x" * 1_572_864, "big.pdf")
    assert response.status_code == 422
    (message,) = response.json["error"]["fields"]["file"]
    assert message == "the file is 1.5 MB; at most 0.01 MB allowed"
    assert _stored_files(app) == []
    with app.extensions["lendbase"].sessions() as session:
        assert session.execute(select(func.count()).select_from(db.stored_file)).scalar() == 0


def test_bad_form_field_and_rights(app) -> None:
    client = app.test_client()
    clerk = _login(client, "clerk")
    missing = client.post("/api/v1/files", headers=clerk, content_type="multipart/form-data",
                          data={})
    assert missing.status_code == 422
    assert set(missing.json["error"]["fields"]) == {"form", "field", "file"}
    unknown = _upload(client, clerk, b"%PDF", "a.pdf", form="nothing")
    assert unknown.json["error"]["fields"] == {"form": ["no published form 'nothing'"]}
    not_file = _upload(client, clerk, b"%PDF", "a.pdf", field="title")
    assert not_file.status_code == 422
    assert "'title' is a text field" in not_file.json["error"]["fields"]["field"][0]
    hidden = _upload(client, clerk, b"%PDF", "a.pdf", field="secret")
    assert hidden.status_code == 403
    read_only = _upload(client, _login(client, "reader"), b"%PDF", "a.pdf")
    assert read_only.status_code == 403


def test_uploaded_id_goes_into_a_record_created_through_the_api(app) -> None:
    client = app.test_client()
    clerk = _login(client, "clerk")
    file_id = _upload(client, clerk, b"\xff\xd8\xff scan", "scan.jpg").json["id"]
    created = client.post("/api/v1/records/contract", headers=clerk,
                          json={"title": "贷款合同", "scan": file_id})
    assert created.status_code == 201, created.json
    assert created.json["scan"] == file_id
    fetched = client.get(f"/api/v1/records/contract/{created.json['id']}", headers=clerk)
    assert fetched.json["scan"] == file_id
    download = client.get(f"/api/v1/files/{fetched.json['scan']}", headers=clerk)
    assert download.data == b"\xff\xd8\xff scan"
    bogus = client.post("/api/v1/records/contract", headers=clerk,
                        json={"title": "x", "scan": 999999})
    assert bogus.status_code == 422 and "scan" in bogus.json["error"]["fields"]


def test_a_file_cannot_be_borrowed_by_another_field(app) -> None:
    """A file id uploaded for one field is refused in another: downloads follow the file's own
    form and field, so reusing it elsewhere would show it to the wrong readers."""
    client = app.test_client()
    admin = _login(client, "admin")
    uploaded = _upload(client, admin, b"%PDF-1.4 internal", "internal.pdf", field="secret")
    assert uploaded.status_code == 201, uploaded.json
    borrowed = client.post("/api/v1/records/contract", headers=admin,
                           json={"title": "x", "scan": uploaded.json["id"]})
    assert borrowed.status_code == 422
    assert "scan" in borrowed.json["error"]["fields"]
