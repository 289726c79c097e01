"""The builder's tab strip in real Chromium, on the credit template's four-tab loan application:
one button per tab with its label and number of fields; a click (or the arrow keys) shows that
tab; a palette item dragged over a tab's button lands in that tab, and so does a field moved
from another tab; tabs reorder by dragging their buttons. The condition editor of a field
without a condition says "always shown" once. In Chinese and English, at desktop and phone
widths. Screenshots go to artifacts/screenshots/builder-tabs-*.png."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.browser_support import ROOT, SHOTS, app_with_admin, require_browser_setup, serving

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist", "bootstrap-icons/font", "sortablejs/modular")
PASSWORD = "secret-pass-7"
FORM = "loan_application"
LAYOUT = json.loads((ROOT / "apps" / "credit_template" / "forms" / f"{FORM}.json")
                    .read_text("utf-8"))["layout"]
LABELS = {lang: [t["label"][lang] for t in LAYOUT["tabs"]] for lang in ("zh", "en")}
COUNTS = [sum(len(s["fields"]) for s in t["sections"]) for t in LAYOUT["tabs"]]
ALWAYS = {"zh": "无条件，始终显示", "en": "No condition: always shown"}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    from lendbase.meta.apps import install_app

    app, state, _ = app_with_admin(tmp_path_factory.mktemp("var"), PASSWORD)
    with state.sessions.begin() as session:
        install_app(session, ROOT / "apps" / "credit_template")
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"builder-tabs-{name}.png"))


def open_builder(browser, server: str, lang: str, width: int, height: int = 900):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    page.goto(f"{server}/lang/{lang}")
    page.goto(f"{server}/admin/forms/{FORM}/builder")
    sync_api.expect(page.locator("body[data-builder-ready='1']")).to_have_count(1)
    return context, page, errors


def shown_tabs(page) -> list[int]:
    return page.eval_on_selector_all(
        "#canvas .bc-tab[role=tabpanel]:not([hidden])", "els => els.map(e => +e.dataset.tab)")


def layout(page) -> list[list[list[str]]]:
    return page.evaluate("() => window.lbBuilder.tabs().map(t => t.sections.map(s => s.fields))")


def press_on(page, locator) -> None:
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 8, box["y"] + box["height"] / 2 + 8, steps=4)


def glide_to(page, locator, *, bottom: bool = False, steps: int = 15) -> None:
    """Move the pressed mouse onto ``locator`` (into its bottom strip when ``bottom``)."""
    box = locator.bounding_box()
    y = box["y"] + box["height"] - 6 if bottom else box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y, steps=steps)
    page.wait_for_timeout(150)


def drag_via_tab(page, source, tab: int, target_selector: str) -> None:
    """Drag ``source`` over the button of ``tab`` (which shows that tab), then into the bottom of
    ``target_selector`` there, as a person does it."""
    press_on(page, source)
    glide_to(page, page.locator(f"[data-tab-button='{tab}']"))
    sync_api.expect(page.locator(f"#canvas-tab-{tab}")).to_be_visible()
    glide_to(page, page.locator(target_selector), bottom=True, steps=20)
    page.mouse.up()


def test_tab_strip_shows_tabs_and_takes_drops(server: str, browser) -> None:
    expect = sync_api.expect
    context, page, errors = open_builder(browser, server, "zh", 1440)
    strip = page.locator("#canvas-tab-strip[role=tablist]")
    buttons = strip.locator("[role=tab]")
    expect(buttons).to_have_count(4)
    for i, (label, count) in enumerate(zip(LABELS["zh"], COUNTS, strict=True)):
        expect(buttons.nth(i).locator(".bc-tab-label")).to_have_text(label)
        expect(buttons.nth(i).locator(".bc-tab-count")).to_have_text(str(count))
    assert shown_tabs(page) == [0]
    expect(buttons.nth(0)).to_have_attribute("aria-selected", "true")
    shot(page, "01-zh")

    # 1. a click on the third button shows the risk tab (and selects it), only it
    buttons.nth(2).click()
    assert shown_tabs(page) == [2]
    expect(buttons.nth(2)).to_have_attribute("aria-selected", "true")
    expect(buttons.nth(0)).to_have_attribute("aria-selected", "false")
    expect(page.locator(".bc-field[data-key='risk_score']")).to_be_in_viewport()
    expect(page.locator(".bc-field[data-key='amount']")).to_be_hidden()
    assert page.evaluate("() => window.lbBuilder.selection") == {"type": "tab", "tab": 2}
    # the keyboard: the focus stays on the strip; → and Home move along it
    expect(buttons.nth(2)).to_be_focused()
    page.keyboard.press("ArrowRight")
    assert shown_tabs(page) == [3]
    expect(buttons.nth(3)).to_be_focused()
    page.keyboard.press("Home")
    assert shown_tabs(page) == [0]
    expect(buttons.nth(0)).to_be_focused()

    # 2. a text field dragged from the palette over the third button lands in the risk tab
    before = layout(page)
    drag_via_tab(page, page.locator("#palette [data-new-type='text']"), 2,
                 "#canvas-tab-2 .bc-fields[data-section='0']")
    expect(page.locator("#canvas-tab-2 .bc-field[data-key='text']")).to_be_visible()
    after = layout(page)
    assert after[2][0] == [*before[2][0], "text"]
    assert after[:2] == before[:2] and after[3] == before[3]
    assert shown_tabs(page) == [2]
    expect(buttons.nth(2).locator(".bc-tab-count")).to_have_text(str(COUNTS[2] + 1))

    # 3. the new field has no condition: the editor says so once
    expect(page.locator("#props .cb")).to_be_visible()
    expect(page.locator("#props").get_by_text(ALWAYS["zh"], exact=True)).to_have_count(1)
    shot(page, "02-zh")  # docs/img/builder-canvas.png

    # 4. a field moved from the risk tab to the decision tab, the same way
    drag_via_tab(page, page.locator(".bc-field[data-key='risk_opinion']"), 3,
                 "#canvas-tab-3 .bc-fields[data-section='0']")
    expect(page.locator("#canvas-tab-3 .bc-field[data-key='risk_opinion']")).to_have_count(1)
    moved = layout(page)
    assert "risk_opinion" not in moved[2][0]
    assert moved[3][0][-1] == "risk_opinion"
    expect(buttons.nth(2).locator(".bc-tab-count")).to_have_text(str(COUNTS[2]))
    expect(buttons.nth(3).locator(".bc-tab-count")).to_have_text(str(COUNTS[3] + 1))
    page.keyboard.press("Control+z")
    assert layout(page) == after

    # 5. tabs reorder by dragging their buttons: the decision tab first
    press_on(page, buttons.nth(3))
    glide_to(page, buttons.nth(0))
    box = buttons.nth(0).bounding_box()
    page.mouse.move(box["x"] + 4, box["y"] + box["height"] / 2, steps=5)
    page.wait_for_timeout(150)
    page.mouse.up()
    expect(buttons.nth(0).locator(".bc-tab-label")).to_have_text(LABELS["zh"][3])
    assert [t["key"] for t in page.evaluate("() => window.lbBuilder.doc.layout.tabs")] == [
        "decision", "request", "security", "risk"]
    assert shown_tabs(page) == [0]
    page.keyboard.press("Control+z")
    expect(buttons.nth(0).locator(".bc-tab-label")).to_have_text(LABELS["zh"][0])
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")
    assert errors == []
    context.close()


def test_tab_strip_in_english_and_on_a_phone(server: str, browser) -> None:
    expect = sync_api.expect
    for lang, width in (("en", 1440), ("en", 375), ("zh", 375), ("zh", 320)):
        context, page, errors = open_builder(browser, server, lang, width, 800)
        buttons = page.locator("#canvas-tab-strip [role=tab]")
        expect(buttons).to_have_count(4)
        for i, label in enumerate(LABELS[lang]):
            expect(buttons.nth(i).locator(".bc-tab-label")).to_have_text(label)
        buttons.nth(1).click()
        assert shown_tabs(page) == [1]
        expect(page.locator(".bc-field[data-key='guarantees']")).to_be_visible()
        # every button within the page's width: the strip wraps, nothing scrolls sideways
        for i in range(4):
            box = buttons.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (lang, width, i, box)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        shot(page, f"03-{lang}-{width}")
        page.click(".bc-field[data-key='guarantee_method']")
        expect(page.locator("#props").get_by_text(ALWAYS[lang], exact=True)).to_have_count(1)
        assert errors == []
        context.close()
