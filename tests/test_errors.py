"""The error hierarchy and its messages."""

from __future__ import annotations

from uuid import UUID

import pytest

from leadflow import errors
from leadflow.errors import (
    AmbiguousId,
    ConfigError,
    FieldError,
    LeadflowError,
    NotFound,
    ValidationError,
)


def test_every_error_is_a_leadflow_error() -> None:
    names = ("ValidationError", "PermissionDenied", "NotFound", "Conflict", "ConfigError")
    for name in (*names, "AmbiguousId"):
        assert issubclass(getattr(errors, name), LeadflowError)


def test_an_ambiguous_id_lists_ten_matches_and_counts_the_rest() -> None:
    ids = [UUID(int=i) for i in range(12)]
    error = AmbiguousId("0190abcd", ids)
    assert isinstance(error, NotFound)
    assert (error.prefix, error.matches) == ("0190abcd", tuple(ids))
    assert "'0190abcd'" in str(error)
    assert "12 leads" in str(error)
    assert str(ids[9]) in str(error)
    assert str(ids[10]) not in str(error)
    assert "and 2 more" in str(error)
    assert "and 0 more" not in str(AmbiguousId("0190abcd", ids[:2]))
    assert " more)" not in str(AmbiguousId("0190abcd", ids[:2]))
    with pytest.raises(ValueError, match="at least two"):
        AmbiguousId("0190abcd", ids[:1])


def test_validation_error_message_names_row_field_and_value() -> None:
    error = ValidationError(
        [
            FieldError("email", "bob@", "is not well formed"),
            FieldError("last_name", None, "is required"),
        ],
        row=4,
    )
    assert str(error) == "row 4: email = 'bob@': is not well formed; last_name: is required"
    assert error.fields == ("email", "last_name")
    assert error.at_row(9).row == 9


def test_long_values_are_shortened_in_messages() -> None:
    message = str(FieldError("first_name", "x" * 500, "is too long"))
    assert len(message) < 100
    assert message.endswith("...': is too long")


def test_config_error_lists_every_problem() -> None:
    error = ConfigError(["policy 'a': no teams", "source 'b': unknown policy 'c'"])
    assert error.problems == ("policy 'a': no teams", "source 'b': unknown policy 'c'")
    assert str(error) == "policy 'a': no teams; source 'b': unknown policy 'c'"
    assert ConfigError("one").problems == ("one",)


def test_an_error_needs_content() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ValidationError([])
    with pytest.raises(ValueError, match="at least one"):
        ConfigError([])
