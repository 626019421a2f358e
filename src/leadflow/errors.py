"""The one error hierarchy of leadflow.

Every error leadflow raises on purpose is a :class:`LeadflowError`, so a host
can catch that one class at its boundary. Each subclass names a kind of
failure a caller handles differently:

========================  ===============================================
:class:`ValidationError`  input was wrong; carries every :class:`FieldError`
:class:`PermissionDenied` the acting user may not do this (yet)
:class:`NotFound`         a lead, contact, user, source... does not exist
:class:`AmbiguousId`      (a NotFound) a lead id prefix fits more than one lead
:class:`Conflict`         someone else changed or holds it first
:class:`ConfigError`      a playbook, policy or org config is inconsistent
========================  ===============================================

Messages are written for the person who has to act on them: they name the
field, the offending value and (for batch input) the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from uuid import UUID

import attrs

__all__ = [
    "AmbiguousId",
    "ConfigError",
    "Conflict",
    "FieldError",
    "LeadflowError",
    "NotFound",
    "PermissionDenied",
    "ValidationError",
    "clip",
    "require_aware",
]

_MAX_SHOWN_VALUE = 60
#: The most characters of any one input a message quotes (see :func:`clip`).
MAX_QUOTED = 200
#: How many of its matches an :class:`AmbiguousId` message lists before "and N more".
_MAX_SHOWN_MATCHES = 10


def clip(text: str, limit: int = MAX_QUOTED) -> str:
    """``text`` as a message may quote it: at most ``limit`` characters, ``...`` ending a cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show_value(value: object) -> str:
    """Render an offending value for a message: quoted, shortened if long."""
    if isinstance(value, date):  # datetimes too: ISO reads better than repr
        return value.isoformat()
    text = repr(value) if not isinstance(value, str) else value
    if len(text) > _MAX_SHOWN_VALUE:
        text = text[: _MAX_SHOWN_VALUE - 3] + "..."
    return repr(text) if isinstance(value, str) else text


class LeadflowError(Exception):
    """Base class of every error leadflow raises on purpose."""


@attrs.frozen
class FieldError:
    """One problem with one field of one input.

    ``field`` is the canonical field name (``loan_purpose``), ``value`` the raw
    value as given (``None`` when the field was missing) and ``message`` says
    what is wrong and what would be accepted.
    """

    field: str
    value: object
    message: str

    def __str__(self) -> str:
        if self.value is None or self.value == "":
            return f"{clip(self.field)}: {self.message}"
        return f"{clip(self.field)} = {show_value(self.value)}: {self.message}"


class ValidationError(LeadflowError):
    """Input was refused. ``errors`` lists every field error found, not just the first.

    ``row`` is the 1-based data row number when the input came from a batch
    (a CSV file), else ``None``.
    """

    errors: tuple[FieldError, ...]
    row: int | None

    def __init__(self, errors: Iterable[FieldError], row: int | None = None) -> None:
        self.errors = tuple(errors)
        if not self.errors:
            raise ValueError("a ValidationError needs at least one FieldError")
        self.row = row
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"row {self.row}: " if self.row is not None else ""
        return where + "; ".join(str(e) for e in self.errors)

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the offending fields, in the order they were found."""
        return tuple(e.field for e in self.errors)

    def at_row(self, row: int) -> ValidationError:
        """The same errors, attributed to data row ``row``."""
        return ValidationError(self.errors, row=row)


class PermissionDenied(LeadflowError):
    """The acting user may not do this; the message says what would allow it."""


class NotFound(LeadflowError):
    """A referenced lead, contact, user, team, source or policy does not exist."""


class AmbiguousId(NotFound):
    """A lead id given by a prefix fits more than one lead, so no one lead is found.

    ``prefix`` is the prefix as looked up, ``matches`` the ids of the leads it
    fits, ascending (at least two). The message lists the first ten and says
    how many more were given, so the user can type a longer prefix.
    """

    prefix: str
    matches: tuple[UUID, ...]

    def __init__(self, prefix: str, matches: Iterable[UUID]) -> None:
        self.prefix = prefix
        self.matches = tuple(matches)
        if len(self.matches) < 2:
            raise ValueError("an AmbiguousId needs at least two matches")
        super().__init__(self._message())

    def _message(self) -> str:
        shown = ", ".join(str(lead_id) for lead_id in self.matches[:_MAX_SHOWN_MATCHES])
        more = len(self.matches) - _MAX_SHOWN_MATCHES
        if more > 0:
            shown += f" and {more} more"
        return (
            f"lead id {show_value(self.prefix)} is ambiguous: the ids of {len(self.matches)} "
            f"leads start with it ({shown}); give more of the id"
        )


class Conflict(LeadflowError):
    """The change lost a race or collides with existing data (claimed, stale, duplicate)."""


class ConfigError(LeadflowError):
    """A configuration (playbook, policy, source, org settings) is inconsistent.

    ``problems`` lists every problem found, each naming the offending entry.
    """

    problems: tuple[str, ...]

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        if not self.problems:
            raise ValueError("a ConfigError needs at least one problem")
        super().__init__("; ".join(self.problems))


def require_aware(field: str, value: datetime) -> None:
    """Refuse a naive datetime: a :class:`ValidationError` naming ``field``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError([FieldError(field, value, "must be a timezone-aware datetime")])
