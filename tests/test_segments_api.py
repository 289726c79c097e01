"""Segments over HTTP: the members endpoint with the reader's row scope, hidden and masked
fields and list filters; history and counts; simulate and recompute for administrators;
publish through the metadata API (dry run = simulation); the pages (list, members with their
tabs, builder, new segment); and a record change reaching the segment through the app's job
runtime (the subscribed handler)."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from lendbase import db
from lendbase.app import create_app
from lendbase.auth.tokens import issue_token
from lendbase.auth.users import create_user, ensure_role
from lendbase.config import load_settings
from lendbase.forms.publish import publish_form
from lendbase.jobs import runtime_of
from lendbase.meta.store import MetadataStore
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService
from lendbase.segments import publish_segment, recompute_segment
from tests.test_segments import UPSELL, customer_form, installment_form, segment_doc

PASSWORD = "secret-pass-1"
ID_NUMBER = "11010519491231002X"


def _build(var_dir) -> dict[str, Any]:
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(var_dir)}))
    state = app.extensions["lendbase"]
    db.platform_metadata.create_all(state.engine)
    today = datetime.now(UTC).date()
    with state.sessions.begin() as session:
        ensure_role(session, "admin", superuser=True)
        for role in ("account_manager", "analyst"):
            ensure_role(session, role)
        users = {name: create_user(session, name, PASSWORD, roles, display_name=name)
                 for name, roles in (("admin", ["admin"]), ("am1", ["account_manager"]),
                                     ("am2", ["account_manager"]), ("analyst", ["analyst"]),
                                     ("outsider", []))}
        store = MetadataStore(session, None)
        for doc in (customer_form(), installment_form()):
            store.create("forms", doc)
            publish_form(session, None, doc["key"], confirm=True)
    with state.sessions.begin() as session:
        schema = state.registry.schema(session)
        records = RecordService(session, schema, Actor.system(), state.cipher)
        ids = {}
        for name, owner, rating, balance in (("王一", "am1", "A", 100), ("王二", "am1", "A", 900),
                                             ("李一", "am2", "A", 200), ("李二", "am2", "B", 100),
                                             ("张三", "am1", "A", 300)):
            ids[name] = records.create("customer", {
                "name": name, "rating": rating, "balance": balance, "credit_limit": 1000,
                "id_number": ID_NUMBER}, owner_id=users[owner])["id"]
        records.create("installment", {"customer": ids["张三"], "period_no": 1,
                                       "status": "overdue",
                                       "due_date": (today - timedelta(days=20)).isoformat()})
        tokens = {name: issue_token(session, uid)[0] for name, uid in users.items()}
        store = MetadataStore(session, None)
        store.create("segments", segment_doc())
        publish_segment(session, None, "upsell")
        recompute_segment(session, "upsell", clock=lambda: datetime.now(UTC), schema=schema)
    state.engine.dispose()
    return {"users": users, "ids": ids, "tokens": tokens}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("segments_site")
    return var_dir, _build(var_dir)


@pytest.fixture
def app(built, tmp_path):
    source, info = built
    var_dir = tmp_path / "var"
    shutil.copytree(source, var_dir)
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(var_dir)}), TESTING=True)
    app.lb = info  # type: ignore[attr-defined]
    yield app
    app.extensions["lendbase"].engine.dispose()


def bearer(app, username: str) -> dict[str, str]:
    """A token issued when the site was built (signing in hashes the password: slow)."""
    return {"Authorization": f"Bearer {app.lb['tokens'][username]}"}


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def login(app, username: str):
    client = app.test_client()
    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": csrf(page.text)})
    assert response.status_code == 302
    return client


def names(items: list[dict[str, Any]]) -> set[str]:
    return {i["name"] for i in items}


def test_members_apply_the_readers_rights(app) -> None:
    client = app.test_client()
    admin = client.get("/api/v1/segments/upsell/members", headers=bearer(app, "admin"))
    assert admin.status_code == 200, admin.json
    assert names(admin.json["items"]) == {"王一", "李一"}
    assert {i["id_number"] for i in admin.json["items"]} == {"110105********002X"}
    am1 = client.get("/api/v1/segments/upsell/members", headers=bearer(app, "am1")).json
    assert names(am1["items"]) == {"王一"}  # own customers only
    analyst = client.get("/api/v1/segments/upsell/members?order_by=name",
                         headers=bearer(app, "analyst")).json
    assert names(analyst["items"]) == {"王一", "李一"}
    assert all("balance" not in i for i in analyst["items"])  # hidden from the analyst
    refused = client.get('/api/v1/segments/upsell/members?where={"field": "balance", "op": '
                         '">", "value": 1}', headers=bearer(app, "analyst"))
    assert refused.status_code == 422 and "where" in refused.json["error"]["fields"]
    outsider = client.get("/api/v1/segments/upsell/members", headers=bearer(app, "outsider"))
    assert outsider.status_code == 403
    missing = client.get("/api/v1/segments/nope/members", headers=bearer(app, "admin"))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_members_filters_search_and_paging(app) -> None:
    client = app.test_client()
    headers = bearer(app, "admin")
    query = client.post("/api/v1/segments/upsell/members/query", headers=headers, json={
        "where": {"field": "balance", "op": ">=", "value": 150}, "limit": 1})
    assert query.status_code == 200
    assert names(query.json["items"]) == {"李一"} and not query.json["has_more"]
    first = client.get("/api/v1/segments/upsell/members?limit=1&order_by=name",
                       headers=headers).json
    assert first["has_more"]
    second = client.get(f"/api/v1/segments/upsell/members?limit=1&order_by=name&after="
                        f"{first['next_cursor']}", headers=headers).json
    assert names(first["items"]) | names(second["items"]) == {"王一", "李一"}
    search = client.get("/api/v1/segments/upsell/members?q=李", headers=headers).json
    assert names(search["items"]) == {"李一"}


def test_history_and_counts(app) -> None:
    client = app.test_client()
    admin = client.get("/api/v1/segments/upsell/history", headers=bearer(app, "admin")).json
    assert {(i["title"], i["event"]) for i in admin["items"]} == {("王一", "entered"),
                                                                 ("李一", "entered")}
    am1 = client.get("/api/v1/segments/upsell/history", headers=bearer(app, "am1")).json
    assert [i["title"] for i in am1["items"]] == ["王一"]
    today = datetime.now(UTC).date()
    counts = client.get(f"/api/v1/segments/upsell/counts?from={today - timedelta(days=7)}",
                        headers=bearer(app, "am1")).json
    assert [(c["members"], c["entered"], c["left"]) for c in counts] == [(2, 2, 0)]
    listed = client.get("/api/v1/segments", headers=bearer(app, "am1")).json
    assert [(s["key"], s["members"]) for s in listed] == [("upsell", 2)]
    assert client.get("/api/v1/segments", headers=bearer(app, "outsider")).json == []
    bad = client.get("/api/v1/segments/upsell/counts?from=2026-02-01&to=2026-01-01",
                     headers=bearer(app, "admin"))
    assert bad.status_code == 422


def test_simulate_and_recompute_are_for_administrators(app) -> None:
    client = app.test_client()
    admin = bearer(app, "admin")
    wider = segment_doc(condition={"and": [{"field": "rating", "op": "in", "value": ["A", "B"]},
                                           *UPSELL["and"][1:]]})
    sim = client.post("/api/v1/segments/upsell/simulate", headers=admin,
                      json={"doc": wider, "lang": "zh"})
    assert sim.status_code == 200, sim.json
    assert (sim.json["members"], sim.json["entering"], sim.json["leaving"]) == (3, 1, 0)
    assert [s["title"] for s in sim.json["sample_entering"]] == ["李二"]
    past = client.post("/api/v1/segments/upsell/simulate", headers=admin,
                       json={"as_of": (date.today() - timedelta(days=60)).isoformat()})
    assert past.json["past"] and past.json["members"] == 3  # the overdue was to come
    assert "当前值" not in past.json["note"]  # worded in English unless asked
    broken = client.post("/api/v1/segments/upsell/simulate", headers=admin, json={
        "doc": {**wider, "condition": {"and": [{"field": "nope", "op": "=", "value": 1}]}}})
    assert broken.status_code == 422
    assert list(broken.json["error"]["fields"]) == ["/condition/and/0"]
    assert client.post("/api/v1/segments/upsell/simulate", headers=bearer(app, "am1"),
                       json={}).status_code == 403
    queued = client.post("/api/v1/segments/upsell/recompute", headers=admin)
    assert queued.status_code == 202 and queued.json["run_id"] >= 1
    assert client.post("/api/v1/segments/upsell/recompute",
                       headers=bearer(app, "am1")).status_code == 403
    runtime_of(app).run_until_idle()
    job = client.get(f"/api/v1/jobs/{queued.json['run_id']}", headers=admin).json
    assert job["status"] == "succeeded"


def test_publish_through_the_metadata_api(app) -> None:
    client = app.test_client()
    admin = bearer(app, "admin")
    draft = client.get("/api/v1/meta/segments/upsell", headers=admin).json
    doc = {**draft["doc"], "condition": {"field": "rating", "op": "=", "value": "B"}}
    saved = client.put("/api/v1/meta/segments/upsell", headers=admin,
                       json={"doc": doc, "lock_version": draft["lock_version"]})
    assert saved.status_code == 200
    stale = client.put("/api/v1/meta/segments/upsell", headers=admin,
                       json={"doc": doc, "lock_version": draft["lock_version"]})
    assert stale.status_code == 409
    dry = client.post("/api/v1/meta/segments/upsell/publish?dry_run=1", headers=admin)
    assert dry.status_code == 200
    assert dry.json["dry_run"] and dry.json["simulation"]["entering"] == 1
    assert dry.json["simulation"]["leaving"] == 2
    done = client.post("/api/v1/meta/segments/upsell/publish", headers=admin)
    assert done.status_code == 200 and done.json["version"] == 2
    runtime_of(app).run_until_idle()
    members = client.get("/api/v1/segments/upsell/members", headers=admin).json
    assert names(members["items"]) == {"李二"}
    versions = client.get("/api/v1/meta/segments/upsell/versions", headers=admin).json
    assert [v["version"] for v in versions] == [2, 1]
    spec = client.get("/api/openapi.json").json
    assert "/api/v1/segments/{key}/members" in spec["paths"]


def test_a_record_change_reaches_the_segment_through_the_job_runtime(app) -> None:
    client = app.test_client()
    admin = bearer(app, "admin")
    ids = app.lb["ids"]
    changed = client.patch(f"/api/v1/records/customer/{ids['王二']}", headers=admin,
                           json={"balance": "100"})
    assert changed.status_code == 200
    runtime_of(app).run_until_idle()
    members = client.get("/api/v1/segments/upsell/members", headers=admin).json
    assert names(members["items"]) == {"王一", "王二", "李一"}
    history = client.get("/api/v1/segments/upsell/history?limit=1", headers=admin).json
    assert history["items"][0]["title"] == "王二" and history["next_before"]


def test_pages(app) -> None:
    admin = login(app, "admin")
    listing = admin.get("/segments")
    assert listing.status_code == 200
    assert 'data-segment="upsell"' in listing.text and "提额营销池" in listing.text
    page = admin.get("/segments/upsell")
    assert page.status_code == 200
    assert page.text.count("data-record-id=") == 2 and "110105********002X" in page.text
    assert admin.get("/segments/upsell?f.rating=B").text.count("data-record-id=") == 0
    history = admin.get("/segments/upsell?tab=history")
    assert history.text.count('data-event="entered"') == 2
    counts = admin.get("/segments/upsell?tab=counts")
    assert counts.text.count("data-day=") == 1
    builder = admin.get("/admin/segments/upsell/edit")
    assert builder.status_code == 200 and 'id="segment-boot"' in builder.text
    token = csrf(listing.text)
    created = admin.post("/admin/segments/new", data={
        "key": "high_risk", "label_zh": "高风险池", "label_en": "High-risk pool",
        "form": "customer", "csrf_token": token})
    assert created.status_code == 302 and created.location.endswith(
        "/admin/segments/high_risk/edit")
    refused = admin.post("/admin/segments/new", data={
        "key": "Bad Key", "label_zh": "x", "label_en": "x", "form": "customer",
        "csrf_token": token})
    assert refused.status_code == 422 and 'data-error-for="/key"' in refused.text
    assert 'data-segment="high_risk"' in refused.text  # the list stays in place
    am1 = login(app, "am1")
    assert am1.get("/segments/upsell").text.count("data-record-id=") == 1
    assert am1.get("/admin/segments/upsell/edit").status_code == 403
    assert login(app, "outsider").get("/segments/upsell").status_code == 403
