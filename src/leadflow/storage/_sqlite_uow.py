"""The SQLite store's unit of work: one transaction on one connection."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn
from uuid import UUID

from leadflow.errors import ConfigError, Conflict, FieldError, NotFound, ValidationError
from leadflow.events import Event
from leadflow.model import Contact, Lead, with_version
from leadflow.org import OrgConfig
from leadflow.routing.engine import PolicyCursor
from leadflow.routing.exceptions import ExceptionRecord
from leadflow.storage.codec import (
    config_from_json,
    config_to_json,
    contact_from_json,
    contact_to_json,
    cursor_from_json,
    cursor_to_json,
    event_from_json,
    event_to_json,
    exception_from_json,
    exception_to_json,
    lead_from_json,
    lead_to_json,
    message_from_json,
    message_to_json,
    uuid_text,
)
from leadflow.storage.protocol import (
    LeadGrouping,
    OutboxMessage,
    OutboxStatus,
    Owners,
    lead_id_range,
)

if TYPE_CHECKING:
    pass

from leadflow.storage._sqlite_schema import (
    _CONTACT_SEQ,
    _IN,
    _INSERT_CONTACT,
    _INSERT_EVENT,
    _INSERT_LEAD,
    _INSERT_MESSAGE,
    _ROUTED,
    _UPDATE_LEAD,
)

if TYPE_CHECKING:
    from leadflow.storage.sqlite import SQLiteStore

#: The last moment turned into a key, and its key (see codec._iso).
_last_key: tuple[datetime | None, str] = (None, "")


def _is_locked(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "database is locked" in text or "database table is locked" in text


def _utc_key(name: str, moment: datetime) -> str:
    """``moment`` as fixed-width UTC text, whose text order is time order.

    ``name`` is the field named if ``moment`` is naive (a ValidationError).
    """
    global _last_key
    last = _last_key
    if last[0] is moment:
        return last[1]
    zone = moment.tzinfo
    if zone is UTC:
        key = moment.isoformat(timespec="microseconds")
    elif zone is None or moment.utcoffset() is None:
        raise ValidationError([FieldError(name, moment, "must be a timezone-aware datetime")])
    else:
        key = moment.astimezone(UTC).isoformat(timespec="microseconds")
    _last_key = (moment, key)
    return key


_encode_plain = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _json_list(values: Collection[str] | Collection[int]) -> str:
    return _encode_plain(values if isinstance(values, list) else list(values))


def _not_new(lead: Lead) -> ValidationError:
    """The error for adding a lead that is not at version 0."""
    return ValidationError(
        [
            FieldError(
                "version",
                lead.version,
                f"must be 0 to add lead {lead.lead_id}: a stored lead is changed with update_lead",
            )
        ]
    )


def _not_open(*_: object) -> NoReturn:
    raise ConfigError("this unit of work is not open: use it inside 'with store.unit_of_work()'")


def _ended(*_: object) -> NoReturn:
    raise ConfigError("this unit of work has ended: open a new one")


# --------------------------------------------------------------------------- unit of work


class SQLiteUnitOfWork:
    """One transaction on a :class:`SQLiteStore`; see :class:`~leadflow.storage.UnitOfWork`.

    Made by :meth:`SQLiteStore.unit_of_work` and used as a context manager:
    entering it starts the transaction (``BEGIN IMMEDIATE``), leaving it
    commits, or rolls back if the block raised.
    """

    def __init__(self, store: SQLiteStore, connection: sqlite3.Connection) -> None:
        self._store = store
        self._connection = connection
        # Bound to the connection while the transaction is open, else to a function
        # that says why not: no per-call check on the hot path.
        self._execute: Any = _not_open
        self._executemany: Any = _not_open

    # ------------------------------------------------------------------ transaction

    def __enter__(self) -> SQLiteUnitOfWork:
        connection = self._connection
        if connection.in_transaction:
            raise ConfigError(
                "a unit of work is already open in this thread: finish it before opening another"
            )
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise self._store._locked() from exc
            raise
        self._execute = connection.execute
        self._executemany = connection.executemany
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._execute = self._executemany = _ended
        connection = self._connection
        if exc is None:
            try:
                connection.execute("COMMIT")
            except sqlite3.Error as error:
                self._rollback()
                if _is_locked(error):
                    raise self._store._locked() from error
                raise
            return
        self._rollback()
        if isinstance(exc, sqlite3.OperationalError) and _is_locked(exc):
            raise self._store._locked() from exc

    def _rollback(self) -> None:
        connection = self._connection
        if connection.in_transaction:  # SQLite may have rolled back by itself
            with suppress(sqlite3.Error):  # only if the connection is broken
                connection.execute("ROLLBACK")

    # ------------------------------------------------------------------ configuration

    def load_config(self) -> OrgConfig | None:
        """The stored organisation configuration, or ``None`` if none was saved yet."""
        row = self._execute("SELECT doc FROM config WHERE id = 1").fetchone()
        return None if row is None else config_from_json(row[0])

    def save_config(self, config: OrgConfig, *, actor: int | None, at: datetime) -> None:
        """Replace the configuration; the previous one is kept in the change history."""
        _utc_key("at", at)
        doc = config_to_json(config)
        self._execute(
            "INSERT INTO config (id, doc) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
            (doc,),
        )
        self._execute(
            "INSERT INTO config_history (at, actor, doc) VALUES (?, ?, ?)",
            (at.isoformat(), actor, doc),
        )

    def config_history(self) -> list[tuple[datetime, int | None, OrgConfig]]:
        """Every saved configuration, oldest first, with when and by whom. Empty if none."""
        rows = self._execute("SELECT at, actor, doc FROM config_history ORDER BY seq")
        return [
            (datetime.fromisoformat(at), actor, config_from_json(doc)) for at, actor, doc in rows
        ]

    # ------------------------------------------------------------------ leads

    def get_lead(self, lead_id: UUID) -> Lead:
        """The lead with this id, with its stored ``version``. Raises NotFound."""
        row = self._execute("SELECT doc FROM leads WHERE lead_id = ?", (str(lead_id),)).fetchone()
        if row is None:
            raise NotFound(f"lead {lead_id} does not exist")
        return lead_from_json(row[0])

    def find_lead(self, source: str, external_id: str) -> Lead | None:
        """The lead imported from ``source`` with this external id, or ``None``."""
        row = self._execute(
            "SELECT doc FROM leads WHERE source = ? AND external_id = ?", (source, external_id)
        ).fetchone()
        return None if row is None else lead_from_json(row[0])

    def find_leads_by_external_ids(
        self, source: str, external_ids: Collection[str]
    ) -> dict[str, Lead]:
        """The leads imported from ``source`` with these external ids, keyed by external id.

        Ids without a lead are absent; an empty ``external_ids`` gives an empty dict.
        """
        if not external_ids:
            return {}
        rows = self._execute(
            f"SELECT external_id, doc FROM leads WHERE source = ? AND external_id {_IN}",
            (source, _json_list(external_ids)),
        )
        return {external_id: lead_from_json(doc) for external_id, doc in rows}

    def _bulk(self, sql: str, rows: list[tuple[Any, ...]], one_by_one: Callable[[], None]) -> None:
        """``executemany(sql, rows)``: all rows or none.

        A constraint error undoes the rows already inserted, then ``one_by_one``
        inserts them again one at a time to raise the error of the first
        refused row (its inserts are undone too).
        """
        execute = self._execute
        execute("SAVEPOINT leadflow_bulk")
        try:
            self._executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            execute("ROLLBACK TO leadflow_bulk")
            try:
                one_by_one()
            finally:
                execute("ROLLBACK TO leadflow_bulk")
                execute("RELEASE leadflow_bulk")
            raise Conflict(str(exc)) from None  # one_by_one found no culprit: report SQLite's
        except BaseException:
            execute("ROLLBACK TO leadflow_bulk")
            execute("RELEASE leadflow_bulk")
            raise
        execute("RELEASE leadflow_bulk")

    @staticmethod
    def _lead_row(
        lead: Lead, next_change_at: datetime | None, *, version: int | None = None
    ) -> tuple[Any, ...]:
        """The columns of ``lead``, ending with its id.

        ``lead`` is at its new version, or ``version`` is the version to store it at.
        """
        assigned_at = lead.assigned_at
        if version is None:
            version = lead.version
        return (
            uuid_text(lead.contact_id),
            lead.attributes.source,
            lead.attributes.external_id,
            lead.assignee_id,
            lead.stage,
            lead.killed_at is not None,
            _utc_key("created_at", lead.created_at),
            None if assigned_at is None else _utc_key("assigned_at", assigned_at),
            lead.assignment_method,
            None if next_change_at is None else _utc_key("next_change_at", next_change_at),
            version,
            lead_to_json(lead, version=version),
            uuid_text(lead.lead_id),
        )

    def _duplicate(self, lead: Lead, exc: sqlite3.IntegrityError) -> Conflict:
        if "leads.lead_id" in str(exc):
            return Conflict(f"lead {lead.lead_id} already exists")
        source, external_id = lead.attributes.source, lead.attributes.external_id
        row = self._execute(
            "SELECT lead_id FROM leads WHERE source = ? AND external_id = ?",
            (source, external_id),
        ).fetchone()
        holder = "" if row is None else f" (lead {row[0]})"
        return Conflict(
            f"lead source {source!r} already has a lead with external id {external_id!r}{holder}"
        )

    def add_lead(self, lead: Lead, *, next_change_at: datetime | None) -> Lead:
        """Store a new lead; returns it with ``version`` 1.

        ``lead.version`` must be 0 (else ValidationError). Raises Conflict if
        the lead id exists, or if another lead of the same source has the
        same external id. ``next_change_at`` is indexed for :meth:`due_leads`.
        """
        if lead.version != 0:
            raise _not_new(lead)
        stored = with_version(lead, 1)
        try:
            self._execute(_INSERT_LEAD, self._lead_row(stored, next_change_at))
        except sqlite3.IntegrityError as exc:
            raise self._duplicate(lead, exc) from None
        return stored

    def add_leads(self, leads: Sequence[tuple[Lead, datetime | None]]) -> None:
        """Store new leads, each with its ``next_change_at``, at ``version`` 1.

        As :meth:`add_lead` for each pair, in order, with one statement for
        all; if one is refused, none is stored.
        """
        rows: list[tuple[Any, ...]] = []
        for lead, next_change_at in leads:
            if lead.version != 0:
                raise _not_new(lead)
            rows.append(self._lead_row(lead, next_change_at, version=1))
        if rows:

            def one_by_one() -> None:
                for lead, next_change_at in leads:
                    self.add_lead(lead, next_change_at=next_change_at)

            self._bulk(_INSERT_LEAD, rows, one_by_one)

    def update_lead(self, lead: Lead, *, next_change_at: datetime | None) -> Lead:
        """Store a changed lead; returns it with ``version`` one higher.

        Raises NotFound if it was never stored, and Conflict if the stored
        version is not ``lead.version`` (someone else changed it first), or if
        the lead now has another lead's (source, external id).
        """
        stored = with_version(lead, lead.version + 1)
        try:
            cursor = self._execute(
                _UPDATE_LEAD, (*self._lead_row(stored, next_change_at), lead.version)
            )
        except sqlite3.IntegrityError as exc:
            raise self._duplicate(lead, exc) from None
        if cursor.rowcount == 0:
            row = self._execute(
                "SELECT version FROM leads WHERE lead_id = ?", (str(lead.lead_id),)
            ).fetchone()
            if row is None:
                raise NotFound(f"lead {lead.lead_id} does not exist")
            raise Conflict(
                f"lead {lead.lead_id} was changed by someone else "
                f"(stored version {row[0]}, yours {lead.version}): read it again and retry"
            )
        return stored

    def _leads(self, sql: str, parameters: Sequence[Any] = ()) -> list[Lead]:
        return [lead_from_json(doc) for (doc,) in self._execute(sql, parameters)]

    def leads_of_assignee(
        self, user_id: int, *, exclude_stages: Collection[str] = ()
    ) -> list[Lead]:
        """Leads assigned to ``user_id``, not killed, not in ``exclude_stages``. Any order."""
        if not exclude_stages:
            return self._leads(
                "SELECT doc FROM leads WHERE assignee_id = ? AND NOT killed", (user_id,)
            )
        return self._leads(
            f"SELECT doc FROM leads WHERE assignee_id = ? AND NOT killed AND stage NOT {_IN}",
            (user_id, _json_list(exclude_stages)),
        )

    def pool_leads(
        self, *, pool_stages: Collection[str] = (), exclude_stages: Collection[str] = ()
    ) -> list[Lead]:
        """Leads nobody holds, plus held leads in ``pool_stages``; never killed ones or
        those in ``exclude_stages``. Any order; empty list if none."""
        excluded = _json_list(exclude_stages)
        sql = f"SELECT doc FROM leads WHERE assignee_id IS NULL AND NOT killed AND stage NOT {_IN}"
        if not pool_stages:
            return self._leads(sql, (excluded,))
        return self._leads(
            f"{sql} UNION ALL SELECT doc FROM leads WHERE stage {_IN}"
            f" AND assignee_id IS NOT NULL AND NOT killed AND stage NOT {_IN}",
            (excluded, _json_list(pool_stages), excluded),
        )

    def due_leads(self, now: datetime, *, limit: int | None = None) -> list[Lead]:
        """Leads whose ``next_change_at`` is at or before ``now``, earliest first."""
        return self._leads(
            "SELECT doc FROM leads WHERE next_change_at <= ?"
            " ORDER BY next_change_at, lead_id LIMIT ?",
            (_utc_key("now", now), -1 if limit is None else max(limit, 0)),
        )

    def leads_of_contact(self, contact_id: UUID) -> list[Lead]:
        """The contact's leads, oldest first; empty if none."""
        return self._leads(
            f"SELECT doc FROM leads WHERE contact_seq = {_CONTACT_SEQ}"
            " OR (contact_seq IS NULL AND contact_id = ?1) ORDER BY created_at, lead_id",
            (uuid_text(contact_id),),
        )

    def lead_ids_with_prefix(self, prefix: str, *, limit: int) -> list[UUID]:
        """The ids of stored leads whose canonical text starts with ``prefix``, ascending,
        at most ``limit``; see :meth:`leadflow.storage.UnitOfWork.lead_ids_with_prefix`.

        One range search on the primary key's index (``lead_id`` holds the
        canonical text, whose order is the ids' order), never a ``LIKE``.
        """
        bounds = lead_id_range(prefix)
        if bounds is None or limit <= 0:
            return []
        rows = self._execute(
            "SELECT lead_id FROM leads WHERE lead_id >= ? AND lead_id <= ?"
            " ORDER BY lead_id LIMIT ?",
            (str(bounds[0]), str(bounds[1]), limit),
        )
        return [UUID(lead_id) for (lead_id,) in rows]

    def count_leads(self) -> int:
        """How many leads are stored."""
        count: int = self._execute("SELECT COUNT(*) FROM leads").fetchone()[0]
        return count

    def lead_counts(self, by: LeadGrouping) -> dict[str | int | None, int]:
        """Stored leads per source, stage or assignee; see the protocol."""
        column = {"source": "source", "stage": "stage", "assignee_id": "assignee_id"}[by]
        counts: dict[str | int | None, int] = dict(
            self._execute(f"SELECT {column}, COUNT(*) FROM leads GROUP BY {column}")
        )
        return counts

    def contact_counts_by_owner(self) -> dict[int, int]:
        """Stored contacts per owner; contacts with no owner are not counted."""
        counts: dict[int, int] = dict(
            self._execute(
                "SELECT owner_id, COUNT(*) FROM contacts WHERE owner_id IS NOT NULL"
                " GROUP BY owner_id"
            )
        )
        return counts

    def routed_counts(self, user_ids: Collection[int], *, since: datetime) -> dict[int, int]:
        """Per user, leads assigned by routing (``routing`` or ``fallback``) at or after
        ``since`` and still assigned to them. Users with none are absent."""
        key = _utc_key("since", since)
        if not user_ids:
            return {}
        rows = self._execute(
            f"SELECT assignee_id, COUNT(*) FROM leads WHERE assignee_id {_IN}"
            " AND assignment_method IN (?, ?) AND assigned_at >= ? GROUP BY assignee_id",
            (_json_list(user_ids), *_ROUTED, key),
        )
        return dict(rows)

    def open_counts(
        self, user_ids: Collection[int], *, exclude_stages: Collection[str] = ()
    ) -> dict[int, int]:
        """Per user, leads assigned to them, not killed and not in ``exclude_stages``.

        Users with none are absent (read the result with ``.get(user_id, 0)``).
        """
        if not user_ids:
            return {}
        rows = self._execute(
            f"SELECT assignee_id, COUNT(*) FROM leads WHERE assignee_id {_IN}"
            f" AND NOT killed AND stage NOT {_IN} GROUP BY assignee_id",
            (_json_list(user_ids), _json_list(exclude_stages)),
        )
        return dict(rows)

    # ------------------------------------------------------------------ contacts

    def get_contact(self, contact_id: UUID) -> Contact:
        """The contact with this id. Raises NotFound."""
        row = self._execute(
            "SELECT doc FROM contacts WHERE contact_id = ?", (str(contact_id),)
        ).fetchone()
        if row is None:
            raise NotFound(f"contact {contact_id} does not exist")
        return contact_from_json(row[0])

    @staticmethod
    def _contact_row(contact: Contact) -> tuple[Any, ...]:
        return (
            contact.owner_id,
            contact.details.email,
            contact.details.cell_phone,
            _utc_key("created_at", contact.created_at),
            contact_to_json(contact),
            uuid_text(contact.contact_id),
        )

    def add_contact(self, contact: Contact) -> None:
        """Store a new contact. Raises Conflict if the id exists."""
        try:
            self._execute(_INSERT_CONTACT, self._contact_row(contact))
        except sqlite3.IntegrityError:
            raise Conflict(f"contact {contact.contact_id} already exists") from None

    def add_contacts(self, contacts: Sequence[Contact]) -> None:
        """Store new contacts, as :meth:`add_contact` for each; if one is refused, none is."""
        rows = [self._contact_row(contact) for contact in contacts]
        if rows:

            def one_by_one() -> None:
                for contact in contacts:
                    self.add_contact(contact)

            self._bulk(_INSERT_CONTACT, rows, one_by_one)

    def update_contact(self, contact: Contact) -> None:
        """Replace a stored contact. Raises NotFound if it was never stored."""
        cursor = self._execute(
            "UPDATE contacts SET owner_id = ?, email = ?, phone = ?, created_at = ?, doc = ?"
            " WHERE contact_id = ?",
            self._contact_row(contact),
        )
        if cursor.rowcount == 0:
            raise NotFound(f"contact {contact.contact_id} does not exist")

    def find_contacts(
        self, *, emails: Collection[str] = (), phones: Collection[str] = (), owners: Owners = None
    ) -> list[Contact]:
        if not emails and not phones:
            return []
        sql = f"SELECT doc FROM contacts WHERE (email {_IN} OR phone {_IN})"
        parameters = [_json_list(emails), _json_list(phones)]
        if owners is not None:
            if not owners:
                return []
            sql += f" AND owner_id {_IN}"
            parameters.append(_json_list(owners))
        return [contact_from_json(doc) for (doc,) in self._execute(sql, parameters)]

    # ------------------------------------------------------------------ routing state

    def cursors(self) -> dict[str, PolicyCursor]:
        """Every stored policy cursor by policy key; empty if none."""
        rows = self._execute("SELECT policy, doc FROM cursors")
        return {policy: cursor_from_json(doc) for policy, doc in rows}

    def save_cursor(self, policy: str, cursor: PolicyCursor) -> None:
        """Store a policy's cursor (replacing the previous one)."""
        self._execute(
            "INSERT INTO cursors (policy, doc) VALUES (?, ?)"
            " ON CONFLICT (policy) DO UPDATE SET doc = excluded.doc",
            (policy, cursor_to_json(cursor)),
        )

    # ------------------------------------------------------------------ activity

    def append_events(self, events: Sequence[Event]) -> None:
        """Append to the activity log, in order."""
        rows = []
        for event in events:
            lead_id = getattr(event, "lead_id", None)
            contact_id = getattr(event, "contact_id", None)
            rows.append(
                (
                    None if lead_id is None else uuid_text(lead_id),
                    None if contact_id is None else uuid_text(contact_id),
                    event.kind,
                    _utc_key("at", event.at),
                    event.actor,
                    event_to_json(event),
                )
            )
        self._executemany(_INSERT_EVENT, rows)

    def history(self, lead_id: UUID) -> list[Event]:
        """The lead's events (and notes tied to it) in the order they were appended."""
        rows = self._execute(
            "SELECT kind, doc FROM activity WHERE lead_seq = (SELECT seq FROM leads WHERE"
            " lead_id = ?1) OR (lead_seq IS NULL AND lead_id = ?1) ORDER BY seq",
            (uuid_text(lead_id),),
        )
        return [event_from_json(kind, doc) for kind, doc in rows]

    def activity(self, *, start: datetime, end: datetime) -> list[Event]:
        """Every event with ``start <= at < end``, in the order appended."""
        rows = self._execute(
            "SELECT kind, doc FROM activity WHERE at >= ? AND at < ? ORDER BY seq",
            (_utc_key("start", start), _utc_key("end", end)),
        )
        return [event_from_json(kind, doc) for kind, doc in rows]

    # ------------------------------------------------------------------ exceptions

    def put_exception(self, record: ExceptionRecord) -> None:
        """Store or replace the exception record of ``record.lead_id``."""
        self._execute(
            "INSERT INTO exceptions (lead_id, open, doc) VALUES (?, ?, ?)"
            " ON CONFLICT (lead_id) DO UPDATE SET open = excluded.open, doc = excluded.doc",
            (str(record.lead_id), record.is_open, exception_to_json(record)),
        )

    def get_exception(self, lead_id: UUID) -> ExceptionRecord:
        """The lead's exception record. Raises NotFound."""
        row = self._execute(
            "SELECT doc FROM exceptions WHERE lead_id = ?", (str(lead_id),)
        ).fetchone()
        if row is None:
            raise NotFound(f"lead {lead_id} has no exception record")
        return exception_from_json(row[0])

    def exceptions(self, *, include_closed: bool = False) -> list[ExceptionRecord]:
        """Exception records (open ones only unless ``include_closed``), any order."""
        sql = "SELECT doc FROM exceptions" + ("" if include_closed else " WHERE open")
        return [exception_from_json(doc) for (doc,) in self._execute(sql)]

    # ------------------------------------------------------------------ outbox

    def add_message(self, message: OutboxMessage) -> None:
        """Queue a message. Raises Conflict if its id exists."""
        try:
            self._execute(_INSERT_MESSAGE, self._message_row(message))
        except sqlite3.IntegrityError:
            raise Conflict(f"message {message.message_id} already exists") from None

    def add_messages(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages, as :meth:`add_message` for each; if one is refused, none is."""
        rows = [self._message_row(message) for message in messages]
        if rows:

            def one_by_one() -> None:
                for message in messages:
                    self.add_message(message)

            self._bulk(_INSERT_MESSAGE, rows, one_by_one)

    def update_message(self, message: OutboxMessage) -> None:
        """Replace a queued message (status, attempts). Raises NotFound."""
        cursor = self._execute(
            "UPDATE outbox SET status = ?, created_at = ?, doc = ? WHERE message_id = ?",
            self._message_row(message),
        )
        if cursor.rowcount == 0:
            raise NotFound(f"message {message.message_id} does not exist")

    @staticmethod
    def _message_row(message: OutboxMessage) -> tuple[Any, ...]:
        return (
            str(message.status),
            _utc_key("created_at", message.created_at),
            message_to_json(message),
            uuid_text(message.message_id),
        )

    def messages(self, *, status: OutboxStatus | None = None) -> list[OutboxMessage]:
        """Messages with this status (all if ``None``), oldest first.

        Oldest means earliest ``created_at``; messages created at the same
        moment come in the order they were added.
        """
        if status is None:
            rows = self._execute("SELECT doc FROM outbox ORDER BY created_at, rowid")
        else:
            rows = self._execute(
                "SELECT doc FROM outbox WHERE status = ? ORDER BY created_at, rowid",
                (str(status),),
            )
        return [message_from_json(doc) for (doc,) in rows]
