"""An in-memory :class:`~leadflow.storage.protocol.Store`, for tests and demos.

Nothing is written to disk: the data lives as long as the :class:`MemoryStore`
object. It behaves like the SQLite store in every way a caller can see --
the same versions, the same errors for the same situations, the same query
results -- so a test written against it holds for SQLite too (both run
:class:`leadflow.testing.contract.StoreContract`).

Transactions: a unit of work holds the store's lock for its whole duration,
so units of work are serialised (like SQLite's ``BEGIN IMMEDIATE``). Writes
are applied at once and an undo action is recorded for each; if the block
raises, the undo actions run in reverse order and the exception propagates
(rollback); when the block ends normally the undo log is dropped (commit).

Queries use secondary indexes kept up to date on every write: leads by
assignee, by stage, by contact and by (source, external id); a sorted list
of ``(next_change_at, lead_id)`` for :meth:`~_MemoryUnitOfWork.due_leads`;
contacts by email and by cell phone; events by lead and by time; messages
by status.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from leadflow.errors import (
    ConfigError,
    Conflict,
    FieldError,
    NotFound,
    ValidationError,
    require_aware,
)
from leadflow.events import AssignmentMethod, Event, LeadEvent, NoteAdded
from leadflow.model import Contact, Lead, with_version
from leadflow.org import OrgConfig
from leadflow.routing.engine import PolicyCursor
from leadflow.routing.exceptions import ExceptionRecord
from leadflow.storage.protocol import (
    LeadGrouping,
    OutboxMessage,
    OutboxStatus,
    Owners,
    UnitOfWork,
    lead_id_range,
)

__all__ = ["MemoryStore"]

_K = TypeVar("_K")
_V = TypeVar("_V")

#: The assignment methods :meth:`_MemoryUnitOfWork.routed_counts` counts.
_ROUTED = frozenset({str(AssignmentMethod.ROUTING), str(AssignmentMethod.FALLBACK)})
#: Sorts after every lead id: the upper bound of a ``(moment, lead_id)`` key.
_LAST_UUID = UUID(int=(1 << 128) - 1)

_LeadRow = tuple[Lead, datetime | None]
_ConfigRow = tuple[datetime, int | None, OrgConfig]


def _check_aware(name: str, value: datetime | None) -> None:
    if value is not None:
        require_aware(name, value)


def _index_add(index: dict[_K, set[_V]], key: _K, value: _V) -> None:
    index.setdefault(key, set()).add(value)


def _index_remove(index: dict[_K, set[_V]], key: _K, value: _V) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(value)
        if not members:
            del index[key]


def _event_lead(event: Event) -> UUID | None:
    if isinstance(event, LeadEvent | NoteAdded):
        return event.lead_id
    return None


def _external_key(lead: Lead) -> tuple[str, str] | None:
    external_id = lead.attributes.external_id
    return None if external_id is None else (lead.source, external_id)


class _Data:
    """The tables and their indexes, with raw writes that keep the indexes right.

    Every write returns what it replaced, so the unit of work can record the
    write that undoes it. Nothing here checks a rule: the unit of work does.
    """

    def __init__(self) -> None:
        self.leads: dict[UUID, _LeadRow] = {}
        self.due: list[tuple[datetime, UUID]] = []  # sorted: (next_change_at, lead_id)
        self.by_assignee: dict[int | None, set[UUID]] = {}
        self.by_stage: dict[str, set[UUID]] = {}
        self.by_contact: dict[UUID, set[UUID]] = {}
        self.by_external: dict[tuple[str, str], UUID] = {}
        self.contacts: dict[UUID, Contact] = {}
        self.contacts_by_email: dict[str, set[UUID]] = {}
        self.contacts_by_phone: dict[str, set[UUID]] = {}
        self.configs: list[_ConfigRow] = []
        self.cursors: dict[str, PolicyCursor] = {}
        self.events: list[Event] = []
        self.events_by_lead: dict[UUID, list[int]] = {}
        self.events_by_time: list[tuple[datetime, int]] = []  # sorted: (at, position)
        self.exceptions: dict[UUID, ExceptionRecord] = {}
        self.messages: dict[UUID, tuple[int, OutboxMessage]] = {}  # (insertion order, message)
        self.messages_by_status: dict[OutboxStatus, set[UUID]] = {}
        self.message_seq = 0

    # ------------------------------------------------------------------ leads

    def swap_lead(self, lead_id: UUID, row: _LeadRow | None) -> _LeadRow | None:
        old = self.leads.pop(lead_id, None)
        if old is not None:
            lead, moment = old
            _index_remove(self.by_assignee, lead.assignee_id, lead_id)
            _index_remove(self.by_stage, lead.stage, lead_id)
            _index_remove(self.by_contact, lead.contact_id, lead_id)
            key = _external_key(lead)
            if key is not None:
                del self.by_external[key]
            if moment is not None:
                del self.due[bisect.bisect_left(self.due, (moment, lead_id))]
        if row is not None:
            lead, moment = row
            self.leads[lead_id] = row
            _index_add(self.by_assignee, lead.assignee_id, lead_id)
            _index_add(self.by_stage, lead.stage, lead_id)
            _index_add(self.by_contact, lead.contact_id, lead_id)
            key = _external_key(lead)
            if key is not None:
                self.by_external[key] = lead_id
            if moment is not None:
                bisect.insort(self.due, (moment, lead_id))
        return old

    # ------------------------------------------------------------------ contacts

    def swap_contact(self, contact_id: UUID, contact: Contact | None) -> Contact | None:
        old = self.contacts.pop(contact_id, None)
        if old is not None:
            if old.details.email is not None:
                _index_remove(self.contacts_by_email, old.details.email, contact_id)
            if old.details.cell_phone is not None:
                _index_remove(self.contacts_by_phone, old.details.cell_phone, contact_id)
        if contact is not None:
            self.contacts[contact_id] = contact
            if contact.details.email is not None:
                _index_add(self.contacts_by_email, contact.details.email, contact_id)
            if contact.details.cell_phone is not None:
                _index_add(self.contacts_by_phone, contact.details.cell_phone, contact_id)
        return old

    # ------------------------------------------------------------------ simple tables

    def swap_cursor(self, policy: str, cursor: PolicyCursor | None) -> PolicyCursor | None:
        old = self.cursors.pop(policy, None)
        if cursor is not None:
            self.cursors[policy] = cursor
        return old

    def swap_exception(
        self, lead_id: UUID, record: ExceptionRecord | None
    ) -> ExceptionRecord | None:
        old = self.exceptions.pop(lead_id, None)
        if record is not None:
            self.exceptions[lead_id] = record
        return old

    def swap_message(self, message_id: UUID, message: OutboxMessage | None) -> OutboxMessage | None:
        old_row = self.messages.pop(message_id, None)
        if old_row is not None:
            _index_remove(self.messages_by_status, old_row[1].status, message_id)
        if message is not None:
            if old_row is not None:
                seq = old_row[0]
            else:
                self.message_seq += 1
                seq = self.message_seq
            self.messages[message_id] = (seq, message)
            _index_add(self.messages_by_status, message.status, message_id)
        return None if old_row is None else old_row[1]

    # ------------------------------------------------------------------ append-only logs

    def push_event(self, event: Event) -> None:
        position = len(self.events)
        self.events.append(event)
        lead_id = _event_lead(event)
        if lead_id is not None:
            self.events_by_lead.setdefault(lead_id, []).append(position)
        bisect.insort(self.events_by_time, (event.at, position))

    def pop_event(self) -> None:
        event = self.events.pop()
        position = len(self.events)
        lead_id = _event_lead(event)
        if lead_id is not None:
            positions = self.events_by_lead[lead_id]
            positions.pop()
            if not positions:
                del self.events_by_lead[lead_id]
        del self.events_by_time[bisect.bisect_left(self.events_by_time, (event.at, position))]


class _MemoryUnitOfWork:
    """One transaction on a :class:`MemoryStore`; see :class:`~leadflow.storage.UnitOfWork`."""

    def __init__(self, data: _Data) -> None:
        self._data = data
        self._undo: list[Callable[[], object]] = []
        self._active = True

    # ------------------------------------------------------------------ transaction

    def _check(self) -> _Data:
        if not self._active:
            raise ConfigError("this unit of work has ended: open a new one")
        return self._data

    def _commit(self) -> None:
        self._undo.clear()

    def _rollback(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _end(self) -> None:
        self._active = False

    def _all_or_nothing(self, write: Callable[[], _V]) -> _V:
        """Run ``write``; if it raises, undo what it wrote before the error propagates."""
        mark = len(self._undo)
        try:
            return write()
        except BaseException:
            undo = self._undo
            while len(undo) > mark:
                undo.pop()()
            raise

    def _set_lead(self, lead_id: UUID, row: _LeadRow | None) -> None:
        data = self._data
        old = data.swap_lead(lead_id, row)
        self._undo.append(lambda: data.swap_lead(lead_id, old))

    # ------------------------------------------------------------------ configuration

    def load_config(self) -> OrgConfig | None:
        """The stored organisation configuration, or ``None`` if none was saved yet."""
        configs = self._check().configs
        return configs[-1][2] if configs else None

    def save_config(self, config: OrgConfig, *, actor: int | None, at: datetime) -> None:
        """Replace the configuration; the previous one is kept in the change history."""
        data = self._check()
        _check_aware("at", at)
        data.configs.append((at, actor, config))
        self._undo.append(data.configs.pop)

    def config_history(self) -> list[tuple[datetime, int | None, OrgConfig]]:
        """Every saved configuration, oldest first, with when and by whom. Empty if none."""
        return list(self._check().configs)

    # ------------------------------------------------------------------ leads

    def get_lead(self, lead_id: UUID) -> Lead:
        """The lead with this id, with its stored ``version``. Raises NotFound."""
        row = self._check().leads.get(lead_id)
        if row is None:
            raise NotFound(f"lead {lead_id} does not exist")
        return row[0]

    def find_lead(self, source: str, external_id: str) -> Lead | None:
        """The lead imported from ``source`` with this external id, or ``None``."""
        data = self._check()
        lead_id = data.by_external.get((source, external_id))
        return None if lead_id is None else data.leads[lead_id][0]

    def _check_external_id(self, lead: Lead) -> None:
        key = _external_key(lead)
        holder = None if key is None else self._data.by_external.get(key)
        if holder is not None and holder != lead.lead_id:
            raise Conflict(
                f"lead {holder} of source {lead.source!r} already has external id "
                f"{lead.attributes.external_id!r}"
            )

    def add_lead(self, lead: Lead, *, next_change_at: datetime | None) -> Lead:
        """Store a new lead; returns it with ``version`` 1.

        ``lead.version`` must be 0 (else ValidationError). Raises Conflict if
        the lead id exists, or if another lead of the same source has the
        same external id.
        """
        data = self._check()
        if lead.version != 0:
            raise ValidationError(
                [
                    FieldError(
                        "version",
                        lead.version,
                        f"must be 0 to add lead {lead.lead_id}: a stored lead is "
                        "changed with update_lead",
                    )
                ]
            )
        _check_aware("next_change_at", next_change_at)
        if lead.lead_id in data.leads:
            raise Conflict(f"lead {lead.lead_id} already exists")
        self._check_external_id(lead)
        stored = with_version(lead, 1)
        self._set_lead(lead.lead_id, (stored, next_change_at))
        return stored

    def find_leads_by_external_ids(
        self, source: str, external_ids: Collection[str]
    ) -> dict[str, Lead]:
        """The leads imported from ``source`` with these external ids, keyed by external id.

        Ids without a lead are absent; an empty ``external_ids`` gives an empty dict.
        """
        data = self._check()
        by_external, leads = data.by_external, data.leads
        found: dict[str, Lead] = {}
        for external_id in external_ids:
            lead_id = by_external.get((source, external_id))
            if lead_id is not None:
                found[external_id] = leads[lead_id][0]
        return found

    def add_leads(self, leads: Sequence[tuple[Lead, datetime | None]]) -> None:
        """Store new leads, each with its ``next_change_at``, at ``version`` 1.

        As :meth:`add_lead` for each pair, in order; if one is refused, none is stored.
        """
        self._check()

        def add_all() -> None:
            for lead, moment in leads:
                self.add_lead(lead, next_change_at=moment)

        self._all_or_nothing(add_all)

    def update_lead(self, lead: Lead, *, next_change_at: datetime | None) -> Lead:
        """Store a changed lead; returns it with ``version`` one higher.

        Raises NotFound if it was never stored, and Conflict if the stored
        version is not ``lead.version`` (someone else changed it first).
        """
        data = self._check()
        _check_aware("next_change_at", next_change_at)
        row = data.leads.get(lead.lead_id)
        if row is None:
            raise NotFound(f"lead {lead.lead_id} does not exist")
        if row[0].version != lead.version:
            raise Conflict(
                f"lead {lead.lead_id} was changed by someone else: it is at version "
                f"{row[0].version}, the change was made to version {lead.version}"
            )
        self._check_external_id(lead)
        stored = with_version(lead, lead.version + 1)
        self._set_lead(lead.lead_id, (stored, next_change_at))
        return stored

    def _leads(self, lead_ids: Iterable[UUID]) -> Iterator[Lead]:
        leads = self._data.leads
        for lead_id in sorted(lead_ids):
            yield leads[lead_id][0]

    def leads_of_assignee(
        self, user_id: int, *, exclude_stages: Collection[str] = ()
    ) -> list[Lead]:
        """Leads assigned to ``user_id``, not killed, not in ``exclude_stages``. Any order."""
        data = self._check()
        excluded = frozenset(exclude_stages)
        return [
            lead
            for lead in self._leads(data.by_assignee.get(user_id, ()))
            if not lead.killed and lead.stage not in excluded
        ]

    def pool_leads(
        self, *, pool_stages: Collection[str] = (), exclude_stages: Collection[str] = ()
    ) -> list[Lead]:
        """Leads nobody holds, plus held leads in ``pool_stages``; never killed ones or
        those in ``exclude_stages``. Any order; empty list if none."""
        data = self._check()
        excluded = frozenset(exclude_stages)
        lead_ids = set(data.by_assignee.get(None, ()))
        for stage in frozenset(pool_stages) - excluded:
            lead_ids |= data.by_stage.get(stage, set())
        return [
            lead for lead in self._leads(lead_ids) if not lead.killed and lead.stage not in excluded
        ]

    def due_leads(self, now: datetime, *, limit: int | None = None) -> list[Lead]:
        """Leads whose ``next_change_at`` is at or before ``now``, earliest first."""
        data = self._check()
        _check_aware("now", now)
        stop = bisect.bisect_right(data.due, (now, _LAST_UUID))
        if limit is not None:
            stop = min(stop, max(limit, 0))
        return [data.leads[lead_id][0] for _, lead_id in data.due[:stop]]

    def leads_of_contact(self, contact_id: UUID) -> list[Lead]:
        """The contact's leads, oldest first; empty if none."""
        data = self._check()
        leads = [data.leads[lead_id][0] for lead_id in data.by_contact.get(contact_id, ())]
        return sorted(leads, key=lambda lead: (lead.created_at, lead.lead_id))

    def lead_ids_with_prefix(self, prefix: str, *, limit: int) -> list[UUID]:
        """The ids of stored leads whose canonical text starts with ``prefix``, ascending,
        at most ``limit``; see :meth:`leadflow.storage.UnitOfWork.lead_ids_with_prefix`.

        A whole id is one dict lookup; a shorter prefix compares every stored id
        with the prefix's range as numbers (no index: this store keeps no sorted
        ids, so writes stay as cheap as they are).
        """
        data = self._check()
        bounds = lead_id_range(prefix)
        if bounds is None or limit <= 0:
            return []
        first, last = bounds
        if first == last:
            return [first] if first in data.leads else []
        low, high = first.int, last.int
        return sorted(lead_id for lead_id in data.leads if low <= lead_id.int <= high)[:limit]

    def count_leads(self) -> int:
        """How many leads are stored."""
        return len(self._check().leads)

    def lead_counts(self, by: LeadGrouping) -> dict[str | int | None, int]:
        """Stored leads per source, stage or assignee; see the protocol."""
        value: Callable[[Lead], str | int | None] = {
            "source": lambda lead: lead.attributes.source,
            "stage": lambda lead: lead.stage,
            "assignee_id": lambda lead: lead.assignee_id,
        }[by]
        return dict(Counter(value(lead) for lead, *_ in self._check().leads.values()))

    def contact_counts_by_owner(self) -> dict[int, int]:
        """Stored contacts per owner; contacts with no owner are not counted."""
        owners = (c.owner_id for c in self._check().contacts.values())
        return dict(Counter(owner for owner in owners if owner is not None))

    def routed_counts(self, user_ids: Collection[int], *, since: datetime) -> dict[int, int]:
        """Per user, leads assigned by routing (``routing`` or ``fallback``) at or after
        ``since`` and still assigned to them. Users with none are absent."""
        data = self._check()
        _check_aware("since", since)
        counts: dict[int, int] = {}
        for user_id in frozenset(user_ids):
            count = 0
            for lead_id in data.by_assignee.get(user_id, ()):
                lead = data.leads[lead_id][0]
                if (
                    lead.assignment_method in _ROUTED
                    and lead.assigned_at is not None
                    and lead.assigned_at >= since
                ):
                    count += 1
            if count:
                counts[user_id] = count
        return counts

    def open_counts(
        self, user_ids: Collection[int], *, exclude_stages: Collection[str] = ()
    ) -> dict[int, int]:
        """Per user, leads assigned to them, not killed and not in ``exclude_stages``.

        Users with none are absent (read the result with ``.get(user_id, 0)``).
        """
        data = self._check()
        excluded = frozenset(exclude_stages)
        counts: dict[int, int] = {}
        for user_id in frozenset(user_ids):
            count = 0
            for lead_id in data.by_assignee.get(user_id, ()):
                lead = data.leads[lead_id][0]
                if not lead.killed and lead.stage not in excluded:
                    count += 1
            if count:
                counts[user_id] = count
        return counts

    # ------------------------------------------------------------------ contacts

    def get_contact(self, contact_id: UUID) -> Contact:
        """The contact with this id. Raises NotFound."""
        contact = self._check().contacts.get(contact_id)
        if contact is None:
            raise NotFound(f"contact {contact_id} does not exist")
        return contact

    def add_contact(self, contact: Contact) -> None:
        """Store a new contact. Raises Conflict if the id exists."""
        data = self._check()
        contact_id = contact.contact_id
        if contact_id in data.contacts:
            raise Conflict(f"contact {contact_id} already exists")
        data.swap_contact(contact_id, contact)
        self._undo.append(lambda: data.swap_contact(contact_id, None))

    def add_contacts(self, contacts: Sequence[Contact]) -> None:
        """Store new contacts, as :meth:`add_contact` for each; if one is refused, none is."""
        self._check()

        def add_all() -> None:
            for contact in contacts:
                self.add_contact(contact)

        self._all_or_nothing(add_all)

    def update_contact(self, contact: Contact) -> None:
        """Replace a stored contact. Raises NotFound if it was never stored."""
        data = self._check()
        contact_id = contact.contact_id
        if contact_id not in data.contacts:
            raise NotFound(f"contact {contact_id} does not exist")
        old = data.swap_contact(contact_id, contact)
        self._undo.append(lambda: data.swap_contact(contact_id, old))

    def find_contacts(
        self, *, emails: Collection[str] = (), phones: Collection[str] = (), owners: Owners = None
    ) -> list[Contact]:
        data = self._check()
        found: set[UUID] = set()
        for email in frozenset(emails):
            found |= data.contacts_by_email.get(email, set())
        for phone in frozenset(phones):
            found |= data.contacts_by_phone.get(phone, set())
        allowed = None if owners is None else frozenset(owners)
        contacts = [
            data.contacts[contact_id]
            for contact_id in found
            if allowed is None or data.contacts[contact_id].owner_id in allowed
        ]
        return sorted(contacts, key=lambda c: (c.created_at, c.contact_id))

    # ------------------------------------------------------------------ routing state

    def cursors(self) -> dict[str, PolicyCursor]:
        """Every stored policy cursor by policy key; empty if none."""
        return dict(self._check().cursors)

    def save_cursor(self, policy: str, cursor: PolicyCursor) -> None:
        """Store a policy's cursor (replacing the previous one)."""
        data = self._check()
        old = data.swap_cursor(policy, cursor)
        self._undo.append(lambda: data.swap_cursor(policy, old))

    # ------------------------------------------------------------------ activity

    def append_events(self, events: Sequence[Event]) -> None:
        """Append to the activity log, in order."""
        data = self._check()
        for event in events:
            _check_aware("at", event.at)
        for event in events:
            data.push_event(event)
            self._undo.append(data.pop_event)

    def history(self, lead_id: UUID) -> list[Event]:
        """The lead's events (and notes tied to it) in the order they were appended."""
        data = self._check()
        return [data.events[position] for position in data.events_by_lead.get(lead_id, ())]

    def activity(self, *, start: datetime, end: datetime) -> list[Event]:
        """Every event with ``start <= at < end``, in the order appended."""
        data = self._check()
        _check_aware("start", start)
        _check_aware("end", end)
        by_time = data.events_by_time
        low = bisect.bisect_left(by_time, (start, -1))
        high = bisect.bisect_left(by_time, (end, -1))
        return [data.events[position] for position in sorted(p for _, p in by_time[low:high])]

    # ------------------------------------------------------------------ exceptions

    def put_exception(self, record: ExceptionRecord) -> None:
        """Store or replace the exception record of ``record.lead_id``."""
        data = self._check()
        lead_id = record.lead_id
        old = data.swap_exception(lead_id, record)
        self._undo.append(lambda: data.swap_exception(lead_id, old))

    def get_exception(self, lead_id: UUID) -> ExceptionRecord:
        """The lead's exception record. Raises NotFound."""
        record = self._check().exceptions.get(lead_id)
        if record is None:
            raise NotFound(f"lead {lead_id} has no exception record")
        return record

    def exceptions(self, *, include_closed: bool = False) -> list[ExceptionRecord]:
        """Exception records (open ones only unless ``include_closed``), any order."""
        records = [
            record
            for record in self._check().exceptions.values()
            if include_closed or record.is_open
        ]
        return sorted(records, key=lambda r: (r.created_at, r.lead_id))

    # ------------------------------------------------------------------ outbox

    def add_message(self, message: OutboxMessage) -> None:
        """Queue a message. Raises Conflict if its id exists."""
        data = self._check()
        message_id = message.message_id
        if message_id in data.messages:
            raise Conflict(f"message {message_id} already exists")
        data.swap_message(message_id, message)
        self._undo.append(lambda: data.swap_message(message_id, None))

    def add_messages(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages, as :meth:`add_message` for each; if one is refused, none is."""
        self._check()

        def add_all() -> None:
            for message in messages:
                self.add_message(message)

        self._all_or_nothing(add_all)

    def update_message(self, message: OutboxMessage) -> None:
        """Replace a queued message (status, attempts). Raises NotFound."""
        data = self._check()
        message_id = message.message_id
        if message_id not in data.messages:
            raise NotFound(f"message {message_id} does not exist")
        old = data.swap_message(message_id, message)
        self._undo.append(lambda: data.swap_message(message_id, old))

    def messages(self, *, status: OutboxStatus | None = None) -> list[OutboxMessage]:
        """Messages with this status (all if ``None``), oldest first.

        Oldest means earliest ``created_at``; messages created at the same
        moment come in the order they were added.
        """
        data = self._check()
        if status is None:
            rows = list(data.messages.values())
        else:
            ids = data.messages_by_status.get(status, set())
            rows = [data.messages[message_id] for message_id in ids]
        rows.sort(key=lambda row: (row[1].created_at, row[0]))
        return [message for _, message in rows]


class MemoryStore:
    """A :class:`~leadflow.storage.Store` kept in memory, for tests and demos.

    Thread-safe: one lock, held by a unit of work for its whole duration, so
    units of work run one at a time. A unit of work may not be opened inside
    another on the same thread (that is a :class:`~leadflow.errors.ConfigError`,
    where a database would wait for itself). After :meth:`close`, every use
    raises ``ConfigError("store is closed")``.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._data = _Data()
        self._closed = False
        self._in_unit_of_work = False

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("store is closed")

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """A transaction: commits when the block ends, rolls back if it raises."""
        self._check_open()
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[UnitOfWork]:
        with self._lock:
            self._check_open()
            if self._in_unit_of_work:
                raise ConfigError(
                    "a unit of work is already open in this thread: "
                    "finish it before opening another"
                )
            self._in_unit_of_work = True
            uow = _MemoryUnitOfWork(self._data)
            try:
                yield uow
            except BaseException:
                uow._rollback()
                raise
            else:
                uow._commit()
            finally:
                uow._end()
                self._in_unit_of_work = False

    def close(self) -> None:
        """Drop the data; later use raises ``ConfigError("store is closed")``.

        Waits for a unit of work another thread has open. Closing twice is harmless.
        """
        with self._lock:
            self._closed = True
            self._data = _Data()
