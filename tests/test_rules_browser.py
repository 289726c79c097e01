"""The rules pages in real Chromium: an administrator creates a rule from the list, picks a
schedule (an invalid cron is refused next to its input), builds the condition with the visual
condition builder, adds a create_task action, saves, simulates (counts and a sample with links
to the records, now and as of a past day), publishes, and finds it in the list. Screenshots of
the editor and the list in Chinese and English go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lendbase.auth.users import create_user, load_actor
from lendbase.meta.store import MetadataStore
from lendbase.records.service import RecordService
from lendbase.rules import run_rule
from lendbase.work import TagCatalog
from tests.browser_support import ROOT, SHOTS, app_with_admin, require_browser_setup, serving

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist", "bootstrap-icons/font")
PASSWORD = "secret-pass-1"
_SEEDED: dict[str, Any] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The credit template with customers rated A and B, a tag catalogue."""
    from lendbase.meta.apps import install_app

    app, state, admin_id = app_with_admin(tmp_path_factory.mktemp("var"), PASSWORD)
    with state.sessions.begin() as session:
        install_app(session, ROOT / "apps" / "credit_template")
        wang = create_user(session, "wang", PASSWORD, ["account_manager"],
                           display_name="王经理")
    with state.sessions.begin() as session:
        schema = state.registry.schema(session)
        admin = load_actor(session, admin_id, "zh")
        catalog = TagCatalog(session, admin)
        catalog.save_group("pool", {"zh": "客群", "en": "Pools"}, manual=False)
        catalog.save_tag("upsell", "pool", {"zh": "提额客群", "en": "Upsell pool"},
                         color="#1f8a4c")
        records = RecordService(session, schema, admin, state.cipher)
        ids = {}
        for name, rating, mobile in (("张三", "a", "13812345678"), ("李四", "b", "13900001111"),
                                     ("王五", "a", "13700002222"), ("赵六", "c", "13600003333")):
            ids[name] = records.create("customer", {
                "customer_type": "individual", "name": name, "mobile": mobile,
                "channel": "online", "account_manager": wang,
                "rating": rating})["id"]
    _SEEDED.update(ids=ids, state=state)
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_create_build_simulate_and_publish_a_rule(server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, server)
    page.goto(f"{server}/lang/zh?next=/admin/rules")
    page.wait_for_selector("#new-rule-form")
    page.fill("#new-key", "upsell_followup")
    page.fill("#new-label_zh", "提额意向跟进")
    page.fill("#new-label_en", "Upsell follow-up")
    page.select_option("#new-form", "customer")
    page.click("#create-rule")
    page.wait_for_url(f"{server}/admin/rules/upsell_followup")
    page.wait_for_selector("#rc-top-add")

    # the trigger: a schedule; a wrong cron is refused next to its input
    page.select_option("#trigger-type", "schedule")
    page.fill("#trigger-cron", "soon")
    page.click("#save")
    note = page.wait_for_selector("[data-error-for='/trigger/cron']")
    assert "is not a cron expression" in note.inner_text()
    assert "is-invalid" in (page.get_attribute("#trigger-cron", "class") or "")
    page.fill("#trigger-cron", "0 9 * * 1-5")

    # the condition: rating is A, built in the visual builder
    page.click("#rc-top-add")
    page.select_option("#rc-0-field", "rating")
    page.select_option("#rc-0-op", "=")
    page.select_option("#rc-0-value", "a")
    # the action: a follow-up task for the account manager
    page.click("#add-action")
    page.click("[data-add='create_task']")
    page.fill("#action-0-first", "提额意向回访")
    page.fill("#action-0-due_in_days", "5")
    page.select_option("#action-0-assignee-field", "account_manager")
    page.click("#add-action")
    page.click("[data-add='add_tag']")
    page.select_option("#action-1-first", "upsell")
    page.click("#save")
    page.wait_for_function("document.querySelector('#save-state').textContent === '草稿已保存'")
    with _SEEDED["state"].sessions() as session:
        doc = MetadataStore(session, None).get_draft("rules", "upsell_followup").doc
    assert doc["trigger"] == {"type": "schedule", "cron": "0 9 * * 1-5",
                              "timezone": "Asia/Shanghai"}
    assert doc["condition"] == {"field": "rating", "op": "=", "value": "a"}
    assert doc["actions"][0]["title"] == "提额意向回访"
    assert doc["actions"][0]["assignee"] == {"rule": "field", "field": "account_manager"}
    assert doc["actions"][1] == {"type": "add_tag", "tag": "upsell"}

    # simulate: two A-rated customers, each would get a task and the tag
    page.click("#simulate")
    page.wait_for_selector("#sim-matched [data-count='2']")
    assert page.get_attribute("#sim-actions [data-action='0']", "data-affected") == "2"
    assert page.get_attribute("#sim-actions [data-action='1']", "data-affected") == "2"
    links = page.locator("#sim-matched-sample a")
    assert links.count() == 2
    assert links.nth(0).get_attribute("href") == f"/f/customer/{_SEEDED['ids']['张三']}"
    assert "张三" in links.nth(0).inner_text()
    shot(page, "rules-editor-zh")
    # as of a past day: customers created later are left out, and the note says so
    page.fill("#as-of", "2020-01-01")
    page.click("#simulate")
    page.wait_for_selector("#sim-matched [data-count='0']")
    assert "字段取值是今天的值" in page.inner_text("#sim-notes")
    page.fill("#as-of", "")

    # publish
    page.click("#publish")
    page.wait_for_selector("#publish-result:not([hidden])")
    assert "v1" in page.inner_text("#publish-result")
    assert page.inner_text("#published-badge") == "已发布 v1"
    page.wait_for_selector("#versions-list [data-version='1']")
    with _SEEDED["state"].sessions.begin() as session:
        run = run_rule(session, "upsell_followup")
    assert [a["affected"] for a in run.actions] == [2, 2]  # what the simulation said
    page.reload()
    page.wait_for_selector("#runs-table [data-run]")
    page.click("#simulate")
    page.wait_for_selector("#sim-matched [data-count='2']")
    assert page.get_attribute("#sim-actions [data-action='0']", "data-affected") == "0"

    # the list
    page.goto(f"{server}/admin/rules")
    row = page.locator("tr[data-rule='upsell_followup']")
    assert "v1" in row.inner_text() and "0 9 * * 1-5" in row.inner_text()
    assert "影响 4 条" in row.inner_text()
    shot(page, "rules-list-zh")

    # English
    page.goto(f"{server}/lang/en?next=/admin/rules/upsell_followup")
    page.wait_for_selector("#rc-0-field")
    page.click("#simulate")
    page.wait_for_selector("#sim-matched [data-count='2']")
    assert "Records each action would change" in page.inner_text("#sim-result")
    shot(page, "rules-editor-en")
    page.goto(f"{server}/admin/rules")
    assert "Upsell follow-up" in page.inner_text("#rules-table")
    shot(page, "rules-list-en")
    assert errors == []
    page.close()


def test_a_bad_publish_points_at_the_action(server: str, browser: Any) -> None:
    with _SEEDED["state"].sessions.begin() as session:
        MetadataStore(session, None).create("rules", {
            "key": "broken", "label": {"zh": "坏规则", "en": "Broken"}, "form": "customer",
            "trigger": {"type": "record_updated"},
            "actions": [{"type": "add_tag", "tag": "no_such_tag"}]})
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en")
    sign_in(page, server)
    page.goto(f"{server}/lang/en?next=/admin/rules/broken")
    page.wait_for_selector("#action-0-first")
    page.click("#publish")
    note = page.wait_for_selector("[data-error-for='/actions/0/tag']")
    assert "no tag 'no_such_tag'" in note.inner_text()
    assert not page.is_hidden("#error-summary")
    assert page.inner_text("#published-badge") == "Draft only"
    # someone else saves the draft meanwhile: saving the stale one is refused, nothing lost
    with _SEEDED["state"].sessions.begin() as session:
        store = MetadataStore(session, None)
        draft = store.get_draft("rules", "broken")
        store.save_draft("rules", "broken", {**draft.doc, "enabled": False},
                         draft.lock_version)
    page.fill("#label-en", "Broken rule")
    page.click("#save")
    page.wait_for_selector("#conflict:not([hidden])")
    with _SEEDED["state"].sessions() as session:
        kept = MetadataStore(session, None).get_draft("rules", "broken").doc
    assert kept["label"]["en"] == "Broken" and kept["enabled"] is False
    page.close()


__all__ = ["sync_api"]


def test_the_sms_rule_shows_its_referenced_recipient_and_quiet_hours(server: str,
                                                                      browser: Any) -> None:
    """The template's SMS reminder goes to the loan's customer's mobile, in quiet hours read
    in the customer's zone: the editor shows both as choices, and saving keeps them."""
    from lendbase.meta.store import MetadataStore

    state = _SEEDED["state"]
    page = browser.new_page(viewport={"width": 1300, "height": 1000}, locale="zh-CN")
    page.on("pageerror", lambda exc: pytest.fail(f"page error: {exc}"))
    sign_in(page, server)
    page.goto(f"{server}/admin/rules/collect_sms_reminder")
    recipient = page.locator("#action-0-recipient_field")
    sync_api.expect(recipient).to_have_value("customer.mobile")
    assert "›" in recipient.locator("option:checked").inner_text()  # 客户 › 手机…, not a key
    sync_api.expect(page.locator("#action-0-quiet")).to_be_checked()
    sync_api.expect(page.locator("#action-0-quiet-from")).to_have_value("22:00")
    sync_api.expect(page.locator("#action-0-quiet-to")).to_have_value("08:00")
    sync_api.expect(page.locator("#action-0-quiet-zone")).to_have_value("customer.timezone")
    shot(page, "rules-sms-quiet-hours-zh")
    page.fill("#action-0-quiet-from", "21:30")
    page.click("#save")
    sync_api.expect(page.locator("#save-state")).to_have_text("草稿已保存")
    with state.sessions() as session:
        doc = MetadataStore(session, None).get_draft("rules", "collect_sms_reminder").doc
    assert doc["actions"][0]["quiet_hours"] == {"from": "21:30", "to": "08:00",
                                                "timezone_field": "customer.timezone"}
    assert doc["actions"][0]["recipient_field"] == "customer.mobile"
    page.close()
