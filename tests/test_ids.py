"""UUIDv7 lead ids, made from ``now`` and entropy the caller passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.errors import ValidationError
from leadflow.ids import uuid7, uuid7_time
from leadflow.testing.strategies import aware_datetimes

T0 = datetime(2026, 2, 2, 20, 9, 34, 123000, tzinfo=UTC)


def test_uuid7_layout() -> None:
    value = uuid7(T0, bytes(range(10)))
    assert value.version == 7
    assert value.variant == "specified in RFC 4122"
    assert uuid7_time(value) == T0
    assert uuid7(T0, bytes(range(10))) == value  # deterministic


@given(aware_datetimes(), st.binary(min_size=10, max_size=10), st.binary(min_size=10, max_size=10))
def test_later_ids_sort_after_earlier_ones(at: datetime, a: bytes, b: bytes) -> None:
    assert uuid7(at, a) < uuid7(at + timedelta(milliseconds=1), b)
    assert uuid7_time(uuid7(at, a)) == at.replace(microsecond=at.microsecond // 1000 * 1000)


def test_uuid7_refuses_bad_input() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        uuid7(datetime(2026, 1, 1), bytes(10))
    with pytest.raises(ValidationError, match="entropy"):
        uuid7(T0, b"short")
    with pytest.raises(ValidationError, match="not a UUIDv7"):
        uuid7_time(__import__("uuid").UUID(int=1))
