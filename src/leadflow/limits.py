"""The ranges of the whole numbers an organisation configures and a command takes.

Every whole number leadflow reads from a configuration or a command line
has a documented range, checked where it is read (``docs/config.md``,
``docs/cli.md``). User ids are what a store can hold (a signed 64-bit
integer); a cap, a weight or a count has an upper bound far above any real
use, so that a typo (an extra row of zeros) is refused when the file is
checked instead of surfacing later in routing or storage.

Pure (attrs, :mod:`leadflow.errors` and the standard library) and cheap to
import: the command line builds its option types from it.
"""

from __future__ import annotations

from datetime import timedelta

import attrs

from leadflow.errors import MAX_QUOTED

__all__ = [
    "OFFER_EXPIRY_MAX",
    "OFFER_EXPIRY_MIN",
    "RING_SIZES",
    "ROUTING_CAPS",
    "USER_IDS",
    "VOLUME_CAP_COUNTS",
    "WEIGHTS",
    "Bounds",
    "number_text",
    "offer_expiry_problem",
]

#: A number of at most this many bits is below 10**200: it has at most 200 digits.
_MAX_BITS = (10**MAX_QUOTED).bit_length() - 1


def number_text(value: int) -> str:
    """``value`` as a message shows it: its digits, or a description when it has over 200.

    Python refuses to write an integer of more than 4,300 digits as text,
    and a message quotes at most 200 characters of any input.
    """
    if abs(value).bit_length() <= _MAX_BITS:
        return str(value)
    sign = "a negative" if value < 0 else "a"
    return f"{sign} number of {MAX_QUOTED} digits or more"


@attrs.frozen
class Bounds:
    """The whole numbers from ``low`` to ``high`` (both included) that ``what`` may be."""

    what: str
    low: int
    high: int

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high

    def problem(self, value: int) -> str | None:
        """``None`` when ``value`` is in range, else a message naming it and the range."""
        if value in self:
            return None
        return f"{number_text(value)} is out of range: {self.what} is {self.low} to {self.high}"


#: A user id: what every store keeps, a signed 64-bit integer above 0.
USER_IDS = Bounds("a user id", 1, 2**63 - 1)
#: ``organization.routing_cap``: candidates per policy.
ROUTING_CAPS = Bounds("the routing cap", 1, 10_000)
#: ``policies.ring_size``: members a ring-all offer goes to at once (never more than the cap's).
RING_SIZES = Bounds("a ring size", 1, 10_000)
#: ``policies.members.weight``: a member's share in a weighted policy.
WEIGHTS = Bounds("a weight", 1, 1_000)
#: ``policies.members.filters.max_leads.count``: leads per day, week or month (0: none).
VOLUME_CAP_COUNTS = Bounds("a volume cap's count", 0, 1_000_000)
#: ``policies.offer_expires_after``: how long an offer stays open.
OFFER_EXPIRY_MIN = timedelta(seconds=1)
OFFER_EXPIRY_MAX = timedelta(days=30)


def offer_expiry_problem(value: timedelta) -> str | None:
    """``None`` when an offer may stay open ``value``, else what is wrong (after the value)."""
    if OFFER_EXPIRY_MIN <= value <= OFFER_EXPIRY_MAX:
        return None
    return "is out of range: an offer stays open 1 second to 30 days"
