"""The upsell pool as a new administrator builds it, in real Chromium: a new segment on the
credit template's customers, its condition built visually (rating A, no installment overdue in
the last 12 months, balance under half the credit line), an on-enter follow-up task and an
on-leave tag removal added in the rule editor's visual actions editor, simulate, save, publish;
then its members page (the first recompute ran as a job) and the task it created on a
member's record. Its members are those of the upsell pool the template ships. Screenshots of
the builder and the members page in Chinese and English go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from lendbase import db
from lendbase.jobs import runtime_of
from lendbase.meta.store import MetadataStore
from lendbase.segments import simulate_segment
from tests.browser_support import ROOT, SHOTS, app_with_admin, require_browser_setup, serving

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist", "bootstrap-icons/font")
PASSWORD = "secret-pass-1"
_SITE: dict = {}

UPSELL = {"and": [
    {"field": "rating", "op": "=", "value": "a"},
    {"not": {"exists": {"form": "installment", "link": "customer", "where": {"and": [
        {"field": "status", "op": "=", "value": "overdue"},
        {"field": "due_date", "op": "in_last", "value": [12, "month"]}]}}}},
    {"field": "balance", "op": "<", "value": {"formula": "0.5 * credit_limit"}},
]}
#: What the on-enter JSON box used to hold; the visual editor also writes the default priority.
TASK = {"type": "create_task", "title": "提额营销：联系客户", "kind": "follow_up",
        "due_in_days": 3, "assignee": {"rule": "field", "field": "account_manager"}}
UNTAG = {"type": "remove_tag", "tag": "upsell_pool"}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The credit template with a small demo portfolio (60 customers, their loans and
    installments)."""
    from apps.credit_template.demo import generate_demo
    from lendbase.meta.apps import install_app

    app, state, _admin = app_with_admin(tmp_path_factory.mktemp("var"), PASSWORD)
    with state.sessions.begin() as session:
        install_app(session, ROOT / "apps" / "credit_template")
    with state.sessions.begin() as session:
        generate_demo(session, state.registry.schema(session), state.cipher, customers=60,
                      seed=11)
        # the portfolio predates the segment: its ~1800 record events need no delivery
        session.execute(update(db.outbox).values(status="dispatched"))
    _SITE.update(app=app, state=state)
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"segments-{name}.png"), full_page=True)


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def pick(page, selector: str, value: str) -> None:
    page.locator(selector).select_option(value)


def build_condition(page) -> None:
    """The upsell pool in the visual builder, row by row (ids: seg-<path>-<part>)."""
    page.click("#seg-top-add")
    pick(page, "#seg-0-field", "rating")
    pick(page, "#seg-0-value", "a")
    page.click("#seg-top-add-related")
    pick(page, "#seg-1-rel", "installment:customer")
    pick(page, "#seg-1-agg", "not_exists")
    page.click("#seg-1_w-add")
    pick(page, "#seg-1_w_0-field", "status")
    pick(page, "#seg-1_w_0-value", "overdue")
    page.click("#seg-1_w-add")
    pick(page, "#seg-1_w_1-field", "due_date")
    pick(page, "#seg-1_w_1-op", "in_last")
    page.fill("#seg-1_w_1-value-n", "12")
    page.press("#seg-1_w_1-value-n", "Tab")
    pick(page, "#seg-1_w_1-value-unit", "month")
    page.click("#seg-top-add")
    pick(page, "#seg-2-field", "balance")
    pick(page, "#seg-2-op", "<")
    pick(page, "#seg-2-value-mode", "formula")
    page.fill("#seg-2-value", "0.5 * credit_limit")
    page.press("#seg-2-value", "Tab")


def add_actions(page) -> None:
    """The follow-up task on entry and the tag removal on leaving, in the two actions editors
    (ids: on-enter-action-<i>-<part>, on-leave-action-<i>-<part>)."""
    page.click("#on-enter-add-action")
    page.click("#on-enter [data-add='create_task']")
    page.fill("#on-enter-action-0-first", "提额营销：联系客户")
    pick(page, "#on-enter-action-0-kind", "follow_up")
    page.fill("#on-enter-action-0-due_in_days", "3")
    pick(page, "#on-enter-action-0-mode", "field")  # assign to the user in a field ...
    pick(page, "#on-enter-action-0-assignee-field", "account_manager")  # ... the manager
    assert page.get_attribute("#on-enter-action-0-first", "data-pointer") == "/on_enter/0/title"
    page.click("#on-leave-add-action")
    page.click("#on-leave [data-add='remove_tag']")
    pick(page, "#on-leave-action-0-first", "upsell_pool")
    assert page.get_attribute("#on-leave-action-0-first", "data-pointer") == "/on_leave/0/tag"
    assert page.locator("#on-enter .re-action").count() == 1
    assert page.locator("#on-leave .re-action").count() == 1
    assert page.evaluate("""() => {
      const ids = [...document.querySelectorAll('[id]')].map((n) => n.id);
      return ids.filter((id, i) => ids.indexOf(id) !== i); }""") == []  # no id twice


def test_build_simulate_publish_and_see_members(server: str, browser) -> None:
    state, app = _SITE["state"], _SITE["app"]
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page.on("pageerror", lambda exc: pytest.fail(f"page error: {exc}"))
    sign_in(page, server)
    page.goto(f"{server}/segments")
    page.fill("#new-key", "upsell_a")
    page.fill("#new-label-zh", "A级提额池")
    page.fill("#new-label-en", "Rating A upsell")
    pick(page, "#new-form", "customer")
    page.click("#new-segment button[type=submit]")
    page.wait_for_url(f"{server}/admin/segments/upsell_a/edit")

    build_condition(page)
    assert "incomplete" not in (page.locator("#seg-summary").get_attribute("class") or "")
    add_actions(page)
    page.click("#save")
    sync_api.expect(page.locator("#save-state")).to_have_text("已保存")
    with state.sessions() as session:
        draft = MetadataStore(session, None).get_draft("segments", "upsell_a").doc
        assert draft["condition"] == UPSELL
        assert draft["on_enter"] == [{**TASK, "priority": "normal"}]
        assert draft["on_leave"] == [UNTAG]
        expected = simulate_segment(session, draft, schema=state.registry.schema(session))
    assert expected.members > 0 and expected.enter_actions.affected == [expected.members]

    page.click("#simulate")
    sync_api.expect(page.locator("#sim-members .display-6")).to_have_text(
        f"{expected.members:,}")
    sync_api.expect(page.locator("#sim-entering .display-6")).to_have_text(
        f"{expected.entering:,}")
    assert page.locator("#sim-sample-entering a").count() == min(10, expected.entering)
    sync_api.expect(page.locator("#sim-actions")).to_contain_text("create_task")
    shot(page, "builder-zh")

    page.click("#publish")
    sync_api.expect(page.locator("#publish-result")).to_contain_text("已发布 v1")
    runtime_of(app).run_until_idle()  # the first recompute (a job) runs here
    with state.sessions() as session:  # the same members as the pool the template ships
        m = db.segment_member
        mine, shipped = (set(session.execute(select(m.c.record_id).where(m.c.segment_key == key))
                             .scalars()) for key in ("upsell_a", "upsell_pool"))
    assert mine == shipped and len(mine) == expected.members
    page.click("#see-members")
    page.wait_for_url(f"{server}/segments/upsell_a")
    sync_api.expect(page.locator("#members-now")).to_contain_text(str(expected.members))
    rows = page.locator("#members-table tbody tr")
    assert rows.count() == min(20, expected.members)
    shot(page, "members-zh")

    page.locator("#members-table tbody tr").first.locator("a.fw-medium").click()
    sync_api.expect(page.locator("#record-tasks")).to_contain_text("提额营销：联系客户")
    page.goto(f"{server}/segments/upsell_a?tab=history")
    assert page.locator('#history-table tr[data-event="entered"]').count() == min(
        40, expected.members)

    page.goto(f"{server}/lang/en?next=/segments")
    sync_api.expect(page.locator("#segments-table")).to_contain_text("Rating A upsell")
    shot(page, "list-en")
    page.goto(f"{server}/segments/upsell_a?f.customer_type=individual")
    sync_api.expect(page.locator("#segment-tabs")).to_contain_text("Members")
    shot(page, "members-en")
    page.goto(f"{server}/admin/segments/upsell_a/edit")
    sync_api.expect(page.locator("#seg-summary")).to_be_visible()
    page.click("#simulate")
    sync_api.expect(page.locator("#sim-sentence")).to_contain_text("would be members")
    shot(page, "builder-en")
    page.close()


def test_action_errors_land_next_to_their_control_and_json_view(server: str, browser) -> None:
    """Two editors on one page: a publish refused for an on-leave tag that does not exist shows
    its message under that editor's tag picker (pointer /on_leave/0/tag), not the on-enter one;
    "Edit as JSON" shows the list and takes edits back to the cards."""
    state = _SITE["state"]
    with state.sessions.begin() as session:
        MetadataStore(session, None).create("segments", {
            "key": "bad_tag", "label": {"zh": "坏标签", "en": "Bad tag"}, "form": "customer",
            "condition": {"field": "rating", "op": "=", "value": "a"},
            "on_enter": [{"type": "add_tag", "tag": "upsell_pool"}],
            "on_leave": [{"type": "remove_tag", "tag": "no_such_tag"}]})
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en")
    page.on("pageerror", lambda exc: pytest.fail(f"page error: {exc}"))
    sign_in(page, server)
    page.goto(f"{server}/lang/en?next=/admin/segments/bad_tag/edit")
    sync_api.expect(page.locator("#on-leave-action-0-first")).to_have_value("no_such_tag")
    sync_api.expect(page.locator("#on-enter-action-0-first")).to_have_value("upsell_pool")
    page.click("#publish")
    note = page.locator("[data-error-for='/on_leave/0/tag']")
    sync_api.expect(note).to_contain_text("no_such_tag")
    under_tag = "#on-leave-action-0-first + [data-error-for='/on_leave/0/tag']"
    assert page.locator(under_tag).count() == 1
    assert "is-invalid" in (page.get_attribute("#on-leave-action-0-first", "class") or "")
    assert "is-invalid" not in (page.get_attribute("#on-enter-action-0-first", "class") or "")
    assert page.locator("#on-enter [data-error-for]").count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("section[aria-labelledby=actions-title]").screenshot(
        path=str(SHOTS / "segments-actions-error-en.png"))

    # the JSON view of the on-leave list: fix the tag there, back to the cards
    page.click("#on-leave-json-toggle")
    sync_api.expect(page.locator("#actions-on-leave")).to_be_visible()
    assert '"no_such_tag"' in page.input_value("#actions-on-leave")
    page.fill("#actions-on-leave", "[{")
    page.click("#on-leave-json-toggle")  # not valid: stays in JSON
    sync_api.expect(page.locator("#actions-on-leave")).to_have_class(
        "form-control form-control-sm sg-actions-json is-invalid")
    page.locator("section[aria-labelledby=actions-title]").screenshot(
        path=str(SHOTS / "segments-actions-json-en.png"))
    page.fill("#actions-on-leave", '[{"type": "remove_tag", "tag": "upsell_pool"}]')
    page.click("#on-leave-json-toggle")
    sync_api.expect(page.locator("#on-leave-action-0-first")).to_have_value("upsell_pool")
    page.click("#save")
    sync_api.expect(page.locator("#save-state")).to_have_text("Saved")
    with state.sessions() as session:
        draft = MetadataStore(session, None).get_draft("segments", "bad_tag").doc
    assert draft["on_leave"] == [UNTAG]
    assert draft["on_enter"] == [{"type": "add_tag", "tag": "upsell_pool"}]
    page.close()
