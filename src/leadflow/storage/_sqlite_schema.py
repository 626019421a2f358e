"""The SQLite store's schema: its migrations, one per version, and the statements it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadflow.events import AssignmentMethod

if TYPE_CHECKING:
    pass


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
