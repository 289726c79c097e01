"""The issue's browser test (1), end to end in real Chromium: in the builder, drag five fields of
different types, a sub-table (and a column into it) and build a visibility rule with the visual
condition builder; publish; open the generated form, fill it, see a validation error next to its
field, fix it, save, and find the record in the list. Screenshots go to
artifacts/screenshots/e2e-*.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from lendbase.meta.store import MetadataStore
from tests.browser_support import SHOTS, app_with_admin, require_browser_setup, serving
from tests.test_builder_browser import canvas_order, drag, label_field

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist", "sortablejs/modular")
PASSWORD = "secret-pass-5"
FORM = "site_visit"
_STATE: dict = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    app, state, _ = app_with_admin(tmp_path_factory.mktemp("var"), PASSWORD)
    _STATE["state"] = state
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"e2e-{name}.png"), full_page=True)


def test_design_publish_fill_fix_save_and_find(server: str, browser) -> None:
    expect = sync_api.expect
    # tall enough that the palette and the growing section are both on screen while dragging
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1500})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{server}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")

    # 1. a new form from scratch
    page.goto(f"{server}/admin/forms")
    page.fill("#new-key", FORM)
    page.fill("#new-label-zh", "实地走访")
    page.fill("#new-label-en", "Site visit")
    page.click("#create-form")
    page.wait_for_url(f"{server}/admin/forms/{FORM}/builder")
    expect(page.locator("body[data-builder-ready='1']")).to_have_count(1)

    # 2. five field types dragged from the palette, then a sub-table
    for type_ in ("money", "select", "date", "phone", "integer", "subtable"):
        drag(page, page.locator(f"#palette [data-new-type='{type_}']"),
             page.locator("#canvas .bc-fields").first)
        expect(page.locator(f"#canvas .bc-field[data-key='{type_}']")).to_have_count(1)
    assert canvas_order(page) == ["name", "money", "select", "date", "phone", "integer",
                                  "subtable"]
    label_field(page, "money", "授信金额", "Credit amount")
    page.fill("#prop-key", "amount")
    page.press("#prop-key", "Tab")
    page.check("#prop-required")
    label_field(page, "select", "评级", "Rating")  # the key follows the English label: rating
    # options: edit the first, then add a third; the edit survives the add
    page.locator("#options-editor [data-option='0'][data-part='zh']").fill("优")
    page.locator("#options-editor [data-option='0'][data-part='en']").fill("Good")
    page.locator("#options-editor [data-option='0'][data-part='value']").fill("good")
    page.locator("#options-editor [data-option='0'][data-part='value']").press("Tab")
    page.click("#add-option")
    page.locator("#options-editor [data-option='2'][data-part='zh']").fill("差")
    page.locator("#options-editor [data-option='2'][data-part='en']").fill("Poor")
    page.locator("#options-editor [data-option='2'][data-part='en']").press("Tab")
    page.click("#options-editor .bc-option[data-index='1'] button[aria-label^='删除']")
    assert page.evaluate("() => window.lbBuilder.field('rating').options") == [
        {"value": "good", "label": {"zh": "优", "en": "Good"}},
        {"value": "option_3", "label": {"zh": "差", "en": "Poor"}}]
    label_field(page, "date", "走访日期", "Visit date")
    page.fill("#prop-key", "visited_on")
    page.press("#prop-key", "Tab")
    label_field(page, "phone", "担保人电话", "Guarantor phone")
    page.check("#prop-required")
    label_field(page, "integer", "员工人数", "Staff")
    label_field(page, "subtable", "走访人员", "Visitors")
    # the sub-table is designed in place: a money column dragged from the same palette
    drag(page, page.locator("#palette [data-new-type='money']"),
         page.locator("#canvas .bc-subfields[data-sub='visitors']"))
    expect(page.locator("#canvas .bc-subfield[data-parent='visitors']")).to_have_count(2)
    page.click("#canvas .bc-subfield[data-parent='visitors'][data-sub-key='money']")
    page.fill("#prop-label-zh", "差旅费")
    page.fill("#prop-label-en", "Travel cost")
    page.press("#prop-label-en", "Tab")
    # a label typed equal to the builder's default ("名称") is still the admin's: typing the
    # other language does not overwrite it
    page.click("#canvas .bc-subfield[data-parent='visitors'][data-sub-key='name']")
    page.fill("#prop-label-zh", "名称")
    page.fill("#prop-label-en", "Visitor")
    page.press("#prop-label-en", "Tab")
    first = page.evaluate("() => window.lbBuilder.field('visitors').fields[0]")
    assert first["label"] == {"zh": "名称", "en": "Visitor"}
    assert first["key"] == "visitor"  # the starting column's key follows its label too

    # 3. the visibility rule, built visually: the guarantor's phone shows when amount > 500000
    page.click(".bc-field[data-key='guarantor_phone']")
    page.click("#prop-vw-top-add")
    page.select_option("#prop-vw-0-field", "amount")
    page.select_option("#prop-vw-0-op", ">")
    page.fill("#prop-vw-0-value", "500000")
    page.press("#prop-vw-0-value", "Tab")
    expect(page.locator("#prop-vw-summary .cb-summary-text")).to_have_text("授信金额 > 500000")
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")
    shot(page, "01-builder")
    with _STATE["state"].sessions.begin() as session:
        doc = MetadataStore(session, None).get_draft("forms", FORM).doc
    phone = next(f for f in doc["fields"] if f["key"] == "guarantor_phone")
    assert phone["visible_when"] == {"field": "amount", "op": ">", "value": 500000}
    visitors = next(f for f in doc["fields"] if f["key"] == "visitors")
    assert [c["type"] for c in visitors["fields"]] == ["text", "money"]

    # 4. dry-run and publish
    page.click("#dry-run")
    expect(page.locator("#plan-ok")).to_be_visible()
    page.click("#publish-now")
    expect(page.locator("#publish-ok")).to_contain_text("已发布为第 1 版")
    expect(page.locator("#save-state")).to_contain_text("已发布为第 1 版")  # not "draft saved"
    expect(page.locator("#publish-now")).to_be_hidden()

    # 5. the generated form: the phone shows only for a large amount
    page.goto(f"{server}/f/{FORM}/new")
    phone_box = page.locator("[data-lb-field='guarantor_phone']")
    page.fill("[name='name']", "杭州某机械厂走访")
    page.fill("[name='amount']", "300000")
    page.press("[name='amount']", "Tab")
    expect(phone_box).to_be_hidden()
    page.fill("[name='amount']", "800000")
    page.press("[name='amount']", "Tab")
    expect(phone_box).to_be_visible()
    page.fill("[name='guarantor_phone']", "1380013")  # too short: not a mobile number
    page.select_option("[name='rating']", "option_3")
    page.fill("[name='visited_on']", "2026-11-20")
    page.fill("[name='staff']", "120")
    page.click("[data-subtable=visitors] [data-add-row]")
    page.fill("input[name='visitors.0.visitor']", "王经理")
    page.fill("input[name='visitors.0.travel_cost']", "350.50")
    page.click("#save")
    expect(page.locator("#error-summary")).to_be_visible()
    field_error = page.locator("[data-lb-field='guarantor_phone'] .invalid-feedback")
    expect(field_error).to_be_visible()
    expect(field_error).to_contain_text("手机")
    shot(page, "02-form-error")
    assert page.url.endswith(f"/f/{FORM}/new")  # nothing saved yet
    page.fill("[name='guarantor_phone']", "13800138000")
    page.click("#save")
    page.wait_for_url(lambda url: "/new" not in url)

    # 6. the record is in the list, with its values and its sub-table row
    page.goto(f"{server}/f/{FORM}")
    row = page.locator("table tbody tr", has_text="杭州某机械厂走访")
    expect(row).to_have_count(1)
    shot(page, "03-list")
    state = _STATE["state"]
    with state.sessions.begin() as session:
        compiled = state.registry.schema(session)[FORM]
        saved = session.execute(select(compiled.table)).mappings().one()
        rows = session.execute(select(compiled.child_tables["visitors"])).mappings().all()
    # a phone number is personal information: encrypted at rest by default, shown masked
    assert saved["guarantor_phone"] and "13800138000" not in saved["guarantor_phone"]
    assert str(saved["amount"]) == "800000.00"
    assert saved["staff"] == 120 and saved["rating"] == "option_3"
    assert [(r["visitor"], str(r["travel_cost"])) for r in rows] == [("王经理", "350.50")]
    assert errors == []
    context.close()
