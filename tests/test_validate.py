"""Row validation: every field error of a row at once, with field, value and reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from leadflow.errors import LeadflowError, ValidationError
from leadflow.model import LoanPurpose, YesNoUnknown
from leadflow.validate import (
    COLUMNS,
    FREE_TEXT_COLUMNS,
    LeadDraft,
    RowValidator,
    canonical_column,
    map_columns,
    to_row,
    validate_row,
)

GOOD = {
    "first_name": "Annie",
    "last_name": "Quince",
    "email": "Annie.Quince@Example.com",
    "lead_source": "referral",
}


def errors_of(row: dict[str, str], **options: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        validate_row(row, **options)  # type: ignore[arg-type]
    return {e.field: e.message for e in info.value.errors}


def test_one_error_lists_every_bad_field_of_the_row() -> None:
    row = {
        "first_name": "Bob",
        "last_name": "",
        "email": "bob@",
        "loan_purpose": "Purchse",
        "lead_source": "referral",
    }
    with pytest.raises(ValidationError) as info:
        validate_row(row, row_number=12)
    error = info.value
    assert error.fields == ("last_name", "email", "loan_purpose")
    assert error.row == 12
    text = str(error)
    assert text.startswith("row 12: ")
    assert "last_name: is required" in text
    assert "email = 'bob@'" in text
    assert "loan_purpose = 'Purchse'" in text
    assert "Did you mean 'Purchase'" in text


def test_neither_email_nor_phone_says_either_is_enough() -> None:
    row = {"first_name": "Bob", "last_name": "Stone", "lead_source": "referral"}
    errors = errors_of(row)
    assert list(errors) == ["email"]
    assert "either one is enough" in errors["email"]
    assert "cell phone" in errors["email"]


@pytest.mark.parametrize("contact", [{"email": "bob@example.com"}, {"cell_phone": "5552014567"}])
def test_email_or_cell_phone_alone_suffices(contact: dict[str, str]) -> None:
    draft = validate_row({"first_name": "Bob", "last_name": "Stone", "lead_source": "x", **contact})
    assert (draft.contact.email or draft.contact.cell_phone) is not None


def test_a_bad_email_with_no_phone_reports_the_email_once() -> None:
    errors = errors_of({**GOOD, "email": "bob@example"})
    assert list(errors) == ["email"]
    assert "no dot" in errors["email"]


def test_a_valid_row_becomes_typed_normalised_values() -> None:
    draft = validate_row(
        {
            **GOOD,
            "cell_phone": "(555) 201-4567",
            "loan_purpose": " refinance - cash out ",
            "loan_amount": "$312,500",
            "down_payment": "25000.5",
            "property_state": "tx",
            "property_zip": "07302-1234",
            "veteran": "yes",
            "referred_by": "Miki Dora",
            "external_id": "ABC-1",
            "assignee_id": "7",
        }
    )
    assert draft.contact.email == "annie.quince@example.com"
    assert draft.contact.cell_phone == "+15552014567"
    a = draft.attributes
    assert a.source == "referral"
    assert a.loan_purpose is LoanPurpose.REFINANCE_CASH_OUT
    assert a.loan_amount == Decimal("312500.00")
    assert a.down_payment == Decimal("25000.50")
    assert a.property_state == "TX"
    assert a.property_zip == "07302"
    assert a.veteran is YesNoUnknown.YES
    assert a.first_time_buyer is YesNoUnknown.BLANK
    assert a.referred_by == "Miki Dora"
    assert a.external_id == "ABC-1"
    assert draft.assignee_id == 7


def test_loan_purpose_defaults_to_tbd() -> None:
    assert validate_row(GOOD).attributes.loan_purpose is LoanPurpose.TBD
    assert validate_row({**GOOD, "loan_purpose": "  "}).attributes.loan_purpose is LoanPurpose.TBD


@pytest.mark.parametrize("column", ["lead_id", "Lead ID", "created_at", "Created Date", "updated"])
def test_system_fields_cannot_be_set(column: str) -> None:
    errors = errors_of({**GOOD, column: "2026-01-01"})
    assert len(errors) == 1
    (message,) = errors.values()
    assert "system-generated" in message


def test_blank_system_columns_are_harmless() -> None:
    assert validate_row({**GOOD, "lead_id": "", "created_at": "  "}).contact.first_name == "Annie"


def test_unknown_columns_are_refused_unless_ignored() -> None:
    errors = errors_of({**GOOD, "favourite colour": "blue", "loan_purpse": "Purchase"})
    assert set(errors) == {"favourite colour", "loan_purpse"}
    assert "not a lead column" in errors["favourite colour"]
    assert "did you mean 'loan_purpose'" in errors["loan_purpse"]
    draft = validate_row({**GOOD, "favourite colour": "blue"}, ignore_unknown=True)
    assert draft.contact.last_name == "Quince"


def test_a_field_given_twice_is_refused() -> None:
    errors = errors_of({**GOOD, "Email": "other@example.com"})
    assert "two columns" in errors["email"]


def test_lead_source_rules() -> None:
    no_source = {k: v for k, v in GOOD.items() if k != "lead_source"}
    assert "required" in errors_of(no_source)["lead_source"]
    assert validate_row(no_source, source="purchased_leads").attributes.source == "purchased_leads"
    assert "differs" in errors_of(GOOD, source="purchased_leads")["lead_source"]
    assert "not a configured" in errors_of(GOOD, sources={"purchased_leads"})["lead_source"]
    assert validate_row(GOOD, sources={"referral"}).attributes.source == "referral"
    assert "letters, digits" in errors_of({**GOOD, "lead_source": "Re ferral"})["lead_source"]
    with pytest.raises(ValidationError, match="not a configured lead source"):
        RowValidator(source="nope", sources={"referral"})


def test_requested_stage_needs_a_playbook_to_check_it() -> None:
    assert "no playbook" in errors_of({**GOOD, "lead_stage": "Engaged"})["lead_stage"]
    stages = {"new": "new", "engaged": "engaged", "contact attempted": "contact_attempted"}
    draft = validate_row({**GOOD, "lead_stage": "Contact  Attempted"}, stages=stages)
    assert draft.stage == "contact_attempted"
    assert (
        "allowed: contact_attempted, engaged, new"
        in errors_of({**GOOD, "lead_stage": "Closed"}, stages=stages)["lead_stage"]
    )


def test_errors_are_listed_in_column_order_whatever_the_row_order() -> None:
    row = {"property_zip": "1", "lead_source": "referral", "first_name": "", "email": "x"}
    with pytest.raises(ValidationError) as info:
        validate_row(row)
    assert info.value.fields == ("first_name", "last_name", "email", "property_zip")


def test_none_cells_count_as_blank() -> None:
    assert validate_row({**GOOD, "cell_phone": None}).contact.cell_phone is None


def test_validation_error_is_a_leadflow_error_with_field_value_message() -> None:
    with pytest.raises(LeadflowError) as info:
        validate_row({**GOOD, "loan_amount": "-10"})
    assert isinstance(info.value, ValidationError)
    (error,) = info.value.errors
    assert (error.field, error.value) == ("loan_amount", "-10")
    assert "negative" in error.message


def test_canonical_column_understands_common_headers() -> None:
    assert canonical_column("Phone Cell") == "cell_phone"
    assert canonical_column("Credit Rating (Self Reported)") == "credit_rating"
    assert canonical_column("Already Found Home?") == "already_found_home"
    assert canonical_column("ZIP Code") == "property_zip"
    assert canonical_column("LOAN-PURPOSE") == "loan_purpose"
    assert canonical_column("Notes") is None


def test_map_columns_checks_a_whole_header() -> None:
    mapping = map_columns(["First Name", "Last Name", "Email", "Notes"], ignore_unknown=True)
    assert mapping == {"First Name": "first_name", "Last Name": "last_name", "Email": "email"}
    with pytest.raises(ValidationError) as info:
        map_columns(["First Name", "first_name", "Notes", "Colour"])
    assert info.value.fields == ("first_name", "Notes", "Colour")


def test_to_row_is_the_inverse_of_validation() -> None:
    draft = validate_row({**GOOD, "loan_amount": "$1,000", "cell_phone": "555.201.4567"})
    row = to_row(draft)
    assert list(row) == list(COLUMNS)
    assert row["loan_amount"] == "1000.00"
    assert row["cell_phone"] == "+15552014567"
    assert validate_row(row) == draft


def test_free_text_keeps_its_line_breaks() -> None:
    row = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}
    draft = validate_row(
        {
            **row,
            "property_address": "12 Main St\r\n  Apt 4\n",
            "referred_by": "Pat Lee\n(her neighbour)",
        },
        source="referral",
    )
    # \r\n is written \n; the spaces inside stay, the cell's own ends are stripped
    assert draft.attributes.property_address == "12 Main St\n  Apt 4"
    assert draft.attributes.referred_by == "Pat Lee\n(her neighbour)"
    assert set(FREE_TEXT_COLUMNS) == {"referred_by", "property_address"}


#: A value of each one-line column, good without the {} (a space for a state's name),
#: spoilt by a line break there.
ONE_LINE = {
    "first_name": "An{}n",
    "last_name": "Lee{}Jr",
    "email": "ann{}@example.com",
    "cell_phone": "555 201{}4567",
    "lead_source": "refer{}ral",
    "loan_purpose": "Cash Out{}Refi",
    "loan_amount": "${}250,000",
    "property_type": "Single{}Family",
    "occupancy": "Second{}Home",
    "credit_rating": "Go{}od",
    "estimated_purchase_price": "400{}000",
    "down_payment": "20,000{}.00",
    "desired_timeframe": "6{}months",
    "already_found_home": "Y{}es",
    "first_time_buyer": "N{}o",
    "veteran": "Un{}known",
    "property_state": "New{}York",
    "property_zip": "750{}01",
    "external_id": "A-{}1",
    "lead_stage": "Ne{}w",
    "assignee_id": "1{}2",
}


def test_every_column_but_free_text_is_one_line() -> None:
    assert set(ONE_LINE) == set(COLUMNS) - set(FREE_TEXT_COLUMNS)


@pytest.mark.parametrize("field", sorted(ONE_LINE))
@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\r", "\u2028"])
def test_a_line_break_in_a_one_line_field_is_that_fields_error(field: str, line_break: str) -> None:
    base = {
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@example.com",
        "lead_source": "referral",
    }
    options: dict[str, object] = {"sources": {"referral"}, "stages": {"new": "new"}}
    joined = " " if field == "property_state" else ""
    validate_row({**base, field: ONE_LINE[field].format(joined)}, **options)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as info:
        validate_row({**base, field: ONE_LINE[field].format(line_break)}, row_number=7, **options)  # type: ignore[arg-type]
    error = info.value
    assert error.fields == (field,)
    assert error.row == 7
    assert str(error).startswith(f"row 7: {field} = ")
    assert "line break" in str(error)


def test_a_line_break_in_a_first_name_is_refused_in_a_table_too() -> None:
    validator = RowValidator(source="referral")
    headers = ["first_name", "last_name", "email", "referred_by"]
    rows = [
        ["Ann", "Lee", "ann@example.com", "Pat\nLee"],
        ["Bo\nJo", "Ng", "bo@example.com", "Sam\r\nNg"],
    ]
    good, bad = validator.validate_table(headers, rows, [1, 2])
    assert isinstance(good, LeadDraft)
    assert good.attributes.referred_by == "Pat\nLee"
    assert isinstance(bad, ValidationError)
    assert bad.fields == ("first_name",)
    assert str(bad) == (
        "row 2: first_name = 'Bo\\nJo': contains a line break "
        "(only free-text fields may span lines)"
    )


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Lead ID", "lead_id"),
        ("lead_id", "lead_id"),
        ("Lead Id", "lead_id"),
        ("LEAD-ID", "lead_id"),
        ("ID", "lead_id"),
        ("created", "created_at"),
        ("Created At", "created_at"),
        ("Created Date", "created_at"),
        ("updated", "updated_at"),
        ("updated_at", "updated_at"),
        ("Updated Date", "updated_at"),
    ],
)
@pytest.mark.parametrize("ignore_unknown", [False, True])
def test_a_header_naming_a_system_field_is_refused(
    header: str, field: str, ignore_unknown: bool
) -> None:
    with pytest.raises(ValidationError) as info:
        map_columns(["First Name", header, "Email"], ignore_unknown=ignore_unknown)
    (error,) = info.value.errors
    assert error.field == header
    assert "set by leadflow" in error.message
    assert "external_id" in error.message
    named_as_is = header.lower().replace(" ", "_").replace("-", "_") == field
    assert (f"means {field}, which is set by leadflow" in error.message) is not named_as_is


@pytest.mark.parametrize(
    ("header", "suggested"),
    [
        ("loan_purpse", "loan_purpose"),
        ("Frist Name", "first_name"),
        ("Emial", "email"),
        ("E-mail Adress", "email"),
        ("Zip Cod", "property_zip"),
        ("Refered By", "referred_by"),
        ("External Ids", "external_id"),
        ("Lead Sorce", "lead_source"),
    ],
)
def test_an_unknown_header_suggests_the_closest_column(header: str, suggested: str) -> None:
    with pytest.raises(ValidationError) as info:
        map_columns(["last_name", header])
    (error,) = info.value.errors
    assert error.message == f"is not a lead column; did you mean {suggested!r}?"
    # the same words where a row's unknown column is reported
    assert errors_of({**GOOD, header: "x"}) == {header: error.message}


@pytest.mark.parametrize("header", ["Colour", "Notes", "Shoe Size", "Lead Idea", "Zzz"])
def test_an_unknown_header_far_from_every_column_suggests_nothing(header: str) -> None:
    with pytest.raises(ValidationError) as info:
        map_columns([header])
    (error,) = info.value.errors
    assert error.message == "is not a lead column"
