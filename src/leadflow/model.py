"""The lead, its contact, users and teams: frozen values, no behaviour that does I/O.

Field names and allowed values follow the seed's *Lead Records* section
(DESIGN D1). Every closed list is an enum whose value is the seed's own
spelling, so ``str(LoanPurpose.REFINANCE_CASH_OUT)`` is ``"Refinance - Cash Out"``.

A :class:`Lead` is made of system fields (id, contact, timestamps, origin,
assignee, stage) and :class:`LeadAttributes`: everything a person or a file
may set. Contact details (names, email, cell phone) belong to the
:class:`Contact`; a lead never overwrites them and its source never becomes
the contact's source.

Values here are expected to be normalised already (emails lower-cased,
phones in E.164, money as :class:`~decimal.Decimal` cents). Raw input goes
through :mod:`leadflow.validate` first.
"""

from __future__ import annotations

import enum
import operator
import re
from collections.abc import Collection, Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from leadflow.errors import FieldError, ValidationError, require_aware
from leadflow.ids import moment_problem

__all__ = [
    "EVENT_DURATIONS",
    "EVENT_SUBJECTS",
    "KEY_PATTERN",
    "KEY_RULE",
    "MAX_KEY",
    "SYSTEM",
    "TASK_SUBJECTS",
    "Actor",
    "Contact",
    "ContactDetails",
    "CreditRating",
    "DesiredTimeframe",
    "FollowUp",
    "FollowUpKind",
    "FollowUpStatus",
    "FollowUpSubject",
    "Interface",
    "Lead",
    "LeadAttributes",
    "License",
    "LoanPurpose",
    "MatchScope",
    "Occupancy",
    "Origin",
    "Permission",
    "Priority",
    "PropertyType",
    "Role",
    "StageChange",
    "SystemActor",
    "Team",
    "User",
    "YesNoUnknown",
    "contact_keys",
    "match_contact",
    "with_version",
]

#: The shape of every system key (lead sources, teams, policies, stages): 1 to
#: :data:`MAX_KEY` letters, digits and ``_``.
MAX_KEY = 64
KEY_PATTERN = re.compile(rf"[A-Za-z0-9_]{{1,{MAX_KEY}}}")
#: What a system key may be, for messages.
KEY_RULE = f"use letters, digits and _ only, at most {MAX_KEY} of them"


# --------------------------------------------------------------------------- enums


class LoanPurpose(enum.StrEnum):
    """Loan purpose; ``TBD`` is the default when it is not yet known."""

    PURCHASE = "Purchase"
    REFINANCE_NO_CASH_OUT = "Refinance - No Cash Out"
    REFINANCE_CASH_OUT = "Refinance - Cash Out"
    HELOC = "HELOC"
    HOME_EQUITY_LOAN = "Home Equity Loan"
    REVERSE_MORTGAGE = "Reverse Mortgage"
    SECOND_MORTGAGE = "Second Mortgage"
    CONSTRUCTION_LOAN = "Construction Loan"
    OTHER = "Other"
    TBD = "TBD"


class PropertyType(enum.StrEnum):
    SINGLE_FAMILY = "Single-Family"
    TWO_TO_FOUR_UNIT = "2-4 Unit"
    CONDO = "Condo"
    CO_OP = "Co-op"
    MANUFACTURED_HOUSING = "Manufactured Housing"
    PUD = "Planned Unit Development (PUD)"
    OTHER = "Other"


class Occupancy(enum.StrEnum):
    PRIMARY_RESIDENCE = "Primary Residence"
    SECOND_HOME = "Second Home"
    INVESTMENT = "Investment"
    OTHER = "Other"


class CreditRating(enum.StrEnum):
    """The borrower's self-reported credit rating."""

    EXCELLENT = "Excellent"
    GOOD = "Good"
    FAIR = "Fair"
    POOR = "Poor"


class DesiredTimeframe(enum.StrEnum):
    NEXT_30_DAYS = "Next 30 days"
    THREE_MONTHS = "3 months"
    SIX_MONTHS = "6 months"
    MORE_THAN_SIX_MONTHS = "6+ months"


class YesNoUnknown(enum.StrEnum):
    """The seed's Yes / No / Unknown / [blank] answers.

    ``UNKNOWN`` means the borrower was asked and does not know; ``BLANK``
    means nobody asked. Both are kept apart on purpose.
    """

    YES = "Yes"
    NO = "No"
    UNKNOWN = "Unknown"
    BLANK = ""


class Origin(enum.StrEnum):
    """How a lead arrived; the activity report's ``lead_origin`` column."""

    MANUAL = "manual"
    IMPORT = "import"
    JOURNEY = "journey"
    API = "api"


class Role(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class Permission(enum.StrEnum):
    """Permissions leadflow itself checks. Hosts may grant their own strings too."""

    #: May be a routing candidate (DESIGN D7).
    RECEIVE_LEADS = "receive_leads"
    #: May reopen an archived (call-log Lost/Archive) lead.
    REACTIVATE = "reactivate"
    #: May approve guarded dispositions for users still in their first days.
    APPROVE = "approve"
    #: May work (log, stage, follow up, note, change) a lead someone else holds.
    WORK_ANY_LEAD = "work_any_lead"


class MatchScope(enum.StrEnum):
    """Where :func:`match_contact` looks for an existing contact (DESIGN D2)."""

    #: Only contacts owned by the creating user (manual entry in the seed).
    ACCOUNT = "account"
    #: Contacts owned by the routing policy's candidate users (the seed's routing).
    POLICY_POOL = "policy_pool"
    #: Every contact of the organisation (no duplicate contacts across accounts).
    ORGANIZATION = "organization"


# --------------------------------------------------------------------------- validators


def _aware(_: object, attribute: attrs.Attribute[Any], value: datetime) -> None:
    require_aware(attribute.name, value)


def _moment(_: object, attribute: attrs.Attribute[Any], value: datetime) -> None:
    problem = moment_problem(value)
    if problem is not None:
        raise ValidationError([FieldError(attribute.name, value, problem)])


def _key(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not KEY_PATTERN.fullmatch(value):
        raise ValidationError(
            [FieldError(attribute.name, value, f"is not a system key: {KEY_RULE}")]
        )


# --------------------------------------------------------------------------- contacts


@attrs.frozen(kw_only=True)
class ContactDetails:
    """The contact fields a lead form or row carries: names, email, cell phone.

    At least one of ``email`` and ``cell_phone`` is set (validation enforces
    it). ``email`` is lower-case; ``cell_phone`` is E.164 (``+15552014567``).
    """

    first_name: str
    last_name: str
    email: str | None = None
    cell_phone: str | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@attrs.frozen(kw_only=True)
class Contact:
    """A person; the parent of one or more leads.

    ``owner_id`` is the user whose account holds the contact; it is ``None``
    only for the contact of a held lead nobody has been assigned yet (DESIGN
    D7). ``assignee_id`` is the user the contact is assigned to, which may
    differ from the owner. ``source`` is the contact's own source and is never
    set from a lead's source.
    """

    contact_id: UUID
    details: ContactDetails
    created_at: datetime = attrs.field(validator=_aware)
    owner_id: int | None = None
    assignee_id: int | None = None
    source: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return contact_keys(self.details)


def contact_keys(details: ContactDetails) -> tuple[str, ...]:
    """The keys a contact is matched on: ``email:<email>`` and ``phone:<e164>``.

    Two contacts are the same person when they share any key. A store indexes
    these; the CLI keeps a compact set of them to spot repeat contacts.
    """
    keys: list[str] = []
    if details.email:
        keys.append("email:" + details.email)
    if details.cell_phone:
        keys.append("phone:" + details.cell_phone)
    return tuple(keys)


def match_contact(
    details: ContactDetails,
    contacts: Iterable[Contact],
    scope: MatchScope,
    *,
    acting_user: int | None = None,
    pool: Collection[int] = (),
) -> Contact | None:
    """Find the existing contact a new lead with ``details`` belongs to (DESIGN D2).

    A contact matches when its email equals ``details.email`` or its cell
    phone equals ``details.cell_phone`` (both already normalised). Which
    contacts are searched depends on ``scope``:

    * ``ACCOUNT``: contacts owned by ``acting_user`` (required);
    * ``POLICY_POOL``: contacts owned by any user id in ``pool`` (the
      routing policy's candidates);
    * ``ORGANIZATION``: every contact given.

    When several match, the one matching on both email and phone wins, then
    an email match over a phone match, then the oldest contact, then the
    lowest id, so the answer never depends on the order of ``contacts``.
    Returns ``None`` when nothing matches.
    """
    if scope is MatchScope.ACCOUNT:
        if acting_user is None:
            raise ValidationError(
                [FieldError("acting_user", None, "is required to match in scope 'account'")]
            )
        owners: Collection[int] | None = (acting_user,)
    elif scope is MatchScope.POLICY_POOL:
        owners = pool if isinstance(pool, set | frozenset) else frozenset(pool)
    else:
        owners = None

    email, phone = details.email, details.cell_phone
    best: Contact | None = None
    best_rank: tuple[int, datetime, UUID] | None = None
    for contact in contacts:
        if owners is not None and contact.owner_id not in owners:
            continue
        by_email = email is not None and contact.details.email == email
        by_phone = phone is not None and contact.details.cell_phone == phone
        if not (by_email or by_phone):
            continue
        rank = (-(2 * by_email + by_phone), contact.created_at, contact.contact_id)
        if best_rank is None or rank < best_rank:
            best, best_rank = contact, rank
    return best


# --------------------------------------------------------------------------- leads


@attrs.frozen(kw_only=True)
class LeadAttributes:
    """Everything about a lead that a person, a form or an import may set.

    ``source`` is the system key of a configured lead source (required).
    Amounts are :class:`~decimal.Decimal` with two places. ``property_state``
    is a USPS code (``TX``) and ``property_zip`` five digits, kept as text so
    leading zeros survive. ``external_id`` is the sender's own id for the
    lead; an import is idempotent on (source, external_id).
    """

    source: str = attrs.field(validator=_key)
    loan_purpose: LoanPurpose = LoanPurpose.TBD
    referred_by: str | None = None
    loan_amount: Decimal | None = None
    property_type: PropertyType | None = None
    occupancy: Occupancy | None = None
    credit_rating: CreditRating | None = None
    estimated_purchase_price: Decimal | None = None
    down_payment: Decimal | None = None
    desired_timeframe: DesiredTimeframe | None = None
    already_found_home: YesNoUnknown = YesNoUnknown.BLANK
    first_time_buyer: YesNoUnknown = YesNoUnknown.BLANK
    veteran: YesNoUnknown = YesNoUnknown.BLANK
    property_address: str | None = None
    property_state: str | None = None
    property_zip: str | None = None
    external_id: str | None = None


# --------------------------------------------------------------------------- follow-ups


class FollowUpKind(enum.StrEnum):
    """A scheduled event (a call or meeting at a time) or a task (something due)."""

    EVENT = "event"
    TASK = "task"


class FollowUpSubject(enum.StrEnum):
    """What the follow-up is. Events are Call or Meeting; tasks any but Meeting."""

    CALL = "Call"
    MEETING = "Meeting"
    EMAIL = "Email"
    LETTER = "Letter"
    QUOTE = "Quote"
    OTHER = "Other"


class Priority(enum.StrEnum):
    HIGH = "High"
    NORMAL = "Normal"
    LOW = "Low"

    @property
    def rank(self) -> int:
        """0 for High, 1 for Normal, 2 for Low: sort ascending to put High first."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}


class FollowUpStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


#: The subjects a scheduled event may have.
EVENT_SUBJECTS = frozenset({FollowUpSubject.CALL, FollowUpSubject.MEETING})
#: The subjects a task may have.
TASK_SUBJECTS = frozenset(FollowUpSubject) - {FollowUpSubject.MEETING}
#: The durations a scheduled event may have.
EVENT_DURATIONS = (timedelta(minutes=15), timedelta(minutes=30), timedelta(minutes=60))


@attrs.frozen(kw_only=True)
class FollowUp:
    """A follow-up on a lead (DESIGN D5).

    * A scheduled **event**: subject Call or Meeting, ``due`` is its start,
      ``duration`` 15, 30 or 60 minutes, ``notes`` shown beside it in the
      queue.
    * A **task**: subject Call, Email, Letter, Quote or Other, ``due`` date
      and time, ``status``, ``assignee_id`` and ``priority``.

    An open follow-up whose ``due`` is in the future keeps the lead out of the
    queue; once due it puts the lead first in the queue.
    """

    follow_up_id: UUID
    kind: FollowUpKind
    subject: FollowUpSubject
    due: datetime = attrs.field(validator=_moment)
    notes: str | None = None
    duration: timedelta | None = None
    assignee_id: int | None = None
    priority: Priority = Priority.NORMAL
    status: FollowUpStatus = FollowUpStatus.OPEN

    def __attrs_post_init__(self) -> None:
        problems: list[FieldError] = []
        if self.kind is FollowUpKind.EVENT:
            if self.subject not in EVENT_SUBJECTS:
                problems.append(
                    FieldError("subject", str(self.subject), "an event is a Call or a Meeting")
                )
            if self.duration not in EVENT_DURATIONS:
                problems.append(
                    FieldError("duration", self.duration, "an event lasts 15, 30 or 60 minutes")
                )
        else:
            if self.subject not in TASK_SUBJECTS:
                problems.append(
                    FieldError(
                        "subject",
                        str(self.subject),
                        "a task is a Call, Email, Letter, Quote or Other",
                    )
                )
            if self.duration is not None:
                problems.append(FieldError("duration", self.duration, "a task has no duration"))
        if problems:
            raise ValidationError(problems)

    @property
    def is_open(self) -> bool:
        return self.status is FollowUpStatus.OPEN


@attrs.frozen(kw_only=True)
class StageChange:
    """One entry of a lead's stage history."""

    from_stage: str
    to_stage: str
    at: datetime = attrs.field(validator=_aware)
    actor: int | None
    backward: bool = False
    outcome: str | None = None


# --------------------------------------------------------------------------- leads


@attrs.frozen(kw_only=True)
class Lead:
    """One sales opportunity with one contact.

    System fields: ``lead_id`` (UUIDv7, see :func:`leadflow.ids.uuid7`),
    ``contact_id``, ``created_at`` and ``updated_at`` (timezone-aware; no
    input may set them), ``origin``, ``assignee_id`` (``None`` while
    unassigned) and ``stage`` (a stage key of the organisation's playbook).
    Everything a person or file may set is in :attr:`attributes`.

    The lifecycle facts later rules read are kept here too, and only
    changed by events (see :func:`leadflow.events.apply_event`):

    * ``stage_entered_at`` -- when the current stage began (``None``: at creation);
    * ``outcome`` -- the outcome of a stage that needs one (Closed: funded, ...);
    * ``contact_attempts``, ``first_attempt_at``, ``last_attempt_at`` --
      outbound attempts (calls, texts, emails) logged;
    * ``last_touched_at`` -- the last activity logged by any person (system
      activity such as aging does not count);
    * ``last_outcome`` -- the last disposition logged;
    * ``reports`` -- report kinds logged, in order (``"wrong_number"``...);
    * ``snoozed_until`` -- out of the queue until then;
    * ``follow_ups`` -- every follow-up, open or not;
    * ``stage_history`` -- every stage change;
    * ``killed_at`` -- set once a kill stage is reached; nothing changes after;
    * ``release_at`` -- when a held lead goes back to the pool;
    * ``assigned_at``, ``assignment_method`` -- when and how the current
      assignee got the lead (``routing``, ``manual``, ``pool``...).
    """

    lead_id: UUID
    contact_id: UUID
    created_at: datetime = attrs.field(validator=_aware)
    updated_at: datetime = attrs.field(validator=_aware)
    attributes: LeadAttributes
    stage: str = attrs.field(validator=_key)
    origin: Origin = Origin.MANUAL
    assignee_id: int | None = None
    stage_entered_at: datetime | None = None
    outcome: str | None = None
    contact_attempts: int = 0
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_touched_at: datetime | None = None
    last_outcome: str | None = None
    reports: tuple[str, ...] = ()
    snoozed_until: datetime | None = None
    follow_ups: tuple[FollowUp, ...] = ()
    stage_history: tuple[StageChange, ...] = ()
    killed_at: datetime | None = None
    release_at: datetime | None = None
    assigned_at: datetime | None = None
    assignment_method: str | None = None
    #: The stored version, for optimistic concurrency: 0 until first stored.
    version: int = 0

    @property
    def source(self) -> str:
        return self.attributes.source

    @property
    def loan_purpose(self) -> LoanPurpose:
        return self.attributes.loan_purpose

    @property
    def killed(self) -> bool:
        return self.killed_at is not None

    @property
    def in_stage_since(self) -> datetime:
        return self.stage_entered_at or self.created_at

    def report_count(self, kind: str) -> int:
        return self.reports.count(kind)

    @property
    def open_follow_ups(self) -> tuple[FollowUp, ...]:
        return tuple(f for f in self.follow_ups if f.is_open)


# --------------------------------------------------------------------------- users and teams


_LEAD_NAMES = tuple(field.name for field in attrs.fields(Lead) if field.name != "version")
#: The fields of a lead but its version, read at once, and their slot setters.
_LEAD_VALUES = operator.attrgetter(*_LEAD_NAMES)
_LEAD_SETTERS = tuple(getattr(Lead, name).__set__ for name in _LEAD_NAMES)
_SET_VERSION = Lead.version.__set__  # type: ignore[attr-defined]


def with_version(lead: Lead, version: int) -> Lead:
    """``attrs.evolve(lead, version=version)`` at a fraction of the cost.

    Only the version changes, and every other field was validated when
    ``lead`` was built, so the copy skips ``__init__`` and sets the fields
    through their slots (the stores and bulk imports copy every lead they
    write this way).
    """
    if type(lead) is not Lead:  # a subclass may have fields of its own
        return attrs.evolve(lead, version=version)
    copy: Lead = object.__new__(Lead)
    for set_field, value in zip(_LEAD_SETTERS, _LEAD_VALUES(lead), strict=True):
        set_field(copy, value)
    _SET_VERSION(copy, version)
    return copy


@attrs.frozen(kw_only=True)
class Team:
    """A named group of users; routing policies target teams."""

    key: str = attrs.field(validator=_key)
    name: str


@attrs.frozen
class License:
    """A state license (USPS code), optionally with its expiry date (inclusive)."""

    state: str
    expires_on: date | None = None

    def valid_on(self, day: date) -> bool:
        return self.expires_on is None or day <= self.expires_on


@attrs.frozen(kw_only=True)
class User:
    """A user of the organisation: loan officer, assistant, manager or admin.

    ``teams`` holds team keys. ``permissions`` holds permission names (see
    :class:`Permission`); without ``receive_leads`` a user is never a routing
    candidate. ``started_on`` is the first day of employment, used by tenure
    guards ("approval needed in the first 30 days").
    """

    user_id: int
    first_name: str
    last_name: str
    email: str
    role: Role = Role.MEMBER
    active: bool = True
    permissions: frozenset[str] = frozenset()
    licenses: tuple[License, ...] = ()
    teams: frozenset[str] = frozenset()
    started_on: date | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def has_permission(self, permission: str) -> bool:
        return permission in self.permissions

    def licensed_in(self, state: str, on: date) -> bool:
        """Whether the user holds a license for ``state`` that is valid on ``on``."""
        return any(lic.state == state and lic.valid_on(on) for lic in self.licenses)

    def tenure_days(self, today: date) -> int | None:
        """Whole days since ``started_on`` (0 on the first day), or ``None`` if unknown."""
        if self.started_on is None:
            return None
        return (today - self.started_on).days


class Interface(enum.StrEnum):
    """How a command reached leadflow: the ``leadflow`` command line or a host's code."""

    API = "api"
    CLI = "cli"


@attrs.frozen
class SystemActor:
    """The organisation's system actor (DESIGN D12): batch and administrative work.

    Imports, sweeps, exception handling and configuration changes that no
    person asked for by name run as the system actor. It may do what an
    admin may, but it is not a user: it has no row in the configuration, is
    never a routing candidate, counts in no cap or report column, and the
    activity it writes has ``actor`` ``None`` (shown as "System"). A
    person's own work (logging a call, moving a stage, claiming, follow-ups,
    a queue) always names the user.

    It has the attributes of a :class:`User` that permission checks read,
    so a rule that takes "who acts" takes either.
    """

    #: Events written by the system actor carry no user id.
    user_id: None = attrs.field(default=None, init=False)
    first_name: str = attrs.field(default="System", init=False)
    last_name: str = attrs.field(default="", init=False)
    active: bool = attrs.field(default=True, init=False)

    @property
    def name(self) -> str:
        return "System"

    @property
    def is_admin(self) -> bool:
        return True

    def has_permission(self, permission: str) -> bool:
        """Every permission an admin's work needs."""
        return True

    def __str__(self) -> str:
        return "System"


#: The system actor. ``LeadDesk`` methods for batch and administrative work
#: default to it; see :class:`SystemActor`.
SYSTEM = SystemActor()

#: Who does a command: a user of the organisation, or its system actor.
Actor = User | SystemActor
