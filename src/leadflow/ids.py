"""Time-ordered identifiers (UUIDv7, RFC 9562), made without reading a clock.

The core never reads the clock nor a random source: the caller passes ``now``
and the entropy. :func:`uuid7` is therefore deterministic, which makes tests
exact; an application service passes ten fresh random bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, SafeUUID

from leadflow.errors import FieldError, ValidationError, require_aware

__all__ = [
    "EARLIEST_MOMENT",
    "ENTROPY_BYTES",
    "LATEST_MOMENT",
    "moment_problem",
    "uuid7",
    "uuid7_batch",
    "uuid7_next",
    "uuid7_time",
]

#: How many bytes of entropy :func:`uuid7` needs (74 random bits are used).
ENTROPY_BYTES = 10

_MAX_MS = (1 << 48) - 1

#: The moments leadflow works at: from the Unix epoch (a UUIDv7 counts
#: milliseconds from it) to the end of year 2999, which leaves room for every
#: duration, follow-up and calendar period a playbook or report adds to them.
EARLIEST_MOMENT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def moment_problem(value: datetime) -> str | None:
    """What is wrong with ``value`` as a moment leadflow works at, or ``None``."""
    if value.tzinfo is None or value.utcoffset() is None:
        return "must be a timezone-aware datetime"
    if not EARLIEST_MOMENT <= value <= LATEST_MOMENT:
        return "must be between 1970-01-01 and 2999-12-31 (UTC)"
    return None


#: The last ``now`` an id was made at, and the id bits it fixes (time, version, variant):
#: the ids of one command or import chunk are all made at one ``now``. One tuple, so
#: threads read a matching pair.
_last_now: tuple[datetime | None, int] = (None, 0)
_RAND_B = (1 << 62) - 1
_new = object.__new__
_set = object.__setattr__
_UNKNOWN_SAFETY = SafeUUID.unknown


def _time_bits(now: datetime) -> int:
    """The bits of an id made at ``now`` that are not random (time, version, variant).

    Checks ``now``; remembered for the last ``now``.
    """
    global _last_now
    last = _last_now
    if last[0] is now:
        return last[1]
    require_aware("now", now)
    ms = int(now.timestamp() * 1000)
    if not 0 <= ms <= _MAX_MS:
        raise ValidationError([FieldError("now", now, "is outside what a UUIDv7 can encode")])
    fixed = (ms << 80) | (0x7 << 76) | (0b10 << 62)
    _last_now = (now, fixed)
    return fixed


def _made(value: int) -> UUID:
    """``UUID(int=value)`` without re-checking a value that fits by construction."""
    made: UUID = _new(UUID)
    _set(made, "int", value)
    _set(made, "is_safe", _UNKNOWN_SAFETY)
    return made


def uuid7(now: datetime, entropy: bytes) -> UUID:
    """A UUIDv7 whose 48-bit timestamp is ``now`` in Unix milliseconds.

    ``now`` must be timezone-aware; ``entropy`` must hold at least
    :data:`ENTROPY_BYTES` bytes. IDs made later sort after IDs made earlier
    (to the millisecond), which keeps indexes on them append-mostly.
    """
    if now is not _last_now[0] and (now.tzinfo is None or now.utcoffset() is None):
        raise ValidationError([FieldError("now", now, "must be a timezone-aware datetime")])
    if len(entropy) < ENTROPY_BYTES:
        raise ValidationError(
            [FieldError("entropy", len(entropy), f"needs at least {ENTROPY_BYTES} bytes")]
        )
    rand = int.from_bytes(entropy[:ENTROPY_BYTES], "big")
    # rand_a: the top 12 of the 80 bits; rand_b: the low 62
    return _made(_time_bits(now) | (rand >> 68) << 64 | (rand & _RAND_B))


def _random_part(value: int) -> int:
    """The 74 random bits of a UUIDv7 (``rand_a`` then ``rand_b``) as one number."""
    return ((value >> 64) & 0xFFF) << 62 | (value & _RAND_B)


def _with_random(fixed: int, random: int) -> UUID:
    return _made(fixed | (random >> 62) << 64 | (random & _RAND_B))


#: A fresh millisecond starts its random part below half its range, so that the ids
#: made after it in the same millisecond (each a random step up) never run out.
_FRESH_SHIFT = 80 - 73
_STEP = 0xFFFFFFFF
_RANDOM_LIMIT = 1 << 74


def uuid7_next(previous: UUID | None, now: datetime, entropy: bytes) -> UUID:
    """A UUIDv7 made at ``now`` that sorts after ``previous`` (monotonic ids).

    RFC 9562 §6.2, method 2 ("monotonic random"): when ``now`` falls in a
    later millisecond than ``previous`` the id is made as :func:`uuid7` makes
    it (its random part drawn from ``entropy``); when it falls in the same
    millisecond or an earlier one (a clock that stepped back), the id keeps
    ``previous``'s millisecond and its random part is ``previous``'s plus a
    random step of 1 to 2**32. Ids made one after another this way sort in
    the order they were made, which keeps the indexes on them growing at the
    end. ``entropy`` must hold at least :data:`ENTROPY_BYTES` bytes.
    """
    if len(entropy) < ENTROPY_BYTES:
        raise ValidationError(
            [FieldError("entropy", len(entropy), f"needs at least {ENTROPY_BYTES} bytes")]
        )
    return uuid7_batch(now, entropy[:ENTROPY_BYTES], after=previous)[0]


def uuid7_batch(now: datetime, entropy: bytes, *, after: UUID | None = None) -> list[UUID]:
    """One id per :data:`ENTROPY_BYTES` bytes of ``entropy``, all made at ``now``, ascending.

    Equal to calling :func:`uuid7_next` once per id, each after the one
    before (the first after ``after``), in one go: for a caller that knows
    how many ids it will need (bytes left over are unused).
    """
    if now is not _last_now[0] and (now.tzinfo is None or now.utcoffset() is None):
        raise ValidationError([FieldError("now", now, "must be a timezone-aware datetime")])
    fixed = _time_bits(now)
    draws = [
        int.from_bytes(entropy[i : i + ENTROPY_BYTES], "big")
        for i in range(0, len(entropy) - ENTROPY_BYTES + 1, ENTROPY_BYTES)
    ]
    made: list[UUID] = []
    if after is None or after.int >> 80 < fixed >> 80:
        random = -1  # the first id starts a fresh millisecond
    else:
        fixed = after.int & ~((1 << 80) - 1) | (0x7 << 76) | (0b10 << 62)
        random = _random_part(after.int)
    for draw in draws:
        if random < 0:
            random = draw >> _FRESH_SHIFT
        else:
            random += 1 + (draw & _STEP)
            if random >= _RANDOM_LIMIT:  # the millisecond is used up: go on in the next one
                fixed += 1 << 80
                if fixed >> 80 > _MAX_MS:
                    raise ValidationError(
                        [FieldError("now", now, "is outside what a UUIDv7 can encode")]
                    )
                random = draw >> _FRESH_SHIFT
        made.append(_with_random(fixed, random))
    return made


def uuid7_time(value: UUID) -> datetime:
    """The creation time (to the millisecond, in UTC) encoded in a UUIDv7."""
    if value.version != 7:
        raise ValidationError([FieldError("lead_id", str(value), "is not a UUIDv7")])
    return datetime.fromtimestamp((value.int >> 80) / 1000, tz=UTC)
