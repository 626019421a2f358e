"""Time-ordered identifiers (UUIDv7, RFC 9562), made without reading a clock.

The core never reads the clock nor a random source: the caller passes ``now``
and the entropy. :func:`uuid7` is therefore deterministic, which makes tests
exact; an application service passes ten fresh random bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, SafeUUID

from leadflow.errors import FieldError, ValidationError, require_aware

__all__ = ["ENTROPY_BYTES", "uuid7", "uuid7_batch", "uuid7_time"]

#: How many bytes of entropy :func:`uuid7` needs (74 random bits are used).
ENTROPY_BYTES = 10

_MAX_MS = (1 << 48) - 1


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


def uuid7_batch(now: datetime, entropy: bytes) -> list[UUID]:
    """One id per :data:`ENTROPY_BYTES` bytes of ``entropy``, all made at ``now``.

    ``[uuid7(now, entropy[i : i + ENTROPY_BYTES]) for i in ...]``, in one go:
    for a caller that knows how many ids it will need (bytes left over are
    unused).
    """
    fixed = _time_bits(now)
    values = [
        int.from_bytes(entropy[i : i + ENTROPY_BYTES], "big")
        for i in range(0, len(entropy) - ENTROPY_BYTES + 1, ENTROPY_BYTES)
    ]
    return [_made(fixed | (rand >> 68) << 64 | (rand & _RAND_B)) for rand in values]


def uuid7_time(value: UUID) -> datetime:
    """The creation time (to the millisecond, in UTC) encoded in a UUIDv7."""
    if value.version != 7:
        raise ValidationError([FieldError("lead_id", str(value), "is not a UUIDv7")])
    return datetime.fromtimestamp((value.int >> 80) / 1000, tz=UTC)
