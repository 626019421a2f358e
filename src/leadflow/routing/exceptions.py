"""Lead exceptions: the leads routing could not assign (DESIGN D8).

Routing that fails for a lead leaves one :class:`ExceptionRecord` with the
columns of the seed's *Lead Exception* page: prospect name, campaign,
description, distribution, lead provider, loan purpose, loan amount, state,
failure reason and create date.

* :func:`exception_record` builds the record from the lead, its contact's
  details, its source and the failure;
* :func:`list_exceptions` is the page: open records, oldest first, filtered
  on any column with an :class:`ExceptionFilter`; ignored records are hidden
  unless ``show_ignored``, and then listed after all the others;
* :func:`assign_exception` closes a record for an active user (ignored ones
  too); :func:`ignore_exception` and :func:`unignore_exception` hide and
  show it again.

Everything is pure: records and ``now`` in, new records out. Assigning the
lead itself (events, ownership, notification) is the application layer's
job; this module decides and closes the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from leadflow.errors import Conflict, FieldError, PermissionDenied, ValidationError, require_aware
from leadflow.model import ContactDetails, Lead, LoanPurpose, User
from leadflow.routing.config import Distribution, FailureReason, LeadSource

__all__ = [
    "ExceptionFilter",
    "ExceptionRecord",
    "assign_exception",
    "exception_record",
    "ignore_exception",
    "list_exceptions",
    "unignore_exception",
]


# --------------------------------------------------------------------------- validators


def _aware(_: object, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None:
        require_aware(attribute.name, value)


# --------------------------------------------------------------------------- the record


@attrs.frozen(kw_only=True)
class ExceptionRecord:
    """One lead that routing could not assign, with the seed's columns.

    ``distribution`` is the distribution of the last policy tried (``None``
    when the source has no policy). ``lead_provider`` is the source's
    marketing channel. ``created_at`` is the lead's creation time.

    The record is *open* until someone is assigned the lead; then
    ``assigned_to`` and ``closed_at`` are set together and the record leaves
    the list. ``ignored`` hides an open record from the default list; it is
    kept on a record that was assigned while ignored.
    """

    lead_id: UUID
    prospect_name: str
    campaign: str
    source: str
    description: str
    distribution: Distribution | None
    lead_provider: str
    loan_purpose: LoanPurpose
    loan_amount: Decimal | None
    state: str | None
    failure_reason: FailureReason
    created_at: datetime = attrs.field(validator=_aware)
    ignored: bool = False
    assigned_to: int | None = None
    closed_at: datetime | None = attrs.field(default=None, validator=_aware)

    def __attrs_post_init__(self) -> None:
        problems: list[FieldError] = []
        if self.failure_reason is FailureReason.NO_POLICY and self.distribution is not None:
            problems.append(
                FieldError(
                    "distribution",
                    str(self.distribution),
                    "must be empty when the failure reason is no_policy (no policy was tried)",
                )
            )
        if (self.assigned_to is None) != (self.closed_at is None):
            problems.append(
                FieldError(
                    "closed_at",
                    self.closed_at,
                    "is set exactly when assigned_to is: a record is closed by assigning it",
                )
            )
        if self.closed_at is not None and self.closed_at < self.created_at:
            problems.append(
                FieldError(
                    "closed_at",
                    self.closed_at,
                    f"is before the lead was created ({self.created_at.isoformat()})",
                )
            )
        if problems:
            raise ValidationError(problems)

    @property
    def is_open(self) -> bool:
        """Whether the record is still waiting for someone to be assigned the lead."""
        return self.closed_at is None


def _prospect_name(prospect: ContactDetails) -> str:
    parts = (prospect.first_name.strip(), prospect.last_name.strip())
    return " ".join(part for part in parts if part)


def exception_record(
    lead: Lead,
    prospect: ContactDetails,
    source: LeadSource,
    reason: FailureReason,
    distribution: Distribution | None,
) -> ExceptionRecord:
    """The open exception record of ``lead``, which routing could not assign.

    ``prospect`` are the details of the lead's contact, ``source`` the lead's
    configured source (its key must be the lead's source), ``reason`` why
    routing failed and ``distribution`` that of the last policy tried
    (``None`` if the source has no policy). The lead must still be
    unassigned.
    """
    problems: list[FieldError] = []
    if source.key != lead.source:
        problems.append(
            FieldError("source", source.key, f"is not the lead's source ({lead.source!r})")
        )
    if lead.assignee_id is not None:
        problems.append(
            FieldError(
                "lead",
                str(lead.lead_id),
                f"is assigned to user {lead.assignee_id}; only an unassigned lead is an exception",
            )
        )
    if problems:
        raise ValidationError(problems)
    return ExceptionRecord(
        lead_id=lead.lead_id,
        prospect_name=_prospect_name(prospect),
        campaign=source.name,
        source=source.key,
        description=source.description,
        distribution=distribution,
        lead_provider=source.channel,
        loan_purpose=lead.attributes.loan_purpose,
        loan_amount=lead.attributes.loan_amount,
        state=lead.attributes.property_state,
        failure_reason=reason,
        created_at=lead.created_at,
    )


# --------------------------------------------------------------------------- filtering


def _upper_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(value.strip().upper() for value in values)


def _purpose_set(values: Iterable[LoanPurpose]) -> frozenset[LoanPurpose]:
    return frozenset(values)


def _reason_set(values: Iterable[FailureReason]) -> frozenset[FailureReason]:
    return frozenset(values)


def _fold(text: str | None) -> str | None:
    return None if text is None else text.strip().casefold()


@attrs.frozen(kw_only=True)
class ExceptionFilter:
    """Which exception records to show: one optional condition per column.

    Every condition left at its default matches everything; the conditions
    given must all hold.

    * ``prospect_name``, ``description``: case-insensitive substring;
    * ``campaign``, ``lead_provider``: the whole text, case-insensitive;
    * ``source``: the source's key, exactly;
    * ``distribution``: that distribution (records without a policy have
      none: find them with ``failure_reasons={FailureReason.NO_POLICY}``);
    * ``loan_purposes``, ``states``, ``failure_reasons``: one of the set
      (empty: any); a record without a state never matches ``states``;
    * ``min_amount``, ``max_amount``: inclusive bounds; a record without a
      loan amount never matches a bound;
    * ``created_from`` (inclusive), ``created_to`` (exclusive): timezone-aware.
    """

    prospect_name: str | None = None
    campaign: str | None = None
    source: str | None = None
    description: str | None = None
    distribution: Distribution | None = None
    lead_provider: str | None = None
    loan_purposes: frozenset[LoanPurpose] = attrs.field(default=frozenset(), converter=_purpose_set)
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    states: frozenset[str] = attrs.field(default=frozenset(), converter=_upper_set)
    failure_reasons: frozenset[FailureReason] = attrs.field(
        default=frozenset(), converter=_reason_set
    )
    created_from: datetime | None = attrs.field(default=None, validator=_aware)
    created_to: datetime | None = attrs.field(default=None, validator=_aware)

    def __attrs_post_init__(self) -> None:
        problems: list[FieldError] = []
        if (
            self.min_amount is not None
            and self.max_amount is not None
            and self.min_amount > self.max_amount
        ):
            problems.append(
                FieldError(
                    "max_amount", self.max_amount, f"is below min_amount ({self.min_amount})"
                )
            )
        if (
            self.created_from is not None
            and self.created_to is not None
            and self.created_to < self.created_from
        ):
            problems.append(
                FieldError(
                    "created_to",
                    self.created_to,
                    f"is before created_from ({self.created_from.isoformat()})",
                )
            )
        if problems:
            raise ValidationError(problems)

    def matches(self, record: ExceptionRecord) -> bool:
        """Whether ``record`` meets every condition of this filter."""
        return (
            self._text_matches(record)
            and self._choices_match(record)
            and self._amount_matches(record.loan_amount)
            and (self.created_from is None or record.created_at >= self.created_from)
            and (self.created_to is None or record.created_at < self.created_to)
        )

    def _text_matches(self, record: ExceptionRecord) -> bool:
        name, description = _fold(self.prospect_name), _fold(self.description)
        campaign, provider = _fold(self.campaign), _fold(self.lead_provider)
        return (
            (name is None or name in record.prospect_name.casefold())
            and (description is None or description in record.description.casefold())
            and (campaign is None or campaign == record.campaign.strip().casefold())
            and (provider is None or provider == record.lead_provider.strip().casefold())
            and (self.source is None or self.source == record.source)
        )

    def _choices_match(self, record: ExceptionRecord) -> bool:
        return (
            (self.distribution is None or record.distribution is self.distribution)
            and (not self.loan_purposes or record.loan_purpose in self.loan_purposes)
            and (not self.failure_reasons or record.failure_reason in self.failure_reasons)
            and (
                not self.states
                or (record.state is not None and record.state.upper() in self.states)
            )
        )

    def _amount_matches(self, amount: Decimal | None) -> bool:
        if self.min_amount is None and self.max_amount is None:
            return True
        if amount is None:
            return False
        return (self.min_amount is None or amount >= self.min_amount) and (
            self.max_amount is None or amount <= self.max_amount
        )


# --------------------------------------------------------------------------- the page


def list_exceptions(
    records: Iterable[ExceptionRecord],
    *,
    show_ignored: bool = False,
    where: ExceptionFilter | None = None,
) -> list[ExceptionRecord]:
    """The Lead Exception page: the open records, oldest first.

    Ignored records are left out unless ``show_ignored``; then they come
    after every record that is not ignored. Within each group the oldest
    ``created_at`` comes first, ties broken by lead id. ``where`` keeps only
    the records it matches.
    """
    shown = [
        record
        for record in records
        if record.is_open
        and (show_ignored or not record.ignored)
        and (where is None or where.matches(record))
    ]
    return sorted(shown, key=lambda r: (r.ignored, r.created_at, r.lead_id))


def _check_open(record: ExceptionRecord, what: str) -> None:
    if record.closed_at is not None:
        raise Conflict(
            f"the exception for lead {record.lead_id} cannot be {what}: it was assigned to "
            f"user {record.assigned_to} at {record.closed_at.isoformat()} and is closed"
        )


def assign_exception(record: ExceptionRecord, assignee: User, now: datetime) -> ExceptionRecord:
    """Close ``record`` because its lead goes to ``assignee`` at ``now``.

    Any active user may be chosen (the seed: "any user in the org"); an
    inactive one is refused with :class:`~leadflow.errors.PermissionDenied`.
    Ignored records may be assigned too. A closed record is refused with
    :class:`~leadflow.errors.Conflict` naming who has the lead and since when.
    Who may *act* is the application layer's check.
    """
    require_aware("now", now)
    _check_open(record, "assigned")
    if not assignee.active:
        raise PermissionDenied(
            f"user {assignee.user_id} ({assignee.name}) is inactive and cannot be assigned "
            f"lead {record.lead_id}; choose an active user"
        )
    return attrs.evolve(record, assigned_to=assignee.user_id, closed_at=now)


def ignore_exception(record: ExceptionRecord) -> ExceptionRecord:
    """Hide ``record`` from the page (it shows again with ``show_ignored``).

    Ignoring an ignored record returns it unchanged; a closed record is
    refused with :class:`~leadflow.errors.Conflict`.
    """
    _check_open(record, "ignored")
    if record.ignored:
        return record
    return attrs.evolve(record, ignored=True)


def unignore_exception(record: ExceptionRecord) -> ExceptionRecord:
    """Show an ignored ``record`` on the page again.

    Unignoring a record that is not ignored returns it unchanged; a closed
    record is refused with :class:`~leadflow.errors.Conflict`.
    """
    _check_open(record, "unignored")
    if not record.ignored:
        return record
    return attrs.evolve(record, ignored=False)
