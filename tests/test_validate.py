"""Row validation: every field error of a row at once, with field, value and reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from leadflow.errors import LeadflowError, ValidationError
from leadflow.model import LoanPurpose, YesNoUnknown
from leadflow.validate import (
    COLUMNS,
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


def test_an_address_may_span_lines_and_is_joined() -> None:
    row = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}
    draft = validate_row({**row, "property_address": "12 Main St\r\n  Apt 4\n"}, source="referral")
    assert draft.attributes.property_address == "12 Main St, Apt 4"
    with pytest.raises(ValidationError, match="line break"):
        validate_row({**row, "last_name": "Lee\nJr"}, source="referral")
