"""The condition builder's full language in real Chromium, on the condition playground
(/admin/conditions/try): build the brief's "upsell pool" (rating A, no overdue installment in
the last 12 months, balance under half the credit line) purely by clicking and typing, check
the emitted tree is exactly docs/conditions.md's, read the summary in zh and en, let the server
count the matching customers (equal to a plain SQL count over crafted data), read every node
type aloud in both languages, fit a narrow panel, and check that the form builder's visibility
editor still offers only the subset the browser evaluates. Screenshots go to
artifacts/screenshots/condition-full-*.png."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text

from lendbase.forms.values import DEFAULT_TZ
from lendbase.meta.store import MetadataStore
from tests.browser_support import SHOTS, app_with_admin, require_browser_setup, serving
from tests.test_condition_fields import customer_form, installment_form

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist", "bootstrap-icons/font", "sortablejs/modular")
PASSWORD = "secret-pass-8"
_STATE: dict = {}

UPSELL = {"and": [
    {"field": "rating", "op": "=", "value": "A"},
    {"not": {"exists": {"form": "installment", "link": "customer",
                        "where": {"and": [{"field": "status", "op": "=", "value": "overdue"},
                                          {"field": "due_date", "op": "in_last",
                                           "value": [12, "month"]}]}}}},
    {"field": "balance", "op": "<", "value": {"formula": "0.5 * credit_limit"}},
]}
UPSELL_ZH = ("评级 = A 级 且 不存在满足（状态 = 逾期 且 到期日 在最近 12 个月内）的还款计划"
             "（通过“客户”关联） 且 贷款余额 < 0.5 * 授信额度")
UPSELL_EN = ("Rating = Grade A and there is no Installment (linked by Customer) where (Status = "
             "Overdue and Due date is in the last 12 months) and Balance < 0.5 * Credit limit")
VISIBILITY_DATE_OPS = ["=", "!=", "<", "<=", ">", ">=", "between", "is_empty", "is_not_empty"]


def _today() -> date:
    return datetime.now(DEFAULT_TZ).date()


def _seed(state: Any) -> None:
    """Customers that each test one part of the upsell pool (names say which)."""
    from lendbase.records.permissions import Actor
    from lendbase.records.service import RecordService

    today = _today()
    days = lambda n: (today + timedelta(days=n)).isoformat()  # noqa: E731
    customers = [  # name, rating, balance, credit limit, installments (status, due in days)
        ("ok_clean", "A", 100, 1000, []),
        ("ok_old_overdue", "A", 100, 1000, [("overdue", -500)]),
        ("ok_paid_recently", "A", 100, 1000, [("paid", -30), ("due", 20)]),
        ("ok_future_overdue", "A", 100, 1000, [("overdue", 10)]),
        ("no_recent_overdue", "A", 100, 1000, [("paid", -90), ("overdue", -60)]),
        ("no_grade_b", "B", 100, 1000, []),
        ("no_balance_high", "A", 600, 1000, []),
        ("no_balance_half", "A", 500, 1000, []),
        ("no_balance_empty", "A", None, 1000, []),
        ("no_limit_empty", "A", 100, None, []),
    ]
    with state.sessions.begin() as session:
        service = RecordService(session, state.registry.schema(session), Actor.system(),
                                state.cipher)
        for name, rating, balance, limit, installments in customers:
            record = service.create("customer", {"name": name, "rating": rating,
                                                 "balance": balance, "credit_limit": limit,
                                                 "id_no": "11010519491231002X"})
            for status, due in installments:
                service.create("installment", {"customer": record["id"], "status": status,
                                               "due_date": days(due), "amount": 300})


def upsell_count_by_sql(state: Any) -> int:
    """The upsell pool counted with plain SQL, independently of the condition compiler."""
    today = _today()
    try:
        start = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - 1, day=28)
    sql = text("""
        SELECT count(*) FROM f_customer c
        WHERE c.rating = 'A' AND c.balance < 0.5 * c.credit_limit
          AND NOT EXISTS (SELECT 1 FROM f_installment i
                          WHERE i.customer = c.id AND i.status = 'overdue'
                            AND i.due_date >= :start AND i.due_date <= :today)""")
    with state.engine.connect() as conn:
        return int(conn.execute(sql, {"start": start.isoformat(),
                                      "today": today.isoformat()}).scalar_one())


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    from lendbase.forms.publish import publish_form

    app, state, _ = app_with_admin(tmp_path_factory.mktemp("var"), PASSWORD)
    _STATE["state"] = state
    with state.sessions.begin() as session:
        for doc in (customer_form(), installment_form()):
            MetadataStore(session, None).create("forms", doc)
            publish_form(session, None, doc["key"], confirm=True)
    _seed(state)
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def shot(target: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SHOTS / f"condition-full-{name}.png"))


def options(page: Any, selector: str) -> list[str]:
    return page.eval_on_selector_all(f"{selector} option", "os => os.map((o) => o.value)")


def live(page: Any) -> Any:
    return page.evaluate("() => window.lbConditionPlayground.value ?? null")


def login(page: Any, server: str) -> None:
    page.goto(f"{server}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")


def open_playground(page: Any, server: str, value: Any = None) -> None:
    query = f"&value={quote(json.dumps(value))}" if value is not None else ""
    page.goto(f"{server}/admin/conditions/try?form=customer{query}")
    sync_api.expect(page.locator("#cp-top-add")).to_be_visible()


@pytest.fixture
def page(server: str, browser) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1100})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, server)
    yield page
    assert errors == []
    context.close()


def test_build_the_upsell_pool_by_clicking_and_count_it(server: str, page: Any) -> None:
    expect = sync_api.expect
    open_playground(page, server)
    summary = page.locator("#cp-summary .cb-summary-text")
    expect(summary).to_have_text("无条件：全部记录")

    # 1. rating = A, from the keyboard: Enter on "add" focuses the new row's field
    page.focus("#cp-top-add")
    page.keyboard.press("Enter")
    expect(page.locator("#cp-0-field")).to_be_focused()
    page.select_option("#cp-0-field", "rating")
    assert options(page, "#cp-0-op") == ["=", "!=", "in", "not_in", "is_empty", "is_not_empty"]
    assert options(page, "#cp-0-value-mode") == ["value", "field", "formula"]
    page.select_option("#cp-0-value", "A")
    assert live(page) == UPSELL["and"][0]

    # 2. not exists installment (linked by customer) where status = overdue and due_date in
    # the last 12 months; while a row of the where is incomplete, the whole row stays out
    page.click("#cp-top-add-related")
    expect(page.locator("#cp-1-rel")).to_be_focused()
    assert options(page, "#cp-1-rel") == ["", "customer:contacts", "installment:customer"]
    expect(page.locator("#cp-1-rel")).to_contain_text("还款计划（通过“客户”关联）")
    page.select_option("#cp-1-rel", "installment:customer")
    assert options(page, "#cp-1-agg") == ["exists", "not_exists", "count", "sum", "min", "max"]
    page.select_option("#cp-1-agg", "not_exists")
    expect(page.locator("#cp-1-not")).to_have_attribute("aria-pressed", "true")
    assert live(page)["and"][1] == {"not": {"exists": {"form": "installment",
                                                       "link": "customer"}}}
    page.click("#cp-1_w-add")
    expect(page.locator("#cp-1_w_0-field")).to_be_focused()
    assert options(page, "#cp-1_w_0-field") == ["", "status", "due_date", "amount",
                                                "created_at", "updated_at"]
    page.select_option("#cp-1_w_0-field", "status")
    expect(page.locator("[data-cb-path='1'] > [data-cb-problem='need_where']")).to_be_visible()
    expect(page.locator("[data-cb-path='1.w.0'] [data-cb-problem='need_value']")).to_be_visible()
    assert live(page) == UPSELL["and"][0]  # the unfinished related row is kept out
    page.select_option("#cp-1_w_0-value", "overdue")
    page.click("#cp-1_w-add")
    page.select_option("#cp-1_w_1-field", "due_date")
    assert options(page, "#cp-1_w_1-op") == [
        "in_last", "in_next", "more_than_ago", "in_period", *VISIBILITY_DATE_OPS]
    expect(page.locator("#cp-1_w_1-op")).to_have_value("in_last")
    page.select_option("#cp-1_w_1-value-unit", "month")
    page.fill("#cp-1_w_1-value-n", "12")
    page.press("#cp-1_w_1-value-n", "Tab")
    expect(page.locator("#cp-1_w_1-include_current")).to_be_checked()
    expect(page.locator("[data-cb-path='1'] [data-cb-problem]")).to_have_count(0)
    assert live(page) == {"and": UPSELL["and"][:2]}

    # 3. balance < 0.5 * credit_limit: a formula, checked while typing
    page.click("#cp-top-add")
    page.select_option("#cp-2-field", "balance")
    page.select_option("#cp-2-op", "<")
    assert options(page, "#cp-2-value-mode") == ["value", "field", "formula"]
    page.select_option("#cp-2-value-mode", "formula")
    formula = page.locator("#cp-2-value")
    expect(page.locator("#cp-2-value-hint")).to_contain_text("服务器会精确检查")
    formula.fill("0.5 * ")
    expect(page.locator("#cp-2-value-error")).to_have_text(
        "第 7 个字符处：这里需要一个值（数字、字段键、函数或括号）")
    expect(formula).to_have_attribute("aria-invalid", "true")
    formula.fill("0.5 * credit_limt")
    formula.press("Tab")
    expect(page.locator("#cp-2-value-error")).to_contain_text("没有字段键 credit_limt")
    expect(page.locator("[data-cb-path='2'] [data-cb-problem='need_formula']")).to_be_visible()
    assert len(live(page)["and"]) == 2
    formula.fill("0.5 * ")
    page.click("[data-cb-path='2'] .cb-fx-keys summary")
    page.click("[data-cb-path='2'] .cb-fx-key:text-is('credit_limit')")
    expect(formula).to_have_value("0.5 * credit_limit")
    expect(page.locator("#cp-2-value-error")).to_be_hidden()
    assert live(page) == UPSELL
    assert json.loads(page.locator("#pg-json").text_content()) == UPSELL
    expect(summary).to_have_text(UPSELL_ZH)
    shot(page.locator("#pg-builder"), "upsell-zh")
    shot(page.locator("[data-cb-path='1']"), "related-zh")

    # 4. the server counts it: the same answer as plain SQL over the crafted customers
    expected = upsell_count_by_sql(_STATE["state"])
    assert expected == 4
    page.click("#pg-count")
    expect(page.locator("#pg-count-n")).to_have_text(str(expected))
    expect(page.locator("#pg-sample a")).to_have_count(4)
    expect(page.locator("#pg-sample")).to_contain_text("ok_clean")
    shot(page, "playground-zh")

    # 5. a formula the browser cannot judge (text times a number): the server's words
    formula.fill("0.5 * name")
    formula.press("Tab")
    expect(page.locator("#pg-stale")).to_be_visible()
    page.click("#pg-count")
    expect(page.locator("#pg-error")).to_contain_text("服务器拒绝了这个条件")
    expect(page.locator("#pg-error")).to_contain_text("0.5 * name")
    formula.fill("0.5 * credit_limit")
    formula.press("Tab")
    assert live(page) == UPSELL

    # 6. the JSON view and back keeps every row
    page.click("#cp-mode")
    assert json.loads(page.locator("#cp-json").input_value()) == UPSELL
    page.click("#cp-mode")
    expect(page.locator("#cp-1_w_1-value-n")).to_have_value("12")
    expect(page.locator("#cp-1-agg")).to_have_value("not_exists")

    # 7. English, from a shared link: the same tree read back
    page.goto(f"{server}/lang/en?next={quote(page.url.split(server, 1)[1])}")
    expect(page.locator("#cp-top-add")).to_be_visible()
    assert live(page) == UPSELL
    expect(summary).to_have_text(UPSELL_EN)
    expect(page.locator("#cp-1_w_1-op")).to_contain_text("in the last…")
    shot(page.locator("#pg-builder"), "upsell-en")
    page.click("#pg-count")
    expect(page.locator("#pg-count-n")).to_have_text(str(expected))

    # 8. a narrow panel (~360 px): nothing sticks out
    page.set_viewport_size({"width": 400, "height": 1400})
    builder = page.locator("#pg-builder")
    assert page.evaluate("() => { const b = document.getElementById('pg-builder');"
                         " return b.scrollWidth <= b.clientWidth + 1; }")
    assert builder.bounding_box()["width"] <= 380
    shot(builder, "narrow-en")
    page.goto(f"{server}/lang/zh?next={quote(page.url.split(server, 1)[1])}")
    expect(page.locator("#cp-top-add")).to_be_visible()
    assert page.evaluate("() => { const b = document.getElementById('pg-builder');"
                         " return b.scrollWidth <= b.clientWidth + 1; }")
    shot(builder, "narrow-zh")


EVERY_NODE = [
    {"field": "tags", "op": "all_of", "value": ["vip", "salary"]},
    {"field": "tags", "op": "none_of", "value": ["vip"]},
    {"field": "name", "op": "contains", "value": "wang", "case_sensitive": True},
    {"field": "name", "op": "starts_with", "value": "Li"},
    {"field": "blacklisted", "op": "is_false"},
    {"field": "opened_on", "op": "in_period", "value": "month"},
    {"field": "opened_on", "op": "in_period", "value": "quarter", "offset": -1},
    {"field": "opened_on", "op": "in_period", "value": "year", "to_date": True},
    {"field": "opened_on", "op": "more_than_ago", "value": [7, "day"]},
    {"field": "opened_on", "op": "in_next", "value": [1, "week"]},
    {"field": "opened_on", "op": "in_last", "value": [12, "month"], "include_current": False},
    {"field": "balance", "op": "<", "value": {"field": "credit_limit"}},
    {"field": "balance", "op": "between", "value": [0, {"formula": "credit_limit / 2"}]},
    {"field": "id_no", "op": "=", "value": "11010519491231002X"},
    {"count": {"form": "installment", "link": "customer",
               "where": {"field": "status", "op": "=", "value": "overdue"}}, "op": "=",
     "value": 0},
    {"sum": {"form": "installment", "link": "customer", "field": "amount"}, "op": ">",
     "value": 1000},
    {"max": {"form": "installment", "link": "customer", "field": "due_date"}, "op": "in_last",
     "value": [30, "day"]},
    {"exists": {"form": "customer", "link": "contacts",
                "where": {"field": "phone", "op": "is_not_empty"}}},
    {"not": {"or": [{"field": "rating", "op": "in", "value": ["B", "C"]},
                    {"field": "rating", "op": "is_empty"}]}},
]
EVERY_NODE_ZH = [
    "标签 全部包含 贵宾、代发工资",
    "标签 一个都不包含 贵宾",
    "名称 包含 “wang”（区分大小写）",
    "名称 开头是 “Li”",
    "黑名单 为“否”",
    "开户日 在本月",
    "开户日 在上季度",
    "开户日 在今年至今",
    "开户日 在 7 天以前",
    "开户日 在未来 1 周内",
    "开户日 在本月之前的 12 个月内",
    "贷款余额 < 授信额度",
    "贷款余额 介于 0 与 授信额度 / 2 之间",
    "身份证号 = “11010519491231002X”",
    "满足（状态 = 逾期）的还款计划（通过“客户”关联）的数量 = 0",
    "还款计划（通过“客户”关联）的金额合计 > 1000",
    "还款计划（通过“客户”关联）的到期日最大值 在最近 30 天内",
    "存在满足（电话 不为空）的联系人（子表）",
    "非（评级 是其中之一 B 级、C 级 或 评级 为空）",
]
EVERY_NODE_EN = [
    "Tags has all of VIP, Payroll",
    "Tags has none of VIP",
    "Name contains \"wang\" (match case)",
    "Name starts with \"Li\"",
    "Blacklisted is no",
    "Opened on is this month",
    "Opened on is last quarter",
    "Opened on is this year to date",
    "Opened on is more than 7 days ago",
    "Opened on is in the next 1 week",
    "Opened on is in the 12 months before this month",
    "Balance < Credit limit",
    "Balance between 0 and Credit limit / 2",
    "ID number = \"11010519491231002X\"",
    "the number of Installment (linked by Customer) where (Status = Overdue) = 0",
    "the total Amount of Installment (linked by Customer) > 1000",
    "the largest Due date of Installment (linked by Customer) is in the last 30 days",
    "there is at least one Contacts (sub-table rows) where (Phone is not empty)",
    "not (Rating is any of Grade B, Grade C or Rating is empty)",
]


def test_every_node_type_reads_aloud_and_shows_visually(server: str, page: Any) -> None:
    """Each node of the language: shown in the visual editor (not left to JSON), emitted back
    unchanged, accepted by the server, and summarised in both languages."""
    expect = sync_api.expect
    tree = {"and": EVERY_NODE}
    open_playground(page, server, tree)
    expect(page.locator("#cp-mode")).to_have_attribute("aria-pressed", "false")  # visual
    assert page.locator("#cp-notice").count() == 0
    expect(page.locator("#cp-summary .cb-summary-text")).to_have_text(" 且 ".join(EVERY_NODE_ZH))
    # the rows hold the values: a period, relative amounts, another field, a formula bound
    expect(page.locator("#cp-6-value")).to_have_value("quarter|-1")
    expect(page.locator("#cp-8-value-n")).to_have_value("7")
    expect(page.locator("#cp-10-include_current")).not_to_be_checked()
    expect(page.locator("#cp-11-value")).to_have_value("credit_limit")
    expect(page.locator("#cp-12-value-high")).to_have_value("credit_limit / 2")
    expect(page.locator("#cp-2-case_sensitive")).to_be_checked()
    expect(page.locator("#cp-15-aggfield")).to_have_value("amount")
    assert options(page, "#cp-13-op") == ["=", "!=", "in", "not_in", "is_empty", "is_not_empty"]
    assert page.locator("#cp-13-value-mode").count() == 0  # encrypted: literals only
    # a change re-emits the whole tree unchanged but for that change
    page.select_option("#cp-6-value", "quarter|0")
    changed = live(page)
    assert changed["and"][6] == {"field": "opened_on", "op": "in_period", "value": "quarter"}
    assert changed["and"][:6] == EVERY_NODE[:6] and changed["and"][7:] == EVERY_NODE[7:]
    page.click("#pg-count")
    expect(page.locator("#pg-count-n")).to_have_text("0")
    shot(page.locator("#pg-builder"), "every-node-zh")
    # every sentence on its own, in both languages, from the module's describeCondition
    texts = page.evaluate("""async (trees) => {
        const m = await import('/static/js/condition_builder.js');
        const boot = JSON.parse(document.getElementById('pg-boot').textContent);
        const read = (tree, lang, strings) => m.describeCondition(tree, {fields: boot.fields,
            fieldGroups: boot.fieldGroups, lang, strings});
        return trees.map((t) => read(t, 'zh', boot.strings));
    }""", EVERY_NODE)
    assert texts == EVERY_NODE_ZH
    page.goto(f"{server}/lang/en?next={quote(page.url.split(server, 1)[1])}")
    expect(page.locator("#cp-top-add")).to_be_visible()
    changed_en = EVERY_NODE_EN[:6] + ["Opened on is this quarter"] + EVERY_NODE_EN[7:]
    expect(page.locator("#cp-summary .cb-summary-text")).to_have_text(" and ".join(changed_en))
    texts = page.evaluate("""async (trees) => {
        const m = await import('/static/js/condition_builder.js');
        const boot = JSON.parse(document.getElementById('pg-boot').textContent);
        return trees.map((t) => m.describeCondition(t, {fields: boot.fields,
            fieldGroups: boot.fieldGroups, lang: 'en', strings: boot.strings}));
    }""", EVERY_NODE)
    assert texts == EVERY_NODE_EN


def overdue_customers_by_sql(state: Any, at_least: int) -> int:
    sql = text("""
        SELECT count(*) FROM f_customer c
        WHERE (SELECT count(*) FROM f_installment i
               WHERE i.customer = c.id AND i.status = 'overdue') >= :n""")
    with state.engine.connect() as conn:
        return int(conn.execute(sql, {"n": at_least}).scalar_one())


def test_aggregates_are_built_switched_and_cleared_by_clicking(server: str, page: Any) -> None:
    expect = sync_api.expect
    open_playground(page, server)
    page.click("#cp-top-add-related")
    page.select_option("#cp-0-rel", "installment:customer")
    # count >= 1 of the overdue installments
    page.select_option("#cp-0-agg", "count")
    expect(page.locator("#cp-0-op")).to_have_value("=")
    expect(page.locator("[data-cb-path='0'] > [data-cb-problem='need_value']")).to_be_visible()
    assert live(page) is None
    page.select_option("#cp-0-op", ">=")
    page.fill("#cp-0-value", "1")
    page.press("#cp-0-value", "Tab")
    page.click("#cp-0_w-add")
    page.select_option("#cp-0_w_0-field", "status")
    page.select_option("#cp-0_w_0-value", "overdue")
    count_tree = {"count": {"form": "installment", "link": "customer",
                            "where": {"field": "status", "op": "=", "value": "overdue"}},
                  "op": ">=", "value": 1}
    assert live(page) == count_tree
    expect(page.locator("#cp-summary .cb-summary-text")).to_have_text(
        "满足（状态 = 逾期）的还款计划（通过“客户”关联）的数量 ≥ 1")
    page.click("#pg-count")
    expect(page.locator("#pg-count-n")).to_have_text(
        str(overdue_customers_by_sql(_STATE["state"], 1)))
    # sum of amount > the customer's own credit limit: the value is read on the customer
    page.select_option("#cp-0-agg", "sum")
    expect(page.locator("#cp-0-aggfield")).to_be_visible()
    assert live(page) is None  # no field to total yet: the row is incomplete, kept out
    page.select_option("#cp-0-aggfield", "amount")
    page.select_option("#cp-0-op", ">")
    page.select_option("#cp-0-value-mode", "field")
    assert options(page, "#cp-0-value") == ["", "balance", "credit_limit", "utilisation"]
    page.select_option("#cp-0-value", "credit_limit")
    assert live(page) == {"sum": {"form": "installment", "link": "customer", "field": "amount",
                                  "where": {"field": "status", "op": "=", "value": "overdue"}},
                          "op": ">", "value": {"field": "credit_limit"}}
    expect(page.locator("#cp-summary .cb-summary-text")).to_have_text(
        "满足（状态 = 逾期）的还款计划（通过“客户”关联）的金额合计 > 授信额度")
    # clearing the where keeps the row; "exists" drops the comparison
    page.click("#cp-0_w-delete")
    expect(page.locator("#cp-0_w-add")).to_be_focused()
    assert live(page)["sum"] == {"form": "installment", "link": "customer", "field": "amount"}
    page.select_option("#cp-0-agg", "exists")
    assert live(page) == {"exists": {"form": "installment", "link": "customer"}}
    expect(page.locator("#cp-0-op")).to_have_count(0)
    page.click("#cp-0-not")
    expect(page.locator("#cp-0-agg")).to_have_value("not_exists")
    assert live(page) == {"not": {"exists": {"form": "installment", "link": "customer"}}}
    # another related form empties the where; deleting the row empties the condition
    page.click("#cp-0_w-add")
    page.select_option("#cp-0_w_0-field", "amount")
    page.select_option("#cp-0-rel", "customer:contacts")
    expect(page.locator("[data-cb-path='0.w.0']")).to_have_count(0)
    assert live(page) == {"not": {"exists": {"form": "customer", "link": "contacts"}}}
    page.focus("#cp-0-delete")
    page.keyboard.press("Enter")
    assert live(page) is None
    expect(page.locator("#cp-top-add")).to_be_focused()


def test_the_form_builder_keeps_the_visibility_subset(server: str, page: Any) -> None:
    expect = sync_api.expect
    page.goto(f"{server}/admin/forms/customer/builder")
    expect(page.locator("body[data-builder-ready='1']")).to_have_count(1)
    page.click(".bc-field[data-key='name']")
    page.click("#prop-vw-top-add")
    page.select_option("#prop-vw-0-field", "opened_on")
    assert options(page, "#prop-vw-0-op") == VISIBILITY_DATE_OPS
    assert page.locator("#prop-vw-0-value-mode").count() == 0  # literals only
    assert page.locator("#prop-vw-top-add-related").count() == 0  # no related records
    page.select_option("#prop-vw-0-field", "tags")
    assert options(page, "#prop-vw-0-op") == ["in", "is_empty", "is_not_empty"]
    page.select_option("#prop-vw-0-field", "blacklisted")
    assert options(page, "#prop-vw-0-op") == ["="]
    page.select_option("#prop-vw-0-field", "rating")
    page.select_option("#prop-vw-0-value", "A")
    assert page.evaluate("() => window.lbBuilder.doc.fields.find((f) => f.key === 'name')"
                         ".visible_when") == {"field": "rating", "op": "=", "value": "A"}
    # a full-language tree typed as JSON is refused here: the browser cannot evaluate it
    page.click("#prop-vw-mode")
    page.fill("#prop-vw-json", json.dumps(UPSELL))
    page.press("#prop-vw-json", "Tab")
    expect(page.locator("#prop-vw-json-error")).to_contain_text("无法识别含有键 exists")
