"""The embedded default store: one SQLite file (stdlib :mod:`sqlite3` only).

:class:`SQLiteStore` keeps leadflow values as JSON documents
(:mod:`leadflow.storage.codec`) beside the few columns its queries need, so
that a lead reads back equal to the lead written, while the lookups a
command makes (by id, external id, contact key, assignee, due time) run on
an index.

* **File and connections.** A new file is created with mode ``0600``
  (owner read and write only, whatever the umask), and SQLite gives its
  ``-wal`` and ``-shm`` files the same mode; an existing file keeps the mode
  its owner gave it. The file is opened in WAL mode (``journal_mode=WAL``,
  ``foreign_keys=ON``): readers never wait for the writer. Each connection
  keeps a page cache of ``cache_mb`` MiB (16 unless told) and checkpoints
  the WAL every 10,000 pages. Each thread gets its own connection, opened
  on first use.
* **Durability** is the store's :class:`Synchronous` setting, saved in the
  file (table ``settings``) so that every process opening it uses it:
  ``normal`` (the default, ``PRAGMA synchronous=NORMAL``: a commit costs no
  fsync; a power loss or an operating system crash may lose the last
  commits, a process crash loses nothing, and the file is never corrupted)
  or ``full`` (``synchronous=FULL``: each commit waits for the WAL to reach
  the disk).
* **Transactions.** Every unit of work starts with ``BEGIN IMMEDIATE``, which
  takes the write lock at once: the units of work of all threads and
  processes on one file run one after another, so a read-modify-write is
  never interleaved. A unit of work waits up to ``busy_timeout`` seconds for
  the lock, then fails with :class:`~leadflow.errors.Conflict`. The block
  ending commits; an exception rolls back and propagates unchanged.
* **Schema.** Its version is ``PRAGMA user_version``; opening a file applies
  the missing forward migrations in order, each in its own transaction, and
  refuses (:class:`~leadflow.errors.ConfigError`) a file written by a newer
  leadflow.
* **Tables.** ``config`` (the current document) and ``config_history``;
  ``contacts`` (indexed on email and phone); ``leads`` (indexed on assignee
  and stage, stage, ``next_change_at``, contact, and unique on (source,
  external id)); ``activity`` (append-only, indexed on lead and time);
  ``exceptions``; ``cursors``; ``outbox`` (indexed on status and time);
  ``settings`` (the store's own settings, by name).
* **Numbers for references.** Contacts and leads carry a ``seq`` that grows
  with each insert; a lead refers to its contact, and an event to its lead,
  by that number (``contact_seq``, ``lead_seq``) as well as by id. Ids made at
  one moment sort at random, numbers in the order written: the indexes on
  them grow at the end, which is what keeps a bulk import from rewriting
  pages all over them. A lead or event written before its contact or lead
  was stored has no number and is found by its id (a small partial index).
* **Moments in columns** (``next_change_at``, ``at``, ``created_at``,
  ``assigned_at``) are UTC text of fixed width
  (``2026-03-10T15:00:00.000000+00:00``), whose text order is time order; the
  JSON documents keep each moment's own offset.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn
from uuid import UUID

from leadflow.errors import ConfigError, Conflict, FieldError, NotFound, ValidationError
from leadflow.events import AssignmentMethod, Event
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
from leadflow.storage.protocol import LeadGrouping, OutboxMessage, OutboxStatus, lead_id_range

if TYPE_CHECKING:
    from leadflow.storage.protocol import Store, UnitOfWork

__all__ = ["FILE_MODE", "SCHEMA_VERSION", "SQLiteStore", "SQLiteUnitOfWork", "Synchronous"]


class Synchronous(enum.StrEnum):
    """How long a commit waits for the disk: SQLite's ``PRAGMA synchronous`` in WAL mode.

    ``NORMAL`` (the default): a commit is written to the WAL without an
    fsync; a power loss or an operating system crash may lose the last
    commits (never corrupting the file), a crash of the process loses
    nothing. ``FULL``: each commit also waits for the WAL to reach the disk,
    so a commit that returned survives a power loss; each commit costs an
    fsync.
    """

    NORMAL = "normal"
    FULL = "full"


#: The mode of a database file the store creates, and so of its ``-wal`` and ``-shm``
#: files: the file holds names, emails and phones, for its owner alone.
FILE_MODE = 0o600


# --------------------------------------------------------------------------- schema

#: Forward migrations: entry ``n`` takes a file from version ``n`` to ``n + 1``.
#: Append new ones; never edit one that has shipped.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 0 -> 1: the first schema.
    (
        """CREATE TABLE config (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            doc TEXT NOT NULL
        )""",
        """CREATE TABLE config_history (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor INTEGER,
            doc TEXT NOT NULL
        )""",
        """CREATE TABLE contacts (
            contact_id TEXT PRIMARY KEY,
            owner_id INTEGER,
            email TEXT,
            phone TEXT,
            created_at TEXT NOT NULL,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX contacts_email ON contacts (email)",
        "CREATE INDEX contacts_phone ON contacts (phone)",
        """CREATE TABLE leads (
            lead_id TEXT PRIMARY KEY,
            contact_id TEXT NOT NULL,
            source TEXT NOT NULL,
            external_id TEXT,
            assignee_id INTEGER,
            stage TEXT NOT NULL,
            killed INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            assigned_at TEXT,
            assignment_method TEXT,
            next_change_at TEXT,
            version INTEGER NOT NULL,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX leads_assignee_stage ON leads (assignee_id, stage)",
        "CREATE INDEX leads_stage ON leads (stage)",
        "CREATE INDEX leads_next_change_at ON leads (next_change_at, lead_id)"
        " WHERE next_change_at IS NOT NULL",
        "CREATE UNIQUE INDEX leads_source_external_id ON leads (source, external_id)"
        " WHERE external_id IS NOT NULL",
        "CREATE INDEX leads_contact ON leads (contact_id)",
        """CREATE TABLE activity (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            lead_id TEXT,
            contact_id TEXT,
            kind TEXT NOT NULL,
            at TEXT NOT NULL,
            actor INTEGER,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX activity_lead ON activity (lead_id)",
        "CREATE INDEX activity_at ON activity (at)",
        """CREATE TABLE exceptions (
            lead_id TEXT PRIMARY KEY,
            open INTEGER NOT NULL,
            doc TEXT NOT NULL
        )""",
        """CREATE TABLE cursors (
            policy TEXT PRIMARY KEY,
            doc TEXT NOT NULL
        )""",
        """CREATE TABLE outbox (
            message_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX outbox_status ON outbox (status, created_at)",
    ),
    # 1 -> 2: leads and events point at their contact and lead by a number that grows with
    # each insert, so that their indexes grow at the end instead of at a random place
    # (ids made at one moment sort at random). Rows whose contact or lead was not stored
    # when they were written keep an index on the id.
    (
        "ALTER TABLE contacts ADD COLUMN seq INTEGER",
        "UPDATE contacts SET seq = rowid",
        "CREATE UNIQUE INDEX contacts_seq ON contacts (seq)",
        "ALTER TABLE leads ADD COLUMN seq INTEGER",
        "UPDATE leads SET seq = rowid",
        "CREATE UNIQUE INDEX leads_seq ON leads (seq)",
        "ALTER TABLE leads ADD COLUMN contact_seq INTEGER",
        "UPDATE leads SET contact_seq ="
        " (SELECT seq FROM contacts WHERE contacts.contact_id = leads.contact_id)",
        "DROP INDEX leads_contact",
        "CREATE INDEX leads_contact_seq ON leads (contact_seq)",
        "CREATE INDEX leads_contact ON leads (contact_id) WHERE contact_seq IS NULL",
        "ALTER TABLE activity ADD COLUMN lead_seq INTEGER",
        "UPDATE activity SET lead_seq ="
        " (SELECT seq FROM leads WHERE leads.lead_id = activity.lead_id)",
        "DROP INDEX activity_lead",
        "CREATE INDEX activity_lead_seq ON activity (lead_seq)",
        "CREATE INDEX activity_lead ON activity (lead_id) WHERE lead_seq IS NULL",
    ),
    # 2 -> 3: the store's own settings (``synchronous``), so that every process opening
    # the file uses them.
    ("CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",),
)

#: The schema version this code reads and writes.
SCHEMA_VERSION = len(_MIGRATIONS)

_ROUTED = (str(AssignmentMethod.ROUTING), str(AssignmentMethod.FALLBACK))
#: Per connection: a checkpoint every 10,000 pages (40 MiB) of WAL instead of every
#: 1,000: each checkpoint costs two fsyncs, and pages written again meanwhile are
#: copied once. The page cache is set from ``cache_mb``.
_TUNING = ("PRAGMA wal_autocheckpoint = 10000",)
#: The default page cache per connection, in MiB: imports of 100,000 leads run as
#: fast with 16 as with 64 (the pages they miss are in the operating system's cache).
DEFAULT_CACHE_MB = 16

#: The columns of a lead row, in the order of :meth:`SQLiteUnitOfWork._lead_row`.
_LEAD_COLUMNS = (
    "contact_id, source, external_id, assignee_id, stage, killed, created_at, assigned_at,"
    " assignment_method, next_change_at, version, doc, lead_id"
)
#: The number of the lead's contact (``?1`` is its id); ``NULL`` while it is not stored.
_CONTACT_SEQ = "(SELECT seq FROM contacts WHERE contact_id = ?1)"
_INSERT_LEAD = (
    f"INSERT INTO leads ({_LEAD_COLUMNS}, contact_seq, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
    f" ?8, ?9, ?10, ?11, ?12, ?13, {_CONTACT_SEQ}, (SELECT coalesce(max(seq), 0) + 1 FROM leads))"
)
_UPDATE_LEAD = (
    "UPDATE leads SET contact_id = ?1, source = ?2, external_id = ?3, assignee_id = ?4,"
    " stage = ?5, killed = ?6, created_at = ?7, assigned_at = ?8, assignment_method = ?9,"
    f" next_change_at = ?10, version = ?11, doc = ?12, contact_seq = {_CONTACT_SEQ}"
    " WHERE lead_id = ?13 AND version = ?14"
)
_INSERT_CONTACT = (
    "INSERT INTO contacts (owner_id, email, phone, created_at, doc, contact_id, seq)"
    " VALUES (?, ?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM contacts))"
)
#: ``?1`` is the lead id; the lead's number is ``NULL`` while it is not stored.
_INSERT_EVENT = (
    "INSERT INTO activity (lead_id, contact_id, kind, at, actor, doc, lead_seq)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT seq FROM leads WHERE lead_id = ?1))"
)
_INSERT_MESSAGE = "INSERT INTO outbox (status, created_at, doc, message_id) VALUES (?, ?, ?, ?)"
#: ``IN`` over a JSON array parameter: one prepared statement for any number of values.
_IN = "IN (SELECT value FROM json_each(?))"


# --------------------------------------------------------------------------- helpers


#: The last moment turned into a key, and its key (see codec._iso).
_last_key: tuple[datetime | None, str] = (None, "")


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


#: Plain values (str, int, StrEnum) to a JSON array, without the codec's converter.
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


def _is_locked(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "database is locked" in text or "database table is locked" in text


def _synchronous(value: object, where: str = "synchronous") -> Synchronous:
    """``value`` as a :class:`Synchronous` (``"normal"`` or ``"full"``, any case).

    Anything else is a :class:`~leadflow.errors.ConfigError` naming ``where``
    and the value (at most 200 characters of it).
    """
    if isinstance(value, str):
        try:
            return Synchronous(value.lower())
        except ValueError:
            pass
    shown = repr(value)
    if len(shown) > 200:
        shown = shown[:200] + f"... ({len(shown):,} characters)"
    allowed = ", ".join(repr(str(s)) for s in Synchronous)
    raise ConfigError(f"{where} = {shown}: must be one of {allowed}")


@contextlib.contextmanager
def _write_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """A transaction holding the write lock from its start: committed, or rolled back."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _create_file(path: str) -> None:
    """Create the database file ``path``, empty, with mode :data:`FILE_MODE`, if it is missing.

    The mode is set again after creating the file, so the umask cannot widen
    or narrow it. An existing file (or anything else at ``path``) is left as
    it is: opening it says what is wrong with it, if anything.
    """
    if path in ("", ":memory:"):  # SQLite's private temporary databases: no file
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except FileExistsError:
        return
    except OSError as exc:
        if os.path.lexists(path):
            return
        raise ConfigError(
            f"cannot open the leadflow database {path!r}: {exc.strerror or exc}"
        ) from None
    try:
        if os.name == "posix":
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


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
        self,
        *,
        emails: Collection[str] = (),
        phones: Collection[str] = (),
        owners: Collection[int] | None = None,
    ) -> list[Contact]:
        """Contacts whose email is in ``emails`` or whose cell phone is in ``phones``,
        owned by one of ``owners`` (``None``: anyone). Any order; empty if none."""
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


# --------------------------------------------------------------------------- the store


class SQLiteStore:
    """A :class:`~leadflow.storage.Store` in one SQLite file (see the module documentation).

    ``path`` is the database file, created if missing with mode ``0600``
    (:data:`FILE_MODE`, whatever the umask; its ``-wal`` and ``-shm`` files
    get the same mode from SQLite); an existing file keeps its mode. Opening
    it applies any pending schema migrations. ``busy_timeout`` is how many
    seconds a unit of work waits for another thread or process to finish
    writing before it fails with :class:`~leadflow.errors.Conflict`.
    ``cache_mb`` is the page cache of each connection, in MiB.

    ``synchronous`` (``"normal"`` or ``"full"``, see :class:`Synchronous`):
    ``None`` uses the setting saved in the file (``normal`` when none was
    saved). A value given is used by this store's connections; it is also
    saved in the file when this call created the store, and only then --
    :meth:`set_synchronous` changes the saved setting of an existing store.

    Raises :class:`~leadflow.errors.ConfigError` if the file cannot be opened,
    is not a database, or was written by a newer leadflow, or if
    ``synchronous`` or ``cache_mb`` is not a valid value.

    Thread-safe: each thread uses its own connection. A unit of work may not
    be opened inside another on the same thread (ConfigError). After
    :meth:`close`, every use raises ``ConfigError("store is closed")``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 30.0,
        cache_mb: int = DEFAULT_CACHE_MB,
        synchronous: Synchronous | str | None = None,
    ) -> None:
        if not isinstance(cache_mb, int) or cache_mb < 1:
            raise ConfigError(f"cache_mb = {cache_mb!r}: must be a whole number of MiB, 1 or more")
        given = None if synchronous is None else _synchronous(synchronous)
        self.path = os.fspath(path)
        self.busy_timeout = busy_timeout
        self.cache_mb = cache_mb
        self._synchronous = given or Synchronous.NORMAL
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = []
        self._closed = False
        try:
            _create_file(self.path)
            connection = self._connection()
            created = self._migrate(connection)
            if given is None:
                self._synchronous = self._saved_synchronous(connection)
            elif created:
                self._save_setting(connection, "synchronous", str(given))
            self._connection()  # this thread's connection takes the saved setting
        except BaseException:
            self.close()
            raise

    @property
    def synchronous(self) -> Synchronous:
        """The durability setting this store's connections use (see :class:`Synchronous`)."""
        return self._synchronous

    def set_synchronous(self, synchronous: Synchronous | str) -> Synchronous:
        """Save ``synchronous`` in the file and use it; returns the setting saved before.

        Every process that opens the store afterwards without its own
        ``synchronous`` uses it; this store's connections switch at their
        next unit of work (this thread's at once). Stores already open in
        other processes keep theirs until reopened. A bad value is a
        :class:`~leadflow.errors.ConfigError`; a database that stays locked,
        a :class:`~leadflow.errors.Conflict`. Not inside a unit of work.
        """
        setting = _synchronous(synchronous)
        connection = self._connection()
        before = self._saved_synchronous(connection)
        self._save_setting(connection, "synchronous", str(setting))
        self._synchronous = setting
        self._connection()
        return before

    # ------------------------------------------------------------------ connections

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        if self._closed:
            raise ConfigError("store is closed")
        local = self._local
        connection: sqlite3.Connection | None = getattr(local, "connection", None)
        if connection is None:
            connection = self._open()
            local.connection = connection
            local.synchronous = self._synchronous
        elif local.synchronous is not self._synchronous and not connection.in_transaction:
            # The setting changed since this connection was opened (set_synchronous).
            self._pragma(connection, f"PRAGMA synchronous = {self._synchronous.name}")
            local.synchronous = self._synchronous
        return connection

    def _pragma(self, connection: sqlite3.Connection, pragma: str) -> None:
        with self._database_errors("open"):
            connection.execute(pragma)

    def _open(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,  # close() may run on another thread
                cached_statements=256,
            )
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the leadflow database {self.path!r}: {exc}") from exc
        try:
            with self._database_errors("open"):
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute(f"PRAGMA synchronous = {self._synchronous.name}")
                for pragma in _TUNING:
                    connection.execute(pragma)
                connection.execute(f"PRAGMA cache_size = {-1024 * int(self.cache_mb)}")
                connection.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            connection.close()
            raise
        with self._lock:
            if self._closed:
                connection.close()
                raise ConfigError("store is closed")
            # Close the connections of threads that have ended.
            alive = []
            for thread_ref, other in self._connections:
                thread = thread_ref()
                if thread is None or not thread.is_alive():
                    other.close()
                else:
                    alive.append((thread_ref, other))
            alive.append((weakref.ref(threading.current_thread()), connection))
            self._connections = alive
        return connection

    @contextlib.contextmanager
    def _database_errors(self, doing: str) -> Iterator[None]:
        """SQLite's errors as leadflow's: a database that stayed locked is a Conflict,
        anything else a ConfigError saying what could not be done (``doing``: open, read...)."""
        try:
            yield
        except sqlite3.Error as exc:
            if _is_locked(exc):
                raise self._locked() from exc
            raise ConfigError(f"cannot {doing} the leadflow database {self.path!r}: {exc}") from exc

    def _locked(self) -> Conflict:
        """The error for a database that stayed locked for the whole busy timeout."""
        return Conflict(
            f"the database {self.path!r} stayed locked for {self.busy_timeout:g} s: "
            "another thread or process kept writing; try again"
        )

    # ------------------------------------------------------------------ schema

    def _migrate(self, connection: sqlite3.Connection) -> bool:
        """Bring the file to :data:`SCHEMA_VERSION`, one migration per transaction.

        Returns whether this call made the schema from nothing (a new store).
        """
        created = False
        with self._database_errors("prepare"):
            version = self._user_version(connection)
            while version < SCHEMA_VERSION:
                with _write_transaction(connection):
                    # Another process may have migrated while we waited for the lock.
                    version = self._user_version(connection)
                    if version < SCHEMA_VERSION:
                        for statement in _MIGRATIONS[version]:
                            connection.execute(statement)
                        created = created or version == 0
                        version += 1
                        connection.execute(f"PRAGMA user_version = {version}")
        return created

    # ------------------------------------------------------------------ settings

    def _saved_synchronous(self, connection: sqlite3.Connection) -> Synchronous:
        """The ``synchronous`` setting saved in the file; ``normal`` when none was saved."""
        with self._database_errors("read"):
            row = connection.execute(
                "SELECT value FROM settings WHERE name = 'synchronous'"
            ).fetchone()
        if row is None:
            return Synchronous.NORMAL
        return _synchronous(row[0], f"the setting synchronous saved in {self.path!r}")

    def _save_setting(self, connection: sqlite3.Connection, name: str, value: str) -> None:
        """Save the store setting ``name`` in its own transaction."""
        if connection.in_transaction:
            raise ConfigError(
                "a unit of work is open in this thread: finish it before changing a setting"
            )
        with self._database_errors("write"), _write_transaction(connection):
            connection.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def _user_version(self, connection: sqlite3.Connection) -> int:
        version: int = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"the leadflow database {self.path!r} has schema version {version}, newer "
                f"than this leadflow knows ({SCHEMA_VERSION}): upgrade leadflow to open it"
            )
        return version

    # ------------------------------------------------------------------ the protocol

    def unit_of_work(self) -> SQLiteUnitOfWork:
        """A transaction: commits when the block ends, rolls back if it raises."""
        return SQLiteUnitOfWork(self, self._connection())

    def close(self) -> None:
        """Close every connection the store opened; later use raises ConfigError.

        Closing twice is harmless. Close only when no unit of work is open.
        """
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for _, connection in connections:
            connection.close()


if TYPE_CHECKING:

    def _is_a_store(store: SQLiteStore) -> Store:
        return store

    def _is_a_unit_of_work(uow: SQLiteUnitOfWork) -> UnitOfWork:
        return uow
