"""Record export on SQLite and PostgreSQL: the export right, a stated reason, the list's row
scope, filters and order, masked sensitive values, exact money, titles of referenced records,
archived fields after a republish, readable XLSX and the access log; then the API endpoint and
the list page's export button (SQLite, Flask test client)."""

from __future__ import annotations

import copy
import csv
import io
import re
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.app import create_app
from lendbase.auth.users import create_user, ensure_role, load_actor
from lendbase.config import load_settings
from lendbase.errors import PermissionDenied, ValidationFailed
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.publish import load_compiled_schema, publish_form
from lendbase.meta.store import MetadataStore
from lendbase.migrate import upgrade_database
from lendbase.records.export import ExportResult, export_records
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService
from lendbase.security import FieldCipher, generate_key_string
from tests.sample_forms import label, loan_form, person_form

CIPHER = FieldCipher.from_key_string(generate_key_string())
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
VALID_ID = "11010519491231002X"
PASSWORD = "export-pass-1"
ZH_HEADERS = ["编号", "姓名", "类型", "身份证", "手机", "月收入", "标签", "见面时间"]


def person_doc() -> dict[str, Any]:
    doc = person_form(permissions={
        "manager": {"actions": ["create", "read", "update", "export"], "scope": "own"},
        "clerk": {"actions": ["create", "read", "update"], "scope": "all"},
        "auditor": {"actions": ["read", "export"], "scope": "all", "unmask": True,
                    "hidden_fields": ["income"]},
    }, list={"filters": ["kind"]})
    doc["fields"].append({"key": "met_at", "type": "datetime",
                          "label": label("见面时间", "Met at")})
    return doc


def loan_doc() -> dict[str, Any]:
    return {**loan_form(), "permissions": {
        "manager": {"actions": ["create", "read", "export"], "scope": "own"}}}


def publish(session: Session, doc: dict[str, Any]) -> None:
    store = MetadataStore(session, None)
    if any(d["key"] == doc["key"] for d in store.list_keys("forms")):
        store.save_draft("forms", doc["key"], doc)
    else:
        store.create("forms", doc)
    publish_form(session, None, doc["key"], dry_run=False, confirm=True, backfill=None,
                 note=None)
    session.commit()


@pytest.fixture
def users(session: Session) -> dict[str, Actor]:
    ensure_role(session, "admin", superuser=True)
    for role in ("manager", "clerk", "auditor"):
        ensure_role(session, role)
    ids = {
        "admin": create_user(session, "admin", PASSWORD, ["admin"], display_name="管理员"),
        "am1": create_user(session, "am1", PASSWORD, ["manager"], display_name="王经理"),
        "am2": create_user(session, "am2", PASSWORD, ["manager"]),
        "clerk": create_user(session, "clerk", PASSWORD, ["clerk"]),
        "auditor": create_user(session, "auditor", PASSWORD, ["auditor"]),
    }
    session.commit()
    return {name: load_actor(session, uid, "zh") for name, uid in ids.items()}


@pytest.fixture
def schema(session: Session, users: dict[str, Actor]) -> CompiledSchema:
    """Person and loan published, with three people (two of am1's) and three loans."""
    publish(session, person_doc())
    publish(session, loan_doc())
    compiled = load_compiled_schema(session)
    am1, am2 = service(session, compiled, users["am1"]), service(session, compiled, users["am2"])
    zhang = am1.create("person", {
        "name": "张三", "kind": "individual", "id_number": VALID_ID, "mobile": "13812345678",
        "income": "8000.50", "tags": ["vip", "new"], "met_at": "2026-11-28T00:30:00+00:00"})
    am1.create("person", {"name": "=1+2", "kind": "enterprise", "income": "1234567.89"})
    am2.create("person", {"name": "王五", "kind": "enterprise", "income": "100"})
    for amount in ("50000", "20000.05", "300"):
        am1.create("loan", {"person": zhang["id"], "amount": amount, "due_on": "2026-12-31"})
    session.commit()
    return compiled


def service(session: Session, schema: CompiledSchema, actor: Actor) -> RecordService:
    return RecordService(session, schema, actor, CIPHER, clock=lambda: NOW)


def run_export(session: Session, schema: CompiledSchema, actor: Actor, form: str = "person",
               **kw: Any) -> ExportResult:
    kw.setdefault("fmt", "csv")
    kw.setdefault("reason", "月度风险报表")
    return export_records(session, schema, actor, CIPHER, form, clock=lambda: NOW, **kw)


def csv_rows(result: ExportResult) -> list[list[str]]:
    try:
        raw = result.path.read_bytes()
    finally:
        result.discard()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def access_log(session: Session) -> list[Any]:
    return list(session.execute(select(db.access_log).order_by(db.access_log.c.id)).all())


# --- the service ---------------------------------------------------------------------------


def test_export_needs_the_right_and_a_reason(session, schema, users) -> None:
    with pytest.raises(PermissionDenied, match="export"):
        run_export(session, schema, users["clerk"])
    with pytest.raises(PermissionDenied):  # the right is checked before the reason
        run_export(session, schema, users["clerk"], fmt="xlsx", reason="")
    for reason in ("", "   "):
        with pytest.raises(ValidationFailed) as info:
            run_export(session, schema, users["am1"], reason=reason)
        assert set(info.value.fields) == {"reason"}
    with pytest.raises(ValidationFailed) as info:
        run_export(session, schema, users["am1"], fmt="pdf")
    assert set(info.value.fields) == {"format"}
    assert access_log(session) == []


def test_csv_has_labelled_columns_readable_values_and_the_row_scope(session, schema,
                                                                     users) -> None:
    rows = csv_rows(run_export(session, schema, users["am1"]))
    assert rows[0] == ZH_HEADERS  # form order, stored fields only: no sub-table
    by_name = {r[1]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert set(by_name) == {"张三", "'=1+2"}  # am1's own records; a formula stays text
    zhang = by_name["张三"]
    assert zhang["编号"] == "P-2026-0001"
    assert zhang["类型"] == "个人"
    assert zhang["身份证"] == "110105********002X"
    assert zhang["手机"] == "138****5678"
    assert zhang["月收入"] == "8000.50"
    assert zhang["标签"] == "贵宾、新客"
    assert zhang["见面时间"] == "2026-11-28 08:30:00"  # Asia/Shanghai
    assert by_name["'=1+2"]["月收入"] == "1234567.89" and by_name["'=1+2"]["身份证"] == ""
    everyone = csv_rows(run_export(session, schema, users["admin"], lang="en"))
    assert everyone[0][:3] == ["No.", "Name", "Kind"]
    assert sorted(r[1] for r in everyone[1:]) == ["'=1+2", "张三", "王五"]
    assert {r[2] for r in everyone[1:]} == {"Individual", "Enterprise"}


def test_filters_search_and_order_are_the_lists(session, schema, users) -> None:
    admin = users["admin"]
    rich = csv_rows(run_export(session, schema, admin, order_by=["income"], chunk=1,
                               where={"field": "income", "op": ">=", "value": "100"}))
    assert [r[5] for r in rich[1:]] == ["100.00", "8000.50", "1234567.89"]  # every chunk
    enterprise = csv_rows(run_export(session, schema, admin, order_by=["-income"],
                                     where={"field": "kind", "op": "=",
                                            "value": "enterprise"}))
    assert [r[1] for r in enterprise[1:]] == ["'=1+2", "王五"]
    found = csv_rows(run_export(session, schema, admin, search="王"))
    assert [r[1] for r in found[1:]] == ["王五"]
    with pytest.raises(ValidationFailed) as info:
        run_export(session, schema, admin, order_by=["id_number"])
    assert "order_by" in info.value.fields


def test_sensitive_values_stay_masked_for_the_unmask_right_and_hidden_fields_go(
        session, schema, users) -> None:
    result = run_export(session, schema, users["auditor"], fmt="xlsx")
    raw = result.path.read_bytes()
    sheet = load_workbook(result.path).active
    result.discard()
    headers = [c.value for c in sheet[1]]
    assert headers == [h for h in ZH_HEADERS if h != "月收入"]
    ids = [row[3].value for row in sheet.iter_rows(min_row=2)]
    assert "110105********002X" in ids
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        xml = b"".join(archive.read(n) for n in archive.namelist())
    assert VALID_ID.encode() not in xml and b"13812345678" not in xml


def test_xlsx_headers_cell_types_and_exact_money(session, schema, users) -> None:
    result = run_export(session, schema, users["admin"], fmt="xlsx", lang="en",
                        order_by=["income"])
    assert result.filename == "person-20261128-160000.xlsx"
    assert result.content_type.endswith("spreadsheetml.sheet") and result.row_count == 3
    with zipfile.ZipFile(result.path) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    book = load_workbook(result.path)
    result.discard()
    sheet = book.active
    assert sheet.title == "Person"
    assert [c.value for c in sheet[1]] == ["No.", "Name", "Kind", "ID number", "Mobile",
                                           "Income", "Tags", "Met at"]
    assert sheet[1][0].font.b
    rows = list(sheet.iter_rows(min_row=2))
    income = [r[5] for r in rows]
    assert [c.value for c in income] == [100, 8000.5, 1234567.89]
    assert all(c.data_type == "n" and c.number_format == "0.00" for c in income)
    assert "<v>1234567.89</v>" in sheet_xml  # the decimal digits as stored, no float noise
    formula = next(r[1] for r in rows if r[1].value == "=1+2")
    assert formula.data_type == "s"  # text, not a formula
    zhang = next(r for r in rows if r[1].value == "张三")
    assert zhang[7].value == datetime(2026, 11, 28, 8, 30)  # naive Asia/Shanghai
    assert zhang[7].is_date and zhang[7].number_format == "yyyy-mm-dd hh:mm:ss"
    assert zhang[6].value == "VIP, New" and zhang[0].data_type == "s"
    assert rows[0][7].value is None  # empty stays empty


def test_references_show_titles_with_one_query_per_field_per_chunk(session, schema,
                                                                   users) -> None:
    person_table = schema["person"].table.name
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if f"FROM {person_table}" in statement:
            statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        rows = csv_rows(run_export(session, schema, users["am1"], form="loan", chunk=2,
                                   order_by=["amount"]))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert rows[0] == ["客户", "金额", "到期日"]
    assert rows[1:] == [["张三", "300.00", "2026-12-31"], ["张三", "20000.05", "2026-12-31"],
                        ["张三", "50000.00", "2026-12-31"]]
    assert len(statements) == 2  # two chunks, one title query each (not one per row)


def test_archived_field_is_exported_after_a_republish(session, schema, users) -> None:
    doc = person_doc()
    doc["fields"] = [f for f in doc["fields"] if f["key"] != "income"]
    doc["permissions"] = copy.deepcopy(doc["permissions"])
    doc["permissions"]["auditor"].pop("hidden_fields")
    publish(session, doc)
    compiled = load_compiled_schema(session)
    assert [f.key for f in compiled["person"].archived] == ["income"]
    rows = csv_rows(run_export(session, compiled, users["am1"], order_by=["name"]))
    assert rows[0] == [h for h in ZH_HEADERS if h != "月收入"] + ["月收入 (已归档)"]
    assert sorted(r[-1] for r in rows[1:]) == ["1234567.89", "8000.50"]
    english = csv_rows(run_export(session, compiled, users["am1"], lang="en"))
    assert english[0][-1] == "Income (archived)"


def test_every_export_is_logged_with_its_reason_and_row_count(session, schema,
                                                              users) -> None:
    run_export(session, schema, users["am1"], reason="  核对客户名单 ").discard()
    run_export(session, schema, users["admin"], fmt="xlsx", where={
        "field": "kind", "op": "=", "value": "nothing"}, reason="空导出").discard()
    log = access_log(session)
    assert [(r.action, r.form_key, r.record_id, r.field_key, r.reason, r.actor_id)
            for r in log] == [
        ("export", "person", None, None, "核对客户名单 (2 rows)", users["am1"].user_id),
        ("export", "person", None, None, "空导出 (0 rows)", users["admin"].user_id)]


# --- the API and the list page -------------------------------------------------------------


@pytest.fixture
def export_dir(tmp_path, monkeypatch) -> Path:
    """Where exports are written while the response is sent."""
    path = tmp_path / "tmp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


@pytest.fixture
def app(tmp_path):
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path)}), TESTING=True)
    state = app.extensions["lendbase"]
    upgrade_database(state.engine)
    with state.sessions() as session:
        ensure_role(session, "admin", superuser=True)
        for role in ("manager", "clerk", "auditor"):
            ensure_role(session, role)
        ids = {name: create_user(session, name, PASSWORD, [role])
               for name, role in (("am1", "manager"), ("clerk", "clerk"))}
        session.commit()
        publish(session, person_doc())
        am1 = RecordService(session, state.registry.schema(session),
                            load_actor(session, ids["am1"], "zh"), state.cipher)
        am1.create("person", {"name": "张三", "kind": "individual", "id_number": VALID_ID,
                              "income": "8000.50"})
        am1.create("person", {"name": "李四", "kind": "enterprise", "income": "99.9"})
        session.commit()
    yield app
    state.engine.dispose()


def bearer(client, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username,
                                                        "password": PASSWORD})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}", "Accept-Language": "en"}


def test_api_export_downloads_the_file_and_uses_the_error_shape(app, export_dir) -> None:
    client = app.test_client()
    headers = bearer(client, "am1")
    response = client.post("/api/v1/records/person/export", headers=headers, json={
        "format": "csv", "reason": "risk review", "order_by": ["income"],
        "where": {"field": "kind", "op": "=", "value": "enterprise"}})
    assert response.status_code == 200, response.json
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "person-" in response.headers["Content-Disposition"]
    assert response.mimetype == "text/csv" and response.headers["X-Row-Count"] == "1"
    assert response.content_length == len(response.data)
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["No.", "Name", "Kind"] and rows[1][1:3] == ["李四", "Enterprise"]
    assert rows[1][5] == "99.90"
    assert len(list(export_dir.iterdir())) == 1
    response.close()
    assert list(export_dir.iterdir()) == []  # the temporary file goes with the response
    xlsx = client.post("/api/v1/records/person/export", headers=headers,
                       json={"reason": "risk review"})
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    assert load_workbook(io.BytesIO(xlsx.data)).active.max_row == 3
    xlsx.close()
    missing = client.post("/api/v1/records/person/export", headers=headers,
                          json={"format": "csv"})
    assert missing.status_code == 422
    assert set(missing.json["error"]["fields"]) == {"reason"}
    blank = client.post("/api/v1/records/person/export", headers=headers,
                        json={"format": "csv", "reason": "  "})
    assert blank.status_code == 422 and blank.json["error"]["code"] == "validation_failed"
    bad = client.post("/api/v1/records/person/export", headers=headers,
                      json={"format": "pdf", "reason": "x"})
    assert bad.status_code == 422 and "format" in bad.json["error"]["fields"]
    denied = client.post("/api/v1/records/person/export", headers=bearer(client, "clerk"),
                         json={"format": "csv", "reason": "curious"})
    assert denied.status_code == 403
    assert denied.json["error"]["code"] == "permission_denied"
    state = app.extensions["lendbase"]
    with state.engine.connect() as conn:
        reasons = conn.execute(select(db.access_log.c.reason)
                               .order_by(db.access_log.c.id)).scalars().all()
    assert reasons == ["risk review (1 rows)", "risk review (2 rows)"]  # committed
    spec = client.get("/api/openapi.json").json
    assert "post" in spec["paths"]["/api/v1/records/{form}/export"]


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def sign_in(client, username: str) -> None:
    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302


def test_list_page_export_button_and_download(app, export_dir) -> None:
    clerk = app.test_client()
    sign_in(clerk, "clerk")
    page = clerk.get("/f/person")
    assert page.status_code == 200 and "张三" in page.text
    assert 'id="export-records"' not in page.text and "export-modal" not in page.text
    denied = clerk.post("/f/person/export", data={"csrf_token": csrf_token(page.text),
                                                  "format": "csv", "reason": "curious"})
    assert denied.status_code == 403

    client = app.test_client()
    sign_in(client, "am1")
    page = client.get("/f/person?f.kind=enterprise&sort=-income")
    assert 'id="export-records"' in page.text and "导出" in page.text
    assert 'action="/f/person/export"' in page.text
    assert '<input type="hidden" name="f.kind" value="enterprise">' in page.text
    assert '<input type="hidden" name="sort" value="-income">' in page.text
    form = {"csrf_token": csrf_token(page.text), "f.kind": "enterprise", "sort": "-income",
            "format": "csv", "reason": "客户名单核对"}
    assert client.post("/f/person/export", data={**form, "csrf_token": "forged"}
                       ).status_code == 400
    response = client.post("/f/person/export", data=form)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:2] == ["编号", "姓名"] and [r[1] for r in rows[1:]] == ["李四"]
    response.close()
    assert list(export_dir.iterdir()) == []
    no_reason = client.post("/f/person/export", data={**form, "reason": " "})
    assert no_reason.status_code == 302
    assert no_reason.location.startswith("/f/person?")
    assert "f.kind=enterprise" in no_reason.location
    assert "导出需要填写原因" in client.get(no_reason.location).text
