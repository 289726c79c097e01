"""The builder refuses a type change whose values do not all convert, in real Chromium.

A published form holds a text field ``monthly_income`` with one record saying 'about 8k'. The
admin changes the field to decimal in the builder: the dry-run names the field, counts the row
that does not convert and shows the value with its record, and publishing is refused (the
published version and the records stay as they were). With the backfill 'about 8k' => 8000 the
check passes and the publish converts every row. Screenshot: artifacts/screenshots/
builder-refused-plan.png (the plan dialog once its fade-in is over)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from lendbase import db
from lendbase.auth.users import load_actor
from lendbase.meta.store import MetadataStore
from lendbase.records.service import RecordService
from tests.browser_support import SHOTS, app_with_admin, require_browser_setup, serving

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist", "sortablejs/modular")
PASSWORD = "secret-pass-2"
FORM = "applicant"
INCOMES = {"甲": "12000", "乙": "about 8k", "丙": "9500.5"}
_STATE: dict = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    from lendbase.forms.publish import publish_form

    var = tmp_path_factory.mktemp("var")
    app, state, admin_id = app_with_admin(var, PASSWORD)
    _STATE["state"] = state
    with state.sessions.begin() as session:
        MetadataStore(session, None).create("forms", {
            "key": FORM, "label": {"zh": "申请人", "en": "Applicant"}, "title_field": "name",
            "fields": [
                {"key": "name", "type": "text", "label": {"zh": "姓名", "en": "Name"}},
                {"key": "monthly_income", "type": "text",
                 "label": {"zh": "月收入", "en": "Monthly income"}}],
            "layout": {"sections": [{"key": "main", "label": {"zh": "基本信息", "en": "Basics"},
                                     "columns": 2, "fields": ["name", "monthly_income"]}]}})
        publish_form(session, None, FORM, confirm=True)
    with state.sessions.begin() as session:
        svc = RecordService(session, state.registry.schema(session),
                            load_actor(session, admin_id, "zh"), state.cipher)
        ids = {name: svc.create(FORM, {"name": name, "monthly_income": income})["id"]
               for name, income in INCOMES.items()}
    _STATE["ids"] = ids
    _STATE["admin_id"] = admin_id
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def published_versions() -> list[int]:
    state = _STATE["state"]
    with state.sessions.begin() as session:
        return list(session.execute(
            select(db.meta_version.c.version)
            .where(db.meta_version.c.kind == "forms", db.meta_version.c.key == FORM)
            .order_by(db.meta_version.c.version)).scalars())


def incomes() -> dict[str, object]:
    """monthly_income of each record, read through RecordService on what is published now."""
    state = _STATE["state"]
    with state.sessions.begin() as session:
        svc = RecordService(session, state.registry.schema(session),
                            load_actor(session, _STATE["admin_id"], "zh"), state.cipher)
        return {name: svc.get(FORM, rid)["monthly_income"]
                for name, rid in _STATE["ids"].items()}


def record_count() -> int:
    state = _STATE["state"]
    with state.sessions.begin() as session:
        table = state.registry.schema(session)[FORM].table
        return session.execute(select(func.count()).select_from(table)).scalar_one()


def wait_shown(page, selector: str) -> None:
    """The Bootstrap modal fully shown: its class has 'show' and the fade (0.15 s) is over."""
    modal = page.locator(selector)
    sync_api.expect(modal).to_have_class(re.compile(r"\bshow\b"))
    page.wait_for_function(
        "sel => { const m = document.querySelector(sel);"
        " return m && getComputedStyle(m).opacity === '1'"
        " && getComputedStyle(m.querySelector('.modal-dialog')).transform === 'none'; }",
        arg=selector)
    page.wait_for_timeout(350)


def test_type_change_refused_until_backfilled(server: str, browser) -> None:
    expect = sync_api.expect
    assert published_versions() == [1]
    before = incomes()
    assert before == INCOMES

    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(f"{server}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")

    # 1. the builder: monthly_income becomes a decimal; the draft is saved
    page.goto(f"{server}/admin/forms/{FORM}/builder")
    expect(page.locator("body[data-builder-ready='1']")).to_have_count(1)
    expect(page.locator("#published-badge")).to_have_text("已发布 v1")
    page.click("#canvas .bc-field[data-key='monthly_income']")
    expect(page.locator("#prop-type")).to_have_value("text")
    page.select_option("#prop-type", "decimal")
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")

    # 2. the dry-run names the field, counts the row and shows the value with its record
    page.click("#dry-run")
    wait_shown(page, "#plan-modal")
    bad = _STATE["ids"]["乙"]
    op = page.locator("#plan-ops li", has_text="monthly_income").or_(
        page.locator("#plan-ops li", has_text="月收入")).first
    expect(op).to_be_visible()
    expect(op).to_have_class(re.compile(r"list-group-item-danger"))
    expect(op).to_contain_text("月收入")
    expect(op).to_contain_text("3 行中有 1 行的数据无法转换")
    expect(op).to_contain_text(f"记录 #{bad} 乙 “about 8k”")  # the record by its title
    expect(op.locator("code", has_text='"about 8k"')).to_have_count(1)
    sample = op.locator(f"[data-sample-record='{bad}'] a")  # a link to the record itself
    expect(sample).to_have_text(f"乙 (#{bad})")
    assert sample.get_attribute("href") == f"/f/{FORM}/{bad}"
    expect(page.locator("#plan-blocking")).to_be_visible()
    expect(page.locator("#plan-ok")).to_have_count(0)
    expect(page.locator("#check-again")).to_be_visible()
    expect(page.locator("#publish-now")).to_be_disabled()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "builder-refused-plan.png"))  # the viewport, dialog on top

    # the refusal holds on the server too, whatever the button says
    response = page.evaluate(
        """async (url) => {
             const token = document.querySelector('meta[name="csrf-token"]').content;
             const r = await fetch(url, {method: 'POST', credentials: 'same-origin',
               headers: {'Content-Type': 'application/json', 'Accept': 'application/json',
                         'X-CSRFToken': token, 'X-Requested-With': 'fetch'},
               body: JSON.stringify({backfill: {}})});
             return {status: r.status, body: await r.json()};
           }""", f"{server}/api/v1/meta/forms/{FORM}/publish?confirm=1&lang=zh")
    assert response["status"] == 409, response
    assert response["body"]["error"]["message"].startswith(f"发布表单“{FORM}”被拒绝"), response
    assert published_versions() == [1]
    assert incomes() == before
    assert record_count() == 3

    # 3. the backfill maps the value; the check passes; confirmed and published
    op.locator("[data-bf='map']").fill("about 8k => 8000")
    page.click("#check-again")
    expect(page.locator("#plan-blocking")).to_have_count(0)
    op = page.locator("#plan-ops li", has_text="月收入").first
    expect(op).not_to_have_class(re.compile(r"list-group-item-danger"))
    expect(op.locator("[data-bf='map']")).to_have_value("about 8k => 8000")
    expect(page.locator("#publish-now")).to_be_enabled()
    expect(page.locator("#confirm-box")).to_be_visible()  # a type change is confirmed
    page.check("#confirm-publish")
    page.fill("#publish-note", "月收入改为小数")
    page.click("#publish-now")
    expect(page.locator("#publish-ok")).to_contain_text("已发布为第 2 版")
    expect(page.locator("#published-badge")).to_have_text("已发布 v2")

    assert published_versions() == [1, 2]
    after = incomes()
    assert {k: str(v) for k, v in after.items()} == {
        "甲": "12000.00", "乙": "8000.00", "丙": "9500.50"}  # the same numbers, now decimals
    assert all(isinstance(v, Decimal) for v in after.values())
    assert record_count() == 3
    assert errors == []
    context.close()
