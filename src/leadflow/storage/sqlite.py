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
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING

from leadflow.errors import ConfigError, Conflict

if TYPE_CHECKING:
    from leadflow.storage.protocol import Store, UnitOfWork

from leadflow.storage._sqlite_schema import _MIGRATIONS, _TUNING, DEFAULT_CACHE_MB, SCHEMA_VERSION
from leadflow.storage._sqlite_uow import SQLiteUnitOfWork, _is_locked

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
