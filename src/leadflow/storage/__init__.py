"""Where leads, contacts, activity and routing state are kept.

:class:`Store` is the protocol the application service needs from a
database: it hands out :class:`UnitOfWork` transactions in which everything a
command changes is written and committed together, or not at all. Stores
exchange leadflow values, never rows, and raise only
:class:`~leadflow.errors.LeadflowError` subclasses (``NotFound`` for a
missing record, ``Conflict`` for a stale version or a duplicate key).

Backends, one module each:

* :class:`MemoryStore` (:mod:`leadflow.storage.memory`) -- in memory, for
  tests and demos;
* :class:`SQLiteStore` (:mod:`leadflow.storage.sqlite`) -- one SQLite file,
  the embedded default. It is imported on first use, so ``import
  leadflow.storage`` does not load :mod:`sqlite3`.

A host plugs in its own database by implementing the protocol and running
:class:`leadflow.testing.contract.StoreContract` against it (see
``docs/storage.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leadflow.storage.memory import MemoryStore
from leadflow.storage.protocol import OutboxMessage, OutboxStatus, Store, UnitOfWork

if TYPE_CHECKING:
    # ``unused-ignore``: the ignore only matters while sqlite.py is not written yet.
    from leadflow.storage.sqlite import SQLiteStore  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "MemoryStore",
    "OutboxMessage",
    "OutboxStatus",
    "SQLiteStore",
    "Store",
    "UnitOfWork",
]


def __getattr__(name: str) -> Any:
    """Import :class:`SQLiteStore` lazily, on first access."""
    if name == "SQLiteStore":
        from leadflow.storage.sqlite import (  # type: ignore[import-not-found,unused-ignore]
            SQLiteStore,
        )

        globals()[name] = SQLiteStore
        return SQLiteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
