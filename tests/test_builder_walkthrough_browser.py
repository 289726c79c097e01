"""Fixes from a timed walkthrough of the builder in real Chromium (an admin adds a "Guarantors"
sub-table with four columns to the credit template's loan application): a palette item let go
anywhere in a sub-table's column area becomes a column, and its placeholder shows it there; a
label typed in one language shows, as it is typed, what the other language becomes, with a hint
when that is a copy; icons inside buttons are hidden from screen readers; undoing back to the
saved draft says so. Screenshots go to artifacts/screenshots/builder-walkthrough-*.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser_support import ROOT, SHOTS, app_with_admin, require_browser_setup, serving

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist", "bootstrap-icons/font", "sortablejs/modular")
PASSWORD = "secret-pass-9"
FORM = "loan_application"
SECURITY_TAB = 1  # 担保安排 / Security: guarantee_method | guarantees | collaterals
HINT = {"zh": {"en": "英文名称沿用了中文，可在 EN 框中改为英文"},
        "en": {"en": "English label copied from Chinese — type an English label",
               "zh": "Chinese label copied from English — type a Chinese label"}}
SAVED = {"zh": "已保存", "en": "All changes saved"}
UNSAVED = {"zh": "有未保存的修改", "en": "Unsaved changes"}


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
    page.screenshot(path=str(SHOTS / f"builder-walkthrough-{name}.png"))


def open_builder(browser, server: str, lang: str, width: int = 1440):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
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


def press_on(page, locator) -> None:
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 8, box["y"] + box["height"] / 2 + 8, steps=4)


def drop_subtable_after_guarantees(page) -> None:
    """Show the Security tab and drag a new sub-table to the end of the guarantees section."""
    page.click(f"[data-tab-button='{SECURITY_TAB}']")
    target = page.locator(f"#canvas-tab-{SECURITY_TAB} .bc-fields[data-section='1']")
    press_on(page, page.locator("#palette [data-new-type='subtable']"))
    box = target.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 6, steps=20)
    page.wait_for_timeout(150)
    page.mouse.up()
    sync_api.expect(page.locator(".bc-field[data-key='subtable']")).to_have_count(1)


def section_fields(page) -> list[list[str]]:
    return page.evaluate(
        f"() => window.lbBuilder.tabs()[{SECURITY_TAB}].sections.map(s => s.fields)")


def columns(page) -> list[str]:
    return page.evaluate("() => window.lbBuilder.field('subtable').fields.map(c => c.key)")


def empty_spot(page, fx: float, where: str) -> tuple[float, float]:
    """A point of the column area's empty space right of its last chip, as it is on screen now:
    ``fx`` of the way from the chip to the area's right edge; level with the chip, ``above`` it
    (the strip's top padding, or the gap over its row) or ``below`` it (the hint line's band)."""
    return page.evaluate("""([fx, where]) => {
      const strip = document.querySelector(".bc-subfields[data-sub='subtable']");
      const area = strip.getBoundingClientRect();
      const chips = [...strip.querySelectorAll('.bc-subfield')];
      const last = chips[chips.length - 1].getBoundingClientRect();
      const above = Math.max(area.top, ...chips.map((c) => c.getBoundingClientRect().bottom)
        .filter((b) => b <= last.top));
      const y = {level: last.top + last.height / 2, above: (above + last.top) / 2,
                 below: (last.bottom + area.bottom) / 2}[where];
      return [last.right + (area.right - last.right) * fx, y];
    }""", [fx, where])


def placeholder(page) -> list | None:
    """Where the drag's placeholder is: [the sub-table it is in, or null; whether it is last]."""
    return page.evaluate("""() => {
      const g = document.querySelector('#canvas .bc-ghost');
      if (!g) return null;
      return [g.parentElement.dataset.sub || null, g === g.parentElement.lastElementChild];
    }""")


def test_a_column_dropped_anywhere_in_the_column_area(server: str, browser) -> None:
    expect = sync_api.expect
    context, page, errors = open_builder(browser, server, "en")
    drop_subtable_after_guarantees(page)
    # four columns, as in the walkthrough: the starting one and three more from the panel
    page.click(".bc-field[data-key='subtable']")
    for type_ in ("id_number", "phone", "decimal"):
        page.select_option("#new-column-type", type_)
        page.click("#add-column")
        page.click(".bc-field[data-key='subtable'] .bc-field-head")
    assert columns(page) == ["name", "id_number", "phone", "decimal"]
    layout = section_fields(page)
    assert layout[1] == ["guarantees", "subtable"]

    # right of the last chip: level with it, in the strip's top padding, low down, far right
    spots = [(0.1, "level"), (0.5, "above"), (0.5, "below"), (0.95, "level"), (0.3, "below")]
    for n, (fx, where) in enumerate(spots):
        press_on(page, page.locator("#palette [data-new-type='money']"))
        for steps in (25, 5, 5):  # aimed, then aimed again at the strip as it now is on screen
            x, y = empty_spot(page, fx, where)
            page.mouse.move(x, y, steps=steps)
            page.wait_for_timeout(200)
        # the blue placeholder shows the new column at the end of the table's columns
        assert placeholder(page) == ["subtable", True], (fx, where)
        if n == 0:
            shot(page, "01-column-placeholder-en")
        page.mouse.up()
        expect(page.locator(".bc-subfield[data-parent='subtable'][data-sub-key='money']")).to_have_count(1)
        assert columns(page) == ["name", "id_number", "phone", "decimal", "money"], (fx, where)
        assert section_fields(page) == layout, (fx, where)
        assert page.locator("#palette [data-new-type='money']").count() == 1
        page.click("#undo")
        assert columns(page) == ["name", "id_number", "phone", "decimal"]

    # onto a chip and onto the hint line as before; outside the strip it is a section's field
    press_on(page, page.locator("#palette [data-new-type='date']"))
    for steps in (25, 5):  # aimed, then aimed again at the chip where it now is
        chip = page.locator(".bc-subfield[data-sub-key='id_number']").bounding_box()
        page.mouse.move(chip["x"] + 4, chip["y"] + chip["height"] / 2, steps=steps)
        page.wait_for_timeout(200)
    assert placeholder(page)[0] == "subtable"
    page.mouse.up()
    assert sorted(columns(page)) == ["date", "decimal", "id_number", "name", "phone"]
    assert section_fields(page) == layout
    press_on(page, page.locator("#palette [data-new-type='text']"))
    head = page.locator(".bc-field[data-key='subtable'] .bc-field-head").bounding_box()
    page.mouse.move(head["x"] + head["width"] / 2, head["y"] + head["height"] / 2, steps=25)
    page.wait_for_timeout(200)
    assert placeholder(page)[0] is None
    page.mouse.up()
    expect(page.locator(".bc-field[data-key='text']")).to_have_count(1)
    assert "text" in section_fields(page)[1]
    assert "text" not in columns(page)
    assert not page.locator("#palette .bc-ghost").count()
    assert errors == []
    context.close()


def label_boxes(page) -> tuple[str, str]:
    return page.input_value("#prop-label-zh"), page.input_value("#prop-label-en")


def type_into(page, selector: str, text: str) -> None:
    """Empty the box, then type ``text`` a character at a time (no Tab yet)."""
    page.click(selector)
    page.keyboard.press("Control+a")
    page.keyboard.press("Backspace")
    page.keyboard.type(text, delay=20)


def test_a_label_typed_in_one_language_shows_the_other_as_it_becomes(server: str, browser) -> None:
    expect = sync_api.expect
    hint = "#prop-label-copy-hint"
    context, page, errors = open_builder(browser, server, "en", 1280)
    drop_subtable_after_guarantees(page)

    # 1. the sub-table's starting column: typed in Chinese, the English box shows the copy as
    # it is typed, with a hint; the canvas and the saved document say the same
    page.click(".bc-subfield[data-parent='subtable'][data-sub-key='name']")
    assert label_boxes(page) == ("名称", "Name")
    expect(page.locator(hint)).to_be_hidden()
    type_into(page, "#prop-label-zh", "姓名")
    assert label_boxes(page) == ("姓名", "姓名")
    expect(page.locator(hint)).to_be_visible()
    expect(page.locator(hint)).to_have_text(HINT["en"]["en"])
    expect(page.locator("#prop-label-en")).to_have_attribute("aria-describedby", hint[1:])
    shot(page, "02-label-copied-en")
    page.keyboard.press("Tab")
    expect(page.locator("#prop-label-en")).to_be_focused()
    expect(page.locator(".bc-subfield[data-sub-key='name']")).to_contain_text("姓名")
    assert page.evaluate("() => window.lbBuilder.field('subtable').fields[0].label") == {
        "zh": "姓名", "en": "姓名"}
    page.click(".bc-field[data-key='subtable'] .bc-field-head")
    page.click(".bc-subfield[data-parent='subtable'][data-sub-key='name']")
    assert label_boxes(page) == ("姓名", "姓名")
    expect(page.locator(hint)).to_have_text(HINT["en"]["en"])
    # an English label typed over the copy is the admin's: the hint goes, Chinese stays
    type_into(page, "#prop-label-en", "Full name")
    assert label_boxes(page) == ("姓名", "Full name")
    expect(page.locator(hint)).to_be_hidden()
    page.keyboard.press("Tab")
    column = page.evaluate("() => window.lbBuilder.field('subtable').fields[0]")
    assert column["label"] == {"zh": "姓名", "en": "Full name"} and column["key"] == "full_name"
    # ... and typing Chinese again leaves it alone
    page.click(".bc-subfield[data-sub-key='full_name']")
    type_into(page, "#prop-label-zh", "担保人姓名")
    assert label_boxes(page) == ("担保人姓名", "Full name")
    page.keyboard.press("Tab")
    assert page.evaluate("() => window.lbBuilder.field('subtable').fields[0].label") == {
        "zh": "担保人姓名", "en": "Full name"}

    # 2. a new field: its English type name is a placeholder too
    page.click(".bc-field[data-key='guarantee_method']")
    page.focus("#palette [data-new-type='textarea']")
    page.keyboard.press("Enter")
    expect(page.locator("#props [data-for='textarea']")).to_have_count(1)
    assert label_boxes(page) == ("多行文本", "Long text")
    type_into(page, "#prop-label-zh", "测试说明")
    assert label_boxes(page) == ("测试说明", "测试说明")
    expect(page.locator(hint)).to_be_visible()
    # emptied again, the English box shows its own text again
    page.keyboard.press("Control+a")
    page.keyboard.press("Backspace")
    assert label_boxes(page) == ("", "Long text")
    page.keyboard.type("测试说明", delay=20)
    page.keyboard.press("Tab")
    assert page.evaluate("() => window.lbBuilder.field('textarea').label") == {
        "zh": "测试说明", "en": "测试说明"}
    # English first: the Chinese type name takes it, the hint says so
    page.focus("#palette [data-new-type='integer']")
    page.keyboard.press("Enter")
    expect(page.locator("#props [data-for='integer']")).to_have_count(1)
    type_into(page, "#prop-label-en", "Guarantors")
    assert label_boxes(page) == ("Guarantors", "Guarantors")
    expect(page.locator(hint)).to_have_text(HINT["en"]["zh"])
    page.keyboard.press("Tab")
    assert page.evaluate("() => window.lbBuilder.field('guarantors').label") == {
        "zh": "Guarantors", "en": "Guarantors"}

    # 3. a published field's label never follows, whatever it holds
    page.click(".bc-field[data-key='guarantee_method']")
    zh, en = label_boxes(page)
    type_into(page, "#prop-label-zh", "担保方式（主）")
    assert label_boxes(page) == ("担保方式（主）", en)
    page.keyboard.press("Tab")
    assert page.evaluate("() => window.lbBuilder.field('guarantee_method').label")["en"] == en
    assert errors == []
    context.close()


def test_the_label_hint_in_chinese(server: str, browser) -> None:
    expect = sync_api.expect
    hint = "#prop-label-copy-hint"
    context, page, errors = open_builder(browser, server, "zh", 1280)
    drop_subtable_after_guarantees(page)
    page.click(".bc-subfield[data-parent='subtable'][data-sub-key='name']")
    type_into(page, "#prop-label-zh", "证件号码")
    assert label_boxes(page) == ("证件号码", "证件号码")
    expect(page.locator(hint)).to_have_text(HINT["zh"]["en"])
    shot(page, "03-label-copied-zh")
    page.keyboard.press("Tab")
    expect(page.locator(".bc-subfield[data-sub-key='name']")).to_contain_text("证件号码")
    # a section's label: one language serves both, and the emptied box shows it
    page.click(f"[data-select-section='{SECURITY_TAB}:0']")
    page.fill("#prop-label-en", "")
    page.press("#prop-label-en", "Tab")
    zh = page.input_value("#prop-label-zh")
    assert label_boxes(page) == (zh, zh)
    expect(page.locator(hint)).to_have_text(HINT["zh"]["en"])
    assert page.evaluate(f"() => window.lbBuilder.tabs()[{SECURITY_TAB}].sections[0].label") == {
        "zh": zh, "en": zh}
    assert errors == []
    context.close()


def test_icons_inside_buttons_are_hidden_from_screen_readers(server: str, browser) -> None:
    expect = sync_api.expect
    context, page, errors = open_builder(browser, server, "en")
    expect(page.locator("#dry-run")).to_have_accessible_name("Check the publish plan / Publish")
    expect(page.locator("#save")).to_have_accessible_name("Save draft")
    expect(page.locator("#undo")).to_have_accessible_name("Undo")
    # the panels build buttons too: a sub-table column's (back, add, delete) and the form's
    page.click(f"[data-tab-button='{SECURITY_TAB}']")
    page.click(".bc-subfield[data-parent='guarantees']")
    expect(page.locator("#back-to-subtable")).to_be_visible()
    # the builder's own buttons (the page's navigation bar is base.html's)
    unhidden = """() => [...document.querySelectorAll(['button', 'a.btn', '[role=button]']
        .map((b) => `main ${b} i.bi`).join(', '))]
      .filter((i) => i.getAttribute('aria-hidden') !== 'true' && i.getAttribute('role') !== 'img')
      .map((i) => `${i.closest('button, a, [role=button]').id || ''} ${i.className}`)"""
    assert page.evaluate(unhidden) == []
    page.click(".bc-field[data-key='guarantees'] .bc-field-head")
    assert page.evaluate(unhidden) == []
    page.keyboard.press("Escape")
    assert page.evaluate(unhidden) == []
    # the plan's Publish button, in its dialog
    page.click("#dry-run")
    expect(page.locator("#plan-modal")).to_be_visible()
    expect(page.locator("#publish-now")).to_have_accessible_name("Publish")
    assert page.evaluate(unhidden) == []
    assert errors == []
    context.close()


def test_undo_back_to_the_saved_draft_says_all_saved(server: str, browser) -> None:
    expect = sync_api.expect
    for lang in ("en", "zh"):
        context, page, errors = open_builder(browser, server, lang)
        status = page.locator("#save-state")
        expect(status).to_have_text(SAVED[lang])
        page.click(f"[data-tab-button='{SECURITY_TAB}']")
        page.click(".bc-field[data-key='guarantee_method']")
        page.click("#prop-readonly")  # a toggle: the English round saves it, the Chinese back
        expect(status).to_have_text(UNSAVED[lang])
        page.click("#undo")  # back to the published state, never saved in between
        expect(status).to_have_text(SAVED[lang])
        page.click("#redo")
        page.click("#save")  # the server answers with the document's keys sorted
        expect(status).not_to_have_text(UNSAVED[lang])
        page.click(".bc-field[data-key='guarantee_method']")
        page.click("#prop-required")
        expect(status).to_have_text(UNSAVED[lang])
        page.click("#undo")  # back to the draft just saved
        expect(status).to_have_text(SAVED[lang])
        assert page.evaluate("() => window.lbBuilder.dirty") is False
        page.click("#undo")  # further back than the saved draft: a change again
        expect(status).to_have_text(UNSAVED[lang])
        page.click("#redo")
        expect(status).to_have_text(SAVED[lang])
        assert errors == []
        context.close()
