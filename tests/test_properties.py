"""Properties of validation over many generated rows (hypothesis)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.errors import ValidationError
from leadflow.model import ContactDetails, Lead
from leadflow.testing import strategies as lfst
from leadflow.validate import LeadDraft, to_row, validate_row

SOURCES = ["referral", "purchased_leads", "ci_rate_demo"]


@given(lfst.leads(sources=SOURCES), lfst.contact_details())
def test_every_valid_lead_survives_raw_row_and_validation(
    lead: Lead, contact: ContactDetails
) -> None:
    row = to_row(LeadDraft(contact=contact, attributes=lead.attributes))
    draft = validate_row(row, sources=SOURCES)
    assert attrs.evolve(lead, attributes=draft.attributes) == lead
    assert draft.contact == contact


@given(lfst.valid_rows(SOURCES))
def test_messy_valid_rows_validate_to_the_expected_draft(case: lfst.RowCase) -> None:
    assert validate_row(case.row, sources=SOURCES) == case.expected


@given(lfst.valid_rows(file_source="purchased_leads"))
def test_rows_may_take_their_source_from_the_file(case: lfst.RowCase) -> None:
    assert validate_row(case.row, source="purchased_leads") == case.expected


@given(lfst.invalid_rows(SOURCES))
def test_invalid_rows_report_exactly_their_bad_fields(case: lfst.BadRowCase) -> None:
    with pytest.raises(ValidationError) as info:
        validate_row(case.row, row_number=3)
    error = info.value
    assert set(error.fields) == case.bad_fields
    assert len(error.fields) == len(case.bad_fields)  # each field once
    assert error.row == 3
    assert all(e.message for e in error.errors)


@given(lfst.arbitrary_rows(), st.booleans())
def test_no_raw_row_raises_anything_but_validation_error(
    row: dict[str, Any], ignore_unknown: bool
) -> None:
    refused: ValidationError | None = None
    try:
        draft = validate_row(row, ignore_unknown=ignore_unknown)
    except ValidationError as error:
        refused = error
    if refused is not None:
        assert refused.errors
        assert str(refused)
    else:
        assert draft.contact.first_name
        assert draft.contact.email or draft.contact.cell_phone
