"""Tools for testing leadflow and a host's configuration of it.

* :mod:`leadflow.testing.strategies` -- hypothesis strategies for leads,
  raw rows (valid and invalid), users and teams.

These modules need the ``test`` extra (``pip install 'leadflow[test]'``),
which brings hypothesis; the rest of leadflow does not.
"""
