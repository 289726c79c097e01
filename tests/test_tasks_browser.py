"""Tasks and tags in real Chromium: the account manager's inbox puts overdue tasks first, a
task is opened, commented on and reassigned to a collector; the customer's page shows its
tags, alerts, tasks and SMS records, and a tag added by hand appears. Screenshots of the inbox
and the record panel in Chinese and English go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from lendbase.auth.users import create_user, load_actor
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService
from lendbase.work import (
    AlertService,
    NotificationService,
    Refusal,
    TagCatalog,
    TagService,
    TaskKind,
    TaskPriority,
    TaskService,
    TaskSpec,
)
from tests.browser_support import ROOT, SHOTS, app_with_admin, require_browser_setup, serving

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist")
PASSWORD = "secret-pass-1"
_SEEDED: dict = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The credit template, an account manager with customers, tasks (two overdue), an
    alert, SMS records (one refused at night) and a tag catalogue."""
    from lendbase.meta.apps import install_app

    app, state, admin_id = app_with_admin(tmp_path_factory.mktemp("var"), PASSWORD)
    with state.sessions.begin() as session:
        install_app(session, ROOT / "apps" / "credit_template")
        wang = create_user(session, "wang", PASSWORD, ["account_manager"],
                           display_name="王经理")
        zhao = create_user(session, "zhao", PASSWORD, ["collector"], display_name="赵催收")
    now = datetime.now(UTC)
    with state.sessions.begin() as session:
        schema = state.registry.schema(session)
        admin = load_actor(session, admin_id, "zh")
        catalog = TagCatalog(session, admin)
        catalog.save_group("rating", {"zh": "客户评级", "en": "Rating"}, exclusive=True)
        for key, zh, color in (("rating_a", "评级A", "#1f8a4c"), ("rating_b", "评级B", "#1456c7"),
                               ("rating_c", "评级C", "#c0392b")):
            catalog.save_tag(key, "rating", {"zh": zh, "en": f"Rating {key[-1].upper()}"},
                             color=color)
        catalog.save_group("risk", {"zh": "风险标记", "en": "Risk flags"})
        catalog.save_tag("lost_contact", "risk", {"zh": "失联", "en": "Lost contact"},
                         color="#8e44ad")
        catalog.save_group("behaviour", {"zh": "行为", "en": "Behaviour"}, manual=False)
        catalog.save_tag("early_repayer", "behaviour", {"zh": "提前还款", "en": "Early repayer"},
                         color="#16a085")
        NotificationService(session, admin).save_template(
            "repay_reminder", label={"zh": "还款提醒", "en": "Repayment reminder"},
            channel="sms", form_key="customer",
            body="【信贷】{{ name }}您好，您本期应还款项即将到期，请按时还款。")
        # customers already repaying: imported by the system (people start them at "lead")
        records = RecordService(session, schema, Actor.system(), state.cipher)
        customers = [records.create("customer", {
            "customer_type": "individual", "name": name, "id_number": id_number,
            "mobile": mobile, "channel": "online", "account_manager": wang,
            "lifecycle_stage": "repaying"}, owner_id=wang)["id"] for name, id_number, mobile in (
            ("张三", "11010519491231002X", "13812345678"),
            ("李四", "360426199101010071", "13900001111"))]
        system = Actor.system()
        TagService(session, system, schema=schema).add("customer", customers[0],
                                                       "early_repayer", rule="early_repay")
        tasks = TaskService(session, system, schema=schema)
        for title, days, kind, priority, rid in (
                ("下周回访：提额意向", 6, TaskKind.FOLLOW_UP, TaskPriority.NORMAL, customers[0]),
                ("逾期8天电话催收", -3, TaskKind.PHONE_COLLECTION, TaskPriority.URGENT,
                 customers[1]),
                ("核实收入证明", 1, TaskKind.REVIEW, TaskPriority.HIGH, customers[0]),
                ("补充担保材料", -1, TaskKind.FOLLOW_UP, TaskPriority.HIGH, customers[0])):
            tasks.create(TaskSpec(title, kind=kind, priority=priority, assignee_id=wang,
                                  due_at=now + timedelta(days=days),
                                  payload={"script": "collection_v2"} if days < -2 else {}),
                         form_key="customer", record_id=rid, cause_key=f"seed:{title}",
                         rule="seed")
        AlertService(session, system, schema=schema).raise_alert(
            "customer", customers[0], title="连续三期在最后还款日还款", severity="warning",
            rule="last_day_repay", cause_key="seed:alert")
        sms = NotificationService(session, system, schema=schema)
        sms.send("repay_reminder", {"id": customers[0], "name": "张三"}, "13812345678",
                 "seed:sms1", rule="dpd_reminder")
        NotificationService(session, system, schema=schema, gates=[
            lambda n, t: Refusal("quiet_hours", "22:00–08:00 不联系客户（客户当地时间）")]).send(
            "repay_reminder", {"id": customers[0], "name": "张三"}, "13812345678",
            "seed:sms2", rule="dpd_reminder")
    _SEEDED.update(customers=customers, zhao=zhao, state=state)
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_inbox_task_and_record_panel(server: str, browser) -> None:
    expect = sync_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, server, "wang")

    expect(page.locator("#overdue-badge")).to_have_text("2")
    page.click("#my-tasks-link")
    page.wait_for_url(f"{server}/tasks")
    rows = page.locator("#task-table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("逾期8天电话催收")
    expect(rows.nth(0)).to_contain_text("逾期 3 天")
    expect(rows.nth(1)).to_contain_text("补充担保材料")
    expect(rows.nth(2)).to_contain_text("核实收入证明")
    expect(rows.nth(3)).to_contain_text("下周回访")
    expect(page.locator("tr[data-overdue]")).to_have_count(2)
    shot(page, "tasks-inbox-zh")

    rows.nth(0).locator("a.fw-semibold").click()
    expect(page.locator("#task-title")).to_have_text("逾期8天电话催收")
    expect(page.locator("#task-record-link")).to_contain_text("李四")
    page.fill("#comment-body", "已拨打两次未接通，明早再联系")
    page.click("#post-comment")
    expect(page.locator("#comment-list")).to_contain_text("已拨打两次未接通")
    page.click("#status-in_progress")
    expect(page.locator("#task-status")).to_have_text("处理中")
    page.select_option("#reassign-to", label="赵催收")
    page.fill("#reassign-reason", "转催收专员跟进")
    page.click("#reassign-submit")
    expect(page.locator("#task-assignee")).to_have_text("赵催收")
    expect(page.locator("#task-history")).to_contain_text("转催收专员跟进")
    shot(page, "task-page-zh")
    # it left wang's inbox
    page.click("#my-tasks-link")
    expect(page.locator("#task-table tbody tr")).to_have_count(3)
    expect(page.locator("#overdue-badge")).to_have_text("1")

    # the customer's page: tags, alerts, tasks and SMS records; add a tag by hand
    page.locator("#task-table tbody tr").nth(0).locator("td:nth-child(3) a").click()
    panel = page.locator("#work")
    expect(panel.locator("[data-tag=early_repayer]")).to_be_visible()
    expect(panel.locator("#record-alerts")).to_contain_text("连续三期在最后还款日还款")
    expect(panel.locator("#record-tasks")).to_contain_text("补充担保材料")
    expect(panel.locator("#record-notifications")).to_contain_text("已拦截")
    expect(panel.locator("#record-notifications")).to_contain_text("22:00–08:00")
    page.select_option("#add-tag-select", "rating_a")
    page.fill("#add-tag-reason", "收入稳定，按时还款")
    page.click("#add-tag-submit")
    expect(panel.locator("[data-tag=rating_a]")).to_be_visible()
    expect(panel.locator("[data-tag=rating_a]")).to_contain_text("评级A")
    expect(panel.locator("[data-tag=early_repayer] .lb-tag-remove")).to_have_count(0)  # rules
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "record-work-panel-zh")
    panel.screenshot(path=str(SHOTS / "record-work-panel-zh-crop.png"))

    # English
    record_url = page.url.split("#")[0]
    page.goto(f"{server}/lang/en?next=/tasks")
    expect(page.locator("h1")).to_contain_text("My tasks")
    expect(page.locator("#task-table tbody tr").nth(0)).to_contain_text("day(s) overdue")
    shot(page, "tasks-inbox-en")
    page.goto(record_url)
    expect(panel).to_contain_text("Tags and work")
    expect(panel.locator("[data-tag=rating_a]")).to_contain_text("Rating A")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "record-work-panel-en")
    panel.screenshot(path=str(SHOTS / "record-work-panel-en-crop.png"))
    assert errors == []
    context.close()
