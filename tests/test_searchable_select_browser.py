"""A select with a long option list becomes a type-to-filter box in real Chromium: typing
narrows the options, the keyboard picks one, the record saves the chosen option's value, and the
edit page shows the chosen label again. Screenshot: artifacts/screenshots/widgets-searchable.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from lendbase.meta.store import MetadataStore
from tests.browser_support import SHOTS, app_with_admin, require_browser_setup, serving

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist")
PASSWORD = "secret-pass-4"
FORM = "office"
CITIES = [(f"c{i:02d}", f"城市{i:02d}", f"City {i:02d}") for i in range(18)] + [
    ("hz", "杭州", "Hangzhou"), ("sz", "苏州", "Suzhou"), ("gz", "广州", "Guangzhou")]
_STATE: dict = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    from lendbase.forms.publish import publish_form

    app, state, _ = app_with_admin(tmp_path_factory.mktemp("var"), PASSWORD)
    _STATE["state"] = state
    with state.sessions.begin() as session:
        MetadataStore(session, None).create("forms", {
            "key": FORM, "label": {"zh": "网点", "en": "Office"}, "title_field": "name",
            "fields": [
                {"key": "name", "type": "text", "label": {"zh": "名称", "en": "Name"},
                 "required": True},
                {"key": "city", "type": "select", "label": {"zh": "城市", "en": "City"},
                 "required": True,
                 "options": [{"value": v, "label": {"zh": zh, "en": en}}
                             for v, zh, en in CITIES]}]})
        publish_form(session, None, FORM, confirm=True)
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def test_type_to_filter_a_long_option_list_and_save(server: str, browser) -> None:
    expect = sync_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")

    page.goto(f"{server}/f/{FORM}/new")
    page.fill("[name='name']", "西湖网点")
    city = page.get_by_role("combobox", name="城市")
    expect(city).to_have_count(1)  # the select became a combobox
    city.click()
    options = page.get_by_role("option")
    expect(options).to_have_count(len(CITIES))  # every option before typing
    city.fill("州")
    expect(options).to_have_count(3)  # 杭州, 苏州, 广州
    city.fill("杭")
    expect(options).to_have_count(1)
    expect(options.first).to_have_text("杭州")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "widgets-searchable.png"))
    city.press("ArrowDown")
    city.press("Enter")
    expect(city).to_have_value("杭州")
    page.click("#save")
    page.wait_for_url(lambda url: "/new" not in url)

    state = _STATE["state"]
    with state.sessions.begin() as session:
        table = state.registry.schema(session)[FORM].table
        saved = session.execute(select(table.c.id, table.c.city)).all()
    assert [row.city for row in saved] == ["hz"]  # the option's value, not its label
    page.goto(f"{server}/f/{FORM}/{saved[0].id}/edit")
    expect(page.get_by_role("combobox", name="城市")).to_have_value("杭州")
    assert errors == []
    context.close()
