"""What the record form sends its scripts so that they check like the server: the message
catalogue in the page's language (the same texts as ``lendbase.forms.messages.CATALOG``), the
rules of every field with the server's defaults filled in, date pickers bounded by the field's
limits and the years the server accepts, and number inputs that keep what was typed."""

from __future__ import annotations

import json
import re

import pytest

from lendbase.forms.messages import CATALOG, catalog_for, message
from lendbase.forms.model import load_field
from lendbase.forms.values import MAX_YEAR, MIN_YEAR
from lendbase.web.widgets import date_limits, field_rules
from tests.test_web_pages import field_block, login, site  # noqa: F401

MIB = 1024 * 1024


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_exported_catalog_is_the_servers_catalog(lang: str) -> None:
    exported = catalog_for(lang)
    assert set(exported) == set(CATALOG)
    for code, texts in CATALOG.items():
        assert exported[code] == (texts.get(lang) or texts["en"]), code


def test_exported_templates_format_to_the_servers_messages() -> None:
    params = {"value": "12a", "length": 7, "max": 5, "min": 1, "places": 3, "type": "money",
              "decimals": 2, "digits": 18, "detail": "x", "options": "a, b", "fields": "a",
              "target": "t", "level": "city", "ext": ".exe", "accept": ".pdf",
              "size_mb": 1.25, "max_mb": 1}
    for lang in ("zh", "en"):
        for code, template in catalog_for(lang).items():
            extra = {"level_zh": "市"} if "level_zh" in template else {}
            assert template.format(**params, **extra) == message(code, lang, **params), code


def _rules_of(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="record-form-rules">(.*?)</script>',
                      page, re.S)
    assert match, "the form page carries no rules for its scripts"
    return json.loads(match.group(1))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_form_page_carries_the_catalog_and_the_rules(site, lang: str) -> None:  # noqa: F811
    client = site.test_client()
    login(client, "am1")
    client.get(f"/lang/{lang}")
    page = client.get("/f/customer/new").text
    rules = _rules_of(page)
    assert rules["lang"] == lang
    assert rules["catalog"] == catalog_for(lang)
    for code, texts in CATALOG.items():
        assert rules["catalog"][code] == (texts.get(lang) or texts["en"])
    assert rules["years"] == [MIN_YEAR, MAX_YEAR]
    assert rules["separator"] == ("：" if lang == "zh" else ": ")
    assert "{n}" in rules["texts"]["error_summary"]
    fields = rules["fields"]
    assert fields["name"]["required"] is True and fields["name"]["max_length"] == 100
    assert fields["bank_account"]["pattern"] == "^[0-9]{8,30}$"
    assert fields["bank_account"]["pattern_message"] == (
        "银行账号为8-30位数字" if lang == "zh" else "Bank account number must be 8-30 digits")
    assert fields["monthly_income"]["decimals"] == 2 and fields["monthly_income"]["min"] == "0"
    assert fields["id_number"]["visible_when"] == {"field": "customer_type", "op": "=",
                                                   "value": "individual"}
    contacts = fields["contacts"]
    assert contacts["max_rows"] == 10 and contacts["fields"]["phone"]["required"] is True
    assert fields["documents"]["accept"] == [".pdf", ".jpg", ".jpeg", ".png"]
    assert fields["documents"]["max_bytes"] == 20 * MIB and fields["documents"]["max_mb"] == "20"
    assert rules["upload"] == {"url": "/api/v1/files", "form": "customer",
                               "download": "/files/"}
    assert rules["limits"]["request_max_bytes"] < site.config["MAX_CONTENT_LENGTH"]
    assert "</script" not in page.split('id="record-form-rules">', 1)[1].split("</script>")[0]


def test_rules_fill_in_the_servers_defaults() -> None:
    def rules(doc: dict) -> dict:
        return field_rules(load_field({"label": {"zh": "字段", "en": "Field"}, **doc}), "en",
                           10 * MIB)

    assert rules({"key": "t", "type": "text"})["max_length"] == 255
    assert rules({"key": "t", "type": "textarea"})["max_length"] is None
    money = rules({"key": "m", "type": "money", "min": 0.5})
    assert (money["decimals"], money["digits"], money["min"]) == (2, 18, "0.5")
    percent = rules({"key": "p", "type": "percent"})
    assert (percent["decimals"], percent["digits"]) == (4, 12)
    assert rules({"key": "d", "type": "decimal", "digits": 38})["digits"] == 38
    date_rules = rules({"key": "d", "type": "date", "min": "2020-01-01"})
    assert date_rules["min_date"] == "2020-01-01" and date_rules["max_date"] is None
    plain = rules({"key": "f", "type": "file"})
    assert (plain["max_bytes"], plain["max_mb"], plain["accept"]) == (10 * MIB, "10.0", [])
    small = rules({"key": "f", "type": "file", "max_size_mb": 0.5})
    assert (small["max_bytes"], small["max_mb"]) == (MIB // 2, "0.5")


def test_date_pickers_are_bounded_by_the_field_and_the_servers_years() -> None:
    label = {"zh": "日期", "en": "Date"}
    plain = load_field({"key": "d", "type": "date", "label": label})
    assert date_limits(plain) == (f"{MIN_YEAR}-01-01", f"{MAX_YEAR}-12-31")
    bounded = load_field({"key": "d", "type": "date", "label": label, "min": "2020-01-01",
                          "max": "3000-01-01"})
    assert date_limits(bounded) == ("2020-01-01", f"{MAX_YEAR}-12-31")


def test_the_form_renders_pickers_with_limits_and_numbers_as_text(site) -> None:  # noqa: F811
    client = site.test_client()
    login(client, "am1")
    page = client.get("/f/customer/new").text
    birth = field_block(page, "birth_date")
    assert 'type="date"' in birth and f'min="{MIN_YEAR}-01-01"' in birth
    assert f'max="{MAX_YEAR}-12-31"' in birth
    income = field_block(page, "monthly_income")
    assert 'inputmode="decimal"' in income and 'type="number"' not in income
    assert 'name="documents.upload"' in page  # the plain file input still posts without JS
    assert "js/record_form.js" in page


def test_an_edit_page_marks_masked_values(site) -> None:  # noqa: F811
    from tests.test_web_pages import create_records, customer_data

    (record,) = create_records(site, "am1", "customer", [customer_data(site)])
    client = site.test_client()
    login(client, "am1")
    page = client.get(f"/f/customer/{record['id']}/edit").text
    block = field_block(page, "id_number")
    assert 'data-masked-value="110105********002X"' in block
