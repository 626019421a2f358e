"""UUIDv7 lead ids, made from ``now`` and entropy the caller passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.errors import ValidationError
from leadflow.ids import uuid7, uuid7_batch, uuid7_next, uuid7_time
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


@given(
    st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=40),
    st.binary(min_size=10, max_size=10),
)
def test_ids_made_one_after_another_sort_in_the_order_made(steps: list[int], seed: bytes) -> None:
    # the clock moves forward, stays or steps back (ms): every id still sorts after the last
    now, previous, made = T0, None, []
    for n, step in enumerate(steps):
        now = now + timedelta(milliseconds=step - 2)
        entropy = bytes((b + n) % 256 for b in seed)
        previous = uuid7_next(previous, now, entropy)
        made.append(previous)
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(value.version == 7 and value.variant == "specified in RFC 4122" for value in made)


def test_an_id_in_a_later_millisecond_is_made_as_uuid7_makes_it_fresh() -> None:
    first = uuid7_next(None, T0, bytes(range(10)))
    later = uuid7_next(first, T0 + timedelta(milliseconds=1), bytes(range(10, 20)))
    assert uuid7_time(later) == T0 + timedelta(milliseconds=1)
    assert uuid7_time(first) == T0


def test_an_id_in_the_same_or_an_earlier_millisecond_keeps_the_previous_one() -> None:
    first = uuid7_next(None, T0, bytes(range(10)))
    same = uuid7_next(first, T0, bytes(10))
    assert same.int == first.int + 1  # the smallest step
    back = uuid7_next(same, T0 - timedelta(seconds=5), b"\xff" * 10)
    assert uuid7_time(back) == T0
    assert back.int - same.int == 1 + 0xFFFFFFFF  # the largest step


def test_a_used_up_millisecond_goes_on_in_the_next() -> None:
    last = uuid7(T0, b"\xff" * 10)  # the largest random part a millisecond has
    after = uuid7_next(last, T0, bytes(10))
    assert after > last
    assert uuid7_time(after) == T0 + timedelta(milliseconds=1)


def test_a_batch_is_the_ids_made_one_after_another() -> None:
    entropy = bytes(range(50))
    start = uuid7(T0, bytes(10))
    batch = uuid7_batch(T0, entropy, after=start)
    one_by_one, previous = [], start
    for i in range(0, 50, 10):
        previous = uuid7_next(previous, T0, entropy[i : i + 10])
        one_by_one.append(previous)
    assert batch == one_by_one


def test_a_batch_without_entropy_is_empty() -> None:
    assert uuid7_batch(T0, b"") == []
    with pytest.raises(ValidationError, match="entropy"):
        uuid7_next(None, T0, b"short")
