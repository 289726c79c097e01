"""The pages in real Chromium (Debian's /usr/bin/chromium driven by Playwright): sign in, open
the customer list, create a customer with a bad ID number, see the error by the field, fix it
and save, unmask the ID with a reason, then edit the same record in two tabs and get the conflict
page. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lendbase import db
from lendbase.auth.users import create_user, load_actor
from lendbase.records.service import RecordService
from tests.browser_support import (
    ROOT,
    SHOTS,
    app_with_admin,
    require_browser_setup,
    serving,
)

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist")
PASSWORD = "secret-pass-1"
VALID_ID = "11010519491231002X"
BAD_ID = "110105194912310021"
_SERVER: dict = {}  # the running app's LendBase state, for assertions on the database


def server_state():  # type: ignore[no-untyped-def]
    return _SERVER["state"]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The app with the whole credit template installed, served on a free local port."""
    from lendbase.meta.apps import install_app

    var = tmp_path_factory.mktemp("var")
    app, state, admin = app_with_admin(var, PASSWORD)
    _SERVER["state"] = state
    with state.sessions.begin() as session:
        install_app(session, ROOT / "apps" / "credit_template")
        create_user(session, "wang", PASSWORD, ["account_manager"], display_name="王经理")
    with state.sessions.begin() as session:
        svc = RecordService(session, state.registry.schema(session),
                            load_actor(session, admin, "zh"), state.cipher)
        branch = svc.create("branch", {"code": "SH01", "name": "上海分部", "region": "310000"})
        svc.create("team", {"name": "华东一组", "branch": branch["id"]})
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, username: str = "admin") -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_create_customer_fix_error_and_conflict(server: str, browser) -> None:
    expect = sync_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{server}/login")
    expect(page.get_by_role("heading", name="LendBase 信贷平台")).to_be_visible()
    shot(page, "01-login")
    sign_in(page, server)
    expect(page.locator(".lb-sidebar")).to_contain_text("客户")
    shot(page, "02-home")

    page.click(".lb-sidebar >> text=客户")
    page.wait_for_url(f"{server}/f/customer")
    expect(page.locator("#empty-state")).to_have_text("还没有记录")
    shot(page, "03-customer-list-empty")

    page.click("#new-record")
    page.wait_for_url(f"{server}/f/customer/new")
    enterprise = page.locator('[data-section="enterprise"]')
    expect(enterprise).to_be_hidden()
    page.select_option("#fld-customer_type", "enterprise")  # visible_when, in the browser
    expect(enterprise).to_be_visible()
    expect(page.locator('[data-section="individual"]')).to_be_hidden()
    page.select_option("#fld-customer_type", "individual")
    expect(page.locator('[data-section="individual"]')).to_be_visible()
    page.fill("#fld-name", "张三")
    page.fill("#fld-id_number", BAD_ID)
    page.select_option("#fld-industry", "salaried")
    page.fill("#fld-monthly_income", "18000.50")

    page.click("button[role=tab] >> text=联系方式")
    page.fill("#fld-mobile", "13812345678")
    region = page.locator("#fld-region")
    region.locator("select[data-region-part='0']").select_option("330000")
    expect(region.locator("select[data-region-part='1'] option")).not_to_have_count(1)
    region.locator("select[data-region-part='1']").select_option(index=1)
    expect(region.locator("select[data-region-part='2'] option")).not_to_have_count(1)
    region.locator("select[data-region-part='2']").select_option(index=1)
    page.fill("#fld-address", "浦东新区世纪大道100号")
    page.click("[data-subtable=contacts] [data-add-row]")
    page.fill("input[name='contacts.0.contact_name']", "李四")
    page.select_option("select[name='contacts.0.relation']", "spouse")
    page.fill("input[name='contacts.0.phone']", "13900001111")
    page.click("[data-subtable=contacts] [data-add-row]")
    page.click("[data-subtable=contacts] tbody tr[data-row]:nth-child(2) [data-remove-row]")
    expect(page.locator("[data-subtable=contacts] tbody tr[data-row]")).to_have_count(1)
    shot(page, "04-customer-form-contacts")

    page.click("button[role=tab] >> text=业务与风控")
    page.select_option("#fld-channel", "online")
    page.select_option("#fld-account_manager", label="王经理")
    page.select_option("#fld-team", label="华东一组")
    page.click("#save")

    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("身份证号")
    field_error = page.locator("[data-error-for='id_number']")
    expect(field_error).to_contain_text("请输入有效的18位身份证号码")
    expect(page.locator("#fld-id_number")).to_have_value(BAD_ID)  # typed values kept
    expect(page.locator("#fld-name")).to_have_value("张三")
    shot(page, "05-customer-form-error")

    page.click("button[role=tab] >> text=联系方式")  # look elsewhere, then follow the link
    summary.locator("a", has_text="身份证号").click()
    expect(page.locator("#fld-id_number")).to_be_visible()
    page.fill("#fld-id_number", VALID_ID)
    page.click("#save")
    page.wait_for_url(f"{server}/f/customer/*")
    expect(page.locator("h1")).to_have_text("张三")
    expect(page.locator("[data-sensitive-value=id_number]")).to_have_text("110105********002X")
    shot(page, "06-customer-record")

    page.click("[data-unmask-field=id_number]")
    page.fill("#unmask-reason", "核实客户身份")
    page.click("#unmask-form button[type=submit]")
    expect(page.locator("[data-sensitive-value=id_number]")).to_have_text(VALID_ID)
    expect(page.locator("#unmask-modal")).to_be_hidden()
    expect(page.locator(".modal-backdrop")).to_have_count(0)
    shot(page, "07-customer-unmasked")

    record_url = page.url
    first = context.new_page()
    second = context.new_page()
    first.goto(f"{record_url}/edit")
    second.goto(f"{record_url}/edit")
    first.fill("#fld-name", "张三丰")
    first.click("#save")
    first.wait_for_url(record_url)
    expect(first.locator(".lb-timeline")).to_contain_text("张三丰")
    second.fill("#fld-name", "张三李")
    second.click("#save")
    expect(second.locator("h1")).to_have_text("记录已被他人修改")
    shot(second, "08-edit-conflict")
    second.click("text=重新加载记录")
    expect(second.locator("#fld-name")).to_have_value("张三丰")
    expect(second.locator("input[name=version]")).to_have_value("2")

    page.goto(f"{server}/f/customer")
    expect(page.locator("table.lb-table tbody tr")).to_have_count(1)
    shot(page, "09-customer-list")
    page.goto(f"{server}/lang/en?next=/f/customer")
    expect(page.locator("th", has_text="Customer name")).to_be_visible()
    shot(page, "10-customer-list-en")
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


def test_account_manager_sees_masked_id_and_admin_unmask_is_logged(server: str, browser) -> None:
    """An account manager sees only masked ID numbers and has no way to unmask; every unmask
    an administrator makes is in the access log with its reason."""
    from sqlalchemy import select

    expect = sync_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sign_in(page, server, "wang")
    page.goto(f"{server}/f/customer/new")
    page.fill("#fld-name", "王小明")
    page.fill("#fld-id_number", "360426199101010071")
    page.click("button[role=tab] >> text=联系方式")
    page.fill("#fld-mobile", "13912345678")
    page.click("button[role=tab] >> text=业务与风控")
    page.select_option("#fld-channel", "branch")
    page.select_option("#fld-account_manager", label="王经理")
    page.click("#save")
    page.wait_for_url(f"{server}/f/customer/*")
    record_url = page.url
    expect(page.locator("[data-sensitive-value=id_number]")).to_have_text("360426********0071")
    expect(page.locator("[data-unmask-field=id_number]")).to_have_count(0)
    shot(page, "11-account-manager-masked")
    # The administrator's customer from the other test is outside wang's row scope: 404.
    page.goto(f"{server}/f/customer")
    expect(page.locator("table.lb-table tbody tr")).to_have_count(1)
    context.close()

    admin = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = admin.new_page()
    sign_in(page, server)
    page.goto(record_url)
    page.click("[data-unmask-field=id_number]")
    page.fill("#unmask-reason", "贷前复核")
    page.click("#unmask-form button[type=submit]")
    expect(page.locator("[data-sensitive-value=id_number]")).to_have_text("360426199101010071")
    admin.close()
    app_state = server_state()
    with app_state.sessions() as session:
        reasons = session.execute(select(db.access_log.c.reason)
                                  .order_by(db.access_log.c.id)).scalars().all()
    assert reasons[-1] == "贷前复核"
