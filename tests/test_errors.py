"""The error hierarchy and its messages."""

from __future__ import annotations

import pytest

from leadflow import errors
from leadflow.errors import ConfigError, FieldError, LeadflowError, ValidationError


def test_every_error_is_a_leadflow_error() -> None:
    for name in ("ValidationError", "PermissionDenied", "NotFound", "Conflict", "ConfigError"):
        assert issubclass(getattr(errors, name), LeadflowError)


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
