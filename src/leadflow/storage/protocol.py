"""The storage protocol: what the application service needs from a database.

A :class:`Store` hands out units of work. Everything a command changes --
the lead, its contact, the activity, the routing cursor, the exception
record, the outbox message -- is written through one :class:`UnitOfWork` and
committed together, or not at all::

    with store.unit_of_work() as uow:
        lead = uow.get_lead(lead_id)
        ...
        uow.update_lead(new_lead, next_change_at=moment)
        uow.append_events(events)
    # committed here; an exception inside the block rolls everything back

Stores exchange leadflow values (:class:`~leadflow.model.Lead`,
:class:`~leadflow.model.Contact`, events...), never rows. Every method
raises only :class:`~leadflow.errors.LeadflowError` subclasses for
conditions a caller handles: :class:`~leadflow.errors.NotFound` for a
missing record, :class:`~leadflow.errors.Conflict` for a stale version or a
duplicate key.

Writes are serialised: a unit of work of one process waits (up to the
store's busy timeout) while another process holds the write lock, so a
read-modify-write inside one unit of work is never interleaved with another.

Implementations: :class:`~leadflow.storage.memory.MemoryStore`,
:class:`~leadflow.storage.sqlite.SQLiteStore`. A host's own adapter proves
itself against :class:`leadflow.testing.contract.StoreContract`.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

import attrs

from leadflow.events import Event
from leadflow.model import Contact, Lead
from leadflow.org import OrgConfig
from leadflow.routing.engine import PolicyCursor
from leadflow.routing.exceptions import ExceptionRecord

__all__ = [
    "AUTOMATION_KIND",
    "LeadGrouping",
    "OutboxMessage",
    "OutboxStatus",
    "Owners",
    "Store",
    "UnitOfWork",
    "lead_id_range",
]

#: The columns :meth:`UnitOfWork.lead_counts` counts leads by.
LeadGrouping = Literal["source", "stage", "assignee_id"]

#: The outbox kind of automation jobs (:mod:`leadflow.jobs`): entries the desk runs
#: itself, which notification delivery leaves alone. Every other kind is a mail.
AUTOMATION_KIND = "automation"


#: The canonical text of a UUID, ``str(uuid)``: ``h`` a lower-case hex digit.
_CANONICAL = "hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh"
_HEX_DIGITS = frozenset("0123456789abcdef")


def lead_id_range(prefix: str) -> tuple[UUID, UUID] | None:
    """The lowest and the highest id whose canonical text starts with ``prefix``.

    ``None`` when no id's canonical text (``str(uuid)``: lower-case hex digits,
    dashes at positions 8, 13, 18 and 23) can start with ``prefix``: a
    character out of place, upper-case hex, ``%``, ``_``, a prefix longer than
    36 characters. An empty prefix gives the whole range; a whole id gives
    ``(id, id)``.

    Ids sort as their canonical texts do (same width, dashes in the same
    places, hex digits in ASCII order), so the ids a prefix fits are exactly
    those from the first to the last of the range: a store finds them with one
    range query on its sorted ids, as text (``str(low) <= lead_id <=
    str(high)``) or as 128-bit numbers, never with a pattern.
    """
    if len(prefix) > len(_CANONICAL):
        return None
    digits: list[str] = []
    for char, shape in zip(prefix, _CANONICAL, strict=False):
        if shape == "-":
            if char != "-":
                return None
        elif char in _HEX_DIGITS:
            digits.append(char)
        else:
            return None
    free_bits = 4 * (32 - len(digits))
    low = int("".join(digits) or "0", 16) << free_bits
    return UUID(int=low), UUID(int=low | ((1 << free_bits) - 1))


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class OutboxMessage:
    """A notification written in the same unit of work as the change it announces.

    Delivered after commit; retried with ``next_attempt_at`` until sent, or
    marked failed after too many attempts -- never lost.
    """

    message_id: UUID
    created_at: datetime
    kind: str
    recipient: str
    subject: str
    body_text: str
    body_html: str = ""
    lead_id: UUID | None = None
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""


#: The owners whose contacts a search keeps; ``None``: anyone's.
Owners = Collection[int] | None


class UnitOfWork(Protocol):
    """Reads and writes inside one transaction. See the module documentation."""

    # ------------------------------------------------------------------ configuration

    def load_config(self) -> OrgConfig | None:
        """The stored organisation configuration, or ``None`` if none was saved yet."""
        ...

    def save_config(self, config: OrgConfig, *, actor: int | None, at: datetime) -> None:
        """Replace the configuration; the previous one is kept in the change history."""
        ...

    def config_history(self) -> list[tuple[datetime, int | None, OrgConfig]]:
        """Every saved configuration, oldest first, with when and by whom. Empty if none."""
        ...

    # ------------------------------------------------------------------ leads

    def get_lead(self, lead_id: UUID) -> Lead:
        """The lead with this id, with its stored ``version``. Raises NotFound."""
        ...

    def find_lead(self, source: str, external_id: str) -> Lead | None:
        """The lead imported from ``source`` with this external id, or ``None``."""
        ...

    def add_lead(self, lead: Lead, *, next_change_at: datetime | None) -> Lead:
        """Store a new lead; returns it with ``version`` 1.

        ``lead.version`` must be 0. Raises Conflict if the lead id exists, or
        if another lead of the same source has the same external id.
        ``next_change_at`` is indexed for :meth:`due_leads`.
        """
        ...

    def find_leads_by_external_ids(
        self, source: str, external_ids: Collection[str]
    ) -> dict[str, Lead]:
        """The leads imported from ``source`` with these external ids, keyed by external id.

        What :meth:`find_lead` gives for each id, in one call: ids without a
        lead are absent, and an empty ``external_ids`` gives an empty dict.
        """
        ...

    def add_leads(self, leads: Sequence[tuple[Lead, datetime | None]]) -> None:
        """Store new leads, each with its ``next_change_at``, at ``version`` 1.

        What :meth:`add_lead` does for each ``(lead, next_change_at)`` pair,
        in order, in one call; each lead is stored as
        ``attrs.evolve(lead, version=1)``, which :meth:`add_lead` would
        return. Raises what :meth:`add_lead` raises for the first lead it
        refuses (ValidationError for a version other than 0 or a naive
        moment; Conflict for an id, or a (source, external id), that is stored
        already or comes twice in ``leads``), and then stores none of them.
        """
        ...

    def update_lead(self, lead: Lead, *, next_change_at: datetime | None) -> Lead:
        """Store a changed lead; returns it with ``version`` one higher.

        Raises NotFound if it was never stored, and Conflict if the stored
        version is not ``lead.version`` (someone else changed it first).
        """
        ...

    def leads_of_assignee(
        self, user_id: int, *, exclude_stages: Collection[str] = ()
    ) -> list[Lead]:
        """Leads assigned to ``user_id``, not killed, not in ``exclude_stages``. Any order."""
        ...

    def pool_leads(
        self, *, pool_stages: Collection[str] = (), exclude_stages: Collection[str] = ()
    ) -> list[Lead]:
        """Leads nobody holds, plus held leads in ``pool_stages``; never killed ones or
        those in ``exclude_stages``. Any order; empty list if none."""
        ...

    def due_leads(self, now: datetime, *, limit: int | None = None) -> list[Lead]:
        """Leads whose ``next_change_at`` is at or before ``now``, earliest first."""
        ...

    def leads_of_contact(self, contact_id: UUID) -> list[Lead]:
        """The contact's leads, oldest first; empty if none."""
        ...

    def lead_ids_with_prefix(self, prefix: str, *, limit: int) -> list[UUID]:
        """The ids of stored leads whose canonical text starts with ``prefix``, ascending.

        The canonical text of an id is ``str(lead_id)``: 36 characters, lower-case
        hex digits with dashes at positions 8, 13, 18 and 23
        (``0190f3a2-7c41-7d2e-9b1a-4c5d6e7f8a9b``). ``prefix`` is compared with it
        as given, character by character: normalising what a user typed
        (lower-casing it) and requiring a minimum length are the caller's job.
        At most ``limit`` ids are returned, the lowest ones; a ``limit`` of 0 or
        less gives an empty list.

        A prefix that is a whole id gives that id if it is stored; an empty
        prefix fits every id. No stored lead fitting the prefix gives an empty
        list, never an error. ``%``, ``_`` and every other character are
        literal, never wildcards: a prefix no canonical text can start with
        (upper-case hex, a dash out of place, more than 36 characters) fits no
        id. :func:`lead_id_range` gives the range of ids a prefix fits, so a
        store answers with one range query on its index of ids.
        """
        ...

    def count_leads(self) -> int:
        """How many leads are stored."""
        ...

    def lead_counts(self, by: LeadGrouping) -> dict[str | int | None, int]:
        """How many stored leads there are per value of one column, killed leads included.

        ``by`` is ``"source"`` (the source key), ``"stage"`` (the stage key)
        or ``"assignee_id"`` (the user id; ``None`` for unassigned leads).
        Values no lead has are absent. A configuration change reads it to
        refuse orphaning leads (a source removed while leads came from it).
        """
        ...

    def contact_counts_by_owner(self) -> dict[int, int]:
        """How many stored contacts each owner has; contacts with no owner are not counted."""
        ...

    def routed_counts(self, user_ids: Collection[int], *, since: datetime) -> dict[int, int]:
        """Per user, leads assigned by routing (``routing`` or ``fallback``) at or after
        ``since`` and still assigned to them. Users with none are absent."""
        ...

    def open_counts(
        self, user_ids: Collection[int], *, exclude_stages: Collection[str] = ()
    ) -> dict[int, int]:
        """Per user, leads assigned to them, not killed and not in ``exclude_stages``."""
        ...

    # ------------------------------------------------------------------ contacts

    def get_contact(self, contact_id: UUID) -> Contact:
        """The contact with this id. Raises NotFound."""
        ...

    def add_contact(self, contact: Contact) -> None:
        """Store a new contact. Raises Conflict if the id exists."""
        ...

    def add_contacts(self, contacts: Sequence[Contact]) -> None:
        """Store new contacts: what :meth:`add_contact` does for each, in order, in one call.

        Raises Conflict if an id is stored already or comes twice in
        ``contacts``, and then stores none of them.
        """
        ...

    def update_contact(self, contact: Contact) -> None:
        """Replace a stored contact. Raises NotFound if it was never stored."""
        ...

    def find_contacts(
        self, *, emails: Collection[str] = (), phones: Collection[str] = (), owners: Owners = None
    ) -> list[Contact]:
        """Contacts whose email is in ``emails`` or whose cell phone is in ``phones``,
        owned by one of ``owners`` (``None``: anyone). Any order; empty if none."""
        ...

    # ------------------------------------------------------------------ routing state

    def cursors(self) -> dict[str, PolicyCursor]:
        """Every stored policy cursor by policy key; empty if none."""
        ...

    def save_cursor(self, policy: str, cursor: PolicyCursor) -> None:
        """Store a policy's cursor (replacing the previous one)."""
        ...

    # ------------------------------------------------------------------ activity

    def append_events(self, events: Sequence[Event]) -> None:
        """Append to the activity log, in order."""
        ...

    def history(self, lead_id: UUID) -> list[Event]:
        """The lead's events (and notes tied to it) in the order they were appended."""
        ...

    def activity(self, *, start: datetime, end: datetime) -> list[Event]:
        """Every event with ``start <= at < end``, in the order appended."""
        ...

    # ------------------------------------------------------------------ exceptions

    def put_exception(self, record: ExceptionRecord) -> None:
        """Store or replace the exception record of ``record.lead_id``."""
        ...

    def get_exception(self, lead_id: UUID) -> ExceptionRecord:
        """The lead's exception record. Raises NotFound."""
        ...

    def exceptions(self, *, include_closed: bool = False) -> list[ExceptionRecord]:
        """Exception records (open ones only unless ``include_closed``), any order."""
        ...

    # ------------------------------------------------------------------ outbox

    def add_message(self, message: OutboxMessage) -> None:
        """Queue a message. Raises Conflict if its id exists."""
        ...

    def add_messages(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages: what :meth:`add_message` does for each, in order, in one call.

        Messages created at the same moment are listed by :meth:`messages` in
        the order of ``messages``. Raises Conflict if an id is stored already
        or comes twice in ``messages``, and then queues none of them.
        """
        ...

    def update_message(self, message: OutboxMessage) -> None:
        """Replace a queued message (status, attempts). Raises NotFound."""
        ...

    def messages(self, *, status: OutboxStatus | None = None) -> list[OutboxMessage]:
        """Messages with this status (all if ``None``), oldest first."""
        ...


class Store(Protocol):
    """A database of leads. Thread-safe: each thread opens its own units of work."""

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """A transaction: commits when the block ends, rolls back if it raises."""
        ...

    def close(self) -> None:
        """Release the store's resources; it cannot be used afterwards."""
        ...
