"""The server-rendered pages through Flask's test client on SQLite: sign-in and lock-out, CSRF,
lists (empty state, paging, search, filters, sort), record forms with field errors, conflicts,
masking and unmasking, error pages and the language switch."""

from __future__ import annotations

import io
import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, insert, select

from lendbase import db
from lendbase.app import create_app
from lendbase.auth.users import create_user, ensure_role, load_actor
from lendbase.conditions.predicate import evaluate
from lendbase.config import load_settings
from lendbase.meta.store import MetadataStore
from lendbase.records.service import RecordService

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_FORMS = ROOT / "apps" / "credit_template" / "forms"
VALID_ID = "11010519491231002X"
OTHER_ID = "360426199101010071"
BAD_ID = "110105194912310021"  # wrong check character
PASSWORD = "secret-pass-1"


def _label(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def gadget_form() -> dict:
    """A small form with one field of most kinds, for list and widget tests."""
    return {
        "key": "gadget",
        "label": _label("测试物品", "Gadget"),
        "title_field": "name",
        "fields": [
            {"key": "name", "type": "text", "label": _label("名称", "Name"), "required": True,
             "max_length": 40, "searchable": True},
            {"key": "channel", "type": "select", "label": _label("渠道", "Channel"),
             "options": [{"value": "online", "label": _label("线上", "Online")},
                         {"value": "branch", "label": _label("门店", "Branch")}]},
            {"key": "amount", "type": "money", "label": _label("金额", "Amount"), "min": 0},
            {"key": "active", "type": "boolean", "label": _label("启用", "Active")},
            {"key": "start_on", "type": "date", "label": _label("开始日期", "Starts on")},
            {"key": "customer", "type": "reference", "label": _label("客户", "Customer"),
             "target": "customer"},
            {"key": "note", "type": "textarea", "label": _label("备注", "Note")},
        ],
        "layout": {"sections": [
            {"key": "main", "label": _label("基本", "Main"), "columns": 2,
             "fields": ["name", "channel", "amount", "active", "start_on", "customer"]},
            {"key": "more", "label": _label("更多", "More"), "columns": 1,
             "fields": ["note"]},
        ]},
        "list": {"columns": ["name", "channel", "amount", "active", "start_on", "customer"],
                 "default_sort": ["-created_at"],
                 "filters": ["channel", "active", "start_on", "amount", "created_at"]},
        "permissions": {"account_manager": {"actions": ["create", "read", "update"],
                                            "scope": "all"}},
    }


def _publish(session, doc: dict) -> None:
    from lendbase.forms.publish import publish_form

    MetadataStore(session, None).create("forms", doc)
    publish_form(session, None, doc["key"], dry_run=False, confirm=True, backfill=None,
                 note=None)


@pytest.fixture
def site(tmp_path):
    """An app on SQLite with branch/team/customer from the credit template, the gadget form,
    an installed-app row, and users: admin, two account managers and a collector."""
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path)}))
    app.config["TESTING"] = True
    state = app.extensions["lendbase"]
    db.platform_metadata.create_all(state.engine)
    with state.sessions.begin() as session:
        ensure_role(session, "admin", _label("管理员", "Administrator"), superuser=True)
        for role in ("account_manager", "collector"):
            ensure_role(session, role)
        users = {
            "admin": create_user(session, "admin", PASSWORD, ["admin"], display_name="管理员"),
            "am1": create_user(session, "am1", PASSWORD, ["account_manager"],
                               display_name="王经理"),
            "am2": create_user(session, "am2", PASSWORD, ["account_manager"],
                               display_name="李经理"),
            "collector": create_user(session, "collector", PASSWORD, ["collector"]),
        }
        for key in ("branch", "team", "customer"):
            _publish(session, json.loads((TEMPLATE_FORMS / f"{key}.json").read_text("utf-8")))
        _publish(session, gadget_form())
        session.execute(insert(db.app_install).values(
            key="credit_template", label=_label("信贷业务模板", "Credit lending template"),
            version="1.0.0", checksum="test", documents={"forms": ["branch", "team", "customer"]},
            installed_at=datetime.now(UTC)))
    app.lb_users = users  # type: ignore[attr-defined]
    yield app
    state.engine.dispose()


def service_for(app, username: str) -> tuple[RecordService, object]:
    state = app.extensions["lendbase"]
    session = state.sessions()
    actor = load_actor(session, app.lb_users[username], "zh")
    return RecordService(session, state.registry.schema(session), actor, state.cipher), session


def create_records(app, username: str, form: str, rows: list[dict]) -> list[dict]:
    svc, session = service_for(app, username)
    with session:
        created = [svc.create(form, row) for row in rows]
        session.commit()
    return created


def customer_data(app, **values) -> dict:
    data = {"customer_type": "individual", "name": "张三", "id_number": VALID_ID,
            "mobile": "13812345678", "channel": "online",
            "account_manager": app.lb_users["am1"], "lifecycle_stage": "lead"}
    data.update(values)
    return data


def token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD, follow: bool = False):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token(page.text)},
                       follow_redirects=follow)


def field_block(html: str, key: str) -> str:
    """The HTML of one field's wrapper on a record form."""
    start = html.index(f'data-lb-field="{key}"')
    end = html.find('data-lb-field="', start + 20)
    return html[start:end if end != -1 else len(html)]


# --- sign-in ---------------------------------------------------------------------------------


def test_login_page_is_utf8_chinese_by_default(site) -> None:
    page = site.test_client().get("/login")
    assert page.status_code == 200
    assert '<meta charset="utf-8">' in page.text
    assert '<html lang="zh-CN">' in page.text
    assert "LendBase 信贷平台" in page.text and "用户名" in page.text


def test_pages_redirect_strangers_to_login_with_next(site) -> None:
    client = site.test_client()
    response = client.get("/f/customer?q=张")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    assert response.location.startswith("/login?next=/f/customer?q%3D")
    response = login(client, "am1")
    assert response.status_code == 302 and response.location == "/"


def test_login_success_goes_to_next_and_rejects_foreign_next(site) -> None:
    client = site.test_client()
    page = client.get("/login?next=/f/gadget")
    response = client.post("/login", data={"username": "am1", "password": PASSWORD,
                                           "next": "/f/gadget", "csrf_token": token(page.text)})
    assert response.location == "/f/gadget"
    home = client.get("/")
    assert "王经理" in home.text
    client.post("/logout", data={"csrf_token": token(home.text)})
    page = client.get("/login")
    response = client.post("/login", data={"username": "am1", "password": PASSWORD,
                                           "next": "//evil.example/x",
                                           "csrf_token": token(page.text)})
    assert response.location == "/"


def test_login_failure_shows_message_and_counts(site) -> None:
    client = site.test_client()
    response = login(client, "am1", "wrong-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert 'value="am1"' in response.text  # the username stays typed
    state = site.extensions["lendbase"]
    with state.engine.connect() as conn:
        failures = conn.execute(select(db.user.c.failed_logins)
                                .where(db.user.c.username == "am1")).scalar()
    assert failures == 1  # committed although the response is an error


def test_lockout_after_repeated_failures(site) -> None:
    client = site.test_client()
    for _ in range(5):
        assert login(client, "am2", "wrong-password").status_code == 401
    wrong = login(client, "am2", "wrong-password")  # a guesser learns nothing of the lock
    assert wrong.status_code == 401 and "账号已锁定" not in wrong.text
    response = login(client, "am2", PASSWORD)
    assert response.status_code == 401
    assert "账号已锁定" in response.text
    with site.extensions["lendbase"].engine.connect() as conn:
        locked = conn.execute(select(db.user.c.locked_until)
                              .where(db.user.c.username == "am2")).scalar()
    assert locked is not None


def test_logout_needs_post_with_token(site) -> None:
    client = site.test_client()
    login(client, "am1")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    home = client.get("/")
    client.post("/logout", data={"csrf_token": token(home.text)})
    assert client.get("/").status_code == 302


# --- CSRF ------------------------------------------------------------------------------------


def test_form_posts_without_csrf_token_are_refused(site) -> None:
    client = site.test_client()
    response = client.post("/login", data={"username": "am1", "password": PASSWORD})
    assert response.status_code == 400
    assert "页面已过期" in response.text
    login(client, "am1")
    response = client.post("/f/gadget/new", data={"name": "x"})
    assert response.status_code == 400
    assert "页面已过期" in response.text
    response = client.post("/f/gadget/new", data={"name": "x", "csrf_token": "forged"})
    assert response.status_code == 400


def test_api_paths_are_not_csrf_checked(site) -> None:
    response = site.test_client().post("/api/v1/auth/token",
                                       json={"username": "am1", "password": PASSWORD})
    assert response.status_code != 400
    assert "csrf" not in response.get_data(as_text=True).lower()


def test_api_accepts_the_page_cookie_with_a_csrf_header_for_writes(site) -> None:
    client = site.test_client()
    login(client, "am1")
    assert client.get("/api/v1/auth/me").json["username"] == "am1"
    body = {"name": "x"}
    refused = client.post("/api/v1/records/gadget", json=body)
    assert refused.status_code == 403
    assert "X-CSRFToken" in refused.json["error"]["message"]
    csrf = token(client.get("/").text)
    accepted = client.post("/api/v1/records/gadget", json=body, headers={"X-CSRFToken": csrf})
    assert accepted.status_code in (201, 422), accepted.json  # past authentication and CSRF
    assert accepted.json.get("error", {}).get("code") != "permission_denied"


# --- home and lists --------------------------------------------------------------------------


def test_home_lists_installed_apps_and_forms(site) -> None:
    client = site.test_client()
    login(client, "am1")
    home = client.get("/")
    assert home.status_code == 200
    assert "信贷业务模板" in home.text and "客户" in home.text
    assert "其他表单" in home.text and "测试物品" in home.text  # not in any app
    assert 'href="/f/customer"' in home.text


def test_list_empty_state_offers_to_create(site) -> None:
    client = site.test_client()
    login(client, "am1")
    page = client.get("/f/gadget")
    assert page.status_code == 200
    assert "还没有记录" in page.text and "新建第一条记录" in page.text
    assert 'href="/f/gadget/new"' in page.text
    client = site.test_client()
    login(client, "collector")
    page = client.get("/f/customer")
    assert "还没有记录" in page.text and "新建第一条记录" not in page.text


def test_list_paginates_by_cursor(site) -> None:
    create_records(site, "am1", "gadget", [{"name": f"物品{i:02d}", "amount": i}
                                           for i in range(25)])
    client = site.test_client()
    login(client, "am1")
    first = client.get("/f/gadget?sort=name")
    names = re.findall(r"物品\d\d", first.text)
    assert len(set(names)) == 20 and names[0] == "物品00"
    match = re.search(r'href="([^"]*after=[^"]+)"[^>]*id="next-page"', first.text)
    assert match, "the first page links to the next one"
    assert "共" not in first.text  # no total count
    second = client.get(match.group(1).replace("&amp;", "&"))
    assert sorted(set(re.findall(r"物品\d\d", second.text))) == [f"物品{i}" for i in range(20, 25)]
    assert 'id="first-page"' in second.text and "sort=name" in second.text
    assert re.search(r'href="[^"]*after=[^"]*"[^>]*id="next-page"', second.text) is None


def test_list_search_filter_and_sort(site) -> None:
    create_records(site, "am1", "gadget", [
        {"name": "苹果", "channel": "online", "amount": "1234567.5", "active": True,
         "start_on": "2026-01-15"},
        {"name": "香蕉", "channel": "branch", "amount": "20", "active": False,
         "start_on": "2025-06-01"},
        {"name": "青苹果", "channel": "branch", "amount": "300", "active": True},
    ])
    client = site.test_client()
    login(client, "am1")
    page = client.get("/f/gadget")
    assert "1,234,567.50" in page.text  # money with thousands separators ...
    assert re.search(r'<td class="text-end lb-num">\s*1,234,567.50', page.text)  # ... right
    assert "线上" in page.text and "门店" in page.text  # options by their labels

    def names(url: str) -> list[str]:
        html = client.get(url).text
        return re.findall(r'<a class="fw-medium" href="/f/gadget/\d+">([^<]+)</a>', html)

    assert names("/f/gadget?q=苹果") == ["青苹果", "苹果"]
    assert names("/f/gadget?f.channel=branch") == ["青苹果", "香蕉"]
    assert names("/f/gadget?f.active=false") == ["香蕉"]
    assert names("/f/gadget?f.start_on.from=2026-01-01") == ["苹果"]
    assert names("/f/gadget?f.start_on.from=2025-01-01&f.start_on.to=2025-12-31") == ["香蕉"]
    assert names("/f/gadget?f.amount.from=100&f.channel=branch") == ["青苹果"]
    assert names("/f/gadget?sort=amount") == ["香蕉", "青苹果", "苹果"]
    assert names("/f/gadget?sort=-amount") == ["苹果", "青苹果", "香蕉"]
    today = datetime.now(UTC).date().isoformat()
    assert len(names(f"/f/gadget?f.created_at.from={today}&f.created_at.to={today}")) in (0, 3)
    assert len(names("/f/gadget?f.created_at.from=2000-01-01")) == 3
    assert names("/f/gadget?f.created_at.to=2000-01-01") == []
    sorted_page = client.get("/f/gadget?sort=amount").text
    assert 'aria-sort="ascending"' in sorted_page
    assert "sort=-amount" in sorted_page  # the header now sorts the other way
    empty = client.get("/f/gadget?q=没有这个").text
    assert "没有符合条件的记录" in empty


def test_list_shows_reference_titles_with_one_query_per_field(site) -> None:
    customers = create_records(site, "am1", "customer", [
        customer_data(site, name=f"客户{i}", id_number=None, mobile=f"1381234560{i}")
        for i in range(4)])
    create_records(site, "am1", "gadget", [{"name": f"物品{i}", "customer": c["id"]}
                                           for i, c in enumerate(customers)])
    client = site.test_client()
    login(client, "am1")
    statements: list[str] = []
    engine = site.extensions["lendbase"].engine

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        page = client.get("/f/gadget")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    for i in range(4):
        assert f'href="/f/customer/{customers[i]["id"]}">客户{i}</a>' in page.text
    customer_reads = [s for s in statements if "FROM f_customer" in s]
    assert len(customer_reads) == 1


def test_customer_list_labels_and_filters_by_tag_reference_and_user(site) -> None:
    (branch,) = create_records(site, "admin", "branch",
                               [{"code": "SH01", "name": "上海分部", "region": "310000"}])
    (team,) = create_records(site, "admin", "team", [{"name": "华东一组", "branch": branch["id"]}])
    create_records(site, "admin", "customer", [
        customer_data(site, name="甲", tags=["vip"], team=team["id"]),
        customer_data(site, name="乙", id_number=OTHER_ID, mobile="13912345678",
                      account_manager=site.lb_users["am2"]),
    ])
    client = site.test_client()
    login(client, "admin")
    page = client.get("/f/customer")
    assert "个人" in page.text and "线索" in page.text and "王经理" in page.text
    assert "individual" not in re.sub(r"<[^>]+>", "", page.text).split("客户经理", 1)[1]
    assert f'<option value="{team["id"]}">华东一组</option>' in page.text  # filter options

    def names(url: str) -> list[str]:
        html = client.get(url).text
        return re.findall(r'<a class="fw-medium" href="/f/customer/\d+">([^<]+)</a>', html)

    assert names("/f/customer?f.tags=vip") == ["甲"]
    assert names(f"/f/customer?f.team={team['id']}") == ["甲"]
    assert names(f"/f/customer?f.account_manager={site.lb_users['am2']}") == ["乙"]
    assert names("/f/customer?f.rating=z") == ["乙", "甲"]  # an unknown option is ignored


def test_missing_node_modules_still_renders_and_logs_the_fix(tmp_path, monkeypatch,
                                                               caplog) -> None:
    import lendbase.web.static as static

    monkeypatch.setattr(static, "NODE_MODULES", tmp_path / "node_modules")
    with caplog.at_level("WARNING"):
        app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path)}))
    assert "run npm ci" in caplog.text
    page = app.test_client().get("/login")
    assert page.status_code == 200 and "登录" in page.text
    assert app.test_client().get("/static/vendor/bootstrap/css/bootstrap.min.css"
                                 ).status_code == 404
    app.extensions["lendbase"].engine.dispose()


def test_display_formats() -> None:
    from decimal import Decimal

    from lendbase.web.display import format_datetime, format_number, format_percent

    assert format_datetime(datetime(2026, 1, 1, 0, 0, tzinfo=UTC)) == "2026-01-01 08:00"
    assert format_datetime(datetime(2026, 1, 1, 16, 30)) == "2026-01-02 00:30"  # naive = UTC
    assert format_datetime("2026-03-31T06:00:00+00:00") == "2026-03-31 14:00"
    assert format_number(Decimal("1234567.5"), 2) == "1,234,567.50"
    assert format_number(-1234, 0) == "-1,234"
    assert format_percent(Decimal("12.5000"), 4) == "12.50%"
    assert format_percent(Decimal("4.3750"), 4) == "4.375%"


# --- record forms ----------------------------------------------------------------------------


def test_new_form_is_generated_from_the_layout(site) -> None:
    client = site.test_client()
    login(client, "am1")
    page = client.get("/f/customer/new").text
    for tab in ("基本资料", "联系方式", "业务与风控", "附件与备注"):
        assert tab in page
    enterprise = re.search(r'<section[^>]*data-section="enterprise"[^>]*>', page).group(0)
    assert " hidden" in enterprise  # customer_type defaults to individual
    individual = re.search(r'<section[^>]*data-section="individual"[^>]*>', page).group(0)
    assert " hidden" not in individual
    assert 'type="date"' in page and 'inputmode="decimal"' in page  # numbers: text inputs
    assert 'name="region.p"' in page and 'name="region.d"' in page
    assert 'data-subtable="contacts"' in page and "data-add-row" in page
    assert 'type="file" name="documents.upload"' in page and 'accept=".pdf,.jpg,.jpeg,.png"' in page
    assert 'name="tags" value="vip"' in page  # multiselect as checkboxes
    assert "王经理" in field_block(page, "account_manager")  # user select
    assert "个人填写姓名" in page  # help text
    assert 'class="lb-required"' in field_block(page, "name")
    assert 'enctype="multipart/form-data"' in page
    assert "js/record_form.js" in page


def _post_customer(client, url: str, html: str, **values):
    data = {"csrf_token": token(html), "customer_type": "individual", "name": "张三",
            "id_number": VALID_ID, "mobile": "13812345678", "channel": "online",
            "lifecycle_stage": "lead"}
    data.update(values)
    return client.post(url, data={k: v for k, v in data.items() if v is not None},
                       content_type="multipart/form-data")


def test_create_with_bad_id_number_shows_the_error_by_the_field_then_saves(site) -> None:
    client = site.test_client()
    login(client, "am1")
    form = client.get("/f/customer/new").text
    am1 = str(site.lb_users["am1"])
    response = _post_customer(client, "/f/customer/new", form, id_number=BAD_ID,
                              account_manager=am1, address="上海市浦东新区")
    assert response.status_code == 422
    html = response.text
    assert 'id="error-summary"' in html and "身份证号" in html
    block = field_block(html, "id_number")
    assert "请输入有效的18位身份证号码" in block and "is-invalid" in block
    assert f'value="{BAD_ID}"' in block  # the typed values are kept
    assert 'value="上海市浦东新区"' in html
    assert f'<option value="{am1}" selected>' in html
    with site.extensions["lendbase"].engine.connect() as conn:
        assert conn.execute(select(db.audit.c.id)).first() is None  # nothing was written
    response = _post_customer(client, "/f/customer/new", html, account_manager=am1,
                              address="上海市浦东新区")
    assert response.status_code == 302
    record_url = response.location
    assert re.fullmatch(r"/f/customer/\d+", record_url)
    page = client.get(record_url).text
    assert "已保存" in page
    assert "110105********002X" in page and VALID_ID not in page
    assert "创建" in page  # the history


def test_subtable_rows_and_cell_errors(site) -> None:
    client = site.test_client()
    login(client, "am1")
    form = client.get("/f/customer/new").text
    cells = {"contacts.__present": "1",
             "contacts.0.id": "", "contacts.0.contact_name": "王五",
             "contacts.0.relation": "spouse", "contacts.0.phone": "13900001111",
             "contacts.3.id": "", "contacts.3.contact_name": "赵六",
             "contacts.3.relation": "friend", "contacts.3.phone": "123"}
    response = _post_customer(client, "/f/customer/new", form,
                              account_manager=str(site.lb_users["am1"]), **cells)
    assert response.status_code == 422
    html = response.text
    assert 'data-error-for="contacts.1.phone"' in html  # rows are renumbered 0, 1
    assert 'value="赵六"' in html and 'name="contacts.1.contact_name"' in html
    assert "联系人 #2 联系电话" in html  # the summary names the row and column
    cells["contacts.3.phone"] = "13900002222"
    response = _post_customer(client, "/f/customer/new", html,
                              account_manager=str(site.lb_users["am1"]), **cells)
    assert response.status_code == 302
    svc, session = service_for(site, "am1")
    with session:
        record = svc.get("customer", int(response.location.rsplit("/", 1)[1]))
    assert [c["contact_name"] for c in record["contacts"]] == ["王五", "赵六"]


def test_file_upload_is_stored_and_downloadable(site, tmp_path) -> None:
    client = site.test_client()
    login(client, "am1")
    form = client.get("/f/customer/new").text
    bad = _post_customer(client, "/f/customer/new", form,
                         account_manager=str(site.lb_users["am1"]),
                         **{"documents.upload": (io.BytesIO(b"MZ"), "tool.exe")})
    assert bad.status_code == 422 and "不允许上传 .exe 类型的文件" in bad.text
    response = _post_customer(client, "/f/customer/new", bad.text,
                              account_manager=str(site.lb_users["am1"]),
                              **{"documents.upload": (io.BytesIO(b"%PDF-1.4 test"),
                                                      "身份证.pdf")})
    assert response.status_code == 302
    page = client.get(response.location).text
    match = re.search(r'href="/files/(\d+)"[^>]*>.*?身份证.pdf', page, re.S)
    assert match
    download = client.get(f"/files/{match.group(1)}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 test"
    files = list((tmp_path / "files").rglob("*.pdf"))
    assert len(files) == 1  # the refused .exe left nothing behind


def test_edit_with_stale_version_shows_the_conflict_page(site) -> None:
    (record,) = create_records(site, "am1", "customer", [customer_data(site)])
    url = f"/f/customer/{record['id']}/edit"
    client = site.test_client()
    login(client, "am1")
    first = client.get(url).text
    second = client.get(url).text
    assert 'name="version" value="1"' in first
    saved = _post_customer(client, url, first, name="张三丰", id_number="110105********002X",
                           mobile="138****5678", account_manager=str(site.lb_users["am1"]),
                           version="1")
    assert saved.status_code == 302
    stale = _post_customer(client, url, second, name="张三李", version="1",
                           id_number="110105********002X", mobile="138****5678",
                           account_manager=str(site.lb_users["am1"]))
    assert stale.status_code == 409
    assert "记录已被他人修改" in stale.text
    assert f'href="{url}"' in stale.text and "重新加载记录" in stale.text
    svc, session = service_for(site, "am1")
    with session:
        current = svc.get("customer", record["id"])
    assert current["name"] == "张三丰" and current["version"] == 2
    assert current["id_number"] == "110105********002X"  # the masked value meant "unchanged"
    page = client.get(f"/f/customer/{record['id']}").text
    assert "张三" in page and "张三丰" in page  # history shows before and after


def test_edit_keeps_masked_values_and_untouched_subtable_rows(site) -> None:
    contacts = [{"contact_name": "王五", "relation": "spouse", "phone": "13900001111"}]
    (record,) = create_records(site, "am1", "customer",
                               [customer_data(site, contacts=contacts)])
    # credit_limit is read-only for account managers, on create too: an admin sets it
    svc, session = service_for(site, "admin")
    with session:
        svc.update("customer", record["id"], {"credit_limit": "5000"})
        session.commit()
    url = f"/f/customer/{record['id']}/edit"
    client = site.test_client()
    login(client, "am1")
    form = client.get(url).text
    assert 'value="139****1111"' in form and 'name="contacts.0.id"' in form
    assert 'name="credit_limit"' not in form  # read-only for account managers
    assert "5,000.00" in field_block(form, "credit_limit")
    data = {"csrf_token": token(form), "version": "2", "customer_type": "individual",
            "name": "张三", "id_number": "110105********002X", "mobile": "138****5678",
            "channel": "branch", "lifecycle_stage": "lead",
            "account_manager": str(site.lb_users["am1"]), "contacts.__present": "1",
            "contacts.0.id": re.search(r'name="contacts.0.id" value="(\d+)"', form).group(1),
            "contacts.0.contact_name": "王五", "contacts.0.relation": "spouse",
            "contacts.0.phone": "139****1111", "contacts.0.is_emergency": "0",
            "contacts.0.consent_to_contact": "0"}
    response = client.post(url, data=data)
    assert response.status_code == 302, response.text
    svc, session = service_for(site, "admin")
    with session:
        current = svc.get("customer", record["id"])
        assert current["channel"] == "branch" and current["version"] == 3
        assert svc.unmask("customer", record["id"], "mobile", "测试核对") == "13812345678"
    assert [c["contact_name"] for c in current["contacts"]] == ["王五"]


def test_edit_keeps_an_unchanged_datetime_exactly(site) -> None:
    """A date-time input shows minutes (seconds when there are some); posting it back as shown
    must not cut the stored seconds or microseconds off, nor log a change that did not happen."""
    state = site.extensions["lendbase"]
    with state.sessions.begin() as session:
        _publish(session, {"key": "visit", "label": _label("拜访", "Visit"), "fields": [
            {"key": "title", "type": "text", "label": _label("主题", "Title")},
            {"key": "met_at", "type": "datetime", "label": _label("时间", "Met at")}]})
    (record,) = create_records(site, "admin", "visit",
                               [{"title": "首访", "met_at": "2024-01-16T16:04:29.123456+08:00"}])
    url = f"/f/visit/{record['id']}/edit"
    client = site.test_client()
    login(client, "admin")
    form = client.get(url).text
    assert 'value="2024-01-16T16:04:29"' in form and 'step="1"' in form
    response = client.post(url, data={"csrf_token": token(form), "version": "1",
                                       "title": "首访（改）", "met_at": "2024-01-16T16:04:29"})
    assert response.status_code == 302, response.text
    svc, session = service_for(site, "admin")
    with session:
        current = svc.get("visit", record["id"])
        history = svc.history("visit", record["id"])
    assert current["met_at"] == record["met_at"]  # to the microsecond
    assert set(history[0]["changes"]) == {"title"}


def test_record_page_leaves_out_a_section_whose_fields_are_all_hidden(site) -> None:
    state = site.extensions["lendbase"]
    with state.sessions.begin() as session:
        _publish(session, {"key": "survey", "label": _label("调查", "Survey"), "fields": [
            {"key": "kind", "type": "select", "label": _label("类型", "Kind"),
             "options": [{"value": "a", "label": _label("甲", "A")},
                         {"value": "b", "label": _label("乙", "B")}]},
            {"key": "note", "type": "text", "label": _label("补充", "Note"),
             "visible_when": {"field": "kind", "op": "=", "value": "b"}}],
            "layout": {"sections": [
                {"key": "main", "label": _label("基本", "Main"), "fields": ["kind"]},
                {"key": "extra", "label": _label("补充信息", "More"), "fields": ["note"]},
                {"key": "blank", "label": _label("空分组", "Blank"), "fields": []}]}})
    a, b = create_records(site, "admin", "survey", [{"kind": "a"}, {"kind": "b", "note": "x"}])
    client = site.test_client()
    login(client, "admin")

    def section_tag(record_id: int, key: str) -> str:
        page = client.get(f"/f/survey/{record_id}").text
        return re.search(rf'<section[^>]*data-section="{key}"[^>]*>', page).group(0)

    assert " hidden" in section_tag(a["id"], "extra")  # its one field is hidden
    assert " hidden" not in section_tag(b["id"], "extra")
    assert 'data-section="blank"' not in client.get(f"/f/survey/{b['id']}").text  # no fields


def test_delete_needs_the_current_version(site) -> None:
    (record,) = create_records(site, "admin", "gadget", [{"name": "待删除"}])
    client = site.test_client()
    login(client, "admin")
    page = client.get(f"/f/gadget/{record['id']}").text
    stale = client.post(f"/f/gadget/{record['id']}/delete",
                        data={"csrf_token": token(page), "version": "7"})
    assert stale.status_code == 409
    done = client.post(f"/f/gadget/{record['id']}/delete",
                       data={"csrf_token": token(page), "version": "1"})
    assert done.status_code == 302 and done.location == "/f/gadget"
    assert client.get(f"/f/gadget/{record['id']}").status_code == 404


# --- sensitive values ------------------------------------------------------------------------


def test_id_number_is_masked_without_unmask_right(site) -> None:
    (record,) = create_records(site, "am1", "customer", [customer_data(site)])
    client = site.test_client()
    login(client, "am1")
    page = client.get(f"/f/customer/{record['id']}").text
    assert "110105********002X" in page and VALID_ID not in page
    assert "data-unmask-field" not in page
    response = client.post(f"/f/customer/{record['id']}/unmask/id_number",
                           data={"csrf_token": token(page), "reason": "核实客户身份"},
                           headers={"X-Requested-With": "fetch"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "permission_denied"


def test_unmask_with_reason_is_logged(site) -> None:
    (record,) = create_records(site, "am1", "customer", [customer_data(site)])
    client = site.test_client()
    login(client, "admin")
    page = client.get(f"/f/customer/{record['id']}").text
    assert 'data-unmask-field="id_number"' in page
    url = f"/f/customer/{record['id']}/unmask/id_number"
    short = client.post(url, data={"csrf_token": token(page), "reason": "看"},
                        headers={"X-Requested-With": "fetch"})
    assert short.status_code == 422 and "reason" in short.json["error"]["fields"]
    response = client.post(url, data={"csrf_token": token(page), "reason": "核实客户身份"},
                           headers={"X-Requested-With": "fetch"})
    assert response.status_code == 200
    assert response.json == {"field": "id_number", "value": VALID_ID}
    assert response.headers["Cache-Control"] == "no-store"
    fallback = client.post(url, data={"csrf_token": token(page), "reason": "电话核实身份"})
    assert fallback.status_code == 200 and VALID_ID in fallback.text
    with site.extensions["lendbase"].engine.connect() as conn:
        rows = conn.execute(select(db.access_log.c.reason, db.access_log.c.field_key,
                                   db.access_log.c.actor_id)).all()
    assert [(r.reason, r.field_key) for r in rows] == [("核实客户身份", "id_number"),
                                                      ("电话核实身份", "id_number")]
    assert {r.actor_id for r in rows} == {site.lb_users["admin"]}


# --- error pages and language ----------------------------------------------------------------


def test_404_for_missing_and_out_of_scope_records(site) -> None:
    (record,) = create_records(site, "am1", "customer", [customer_data(site)])
    client = site.test_client()
    login(client, "am2")  # account managers see their own customers only
    hidden = client.get(f"/f/customer/{record['id']}")
    assert hidden.status_code == 404 and "页面不存在" in hidden.text
    assert "张三" not in hidden.text
    assert client.get(f"/f/customer/{record['id']}/edit").status_code == 404
    missing = client.get("/f/customer/99999")
    assert missing.status_code == 404 and "lb-error" in missing.text
    assert client.get("/f/no_such_form").status_code == 404
    unknown = client.get("/no/such/page")
    assert unknown.status_code == 404 and "页面不存在" in unknown.text


def test_403_page_for_a_forbidden_action(site) -> None:
    client = site.test_client()
    login(client, "collector")
    page = client.get("/f/customer/new")
    assert page.status_code == 403 and "没有权限" in page.text


def test_500_page_looks_like_the_product(site, monkeypatch) -> None:
    import lendbase.web.home_views as home_views

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    client = site.test_client()
    login(client, "am1")
    monkeypatch.setattr(home_views, "navigation", broken)
    page = client.get("/")
    assert page.status_code == 500
    assert "系统出错了" in page.text and "boom" not in page.text


def test_language_switch_renders_english_labels(site) -> None:
    create_records(site, "am1", "customer", [customer_data(site)])
    client = site.test_client()
    login(client, "am1")
    response = client.get("/lang/en?next=/f/customer")
    assert response.status_code == 302 and response.location == "/f/customer"
    page = client.get("/f/customer").text
    assert '<html lang="en">' in page
    assert "Customer name" in page and "Lifecycle stage" in page and "New" in page
    assert "Individual" in page and "Lead" in page
    form = client.get("/f/customer/new").text
    assert "Profile" in form and "Resident ID number" in form
    client.get("/lang/zh")
    assert "客户名称" in client.get("/f/customer").text


def test_english_validation_messages(site) -> None:
    client = site.test_client()
    login(client, "am1")
    client.get("/lang/en")
    form = client.get("/f/customer/new").text
    response = _post_customer(client, "/f/customer/new", form, id_number=BAD_ID, name="",
                              account_manager=str(site.lb_users["am1"]))
    assert response.status_code == 422
    assert "check character" in field_block(response.text, "id_number")
    assert "is required" in field_block(response.text, "name")


# --- small endpoints -------------------------------------------------------------------------


def test_regions_endpoint_and_static_files(site) -> None:
    client = site.test_client()
    assert client.get("/static/css/app.css").status_code == 200
    assert client.get("/static/js/conditions.js").status_code == 200
    login(client, "am1")
    provinces = client.get("/regions/").json
    assert {"code": "110000", "name": "北京市"} in provinces
    children = client.get("/regions/110000").json
    assert children and all(c["code"].startswith("11") for c in children)
    if (ROOT / "node_modules" / "bootstrap" / "dist").is_dir():
        css = client.get("/static/vendor/bootstrap/css/bootstrap.min.css")
        assert css.status_code == 200 and b"Bootstrap" in css.data[:200]
    assert client.get("/static/vendor/unknown/x.css").status_code == 404


CONDITION_CASES = [
    ({"field": "kind", "op": "=", "value": "individual"}, {"kind": "individual"}),
    ({"field": "kind", "op": "=", "value": "individual"}, {"kind": None}),
    ({"field": "amount", "op": ">", "value": 10}, {"amount": 12}),
    ({"field": "amount", "op": ">", "value": 10}, {"amount": None}),
    ({"field": "amount", "op": "between", "value": [1, 5]}, {"amount": 5}),
    ({"field": "kind", "op": "in", "value": ["a", "b"]}, {"kind": "b"}),
    ({"field": "kind", "op": "not_in", "value": ["a", "b"]}, {"kind": "c"}),
    ({"field": "name", "op": "contains", "value": "ABC"}, {"name": "xabcx"}),
    ({"field": "name", "op": "starts_with", "value": "x"}, {"name": "Xy"}),
    ({"field": "name", "op": "ends_with", "value": "y"}, {"name": None}),
    ({"field": "tags", "op": "=", "value": "vip"}, {"tags": ["new", "vip"]}),
    ({"field": "tags", "op": "is_empty"}, {"tags": []}),
    ({"field": "name", "op": "is_not_empty"}, {"name": ""}),
    ({"not": {"field": "flag", "op": "=", "value": True}}, {"flag": None}),
    ({"and": [{"field": "a", "op": ">=", "value": 1}, {"or": [
        {"field": "b", "op": "!=", "value": "x"}, {"field": "c", "op": "<", "value": 3}]}]},
     {"a": 1, "b": "x", "c": 2}),
    ({"field": "a", "op": "<", "value": 3}, {"a": "2"}),  # unlike kinds never compare
]


def test_browser_conditions_agree_with_the_python_predicate() -> None:
    """visible_when runs in the browser (conditions.js) and on the server (predicate.py)."""
    module = ROOT / "lendbase" / "web" / "static" / "js" / "conditions.js"
    script = (f"import {{ evaluate }} from {json.dumps(module.as_uri())};\n"
              f"const cases = {json.dumps(CONDITION_CASES)};\n"
              "console.log(JSON.stringify(cases.map(([n, r]) => evaluate(n, r))));\n")
    out = subprocess.run(["node", "--input-type=module", "-e", script], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    assert json.loads(out) == [evaluate(node, record) for node, record in CONDITION_CASES]


def test_every_template_form_renders_its_pages(tmp_path) -> None:
    """The list, new and record pages of all credit-template forms (every field type)."""
    from lendbase.meta.apps import install_app

    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path)}))
    state = app.extensions["lendbase"]
    db.platform_metadata.create_all(state.engine)
    with state.sessions.begin() as session:
        install_app(session, ROOT / "apps" / "credit_template")
        app.lb_users = {"admin": create_user(session, "admin", PASSWORD, ["admin"])}
    client = app.test_client()
    login(client, "admin")
    keys = json.loads((ROOT / "apps" / "credit_template" / "app.json").read_text())["forms"]
    home = client.get("/").text
    for key in keys:
        assert f'href="/f/{key}"' in home
        listing = client.get(f"/f/{key}")
        assert listing.status_code == 200, key
        form = client.get(f"/f/{key}/new")
        assert form.status_code == 200, key
        assert 'id="record-form"' in form.text
    (branch,) = create_records(app, "admin", "branch",
                               [{"code": "BJ01", "name": "北京分部", "region": "110000"}])
    page = client.get(f"/f/branch/{branch['id']}")
    assert page.status_code == 200 and "北京市" in page.text
    state.engine.dispose()
