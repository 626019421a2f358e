"""Tools for testing leadflow and a host's configuration and adapters.

* :mod:`leadflow.testing.strategies` -- hypothesis strategies for leads,
  raw rows (valid and invalid), users and teams;
* :mod:`leadflow.testing.invariants` -- checkers for the rules every
  transition keeps (events explain every change, forward-only stages);
* :mod:`leadflow.testing.contract` -- the storage contract suite a host runs
  against its own :class:`~leadflow.storage.Store` adapter.

These modules need the ``testing`` extra (``pip install 'leadflow[testing]'``),
which brings hypothesis and pytest; the rest of leadflow does not.
"""
