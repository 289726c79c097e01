"""Lifecycle stages in real Chromium: the record page's stage bar (stages in order, the current
one highlighted, time in it, the allowed moves) and a move by its button, in Chinese and
English; and the builder's Lifecycle block: choose the stage field, tick a move, add an SOP
task with its titles and assignee, save, and find exactly that in the draft. Screenshots go to
artifacts/screenshots/lifecycle-*.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lendbase.meta.store import MetadataStore
from tests.browser_support import SHOTS, app_with_admin, require_browser_setup, serving
from tests.test_lifecycle import deal_form

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist", "sortablejs/modular")
PASSWORD = "secret-pass-7"
_STATE: dict = {}


def L(zh: str, en: str) -> dict[str, str]:  # noqa: N802 - a label, as in the documents
    return {"zh": zh, "en": en}


def prospect_form() -> dict:
    """A form without a lifecycle yet: the builder test gives it one."""
    return {"key": "prospect", "label": L("潜在客户", "Prospect"), "title_field": "name",
            "fields": [
                {"key": "name", "type": "text", "label": L("名称", "Name")},
                {"key": "phase", "type": "select", "label": L("进度", "Phase"),
                 "options": [{"value": "new", "label": L("新线索", "New")},
                             {"value": "contacted", "label": L("已联系", "Contacted")},
                             {"value": "qualified", "label": L("合格", "Qualified")}]},
                {"key": "owner_user", "type": "user", "label": L("跟进人", "Follow-up by")}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    from lendbase.auth.users import create_user, ensure_role, load_actor
    from lendbase.forms.publish import publish_form
    from lendbase.records.service import RecordService

    var = tmp_path_factory.mktemp("var")
    app, state, _ = app_with_admin(var, PASSWORD)
    _STATE["state"] = state
    with state.sessions.begin() as session:
        for role in ("manager", "viewer"):
            ensure_role(session, role, L("客户经理", "Account manager") if role == "manager"
                        else L("查看员", "Viewer"))
        am1 = create_user(session, "am1", PASSWORD, ["manager"], display_name="王经理")
        store = MetadataStore(session, None)
        store.create("forms", deal_form())
        publish_form(session, None, "deal")
        store.create("forms", prospect_form())
    with state.sessions.begin() as session:
        svc = RecordService(session, state.registry.schema(session),
                            load_actor(session, am1, "zh"), state.cipher)
        deal = svc.create("deal", {"name": "苏州精密", "account_manager": am1})
        svc.update("deal", deal["id"], {"stage": "intent"})
        _STATE["deal"] = deal["id"]
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def _login(page, server: str, username: str) -> None:
    page.goto(f"{server}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")


def test_the_stage_bar_moves_a_record_in_both_languages(server: str, browser) -> None:
    expect = sync_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, server, "am1")
    deal = _STATE["deal"]
    page.goto(f"{server}/f/deal/{deal}")
    bar = page.locator("#stage-bar")
    expect(bar.locator(".is-current")).to_have_text("意向")
    expect(bar.locator(".lb-stage-step")).to_have_count(5)
    expect(bar.locator(".is-passed")).to_have_text("线索")
    expect(page.locator("#stage-time")).to_contain_text("已停留")
    expect(bar.locator("[data-move-to]")).to_have_text(["线索", "审批中", "已流失"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    bar.screenshot(path=str(SHOTS / "lifecycle-stage-bar-zh.png"))

    bar.locator("[data-move-to='review']").click()
    page.wait_for_url(f"{server}/f/deal/{deal}#stage-bar")
    expect(page.locator(".lb-flash")).to_contain_text("已转到“审批中”阶段")
    expect(page.locator("#stage-bar .is-current")).to_have_text("审批中")
    expect(page.locator("#stage-bar [data-move-to]")).to_have_text(["意向", "已成交"])
    page.locator("#stage-history > summary").click()
    expect(page.locator("[data-stage-history-row]").first).to_contain_text("“意向” → “审批中”")
    page.screenshot(path=str(SHOTS / "lifecycle-record-zh.png"), full_page=True)

    page.goto(f"{server}/lang/en")
    page.goto(f"{server}/f/deal/{deal}")
    expect(page.locator("#stage-bar .is-current")).to_have_text("Review")
    expect(page.locator("#stage-status")).to_contain_text("target: leave within 3 day(s)")
    page.locator("#stage-history > summary").click()
    expect(page.locator("[data-stage-history-row]")).to_have_count(3)
    page.locator("#stage-bar").screenshot(path=str(SHOTS / "lifecycle-stage-bar-en.png"))
    page.locator("#stage-bar [data-move-to='won']").click()
    expect(page.locator("#stage-bar .is-current")).to_have_text("Won")
    expect(page.locator("#stage-bar [data-move-to]")).to_have_count(0)
    expect(page.locator("#stage-status")).to_contain_text("Final stage")
    assert errors == []
    context.close()


def test_the_builder_configures_a_lifecycle(server: str, browser) -> None:
    expect = sync_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 2200})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, server, "admin")
    page.goto(f"{server}/lang/zh")
    page.goto(f"{server}/admin/forms/prospect/builder")
    expect(page.locator("body[data-builder-ready='1']")).to_have_count(1)
    page.click("#lifecycle-settings > summary")
    page.select_option("#lc-field", "phase")
    stages = page.locator("#lc-stages [data-stage]")
    expect(stages).to_have_count(3)
    # new -> contacted -> qualified by default; allow contacted -> new as well
    contacted = page.locator("[data-stage='contacted']")
    contacted.locator(":scope > summary").click()
    page.check("#lc-move-contacted-new")
    page.fill("#lc-target-contacted", "4")
    page.press("#lc-target-contacted", "Enter")
    contacted = page.locator("[data-stage='contacted']")
    expect(contacted.locator(":scope > summary")).to_contain_text("4 天")
    page.click("#lc-add-task-contacted")
    page.fill("#lc-sop-contacted-0-zh", "发送产品介绍")
    page.fill("#lc-sop-contacted-0-en", "Send the product brochure")
    page.fill("#lc-sop-contacted-0-due", "2")
    page.select_option("#lc-sop-contacted-0-assignee-kind", "round_robin")
    page.select_option("#lc-sop-contacted-0-assignee", "manager")
    page.select_option("#lc-sop-contacted-0-priority", "high")
    page.locator("[data-stage='qualified'] > summary").click()
    page.check("#lc-terminal-qualified")
    expect(page.locator("[data-stage='qualified'] > summary")).to_contain_text("终止")
    page.locator("#props").screenshot(path=str(SHOTS / "lifecycle-builder-zh.png"))
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")
    state = _STATE["state"]
    with state.sessions.begin() as session:
        doc = MetadataStore(session, None).get_draft("forms", "prospect").doc
    assert doc["lifecycle"] == {
        "field": "phase", "initial": "new", "terminal": ["qualified"],
        "stages": [{"key": "new"},
                   {"key": "contacted", "target_days": 4, "sop": [{
                       "title": {"zh": "发送产品介绍", "en": "Send the product brochure"},
                       "due_in_days": 2, "priority": "high",
                       "assignee": {"rule": "round_robin", "role": "manager"}}]},
                   {"key": "qualified"}],
        "transitions": [{"from": "new", "to": "contacted"}, {"from": "contacted", "to": "new"},
                        {"from": "contacted", "to": "qualified"}]}
    # undo takes back the last step only (the final stage)
    page.keyboard.press("Escape")
    page.keyboard.press("Control+z")
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")
    with state.sessions.begin() as session:
        doc = MetadataStore(session, None).get_draft("forms", "prospect").doc
    assert "terminal" not in doc["lifecycle"]
    assert doc["lifecycle"]["stages"][1]["sop"][0]["priority"] == "high"

    # a new option of the stage field is no stage yet: the save says so in the block, and
    # one click brings the stages in line with the options
    page.click(".bc-field[data-key='phase']")
    page.click("#add-option")
    page.keyboard.press("Escape")
    page.click("#save")
    expect(page.locator("#error-summary")).to_contain_text("option_4")
    expect(page.locator("#lifecycle-settings [data-error-prop='lifecycle']")).to_contain_text(
        "option_4")
    expect(page.locator("#lc-sync-notice")).to_be_visible()
    page.locator("#props").screenshot(path=str(SHOTS / "lifecycle-builder-error-zh.png"))
    page.click("#lc-sync")
    expect(page.locator("#lc-stages [data-stage]")).to_have_count(4)
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")
    with state.sessions.begin() as session:
        doc = MetadataStore(session, None).get_draft("forms", "prospect").doc
    assert [s["key"] for s in doc["lifecycle"]["stages"]] == [
        "new", "contacted", "qualified", "option_4"]

    page.goto(f"{server}/lang/en")
    page.goto(f"{server}/admin/forms/prospect/builder")
    expect(page.locator("body[data-builder-ready='1']")).to_have_count(1)
    page.click("#lifecycle-settings > summary")
    page.locator("[data-stage='contacted'] > summary").click()
    expect(page.locator("#lifecycle-settings")).to_contain_text("Can move to")
    page.locator("#props").screenshot(path=str(SHOTS / "lifecycle-builder-en.png"))
    assert errors == []
    context.close()
