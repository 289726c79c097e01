"""Fields of a referenced record in the visual condition builder, in real Chromium: on the credit
template, a rule on loans tests the loan's customer's rating (``customer.rating = c``) and
compares the principal with the customer's credit limit, all picked from the field menu (the
customer's fields grouped under "客户"); the saved draft holds the dotted keys, the summary
reads "客户 › 信用评级 = C级（关注）", the simulation counts what plain SQL counts, and the
saved condition shows again as rows after a reload, in zh and en. The playground opens a
condition with a two-references-deep key (``loan.customer.rating`` on a repayment) and counts
it. Screenshots (the field menu opened as a list) go to artifacts/screenshots/lookup-*.png."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text, update

from lendbase import db
from lendbase.meta.store import MetadataStore
from tests.browser_support import ROOT, SHOTS, app_with_admin, require_browser_setup, serving

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist", "bootstrap-icons/font")
PASSWORD = "secret-pass-5"
_SITE: dict[str, Any] = {}

RATING_C = {"field": "customer.rating", "op": "=", "value": "c"}
WITHIN_LIMIT = {"field": "principal", "op": "<=", "value": {"field": "customer.credit_limit"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The credit template with a small demo portfolio (customers of every rating, loans)."""
    from apps.credit_template.demo import generate_demo
    from lendbase.meta.apps import install_app

    app, state, _ = app_with_admin(tmp_path_factory.mktemp("var"), PASSWORD)
    with state.sessions.begin() as session:
        install_app(session, ROOT / "apps" / "credit_template")
    with state.sessions.begin() as session:
        generate_demo(session, state.registry.schema(session), state.cipher, customers=40,
                      seed=7)
        session.execute(update(db.outbox).values(status="dispatched"))
    _SITE["state"] = state
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def count_by_sql(sql: str) -> int:
    with _SITE["state"].engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def shot(page: Any, name: str, target: Any = None) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    (target or page).screenshot(path=str(SHOTS / f"lookup-{name}.png"))


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def open_field_menu(page: Any, selector: str) -> None:
    """Show a field menu as a list (a native drop-down is not in screenshots), scrolled to
    the chosen field, for the screenshot only."""
    page.eval_on_selector(selector, """(s) => {
        s.size = 14; s.style.height = 'auto'; s.style.width = '24rem';
        const rows = [...s.querySelectorAll('optgroup, option')];
        const row = rows.indexOf(s.options[s.selectedIndex]);
        s.scrollTop = (row - 4) * (s.scrollHeight / rows.length);
    }""")


def saved_condition(key: str) -> Any:
    with _SITE["state"].sessions() as session:
        return MetadataStore(session, None).get_draft("rules", key).doc.get("condition")


def test_a_rule_on_loans_tests_the_customers_rating(server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, server)
    page.goto(f"{server}/lang/zh?next=/admin/rules")
    page.wait_for_selector("#new-rule-form")
    page.fill("#new-key", "watch_c_loans")
    page.fill("#new-label_zh", "关注类客户借据")
    page.fill("#new-label_en", "Loans of watch-list customers")
    page.select_option("#new-form", "loan")
    page.click("#create-rule")
    page.wait_for_url(f"{server}/admin/rules/watch_c_loans")
    page.wait_for_selector("#rc-top-add")
    page.select_option("#trigger-type", "schedule")
    page.fill("#trigger-cron", "0 9 * * 1")

    # the customer's fields are a group of the field menu, labelled by the reference
    page.click("#rc-top-add")
    group = page.locator("#rc-0-field optgroup[label='客户']")
    assert group.locator("option[value='customer.rating']").inner_text() == "客户 › 信用评级"
    assert group.locator("option[value='customer.documents']").count() == 0  # files: no
    sub_group = page.locator("#rc-0-field optgroup[label='客户 › 所属团队']")
    assert sub_group.locator("option[value='customer.team.name']").count() == 1  # 2 deep
    # an encrypted field of the customer: only what its keyed hash allows
    page.select_option("#rc-0-field", "customer.id_number")
    ops = page.eval_on_selector_all("#rc-0-op option", "os => os.map((o) => o.value)")
    assert set(ops) <= {"", "=", "!=", "in", "not_in", "is_empty", "is_not_empty"}

    # customer.rating = C, picked from menus
    page.select_option("#rc-0-field", "customer.rating")
    page.select_option("#rc-0-op", "=")
    page.select_option("#rc-0-value", "c")
    summary = page.locator("#rc-summary .cb-summary-text")
    assert summary.inner_text() == "客户 › 信用评级 = C级（关注）"
    page.click("#add-action")
    page.click("[data-add='create_task']")
    page.fill("#action-0-first", "关注类客户借据复核")
    page.fill("#action-0-due_in_days", "3")
    page.select_option("#action-0-assignee-field", "account_manager")
    page.click("#save")
    page.wait_for_function("document.querySelector('#save-state').textContent === '草稿已保存'")
    assert saved_condition("watch_c_loans") == RATING_C

    # the simulation counts the loans of C-rated customers, as plain SQL does
    expected = count_by_sql("SELECT count(*) FROM f_loan l JOIN f_customer c "
                            "ON c.id = l.customer WHERE c.rating = 'c'")
    assert expected > 0
    page.click("#simulate")
    page.wait_for_selector(f"#sim-matched [data-count='{expected}']")

    # the principal within the customer's credit limit: another field, from the same groups
    page.click("#rc-top-add")
    page.select_option("#rc-1-field", "principal")
    page.select_option("#rc-1-op", "<=")
    page.select_option("#rc-1-value-mode", "field")
    compare = page.locator("#rc-1-value optgroup[label='客户']")
    assert compare.locator("option[value='customer.credit_limit']").inner_text() == (
        "客户 › 授信额度")
    assert compare.locator("option[value='customer.rating']").count() == 0  # not a number
    page.select_option("#rc-1-value", "customer.credit_limit")
    assert summary.inner_text() == ("客户 › 信用评级 = C级（关注） 且 借款本金 ≤ 客户 › 授信额度")
    # a formula may name it too: the light check in the page accepts the dotted key
    page.select_option("#rc-1-value-mode", "formula")
    page.fill("#rc-1-value", "2 * customer.credit_limit")
    page.keyboard.press("Tab")
    assert page.is_hidden("#rc-1-value-error")
    keys = page.locator("#condition .cb-fx-keys")
    keys.locator("summary").first.click()
    assert keys.locator(".cb-fx-key", has_text=re.compile("^principal$")).is_visible()
    limit = keys.locator(".cb-fx-key", has_text=re.compile(r"^customer\.credit_limit$"))
    assert not limit.is_visible()  # each reference's keys fold
    customer_keys = keys.locator(".cb-fx-key-group", has=page.locator(
        "summary", has_text=re.compile("^客户$")))
    customer_keys.locator("summary").click()
    limit.wait_for()
    shot(page, "formula-keys-zh", page.locator("#condition"))
    page.fill("#rc-1-value", "2 * customer.nope")
    page.keyboard.press("Tab")
    assert "customer.nope" in page.inner_text("#rc-1-value-error")
    page.select_option("#rc-1-value-mode", "field")
    page.select_option("#rc-1-value", "customer.credit_limit")
    page.click("#save")
    page.wait_for_function("document.querySelector('#save-state').textContent === '草稿已保存'")
    assert saved_condition("watch_c_loans") == {"and": [RATING_C, WITHIN_LIMIT]}
    within = count_by_sql("SELECT count(*) FROM f_loan l JOIN f_customer c "
                          "ON c.id = l.customer WHERE c.rating = 'c' "
                          "AND CAST(l.principal AS REAL) <= CAST(c.credit_limit AS REAL)")
    assert 0 < within <= expected
    page.click("#simulate")
    page.wait_for_selector(f"#sim-matched [data-count='{within}']")

    # a reload shows the saved condition as rows again, with the customer's field chosen
    page.reload()
    page.wait_for_selector("#rc-0-field")
    assert page.locator("#rc-0-field").input_value() == "customer.rating"
    assert page.locator("#rc-1-value").input_value() == "customer.credit_limit"
    assert page.locator("#condition .cb-problem").count() == 0
    assert page.locator("#condition .cb-json").count() == 0
    assert summary.inner_text() == ("客户 › 信用评级 = C级（关注） 且 借款本金 ≤ 客户 › 授信额度")
    page.click("#simulate")
    page.wait_for_selector(f"#sim-matched [data-count='{within}']")
    shot(page, "rule-editor-zh", page.locator("main"))
    open_field_menu(page, "#rc-0-field")
    shot(page, "picker-zh", page.locator("#condition"))

    # English
    page.goto(f"{server}/lang/en?next=/admin/rules/watch_c_loans")
    page.wait_for_selector("#rc-0-field")
    assert summary.inner_text() == ("Customer › Credit rating = C (watch) and Principal ≤ "
                                    "Customer › Credit limit")
    assert page.locator("#rc-0-field optgroup[label='Customer'] "
                        "option[value='customer.rating']").inner_text() == (
        "Customer › Credit rating")
    open_field_menu(page, "#rc-0-field")
    shot(page, "picker-en", page.locator("#condition"))
    assert errors == []
    page.close()


def test_the_playground_opens_and_counts_a_two_references_deep_key(server: str,
                                                                  browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, server)
    tree = {"field": "loan.customer.rating", "op": "in", "value": ["c", "d"]}
    page.goto(f"{server}/lang/zh?next=" + quote(
        f"/admin/conditions/try?form=repayment&value={quote(json.dumps(tree))}"))
    page.wait_for_selector("#cp-0-field")
    assert page.locator("#cp-0-field").input_value() == "loan.customer.rating"
    assert page.locator("#cp-0-field option:checked").inner_text() == "借据 › 客户 › 信用评级"
    assert page.locator("#cp-summary .cb-summary-text").inner_text() == (
        "借据 › 客户 › 信用评级 是其中之一 C级（关注）、D级（高风险）")
    expected = count_by_sql("SELECT count(*) FROM f_repayment r JOIN f_loan l ON l.id = r.loan "
                            "JOIN f_customer c ON c.id = l.customer "
                            "WHERE c.rating IN ('c', 'd')")
    assert expected > 0
    page.click("#pg-count")
    page.wait_for_selector("#pg-count-n")
    assert page.inner_text("#pg-count-n") == str(expected)
    shot(page, "playground-zh", page.locator("main"))

    # inside related records: customers with a loan whose product is a personal consumer loan
    page.goto(f"{server}/admin/conditions/try?form=customer")
    page.click("#cp-top-add-related")
    page.select_option("#cp-0-rel", "loan:customer")
    page.click("#cp-0_w-add")
    menu = "#cp-0_w_0-field"
    assert page.locator(f"{menu} optgroup").first.get_attribute("label") == "借据"
    product = page.locator(f"{menu} optgroup[label='贷款产品']")
    assert product.locator("option[value='product.product_type']").inner_text() == (
        "贷款产品 › 产品类型")
    # the link back to the customer is not followed: it is the customer itself
    assert page.locator(f"{menu} optgroup[label='客户']").count() == 0
    page.select_option(menu, "product.product_type")
    page.select_option("#cp-0_w_0-op", "=")
    page.select_option("#cp-0_w_0-value", "personal_consumer")
    assert page.evaluate("window.lbConditionPlayground.value") == {"exists": {
        "form": "loan", "link": "customer",
        "where": {"field": "product.product_type", "op": "=", "value": "personal_consumer"}}}
    expected = count_by_sql("SELECT count(*) FROM f_customer c WHERE EXISTS (SELECT 1 "
                            "FROM f_loan l JOIN f_loan_product p ON p.id = l.product "
                            "WHERE l.customer = c.id AND p.product_type = 'personal_consumer')")
    assert expected > 0
    page.click("#pg-count")
    page.wait_for_function(f"document.querySelector('#pg-count-n')?.textContent === "
                           f"'{expected}'")
    open_field_menu(page, menu)
    shot(page, "related-zh", page.locator("#pg-builder"))
    assert errors == []
    page.close()


__all__ = ["sync_api"]
