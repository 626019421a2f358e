"""The storage contract: the tests every :class:`~leadflow.storage.Store` must pass.

:class:`StoreContract` is a plain class of pytest tests. It is not collected
by itself (its name does not start with ``Test``); a subclass runs it against
one store by overriding the ``store`` fixture, which yields a fresh, empty
store and closes it afterwards::

    import pytest

    from leadflow.testing.contract import StoreContract
    from myapp.leadstore import PostgresLeadStore


    class TestPostgresLeadStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = PostgresLeadStore(dsn=..., schema=f"test_{tmp_path.name}")
            yield store
            store.close()

leadflow's own backends run it this way (``tests/test_memory_store.py``
runs it on MemoryStore and on a small wrapper store, the way a host would),
and so should a host's own adapter. The tests use only the protocol of
:mod:`leadflow.storage.protocol`, never a backend's internals. They check:

* units of work: everything written in one commits together, or rolls back
  together when the block raises (leads, contacts, events, cursors,
  exception records, messages, configurations), and the exception comes out
  unchanged; a unit of work reads its own writes;
* optimistic concurrency: ``add_lead`` stores version 1, each
  ``update_lead`` adds one, a stale version is a ``Conflict`` that changes
  nothing;
* uniqueness: duplicate lead, contact and message ids and a duplicate
  (source, external id) are a ``Conflict`` whose message names the key;
* every query, exactly as the protocol's docstrings say (lead ids by prefix
  with ``%`` and ``_`` taken literally); ``NotFound`` for a missing record;
* values, not rows: any lead, contact, event, record, message and
  configuration reads back equal to what was written (with hypothesis for
  leads and contacts).

The builders below (:func:`make_lead`, :func:`make_contact`,
:func:`make_record`, :func:`make_message`, :func:`make_config`,
:func:`lifecycle`) make small valid values, and :func:`run` and
:func:`rolled_back` open units of work; a host may use them in its own
storage tests too. The suite needs the testing extra (``pip install
'leadflow[testing]'``: pytest and hypothesis).
"""

from __future__ import annotations

import pytest

from leadflow.storage.protocol import Store
from leadflow.testing.contract import builders
from leadflow.testing.contract.builders import *
from leadflow.testing.contract.queries import QueriesContract
from leadflow.testing.contract.units import UnitsOfWorkContract

__all__ = ["StoreContract", *builders.__all__]


class StoreContract(UnitsOfWorkContract, QueriesContract):
    """The tests every store passes. Subclass it and override the ``store`` fixture.

    The fixture yields a fresh, empty store and closes it when the test is
    done. Every test opens its own units of work on it and uses only the
    :mod:`~leadflow.storage.protocol`.
    """

    @pytest.fixture
    def store(self) -> Store:
        """Override: yield a fresh, empty store, and close it afterwards."""
        pytest.fail(f"{type(self).__name__} must override the 'store' fixture")
