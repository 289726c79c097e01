"""The record form's checks in real Chromium say what the server says. For tables of bad
inputs the message shown under each field before the post equals the message the server puts
there when the same page is posted with the checks bypassed (``form.submit()`` fires no submit
event), in Chinese and in English; the checks in static/js/validation.js also agree with
``coerce_value`` on thousands of generated values. A blocked submit focuses the first invalid
field (opening its tab), a hidden required field does not block, a unique violation still comes
back from the server next to its field, and a file uploads with a progress bar, then saves with
the record; an oversize file is refused before it is sent. Screenshots go to
artifacts/screenshots/client-validation-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from lendbase import db
from lendbase.auth.users import load_actor
from lendbase.forms.checks import complete_id_number
from lendbase.forms.messages import catalog_for, message
from lendbase.forms.model import load_field
from lendbase.forms.values import FieldValueError, coerce_value, is_empty
from lendbase.meta.store import MetadataStore
from lendbase.records.service import RecordService
from lendbase.web.widgets import field_rules
from tests.browser_support import SHOTS, app_with_admin, require_browser_setup, serving

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist")
PASSWORD = "secret-pass-5"
FORM = "probe"
VALID_ID = "11010519491231002X"
BAD_ID = "110105194912310021"  # wrong check character
VALID_USCC = "91350100M000100Y43"
_STATE: dict = {}


def _l(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


PROBE_FIELDS = [
    {"key": "name", "type": "text", "label": _l("名称", "Name"), "required": True,
     "max_length": 5},
    {"key": "ref", "type": "text", "label": _l("编号", "Reference"),
     "pattern": "^[A-Z]{2}[0-9]{4}$"},
    {"key": "count", "type": "integer", "label": _l("数量", "Count"), "min": 0, "max": 1000},
    {"key": "rate", "type": "decimal", "label": _l("系数", "Factor"), "decimals": 2,
     "digits": 8},
    {"key": "amount", "type": "money", "label": _l("金额", "Amount"), "min": 100},
    {"key": "start_on", "type": "date", "label": _l("开始日期", "Starts on"),
     "min": "2020-01-01"},
    {"key": "happened_at", "type": "datetime", "label": _l("发生时间", "Happened at")},
    {"key": "mobile", "type": "phone", "label": _l("手机号", "Mobile")},
    {"key": "id_number", "type": "id_number", "label": _l("身份证号", "ID number"),
     "sensitive": True},
    {"key": "uscc", "type": "uscc", "label": _l("信用代码", "Credit code")},
    {"key": "email", "type": "email", "label": _l("邮箱", "E-mail")},
    {"key": "code", "type": "text", "label": _l("唯一码", "Unique code"), "unique": True,
     "max_length": 20},
    {"key": "kind", "type": "select", "label": _l("类型", "Kind"), "default": "person",
     "options": [{"value": "person", "label": _l("个人", "Person")},
                 {"value": "company", "label": _l("企业", "Company")}]},
    {"key": "company_name", "type": "text", "label": _l("企业名称", "Company name"),
     "required": True, "visible_when": {"field": "kind", "op": "=", "value": "company"}},
    {"key": "remark", "type": "text", "label": _l("备注", "Remark"), "required": True},
    {"key": "tags", "type": "multiselect", "label": _l("标签", "Tags"), "max_items": 2,
     "options": [{"value": v, "label": _l(v, v)} for v in ("a", "b", "c")]},
    {"key": "lines", "type": "subtable", "label": _l("明细", "Lines"), "max_rows": 3,
     "fields": [{"key": "item", "type": "text", "label": _l("品名", "Item"), "required": True,
                 "max_length": 10},
                {"key": "qty", "type": "integer", "label": _l("件数", "Qty"), "min": 1}]},
    {"key": "attachment", "type": "file", "label": _l("附件", "Attachment"),
     "accept": [".pdf", ".png"], "max_size_mb": 1},
]
PROBE = {
    "key": FORM, "label": _l("校验样例", "Validation probe"), "title_field": "name",
    "fields": PROBE_FIELDS,
    "layout": {"tabs": [
        {"key": "main", "label": _l("基本", "Main"), "sections": [
            {"key": "basic", "label": _l("基本信息", "Basics"), "columns": 2,
             "fields": ["name", "ref", "count", "rate", "amount", "start_on", "happened_at",
                        "mobile", "id_number", "uscc", "email", "code", "kind",
                        "company_name"]}]},
        {"key": "more", "label": _l("更多", "More"), "sections": [
            {"key": "extra", "label": _l("补充", "Extra"), "columns": 2,
             "fields": ["remark", "tags", "lines", "attachment"]}]}]},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    from lendbase.forms.publish import publish_form

    app, state, admin = app_with_admin(tmp_path_factory.mktemp("var"), PASSWORD)
    _STATE.update(state=state, admin=admin)
    with state.sessions.begin() as session:
        MetadataStore(session, None).create("forms", PROBE)
        publish_form(session, None, FORM, confirm=True)
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def _service(session) -> RecordService:  # type: ignore[no-untyped-def]
    state = _STATE["state"]
    return RecordService(session, state.registry.schema(session),
                         load_actor(session, _STATE["admin"], "zh"), state.cipher)


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"client-validation-{name}.png"), full_page=True)


def _signed_in(browser, server: str, lang: str = "zh"):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="zh-CN" if lang == "zh" else "en-US",
                                  viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    page.goto(f"{server}/lang/{lang}?next=/")
    return context, page, errors


def _tab(page, key: str) -> None:  # type: ignore[no-untyped-def]
    page.click(f"button[data-tab-key={key}]")
    sync_api.expect(page.locator(f"#pane-{key}")).to_be_visible()


def _fill_valid(page) -> None:  # type: ignore[no-untyped-def]
    """Every field the probe checks, filled with a value both sides accept."""
    _tab(page, "main")
    page.fill("#fld-name", "张三")
    page.fill("#fld-amount", "8,000.50")
    page.fill("#fld-mobile", "13812345678")
    page.fill("#fld-id_number", VALID_ID)
    _tab(page, "more")
    page.fill("#fld-remark", "ok")


def _field_errors(page) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return page.evaluate("""() => {
        const out = {};
        for (const el of document.querySelectorAll('.invalid-feedback[data-error-for]')) {
            if (el.closest('[hidden]')) continue;
            (out[el.dataset.errorFor] ||= []).push(el.textContent.trim());
        }
        return out;
    }""")


# Each row: (field, the value typed, the message's code) for a table of bad inputs; the same
# values are posted with the checks bypassed and the server's texts compared.
TABLE_ONE = [
    ("name", "abcdefg", "too_long"),
    ("ref", "it's", "pattern"),
    ("count", "12a", "not_integer"),
    ("rate", "1.234", "decimals"),
    ("amount", "50", "below_min"),
    ("start_on", "2300-01-01", "date_range"),
    ("mobile", "1381234567", "phone"),
    ("id_number", BAD_ID, "id_number"),
    ("uscc", "91350100M000100Y44", "uscc"),
    ("email", "a@b", "email"),
    ("remark", "", "required"),
]
TABLE_TWO = [
    ("name", "   ", "required"),
    ("ref", 'say "hi"', "pattern"),
    ("count", "1001", "above_max"),
    ("rate", "abc", "not_number"),
    ("amount", "8,000.555", "decimals"),
    ("start_on", "2019-12-31", "below_min"),
    ("happened_at", "2300-01-01T10:00", "date_range"),
    ("mobile", "12812345678", "phone"),
    ("id_number", "110105209912310021", "id_number"),
    ("uscc", "9135O100M000100Y43", "uscc"),
    ("email", "a b@c.d", "email"),
    ("count", "9" * 20, "too_many_digits"),
]


def _type_values(page, rows) -> None:  # type: ignore[no-untyped-def]
    for key, value, _code in rows:
        locator = page.locator(f"#fld-{key}")
        if not locator.is_visible():
            page.click(f"button[data-tab-key={'more' if key == 'remark' else 'main'}]")
        limit = locator.get_attribute("maxlength")
        if locator.get_attribute("type") in {"date", "datetime-local"} or (
                limit and len(value) > int(limit)):
            # the native pickers take keyboard input segment by segment, and typing stops at
            # maxlength (a script or an old browser does not): set the whole value
            locator.evaluate("(el, v) => { el.value = v; "
                             "el.dispatchEvent(new Event('input', {bubbles: true})); "
                             "el.dispatchEvent(new Event('change', {bubbles: true})); }", value)
        else:
            locator.fill(value)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("table", [TABLE_ONE, TABLE_TWO], ids=["table1", "table2"])
def test_client_messages_equal_the_servers(server: str, browser, lang: str, table) -> None:
    context, page, errors = _signed_in(browser, server, lang)
    rows = list(dict((key, (key, value, code)) for key, value, code in table).values())
    page.goto(f"{server}/f/{FORM}/new")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    _type_values(page, rows)
    page.click("#save")
    assert errors == [], f"JavaScript errors: {errors}"
    sync_api.expect(page.locator("#error-summary")).to_be_visible()
    assert posts == [], "the form was posted although the browser found errors"
    client = _field_errors(page)
    if table is TABLE_ONE:
        assert page.evaluate("document.activeElement.id") == "fld-name"  # the first invalid
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, f"errors-{lang}")
    for key, _value, code in rows:
        assert key in client, f"no client error for {key} ({code}); got {client}"
    # the same page posted without the checks: the server's own messages
    with page.expect_navigation():
        page.evaluate("document.getElementById('record-form').submit()")
    server_errors = _field_errors(page)
    for key, value, code in rows:
        assert client[key] == server_errors.get(key), (key, value, code)
    catalog = catalog_for(lang)
    for key, _value, code in rows:  # and they are the catalogue's texts in the page language
        if "{detail}" not in catalog[code] and "{" not in catalog[code]:
            assert client[key] == [catalog[code]]
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


def test_submit_is_blocked_and_the_first_invalid_field_gets_focus_in_its_tab(server: str,
                                                                          browser) -> None:
    """Only the second tab's required field is empty: the post is blocked, that tab opens and
    the field has the focus; the required field that visible_when hides does not block."""
    expect = sync_api.expect
    context, page, errors = _signed_in(browser, server, "zh")
    page.goto(f"{server}/f/{FORM}/new")
    _fill_valid(page)
    page.fill("#fld-remark", "")
    _tab(page, "main")
    assert page.locator("#fld-company_name").is_hidden()  # required, but hidden: kind=person
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.click("#save")
    expect(page.locator("#pane-more")).to_be_visible()
    expect(page.locator("#fld-remark")).to_be_focused()
    expect(page.locator("[data-error-for=remark]")).to_have_text("必填")
    expect(page.locator("#fld-remark")).to_have_class(re.compile(r"\bis-invalid\b"))
    described = page.locator("#fld-remark").get_attribute("aria-describedby")
    expect(page.locator(f"#{described}")).to_have_text("必填")  # read out with the field
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("有 1 处需要修改")
    expect(summary.locator("a")).to_have_text("备注")
    expect(page.locator("button[data-tab-key=more] .badge")).to_have_text("1")
    assert posts == []
    # the summary's link leads back to the field from another tab
    _tab(page, "main")
    summary.locator("a", has_text="备注").click()
    expect(page.locator("#fld-remark")).to_be_focused()
    # fixing the field clears its error, the summary and the tab's count on blur
    page.fill("#fld-remark", "补充说明")
    page.locator("#fld-remark").blur()
    expect(page.locator("[data-error-for=remark]")).to_have_count(0)
    expect(summary).to_have_count(0)
    expect(page.locator("button[data-tab-key=more] .badge")).to_have_count(0)
    # a field that becomes visible is required again, and blocks
    _tab(page, "main")
    page.select_option("#fld-kind", "company")
    page.click("#save")
    expect(page.locator("#fld-company_name")).to_be_focused()
    expect(page.locator("[data-error-for=company_name]")).to_have_text("必填")
    page.select_option("#fld-kind", "person")  # hidden again: neither required nor saved
    with page.expect_navigation():
        page.click("#save")
    assert re.search(rf"/f/{FORM}/\d+$", page.url), page.url
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


def test_a_date_typed_in_part_is_refused_before_the_post(server: str, browser) -> None:
    """The picker's value stays empty until the date is complete; the server would see
    nothing, so the browser says what the server says of a date it cannot read."""
    expect = sync_api.expect
    context, page, errors = _signed_in(browser, server, "en")
    page.goto(f"{server}/f/{FORM}/new")
    _fill_valid(page)
    _tab(page, "main")
    page.locator("#fld-start_on").click()
    page.keyboard.type("03")  # one segment of three
    assert page.locator("#fld-start_on").input_value() == ""
    page.locator("#fld-name").click()
    not_date = message("not_date", "en", value="")
    expect(page.locator("[data-error-for=start_on]")).to_have_text(not_date)
    page.click("#save")
    expect(page.locator("#fld-start_on")).to_be_focused()
    expect(page.locator("#error-summary")).to_contain_text(f"Starts on: {not_date}")
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


def test_a_unique_violation_comes_from_the_server_next_to_its_field(server: str,
                                                                     browser) -> None:
    expect = sync_api.expect
    state = _STATE["state"]
    with state.sessions.begin() as session:
        _service(session).create(FORM, {"name": "先到", "remark": "x", "code": "DUP-1"})
    context, page, errors = _signed_in(browser, server, "en")
    page.goto(f"{server}/f/{FORM}/new")
    _fill_valid(page)
    _tab(page, "main")
    page.fill("#fld-code", "DUP-1")
    with page.expect_navigation():
        page.click("#save")  # nothing the browser can see: posted
    unique = message("unique", "en", value="DUP-1")
    expect(page.locator("[data-error-for=code]")).to_have_text(unique)
    expect(page.locator("#error-summary")).to_contain_text(f"Unique code: {unique}")
    # leaving the field unchanged keeps the server's word; changing the value clears it
    page.locator("#fld-code").focus()
    page.locator("#fld-code").blur()
    expect(page.locator("[data-error-for=code]")).to_have_text(unique)
    page.fill("#fld-code", "DUP-2")
    page.locator("#fld-code").blur()
    expect(page.locator("[data-error-for=code]")).to_have_count(0)
    expect(page.locator("#error-summary")).to_have_count(0)
    with page.expect_navigation():
        page.click("#save")
    assert re.search(rf"/f/{FORM}/\d+$", page.url), page.url
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


def test_an_unchanged_masked_value_is_not_checked_on_edit(server: str, browser) -> None:
    state = _STATE["state"]
    with state.sessions.begin() as session:
        record = _service(session).create(FORM, {"name": "脱敏", "remark": "x",
                                                 "id_number": VALID_ID,
                                                 "lines": [{"item": "a", "qty": 1}]})
    context, page, errors = _signed_in(browser, server, "zh")
    page.goto(f"{server}/f/{FORM}/{record['id']}/edit")
    sync_api.expect(page.locator("#fld-id_number")).to_have_value("110105********002X")
    page.fill("#fld-name", "脱敏2")
    with page.expect_navigation():
        page.click("#save")  # the masked ID number goes back as it came: "unchanged"
    assert page.url.endswith(f"/f/{FORM}/{record['id']}"), page.url
    with state.sessions() as session:
        saved = _service(session).get(FORM, record["id"])
    assert saved["name"] == "脱敏2" and saved["id_number"] == "110105********002X"
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


def test_sub_table_cells_are_checked_like_the_server(server: str, browser) -> None:
    expect = sync_api.expect
    context, page, errors = _signed_in(browser, server, "zh")
    page.goto(f"{server}/f/{FORM}/new")
    _fill_valid(page)
    table = page.locator("[data-subtable=lines]")
    for _ in range(3):
        table.locator("[data-add-row]").click()
    expect(table.locator("[data-add-row]")).to_be_disabled()  # max_rows 3
    page.fill("input[name='lines.0.item']", "螺丝")
    page.fill("input[name='lines.0.qty']", "0")
    page.fill("input[name='lines.1.qty']", "2")
    page.fill("input[name='lines.2.item']", "垫片")
    page.fill("input[name='lines.2.qty']", "1.5")
    page.click("#save")
    client = _field_errors(page)
    assert set(client) == {"lines.0.qty", "lines.1.item", "lines.2.qty"}, client
    expect(page.locator("#error-summary")).to_contain_text("明细 #2 品名")
    with page.expect_navigation():
        page.evaluate("document.getElementById('record-form').submit()")
    assert _field_errors(page) == client
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


def _pdf(size: int) -> bytes:
    head = b"%PDF-1.4\n"
    return head + b"0" * (size - len(head))


def test_a_file_uploads_with_progress_and_saves_with_the_record(server: str, browser) -> None:
    expect = sync_api.expect
    context, page, errors = _signed_in(browser, server, "zh")
    page.goto(f"{server}/f/{FORM}/new")
    _fill_valid(page)
    # a slow connection, so that the progress can be seen (and photographed)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": -1,
        "uploadThroughput": 160 * 1024})
    seen: list[int] = []
    page.expose_function("recordProgress", lambda value: seen.append(int(value)))
    page.evaluate("""() => new MutationObserver((records) => {
        for (const r of records) if (r.attributeName === 'aria-valuenow')
            window.recordProgress(r.target.getAttribute('aria-valuenow'));
    }).observe(document.getElementById('record-form'),
               {subtree: true, attributes: true, attributeFilter: ['aria-valuenow']})""")
    field = page.locator("[data-lb-field=attachment]")
    field.locator("input[type=file]").set_input_files(
        files=[{"name": "合同.pdf", "mimeType": "application/pdf", "buffer": _pdf(900_000)}])
    bar = field.locator("[role=progressbar]")
    expect(bar).to_be_visible()
    expect(field.locator("[data-upload-cancel]")).to_be_visible()
    page.wait_for_function("() => { const b = document.querySelector("
                           "'[data-lb-field=attachment] [role=progressbar]');"
                           " return b && +b.getAttribute('aria-valuenow') >= 30; }")
    shot(page, "upload-progress")
    assert re.fullmatch(r"\d{1,3}%", bar.locator(".progress-bar").inner_text())
    # saving while the file is on its way is refused, with a message by the field
    page.click("#save")
    expect(page.locator("[data-error-for=attachment]")).to_have_text(
        "文件仍在上传，请等待上传完成后再保存")
    expect(field.locator(".lb-upload-done")).to_contain_text("合同.pdf", timeout=30_000)
    expect(page.locator("[data-error-for=attachment]")).to_have_count(0)
    assert seen and 0 < min(seen) < 100 and max(seen) == 100, seen
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    shot(page, "upload-done")
    file_id = int(field.locator("input[type=hidden][name=attachment]").input_value())
    assert field.locator("input[type=file]").input_value() == ""  # the id stands in for it
    with page.expect_navigation():
        page.click("#save")
    record_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("main")).to_contain_text("合同.pdf")
    state = _STATE["state"]
    with state.sessions() as session:
        record = _service(session).get(FORM, record_id)
        stored = session.execute(select(db.stored_file.c.filename, db.stored_file.c.size)
                                 .where(db.stored_file.c.id == file_id)).one()
    assert record["attachment"] == file_id
    assert (stored.filename, stored.size) == ("合同.pdf", 900_000)
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_refused_file_is_stopped_in_the_browser_with_the_servers_message(
        server: str, browser, lang: str) -> None:
    expect = sync_api.expect
    context, page, errors = _signed_in(browser, server, lang)
    page.goto(f"{server}/f/{FORM}/new")
    _tab(page, "more")
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if "/api/v1/files" in r.url else None)
    field = page.locator("[data-lb-field=attachment]")
    error = page.locator("[data-error-for=attachment]")
    # just over the 1 MB limit (within the server's last 64 KB read, where it counts the whole
    # file), and a type the field does not take
    for name, mime, size in (("big.pdf", "application/pdf", 1024 * 1024 + 5000),
                             ("tool.exe", "application/x-msdownload", 20)):
        field.locator("input[type=file]").set_input_files(
            files=[{"name": name, "mimeType": mime, "buffer": _pdf(size)}])
        expect(error).to_have_count(1)
        shown = error.inner_text()
        assert uploads == [], "a refused file was sent"
        assert field.locator("input[type=file]").input_value() == ""
        # the server's answer to the same file, from the files API the widget uses
        answer = page.evaluate("""async ([name, mime, size]) => {
            const body = new FormData();
            body.append('form', 'probe');
            body.append('field', 'attachment');
            body.append('file', new File([new Uint8Array(size).fill(48)], name, {type: mime}));
            const r = await fetch('/api/v1/files', {method: 'POST', body, headers: {
                'X-CSRFToken': document.querySelector('meta[name=csrf-token]').content,
                'Accept-Language': document.documentElement.lang.slice(0, 2)}});
            return [r.status, await r.json()];
        }""", [name, mime, size])
        uploads.clear()
        assert answer[0] == 422, answer
        assert shown == answer[1]["error"]["fields"]["file"][0], (lang, name)
    if lang == "en":
        shot(page, "upload-refused-en")
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


# --- validation.js against coerce_value, value by value -------------------------------------

LABEL = _l("字段", "Field")
PROBES = {
    "text": {"type": "text", "max_length": 5, "min_length": 2, "required": True},
    "pattern": {"type": "text", "pattern": r"[A-Z]{2}\d+\-\w*", "max_length": 40},
    "area": {"type": "textarea", "max_length": 10},
    "integer": {"type": "integer", "min": 0, "max": 1000000},
    "decimal": {"type": "decimal", "decimals": 2, "digits": 10, "min": -5.5},
    "money": {"type": "money", "min": 100},
    "percent": {"type": "percent"},
    "wide": {"type": "decimal", "decimals": 10, "digits": 38},
    "date": {"type": "date", "min": "2000-01-01", "max": "2100-12-31"},
    "datetime": {"type": "datetime"},
    "phone": {"type": "phone"},
    "email": {"type": "email"},
    "id_number": {"type": "id_number"},
    "uscc": {"type": "uscc"},
}
PROBE_DEFS = {k: load_field({"key": k, "label": LABEL, **v}) for k, v in PROBES.items()}
ALPHABETS = {
    "text": "ab \x01'\"\\\u200b字𝟏\u3000",
    "pattern": "ABC12-_x字 ",
    "area": "ab\r\n \t",
    "integer": "0123456789-+.,eE _１٣a，",
    "decimal": "0123456789-+.,eE _１aInf",
    "money": "0123456789-.,e",
    "percent": "0123456789.-e",
    "wide": "0123456789.e-",
    "date": "0123456789-W 2T:",
    "datetime": "0123456789-WT:.,+Z é",
    "phone": "0123456789+-() １a\u3000",
    "email": "ab@.. xY\u3000＠",
    "id_number": "0123456789Xx １",
    "uscc": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ ",
}
# Values where CPython's parsers have a view of their own, and every message's edge.
KNOWN = {
    "integer": ["12a", "1e3", "1.0", "1.5", "-1", "1000001", "9" * 19, "9" * 20, "1" * 101,
                "1,000", "1e101", "1e-101", "0e500", "Infinity", "nan", "１２", "1_0", "_ 1",
                "1 _", "99999999999999999999e-2", "1e1000000000000000000"],
    "decimal": ["12.345", "12.340", "-5.51", "-5.5", "99999999.99", "999999999", "1e-101",
                "0.000", "1" + "0" * 30 + ".001", "0." + "9" * 30],
    "money": ["50", "100", "12.345", "8,000.50", "8，000.5", "1e20"],
    "wide": ["1." + "1" * 30, "1" * 29, "0.00000000001"],
    "date": ["2026-03-31", "20260331", "2026-W13-2", "2026W132", "2026-02-30", "2300-01-01",
             "1999-12-31", "2101-01-01", "20260331XY", "2026-3-31", "1800-01-01",
             "2026-W53-1", "2020-W53-7"],
    "datetime": ["2026-03-31T14:30", "2026-03-31 14:30", "2026-03-31T14:30Z",
                 "2026-03-31T14:30+08:00", "2026-03-31T24:00", "2026-03-31T14",
                 "2026-03-31T1430", "2026-03-31T14:30:59.1234567", "2026-03-31T14:30+24:00",
                 "2026-03-31T14:30+23:59:59.999999", "2026-03-31T14:30-00:99",
                 "20260331T143059", "2026-W13-2T10:00", "2026W132T10", "2026-03-31é14:30",
                 "2300-01-01T00:00", "2026-03-31T14:30:00,5"],
    "phone": ["13812345678", "1381234567", "+86 138 1234 5678", "8613812345678",
              "12812345678", "138a2345678", "+868613812345678", "138'1234567"],
    "email": ["a@b", "a@b.com", "a b@c.d", "@x.y", "a@@b.c", "A@B.COM", "x@y..z",
              "a" * 250 + "@b.cn"],
    "id_number": [VALID_ID, BAD_ID, "11010519491231002x", "99010519491231002X",
                  "110105189912310021", "110105209912310021", "11010519490231002X",
                  "1101051949123100", "11010519491231002Y", "110105194912310",
                  "1101051949１2310021",
                  complete_id_number("360426", date(1991, 1, 1), 7)],
    "uscc": [VALID_USCC, "91350100M000100Y44", "91350100M000100Y4", "9135O100M000100Y43",
             "91350100S000100Y43", "91350100I000100Y43"],
    "text": ["a", "abcdef", "ab\x01", "it's", "  ab  ", "a\x7f"],
    "pattern": ["AB12-x", "AB12-字", "ab12-", "x" * 50],
    "area": ["a\r\nb\r\nc\r\nd\r\ne\r\n", "abc", "   "],
}


def _server_message(key: str, raw: str, lang: str) -> str | None:
    f = PROBE_DEFS[key]
    if is_empty(raw):
        return message("required", lang) if f.required else None
    try:
        coerce_value(f, raw, lang)
    except FieldValueError as exc:
        return exc.text
    return None


@pytest.fixture(scope="module")
def checker(server: str, browser):  # type: ignore[no-untyped-def]
    """Runs validation.js's fieldError in the page for a batch of (field, value, lang)."""
    context, page, _errors = _signed_in(browser, server, "zh")
    page.goto(f"{server}/f/{FORM}/new")
    setup = {"rules": {k: {lang: field_rules(f, lang, 10 * 1024 * 1024) for lang in ("zh", "en")}
                       for k, f in PROBE_DEFS.items()},
             "catalogs": {lang: catalog_for(lang) for lang in ("zh", "en")}}

    def run(cases: list[tuple[str, str, str]]) -> list[str | None]:
        return page.evaluate("""async ([setup, cases]) => {
            const v = await import('/static/js/validation.js');
            const msg = {zh: v.messageFormatter(setup.catalogs.zh),
                         en: v.messageFormatter(setup.catalogs.en)};
            return cases.map(([key, raw, lang]) =>
                v.fieldError(setup.rules[key][lang], raw, msg[lang]));
        }""", [setup, cases])

    yield run
    context.close()


def _compare(checker, cases: list[tuple[str, str, str]]) -> None:  # type: ignore[no-untyped-def]
    shown = checker(cases)
    wrong = [(case, _server_message(*case), got) for case, got in zip(cases, shown, strict=True)
             if _server_message(*case) != got]
    assert not wrong, "\n".join(f"{c!r}\n  server: {s}\n  client: {g}" for c, s, g in wrong[:20])


def test_known_values_get_the_servers_messages(checker) -> None:
    _compare(checker, [(key, value, lang) for key, values in KNOWN.items() for value in values
                       for lang in ("zh", "en")])


_PLAIN = st.characters(blacklist_categories=("Cs", "Cn"))  # assigned in Python's Unicode too
_CASES = st.one_of(
    *[st.tuples(st.just(key), st.text(alphabet=alphabet, max_size=24),
                st.sampled_from(["zh", "en"])) for key, alphabet in ALPHABETS.items()],
    st.tuples(st.sampled_from(["text", "pattern", "email", "phone", "integer", "date"]),
              st.text(_PLAIN, max_size=45), st.sampled_from(["zh", "en"])),
    st.tuples(st.just("date"), st.dates().map(date.isoformat), st.sampled_from(["zh", "en"])),
    st.tuples(st.just("datetime"),
              st.datetimes().map(lambda d: d.isoformat(sep=" " if d.second % 2 else "T")),
              st.sampled_from(["zh", "en"])),
    st.tuples(st.just("id_number"),
              st.builds(complete_id_number, st.sampled_from(["110105", "360426", "990000"]),
                        st.dates(date(1850, 1, 1), date(2100, 12, 31)), st.integers(0, 999)),
              st.sampled_from(["zh", "en"])),
    st.tuples(st.sampled_from(["decimal", "money", "percent", "wide", "integer"]),
              st.decimals(allow_nan=True, allow_infinity=True).map(str),
              st.sampled_from(["zh", "en"])),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cases=st.lists(_CASES, min_size=50, max_size=150))
def test_generated_values_get_the_servers_messages(checker, cases) -> None:
    _compare(checker, cases)
