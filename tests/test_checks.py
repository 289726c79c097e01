"""Domain value checks: resident ID, credit code, mobile, e-mail and region codes."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendbase.forms.checks import (
    ID_PROVINCE_CODES,
    USCC_ALPHABET,
    birth_date_from_id,
    check_email,
    check_id_number,
    check_mobile,
    check_region,
    check_uscc,
    normalize_email,
    normalize_id_number,
    normalize_mobile,
    normalize_region,
    normalize_uscc,
    region_children,
    region_name,
    region_path,
)

TODAY = date(2025, 6, 30)
ID_CHARS = "0123456789X"

# Independent re-implementations of the two check-character rules, written from the
# standards' tables rather than from the module, so that the tests cross-check it.
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def make_id(body: str) -> str:
    """Complete 17 ID digits with their GB 11643 check character."""
    assert len(body) == 17 and body.isdigit()
    total = sum(
        int(digit) * weight for digit, weight in zip(body, ID_WEIGHTS, strict=True)
    )
    return body + "10X98765432"[total % 11]


def make_uscc(body: str) -> str:
    """Complete 17 credit-code characters with their GB 32100 check character."""
    assert len(body) == 17
    total = sum(
        USCC_ALPHABET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True)
    )
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


def other_chars(alphabet: str, char: str) -> list[str]:
    return [c for c in alphabet if c != char]


# --- Resident ID number --------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "11010519491231002X",
        "360426199101010071",
        "11010519491231002x",  # lower-case x
        " 110105 19491231 002X ",  # grouped the way people read it out
        "３６０４２６１９９１０１０１００７１",  # full-width digits from an IME
    ],
)
def test_valid_id_numbers_pass(value: str) -> None:
    assert check_id_number(value, today=TODAY) is None


def test_normalize_id_number_strips_spaces_and_upper_cases() -> None:
    assert normalize_id_number(" 110105 19491231 002x ") == "11010519491231002X"
    assert (
        normalize_id_number("３６０４２６１９９１０１０１００７１")
        == "360426199101010071"
    )


def test_test_helper_reproduces_the_published_examples() -> None:
    assert make_id("11010519491231002") == "11010519491231002X"
    assert make_id("36042619910101007") == "360426199101010071"


def test_wrong_check_character_names_the_expected_one() -> None:
    message = check_id_number("110105194912310021", today=TODAY)
    assert message is not None
    assert "should be X, got 1" in message


def test_impossible_birth_date_is_rejected() -> None:
    message = check_id_number(make_id("11010519490230002"), today=TODAY)
    assert message is not None
    assert "19490230 is not a real date" in message
    assert "7-14" in message


def test_leap_day_only_in_leap_years() -> None:
    assert check_id_number(make_id("11010520000229002"), today=TODAY) is None
    assert check_id_number(make_id("11010519000229002"), today=TODAY) is not None


def test_future_birth_date_is_relative_to_today() -> None:
    number = make_id("11010520300101002")
    message = check_id_number(number, today=TODAY)
    assert message is not None and "in the future" in message
    assert check_id_number(number, today=date(2030, 1, 1)) is None


def test_today_defaults_to_the_real_date() -> None:
    message = check_id_number(make_id("11010529991231002"))
    assert message is not None and "in the future" in message


def test_birth_date_before_1900_is_rejected() -> None:
    message = check_id_number(make_id("11010518991231002"), today=TODAY)
    assert message is not None and "before 1900" in message
    assert check_id_number(make_id("11010519000101002"), today=TODAY) is None


def test_unknown_province_is_rejected_even_with_a_right_check_character() -> None:
    message = check_id_number(make_id("99010519491231002"), today=TODAY)
    assert message is not None
    assert "99" in message and "province" in message


def test_residence_permit_prefixes_are_provinces() -> None:
    # Hong Kong, Macao and Taiwan residents' residence permits: 81, 82, 83.
    for prefix in ("81", "82", "83"):
        assert check_id_number(make_id(prefix + "000019900101001"), today=TODAY) is None


def test_every_shipped_province_is_an_id_prefix() -> None:
    provinces = {code[:2] for code, _ in region_children(None)}
    assert len(provinces) == 34
    assert provinces <= ID_PROVINCE_CODES


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("11010519491231002", "17 characters, expected 18"),
        ("11010519491231002X1", "19 characters, expected 18"),
        ("110105491231002", "15-digit first-generation"),
        ("1101051949123100X2", "'X'"),
        ("11010519A91231002X", "'A'"),
        ("11010519491231002Y", "'Y'"),
    ],
)
def test_malformed_id_numbers_say_what_is_wrong(value: str, fragment: str) -> None:
    message = check_id_number(value, today=TODAY)
    assert message is not None
    assert fragment in message


def test_birth_date_from_id() -> None:
    assert birth_date_from_id("11010519491231002x") == date(1949, 12, 31)
    assert birth_date_from_id("360426199101010071") == date(1991, 1, 1)


def test_birth_date_from_invalid_id_raises_with_the_check_message() -> None:
    with pytest.raises(ValueError, match="should be X, got 1"):
        birth_date_from_id("110105194912310021")


@st.composite
def valid_id_numbers(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(sorted(ID_PROVINCE_CODES)))
    district = draw(st.integers(0, 9999))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.integers(0, 999))
    return make_id(f"{province}{district:04d}{born:%Y%m%d}{sequence:03d}")


@given(valid_id_numbers())
def test_generated_id_numbers_pass(number: str) -> None:
    assert check_id_number(number, today=TODAY) is None


@given(valid_id_numbers(), st.data())
def test_changing_the_check_character_always_fails(
    number: str, data: st.DataObject
) -> None:
    replacement = data.draw(st.sampled_from(other_chars(ID_CHARS, number[17])))
    message = check_id_number(number[:17] + replacement, today=TODAY)
    assert message is not None and "check character" in message


@given(valid_id_numbers(), st.integers(0, 16), st.data())
def test_any_single_digit_typo_fails(
    number: str, position: int, data: st.DataObject
) -> None:
    replacement = data.draw(
        st.sampled_from(other_chars("0123456789", number[position]))
    )
    typo = number[:position] + replacement + number[position + 1 :]
    assert check_id_number(typo, today=TODAY) is not None


# --- Unified social credit code ----------------------------------------------------


def test_uscc_helper_reproduces_the_commonly_cited_example() -> None:
    assert make_uscc("91350100M000100Y4") == "91350100M000100Y43"


@pytest.mark.parametrize(
    "value",
    [
        "91350100M000100Y43",
        # Codes in the shape of published company codes; make_uscc agrees with each.
        "9144030071526726XG",
        "914403001922038216",
        "91330100799655058B",
        "91110000802100433B",
        # Registration authorities that start with a letter.
        make_uscc("A1110000MA0000001"),
        make_uscc("N2440300MA5F00001"),
        make_uscc("Y1310000MA1K00001"),
    ],
)
def test_valid_credit_codes_pass(value: str) -> None:
    assert make_uscc(value[:17]) == value
    assert check_uscc(value) is None


def test_credit_code_is_normalized_before_checking() -> None:
    assert normalize_uscc(" 91350100m000100y43 ") == "91350100M000100Y43"
    assert check_uscc("91350100 m000 100y43") is None


def test_wrong_credit_code_check_character() -> None:
    message = check_uscc("91350100M000100Y44")
    assert message is not None
    assert "should be 3, got 4" in message


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_letters_outside_the_alphabet_are_named(letter: str) -> None:
    message = check_uscc("91350100M000100" + letter + "43")
    assert message is not None
    assert repr(letter) in message and "never use" in message


def test_lookalike_letter_suggests_the_digit() -> None:
    message = check_uscc("91350100M0001OOY43")
    assert message is not None and "did you mean 0?" in message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("91350100M000100Y4", "17 characters, expected 18"),
        ("91350100M000100Y433", "19 characters, expected 18"),
        ("91350100-000100Y43", "'-'"),
    ],
)
def test_malformed_credit_codes_say_what_is_wrong(value: str, fragment: str) -> None:
    message = check_uscc(value)
    assert message is not None and fragment in message


@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17), st.data())
def test_credit_code_check_agrees_with_the_helper(
    body: str, data: st.DataObject
) -> None:
    code = make_uscc(body)
    assert check_uscc(code) is None
    wrong = data.draw(st.sampled_from(other_chars(USCC_ALPHABET, code[17])))
    assert check_uscc(body + wrong) is not None


# --- Mobile number ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "86 13800138000",
        "0086-138-0013-8000",
        "１３８００１３８０００",
    ],
)
def test_mobile_numbers_in_common_notations_pass(value: str) -> None:
    assert normalize_mobile(value) == "13800138000"
    assert check_mobile(value) is None


@pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "17", "18", "19"])
def test_every_mobile_prefix_passes(prefix: str) -> None:
    assert check_mobile(prefix + "012345678") is None


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("12800138000", "starts with 12"),
        ("10086000000", "starts with 10"),
        ("23800138000", "starts with 23"),
        ("1380013800", "10 digits, expected 11"),
        ("138001380001", "12 digits, expected 11"),
        ("8613800138000 1", "14 digits"),
        ("138OO138000", "'O'"),
        ("+1 415 555 0100", "'+'"),
    ],
)
def test_invalid_mobile_numbers_say_what_is_wrong(value: str, fragment: str) -> None:
    message = check_mobile(value)
    assert message is not None and fragment in message


# --- E-mail address -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "a@b.cn",
        "first.last+tag@mail.example.com",
        " Wang.Li@Example.COM ",
        "li＠qq.com",
    ],
)
def test_valid_email_addresses_pass(value: str) -> None:
    assert check_email(value) is None


def test_normalize_email_lower_cases_only_the_domain() -> None:
    assert normalize_email(" Wang.Li@Example.COM ") == "Wang.Li@example.com"
    assert normalize_email("li＠qq.com") == "li@qq.com"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("wang li@example.com", "space"),
        ("wang.example.com", "0 @ signs"),
        ("wang@@example.com", "2 @ signs"),
        ("a@b@example.com", "2 @ signs"),
        ("@example.com", "nothing before the @"),
        ("wang@localhost", "'localhost'"),
        ("wang@.example.com", "not a domain name"),
        ("wang@example.", "not a domain name"),
        ("wang@example..com", "not a domain name"),
        ("w" * 243 + "@example.com", "255 characters, at most 254"),
    ],
)
def test_invalid_email_addresses_say_what_is_wrong(value: str, fragment: str) -> None:
    message = check_email(value)
    assert message is not None and fragment in message


def test_email_of_exactly_254_characters_passes() -> None:
    assert check_email("w" * 242 + "@example.com") is None


# --- Administrative division codes -------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("110000", "北京市"),
        ("110105", "朝阳区"),
        ("130100", "石家庄市"),
        ("130102", "长安区"),
        ("441900", "东莞市"),  # prefecture-level city without counties
        ("429004", "仙桃市"),  # county-level city governed by its province
        ("810000", "香港特别行政区"),
    ],
)
def test_known_regions_pass_and_have_their_names(code: str, name: str) -> None:
    assert check_region(code) is None
    assert region_name(code) == name


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("11010", "not 6 digits"),
        ("11010a", "not 6 digits"),
        ("999999", "not a current administrative division"),
        ("110103", "not a current administrative division"),  # Chongwen, merged 2010
        ("110100", "not a current administrative division"),  # placeholder grouping
    ],
)
def test_invalid_regions_say_what_is_wrong(value: str, fragment: str) -> None:
    message = check_region(value)
    assert message is not None and fragment in message


def test_region_name_of_unknown_code_is_none() -> None:
    assert region_name("999999") is None
    assert region_name(" 110105 ") == "朝阳区"
    assert normalize_region(" １１０１０５ ") == "110105"


def test_provinces_are_the_top_level() -> None:
    provinces = region_children(None)
    assert len(provinces) == 34
    assert ("110000", "北京市") in provinces
    assert ("650000", "新疆维吾尔自治区") in provinces
    assert [code for code, _ in provinces] == sorted(code for code, _ in provinces)


def test_children_of_beijing_are_its_sixteen_districts() -> None:
    districts = region_children("110000")
    assert len(districts) == 16
    assert districts[0] == ("110101", "东城区")
    assert ("110105", "朝阳区") in districts
    assert all(
        code.startswith("11") and not code.endswith("00") for code, _ in districts
    )


def test_children_of_a_province_include_cities_and_direct_counties() -> None:
    hubei = dict(region_children("420000"))
    assert hubei["420100"] == "武汉市"
    assert hubei["429004"] == "仙桃市"


def test_children_of_a_city() -> None:
    assert ("130102", "长安区") in region_children("130100")


def test_leaves_and_unknown_codes_have_no_children() -> None:
    assert region_children("110105") == []
    assert region_children("441900") == []
    assert region_children("999999") == []


def test_region_children_returns_a_copy() -> None:
    region_children("110000").clear()
    assert len(region_children("110000")) == 16


def test_region_path() -> None:
    assert region_path("130102") == ["130000", "130100", "130102"]
    assert region_path("130100") == ["130000", "130100"]
    assert region_path("110105") == ["110000", "110105"]
    assert region_path("110000") == ["110000"]
    assert region_path("999999") == []


def test_shipped_region_tree_is_consistent() -> None:
    codes = [
        code for province, _ in region_children(None) for code in _subtree(province)
    ]
    assert len(codes) == len(set(codes)) > 3000
    for code in codes:
        path = region_path(code)
        assert 1 <= len(path) <= 3 and path[-1] == code
        assert all(code.startswith(ancestor[:2]) for ancestor in path)
        assert check_region(code) is None


def _subtree(code: str) -> list[str]:
    return [code] + [c for child, _ in region_children(code) for c in _subtree(child)]
