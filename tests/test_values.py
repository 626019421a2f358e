"""The single-value parsers: phones, emails, money, states, zips, choices."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.model import LoanPurpose, PropertyType, YesNoUnknown
from leadflow.validate import LOAN_PURPOSES, PROPERTY_TYPES, TIMEFRAMES, YES_NO_UNKNOWN
from leadflow.values import (
    BadValue,
    parse_email,
    parse_money,
    parse_phone,
    parse_state,
    parse_text,
    parse_zip,
)


@pytest.mark.parametrize(
    "raw",
    [
        "(555) 201-4567",
        "555.201.4567",
        "555-201-4567",
        "5552014567",
        "+1 555 201 4567",
        "1-555-201-4567",
        "1 (555) 201-4567",
        "+15552014567",
        "555 201 4567",
    ],
)
def test_us_phone_formats_normalise_to_one_e164(raw: str) -> None:
    assert parse_phone(raw) == "+15552014567"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("+44 20 7946 0958", "+442079460958"), ("+52 55 1234 5678", "+525512345678")],
)
def test_international_phones_in_plus_cc_form_are_accepted(raw: str, expected: str) -> None:
    assert parse_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("555-CALL-NOW", "letters"),
        ("555-201-4567 x12", "letters"),
        ("555-201", "too few digits"),
        ("555 201 456", "too few digits"),
        ("555 201 45678 9", "too many digits"),
        ("+1 555 201", "too few digits"),
        ("(055) 201-4567", "area code"),
        ("(555) 101-4567", "exchange"),
        ("+0 1234 5678", "country code"),
        ("+44 123", "8 to 15"),
        ("555#201#4567", "digits with spaces"),
        ("2014567", "too few digits"),
    ],
)
def test_bad_phones_are_refused_with_the_reason(raw: str, says: str) -> None:
    with pytest.raises(BadValue, match=says):
        parse_phone(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bob@Example.COM", "bob@example.com"),
        ("first.last+tag@mail.example.co.uk", "first.last+tag@mail.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
    ],
)
def test_emails_are_lower_cased(raw: str, expected: str) -> None:
    assert parse_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("bob@", "no domain"),
        ("@example.com", "nothing before"),
        ("bob.example.com", "no @"),
        ("bob@@example.com", "more than one @"),
        ("bob@example", "no dot"),
        ("bo b@example.com", "space"),
        ("bob.@example.com", "before the @"),
        ("bob@exa_mple.com", "domain"),
        ("bob@example.c", "domain"),
        ("bob@-example.com", "domain"),
    ],
)
def test_malformed_emails_are_refused_with_the_reason(raw: str, says: str) -> None:
    with pytest.raises(BadValue, match=says):
        parse_email(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("250000", "250000.00"),
        ("$250,000", "250000.00"),
        ("$250,000.5", "250000.50"),
        ("$ 1,234,567.89", "1234567.89"),
        ("0", "0.00"),
        ("12.", "12.00"),
        ("999", "999.00"),
    ],
)
def test_money_accepts_dollar_signs_and_thousands_separators(raw: str, expected: str) -> None:
    amount = parse_money(raw)
    assert amount == Decimal(expected)
    assert str(amount) == expected  # always two places


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("-5", "negative"),
        ("$-5", "negative"),
        ("(500)", "negative"),
        ("1,23", "thousands separator"),
        ("12,3456", "thousands separator"),
        ("1.234", "2 decimal places"),
        ("1e5", "not an amount"),
        ("NaN", "not an amount"),
        ("ten", "not an amount"),
        ("9999999999999", "too large"),
        ("$" + "9" * 40, "too large"),  # past Decimal's 28 digits of precision
        ("9" * 29 + ".99", "too large"),
        ("1" * 4000, "too large"),
        ("\u0662\u0665\u0660\u0660\u0660\u0660", "digits as 0-9"),  # Arabic-Indic 250000
        ("$\uff12\uff15\uff10,\uff10\uff10\uff10", "digits as 0-9"),  # full-width
    ],
)
def test_bad_money_is_refused(raw: str, says: str) -> None:
    with pytest.raises(BadValue, match=says):
        parse_money(raw)


def test_states_are_usps_codes_or_names() -> None:
    assert parse_state("tx") == "TX"
    assert parse_state("Texas") == "TX"
    assert parse_state("new  york") == "NY"
    assert parse_state("PR") == "PR"
    for bad in ("XX", "Tex", "T"):
        with pytest.raises(BadValue, match="USPS"):
            parse_state(bad)


def test_zip_keeps_leading_zeros_and_cuts_zip_plus_4() -> None:
    assert parse_zip("02134") == "02134"
    assert parse_zip("02134-1234") == "02134"
    assert parse_zip("021341234") == "02134"
    with pytest.raises(BadValue, match="leading zeros"):
        parse_zip("2134")
    for bad in ("ABCDE", "123456", "12345-12"):
        with pytest.raises(BadValue, match="ZIP"):
            parse_zip(bad)


@pytest.mark.parametrize(
    "raw",
    [
        "\u0667\u0665\u0660\u0660\u0661",  # Arabic-Indic 75001
        "\uff17\uff15\uff10\uff10\uff11",  # full-width 75001
        "7500\u0661",  # one digit that is not 0-9
        "75001-\uff11\uff12\uff13\uff14",  # in the +4 part only
    ],
)
def test_zip_digits_other_than_0_to_9_are_refused(raw: str) -> None:
    # a ZIP is kept as text and compared with ZIP filters: it must be 0-9
    with pytest.raises(BadValue, match="digits as 0-9"):
        parse_zip(raw)


def test_text_refuses_control_characters_line_breaks_and_length() -> None:
    assert parse_text("Miki Dora") == "Miki Dora"
    with pytest.raises(BadValue, match="control"):
        parse_text("a\x00b")
    with pytest.raises(BadValue, match="line break"):
        parse_text("a\nb")
    with pytest.raises(BadValue, match="at most 5"):
        parse_text("abcdefg", max_length=5)


@pytest.mark.parametrize("raw", ["a\nb", "a\r\nb", "a\rb", "a\x85b", "a\u2028b", "a\u2029b"])
def test_one_line_text_refuses_every_line_break(raw: str) -> None:
    with pytest.raises(BadValue, match="contains a line break"):
        parse_text(raw)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("1 Main St\nApt 2", "1 Main St\nApt 2"),
        ("1 Main St\r\nApt 2", "1 Main St\nApt 2"),
        ("1 Main St\rApt 2", "1 Main St\nApt 2"),
        ("a\r\n\r\nb\n\nc", "a\n\nb\n\nc"),
        ("a\r\r\nb", "a\n\nb"),
        ("a  \n\t b", "a  \n\t b"),
        ("a\u2028b\x85c", "a\u2028b\x85c"),
        ("Miki Dora", "Miki Dora"),
    ],
)
def test_free_text_keeps_its_line_breaks_as_line_feeds(raw: str, kept: str) -> None:
    assert parse_text(raw, multiline=True) == kept


def test_free_text_still_refuses_control_characters_and_counts_what_it_keeps() -> None:
    with pytest.raises(BadValue, match="control"):
        parse_text("a\nb\x0bc", multiline=True)
    assert parse_text("ab\r\ncd", max_length=5, multiline=True) == "ab\ncd"
    with pytest.raises(BadValue, match="at most 4"):
        parse_text("ab\r\ncd", max_length=4, multiline=True)


@given(st.text(alphabet=st.sampled_from("ab \t\n\r\u2028"), max_size=20))
def test_free_text_changes_nothing_but_carriage_returns(raw: str) -> None:
    kept = parse_text(raw, max_length=100, multiline=True)
    assert kept == raw.replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.parametrize(
    ("parse", "raw"),
    [
        (parse_email, "ann\n@example.com"),
        (parse_email, "ann@example.com\nbo@example.com"),
        (parse_phone, "555\n201 4567"),
        (parse_phone, "+44 20\r\n7946 0958"),
        (parse_money, "$\n250,000"),
        (parse_money, "250\n000"),
        (parse_state, "New\nYork"),
        (parse_state, "new\r\nyork"),
        (parse_zip, "75001\n1234"),
        (LOAN_PURPOSES.parse, "Refinance -\nCash Out"),
        (LOAN_PURPOSES.parse, "Purchase\u2028"),
        (YES_NO_UNKNOWN.parse, "Y\nes"),
    ],
)
def test_values_that_are_one_line_refuse_a_line_break(
    parse: Callable[[str], object], raw: str
) -> None:
    with pytest.raises(BadValue, match="contains a line break"):
        parse(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("purchase", LoanPurpose.PURCHASE),
        ("  PURCHASE ", LoanPurpose.PURCHASE),
        ("Refinance - No Cash Out", LoanPurpose.REFINANCE_NO_CASH_OUT),
        ("refinance-no cash out", LoanPurpose.REFINANCE_NO_CASH_OUT),
        ("REFINANCE  -  CASH  OUT", LoanPurpose.REFINANCE_CASH_OUT),
        ("cash-out refi", LoanPurpose.REFINANCE_CASH_OUT),
        ("Cash Out Refinance", LoanPurpose.REFINANCE_CASH_OUT),
        ("rate/term refinance", LoanPurpose.REFINANCE_NO_CASH_OUT),
        ("refinance_cash_out", LoanPurpose.REFINANCE_CASH_OUT),
        ("heloc", LoanPurpose.HELOC),
        ("tbd", LoanPurpose.TBD),
    ],
)
def test_loan_purposes_match_by_case_whitespace_and_common_spellings(
    raw: str, expected: LoanPurpose
) -> None:
    assert LOAN_PURPOSES.parse(raw) is expected


@pytest.mark.parametrize("raw", ["refi cash out", "refinance cash out", "refi", "cash out"])
def test_ambiguous_loan_purposes_are_refused_naming_both_candidates(raw: str) -> None:
    with pytest.raises(BadValue, match="Allowed: Purchase") as info:
        LOAN_PURPOSES.parse(raw)
    assert "loan purpose" in str(info.value)


def test_a_misspelling_gets_a_suggestion() -> None:
    with pytest.raises(BadValue, match="Did you mean 'Purchase'"):
        LOAN_PURPOSES.parse("Purchse")


def test_other_choices() -> None:
    assert PROPERTY_TYPES.parse("single family") is PropertyType.SINGLE_FAMILY
    assert PROPERTY_TYPES.parse("pud") is PropertyType.PUD
    assert PROPERTY_TYPES.parse("2-4 units") is PropertyType.TWO_TO_FOUR_UNIT
    assert TIMEFRAMES.parse("6+ MONTHS").value == "6+ months"
    assert YES_NO_UNKNOWN.parse("y") is YesNoUnknown.YES
    assert YES_NO_UNKNOWN.parse("Unknown") is YesNoUnknown.UNKNOWN
    with pytest.raises(BadValue):
        YES_NO_UNKNOWN.parse("maybe")
