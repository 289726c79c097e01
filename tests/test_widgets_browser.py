"""The form widgets in real Chromium: a loan application's customer is picked with the reference
picker (typed, searched on the server, chosen with the keyboard) and saved; contact rows are
reordered and saved in their new order; a phone-sized screen. Screenshots go to
artifacts/screenshots/widgets-*.png."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from lendbase.auth.users import load_actor
from lendbase.forms.checks import complete_id_number
from lendbase.records.service import RecordService
from tests.test_web_browser import server, server_state, shot, sign_in  # noqa: F401

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

CUSTOMERS = 20  # more than a plain select lists, so the form offers the picker


@pytest.fixture(scope="module")
def seeded(server: str) -> dict:  # noqa: F811
    from lendbase import db

    state = server_state()
    with state.sessions.begin() as session:
        admin = session.execute(select(db.user.c.id).where(db.user.c.username == "admin")
                                ).scalar_one()
        svc = RecordService(session, state.registry.schema(session),
                            load_actor(session, admin, "zh"), state.cipher)
        names = [f"客户{i:02d}" for i in range(CUSTOMERS - 2)] + ["赵钱孙", "赵钱李"]
        customers = {}
        for i, name in enumerate(names):
            customers[name] = svc.create("customer", {
                "customer_type": "individual", "name": name,
                "id_number": complete_id_number("320102", date(1985, 1, 1), i),
                "mobile": f"139{i:08d}", "channel": "online", "account_manager": admin,
                "lifecycle_stage": "lead"})
        product = svc.create("loan_product", _product(session, state))
    return {"customers": customers, "product": product}


def _product(session, state) -> dict:
    return {"code": "P01", "name": "经营贷A", "product_type": "personal_business",
            "customer_scope": "both", "amortization": "equal_installment", "annual_rate": "12",
            "min_amount": "1000", "max_amount": "1000000", "min_term_months": 1,
            "max_term_months": 36, "grace_days": 3}


def test_pick_a_customer_with_the_keyboard_and_save(server: str, browser, seeded) -> None:  # noqa: F811
    expect = sync_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    lookups: list[str] = []
    page.on("request", lambda r: lookups.append(r.url) if "/lookup" in r.url else None)
    sign_in(page, server)
    page.goto(f"{server}/f/loan_application/new")
    # a section whose only field is hidden by its condition is not left as an empty box
    guarantees = page.locator("section[data-section='guarantees_sec']")
    expect(guarantees).to_be_hidden()
    page.click("button[role=tab][data-tab-key='security']")
    page.select_option("[name='guarantee_method']", "guarantee")
    expect(guarantees).to_be_visible()
    expect(page.locator("section[data-section='collaterals_sec']")).to_be_hidden()
    page.click("button[role=tab][data-tab-key='request']")
    picker = page.locator("#fld-customer")
    expect(picker).to_have_attribute("role", "combobox")
    assert page.locator("select[name=customer]").count() == 0  # the select was enhanced
    assert page.locator("input[type=hidden][name=customer]").count() == 1
    picker.click()
    picker.press_sequentially("赵钱", delay=40)
    options = page.locator("#fld-customer-list [role=option]")
    expect(options).to_have_count(2)
    expect(options.first).to_contain_text("赵钱孙")  # by title (code point order)
    expect(options.first).to_contain_text("C")  # the customer number as subtitle
    assert all("q=" in url for url in lookups) and len(lookups) <= 2  # debounced
    shot(page, "widgets-01-reference-picker")
    picker.press("ArrowDown")  # 赵钱孙 -> 赵钱李
    expect(options.nth(1)).to_have_class(re.compile(r"\bactive\b"))
    picker.press("Enter")
    expect(picker).to_have_value("赵钱李")
    expect(page.locator("#fld-customer-list")).to_be_hidden()
    chosen = str(seeded["customers"]["赵钱李"]["id"])
    expect(page.locator("input[type=hidden][name=customer]")).to_have_value(chosen)
    # typing without picking, then leaving, shows the chosen customer again
    picker.fill("客户0")
    expect(options.first).to_be_visible()
    picker.press("Escape")
    expect(picker).to_have_value("赵钱李")

    # the product picker (a short list: a plain select) and the rest of the required fields
    product = page.locator("#fld-product")
    if product.evaluate("el => el.tagName") == "SELECT":
        product.select_option(str(seeded["product"]["id"]))
    else:
        product.fill("经营贷")
        page.locator("#fld-product-list [role=option]").first.click()
    _fill_required(page)
    page.click("#save")
    page.wait_for_url(re.compile(rf"{server}/f/loan_application/\d+$"))
    expect(page.locator("main")).to_contain_text("赵钱李")
    shot(page, "widgets-02-loan-saved")

    # the edit form shows the current customer's title without loading the customer list
    page.goto(page.url + "/edit")
    expect(page.locator("#fld-customer")).to_have_value("赵钱李")
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


def _fill_required(page) -> None:
    """Fill whatever else the loan application requires, from the form as rendered."""
    page.fill("#fld-amount", "50000")
    page.fill("#fld-term_months", "12")
    for key in ("purpose",):
        select_box = page.locator(f"select#fld-{key}")
        if select_box.count() and select_box.is_visible():
            select_box.select_option(index=1)
    manager = page.locator("select#fld-account_manager")
    if manager.count() and manager.is_visible():
        manager.select_option(label="系统管理员")


def test_reorder_contact_rows_and_save(server: str, browser, seeded) -> None:  # noqa: F811
    expect = sync_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, server)
    customer = seeded["customers"]["客户00"]
    page.goto(f"{server}/f/customer/{customer['id']}/edit")
    page.click("button[role=tab] >> text=联系方式")
    table = page.locator("[data-subtable=contacts]")
    for i, (name, phone) in enumerate((("甲", "13900000001"), ("乙", "13900000002"),
                                       ("丙", "13900000003"))):
        table.locator("[data-add-row]").click()
        page.fill(f"input[name='contacts.{i}.contact_name']", name)
        page.select_option(f"select[name='contacts.{i}.relation']", index=1)
        page.fill(f"input[name='contacts.{i}.phone']", phone)
    rows = table.locator("tbody tr[data-row]")
    expect(rows.first.locator("[data-move-row='-1']")).to_be_disabled()
    expect(rows.last.locator("[data-move-row='1']")).to_be_disabled()
    rows.nth(2).locator("[data-move-row='-1']").click()  # 丙 up: 甲 丙 乙
    rows.nth(0).locator("[data-move-row='1']").click()  # 甲 down: 丙 甲 乙
    names = [rows.nth(i).locator("input[name$='.contact_name']") for i in range(3)]
    assert [n.input_value() for n in names] == ["丙", "甲", "乙"]
    assert [n.get_attribute("name") for n in names] == [
        "contacts.0.contact_name", "contacts.1.contact_name", "contacts.2.contact_name"]
    assert rows.nth(0).locator("input[name$='.phone']").get_attribute("id") == \
        "fld-contacts-0-phone"
    expect(rows.nth(0).locator(".lb-rownum")).to_contain_text("1")
    shot(page, "widgets-03-contacts-reordered")
    page.click("#save")
    page.wait_for_url(f"{server}/f/customer/{customer['id']}")
    state = server_state()
    with state.sessions() as session:
        from lendbase import db

        admin = session.execute(select(db.user.c.id).where(db.user.c.username == "admin")
                                ).scalar_one()
        svc = RecordService(session, state.registry.schema(session),
                            load_actor(session, admin, "zh"), state.cipher)
        saved = svc.get("customer", customer["id"])
    assert [c["contact_name"] for c in saved["contacts"]] == ["丙", "甲", "乙"]
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


def test_phone_sized_screen(server: str, browser, seeded) -> None:  # noqa: F811
    expect = sync_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, server)
    page.goto(f"{server}/f/loan_application/new")
    picker = page.locator("#fld-customer")
    picker.tap()
    picker.press_sequentially("客户1", delay=30)
    options = page.locator("#fld-customer-list [role=option]")
    expect(options.first).to_be_visible()
    box = page.locator("#fld-customer-list").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    option_box = options.first.bounding_box()
    assert option_box is not None and option_box["height"] >= 40  # a finger-sized target
    page.screenshot(path=str(_shots() / "widgets-04-phone-picker.png"))
    options.nth(1).tap()
    expect(picker).to_have_value(re.compile(r"客户1\d"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the form scrolls sideways on a phone ({width}px)"
    shot(page, "widgets-05-phone-form")
    context.close()
    # the navbar (admin menu, tasks, language, user) fits the narrowest phones too
    for narrow in (360, 320):
        context = browser.new_context(locale="zh-CN", viewport={"width": narrow, "height": 700},
                                      is_mobile=True, has_touch=True)
        page = context.new_page()
        sign_in(page, server)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= narrow, f"the home page scrolls sideways at {narrow}px ({width}px)"
        user = page.locator("#user-menu").bounding_box()
        assert user is not None and user["x"] + user["width"] <= narrow
        context.close()


def _shots():
    from tests.test_web_browser import SHOTS

    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
