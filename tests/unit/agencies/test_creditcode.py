"""Unified social credit codes: both check characters, every refusal, normalisation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.agencies.creditcode import (
    ALPHABET,
    AUTHORITIES,
    ERROR_CODES,
    CreditCode,
    CreditCodeError,
    check_character,
    complete_credit_code,
    org_code_check,
    validate_credit_code,
)

QUICK = settings(max_examples=200, deadline=None)

EXAMPLE = "91350100M000100Y43"
# Huawei Technologies Co., Ltd., as printed on its business licence: a second vector
# whose organisation code (19220382-1) is all digits.
HUAWEI = "914403001922038216"


# --- the two check characters -----------------------------------------------------------


def test_example_organisation_code_check_uses_gb11714_letter_values() -> None:
    # M = 22, Y = 34: 22·3 + 1·5 + 34·2 = 139; 139 mod 11 = 7; 11 - 7 = 4.
    assert org_code_check("M000100Y") == "4"


def test_example_last_character_uses_gb32100_alphabet_values() -> None:
    # Sum 1640 with weights 3^i mod 31; 1640 mod 31 = 28; 31 - 28 = 3.
    assert check_character("91350100M000100Y4") == "3"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("M000100Y", "4", id="letters"),
        pytest.param("19220382", "1", id="digits-only"),
        # 11 - (sum mod 11) = 10 is written X; = 11 (sum divisible by 11) is written 0.
        pytest.param("00000006", "X", id="ten-is-X"),
        pytest.param("00000000", "0", id="eleven-is-0"),
    ],
)
def test_org_code_check(body: str, expected: str) -> None:
    assert org_code_check(body) == expected


def test_check_character_of_a_sum_divisible_by_31_is_0() -> None:
    # All zeros: sum 0, and 31 - 0 = 31 is written 0.
    assert check_character("0" * 17) == "0"


@pytest.mark.parametrize(
    ("function", "text"),
    [
        pytest.param(org_code_check, "M000100", id="org-short"),
        pytest.param(org_code_check, "m000100y", id="org-lowercase"),
        pytest.param(org_code_check, "M00010-Y", id="org-punctuation"),
        pytest.param(check_character, "91350100M000100Y", id="check-short"),
        pytest.param(check_character, "91350100M000100I4", id="check-letter-I"),
    ],
)
def test_check_functions_refuse_malformed_input(function: Callable[[str], str], text: str) -> None:
    with pytest.raises(ValueError):
        function(text)


# --- valid codes --------------------------------------------------------------------------


def test_the_reference_example_is_valid_and_parsed() -> None:
    parsed = validate_credit_code(EXAMPLE)
    assert parsed == CreditCode(
        code=EXAMPLE,
        authority="9",
        org_type="1",
        division="350100",
        org_code="M000100Y4",
    )
    assert (parsed.authority_name_zh, parsed.authority_name_en) == ("工商", "Industry and commerce")
    assert (parsed.org_type_name_zh, parsed.org_type_name_en) == ("企业", "Enterprise")


def test_a_published_all_digit_code_is_valid() -> None:
    assert validate_credit_code(HUAWEI).division == "440300"


def test_an_unlisted_org_type_is_accepted_without_a_name() -> None:
    parsed = validate_credit_code(complete_credit_code("9", "8", "530102", "12345678"))
    assert parsed.org_type == "8"
    assert parsed.org_type_name_zh is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("91350100m000100y43", id="lower-case"),
        pytest.param("  91350100M000100Y43  ", id="spaces-around"),
        pytest.param("\t91350100M000100Y43\n", id="tab-and-newline"),
        pytest.param("\u3000９１３５０１００Ｍ０００１００Ｙ４３", id="full-width"),
    ],
)
def test_input_is_normalised(text: str) -> None:
    assert validate_credit_code(text).code == EXAMPLE


@pytest.mark.parametrize("authority", sorted(AUTHORITIES))
def test_every_published_registration_authority_is_accepted(authority: str) -> None:
    code = complete_credit_code(authority, "1", "530102", "MA6K0001")
    assert validate_credit_code(code).authority == authority


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error", "message_en", "message_zh"),
    [
        pytest.param(
            "",
            "length",
            "a credit code should have 18 characters, not 0",
            "统一社会信用代码应为 18 位，而不是 0 位",
            id="empty",
        ),
        pytest.param(
            EXAMPLE[:-1],
            "length",
            "a credit code should have 18 characters, not 17",
            "统一社会信用代码应为 18 位，而不是 17 位",
            id="one-short",
        ),
        pytest.param(
            EXAMPLE + "0",
            "length",
            "should have 18 characters, not 19",
            "而不是 19 位",
            id="one-long",
        ),
        pytest.param(
            "91350100 M000100Y43",
            "length",
            "not 19",
            "而不是 19 位",
            id="space-inside",
        ),
        pytest.param(
            "91350100M000100-43",
            "charset",
            "character 16 is '-'",
            "第 16 位“-”",
            id="punctuation",
        ),
        pytest.param(
            "91350100中000100Y43",
            "charset",
            "character 9 is '中'",
            "第 9 位“中”",
            id="chinese-character",
        ),
        pytest.param(
            "B1350100M000100Y43",
            "authority",
            "the first character (registration authority) should be one of 1-9, A, N or Y, not B",
            "第 1 位（登记管理部门代码）应为 1–9、A、N 或 Y，而不是 B",
            id="authority-B",
        ),
        pytest.param(
            "01350100M000100Y43",
            "authority",
            "not 0",
            "而不是 0",
            id="authority-0",
        ),
        pytest.param(
            "913501A0M000100Y43",
            "division",
            "characters 3-8 (administrative division code) should be six digits, not 3501A0",
            "第 3–8 位（登记管理机关行政区划码）应为 6 位数字，而不是 3501A0",
            id="division-letter",
        ),
        pytest.param(
            "91350100M000100Y53",
            "org_code_check",
            "character 17 should be 4 (organisation code check), not 5",
            "组织机构代码校验码错误：第 17 位应为 4，而不是 5",
            id="org-code-check",
        ),
        pytest.param(
            "91350100M000100Y44",
            "check_char",
            "the last character should be 3 (check character), not 4",
            "校验码错误：最后一位应为 3，而不是 4",
            id="last-character",
        ),
        pytest.param(
            "914403001922038217",
            "check_char",
            "the last character should be 6 (check character), not 7",
            "校验码错误：最后一位应为 6，而不是 7",
            id="last-character-digits",
        ),
    ],
)
def test_each_failed_check_is_named_in_both_languages(
    text: str, error: str, message_en: str, message_zh: str
) -> None:
    with pytest.raises(CreditCodeError) as caught:
        validate_credit_code(text)
    assert caught.value.code == error
    assert message_en in str(caught.value)
    assert message_zh in caught.value.message_zh


def test_the_error_is_a_value_error_with_a_known_code() -> None:
    with pytest.raises(ValueError) as caught:
        validate_credit_code("91350100M000100Y44")
    assert isinstance(caught.value, CreditCodeError)
    assert caught.value.code in ERROR_CODES
    assert caught.value.message_en == str(caught.value)


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
@pytest.mark.parametrize("position", [2, 9, 16, 18])
def test_letters_left_out_of_the_alphabet_are_refused(letter: str, position: int) -> None:
    text = EXAMPLE[: position - 1] + letter + EXAMPLE[position:]
    with pytest.raises(CreditCodeError) as caught:
        validate_credit_code(text)
    assert caught.value.code == "charset"
    assert f"character {position} is '{letter}'" in str(caught.value)
    assert "I、O、Z、S、V" in caught.value.message_zh


def test_lower_case_forbidden_letters_are_refused_after_upper_casing() -> None:
    with pytest.raises(CreditCodeError) as caught:
        validate_credit_code("91350100o000100Y43")
    assert caught.value.code == "charset"


def test_checks_run_in_order_so_the_first_failure_is_reported() -> None:
    # Wrong authority, a letter in the division and a wrong check character at once.
    with pytest.raises(CreditCodeError) as caught:
        validate_credit_code("B13501A0M000100Y44")
    assert caught.value.code == "authority"


# --- complete_credit_code -----------------------------------------------------------------


def test_complete_credit_code_rebuilds_the_example() -> None:
    assert complete_credit_code("9", "1", "350100", "M000100Y") == EXAMPLE
    assert complete_credit_code(" 9", "1", "350100", "m000100y") == EXAMPLE


@pytest.mark.parametrize(
    ("parts", "error"),
    [
        pytest.param(("9", "1", "35010", "M000100Y"), "length", id="short-division"),
        pytest.param(("9", "1", "350100", "M000100"), "length", id="short-body"),
        pytest.param(("91", "1", "350100", "M000100Y"), "length", id="long-authority"),
        pytest.param(("9", "", "350100", "M000100Y"), "length", id="no-org-type"),
        pytest.param(("B", "1", "350100", "M000100Y"), "authority", id="authority"),
        pytest.param(("9", "1", "3501A0", "M000100Y"), "division", id="division"),
        # GB 11714 allows I, O, Z, S and V in an organisation code; a credit code does not.
        pytest.param(("9", "1", "350100", "M00010OY"), "charset", id="body-letter-O"),
    ],
)
def test_complete_credit_code_refuses_bad_parts(parts: tuple[str, str, str, str], error: str) -> None:
    with pytest.raises(CreditCodeError) as caught:
        complete_credit_code(*parts)
    assert caught.value.code == error


authorities = st.sampled_from(sorted(AUTHORITIES))
alphabet_chars = st.sampled_from(ALPHABET)
divisions = st.text(alphabet="0123456789", min_size=6, max_size=6)
bodies = st.text(alphabet=ALPHABET, min_size=8, max_size=8)


@QUICK
@given(authority=authorities, org_type=alphabet_chars, division=divisions, body=bodies)
def test_completed_codes_validate_and_round_trip(
    authority: str, org_type: str, division: str, body: str
) -> None:
    code = complete_credit_code(authority, org_type, division, body)
    parsed = validate_credit_code(code)
    assert parsed.code == code
    assert (parsed.authority, parsed.org_type, parsed.division) == (authority, org_type, division)
    assert parsed.org_code[:8] == body
    assert validate_credit_code(code.lower()).code == code


@QUICK
@given(
    authority=authorities,
    org_type=alphabet_chars,
    division=divisions,
    body=bodies,
    position=st.integers(min_value=0, max_value=17),
    replacement=alphabet_chars,
)
def test_any_single_substitution_is_caught(
    authority: str, org_type: str, division: str, body: str, position: int, replacement: str
) -> None:
    # 31 is prime and no weight is 0 mod 31, so changing one character always changes
    # the GB 32100 sum mod 31: whichever check fires first, the code is refused.
    code = complete_credit_code(authority, org_type, division, body)
    if code[position] == replacement:
        return
    with pytest.raises(CreditCodeError):
        validate_credit_code(code[:position] + replacement + code[position + 1 :])
