"""leadflow: a lead-management engine for mortgage and real-estate CRMs.

The pure core -- :mod:`leadflow.model`, :mod:`leadflow.validate`,
:mod:`leadflow.events` -- takes values and returns values; it never reads the
clock, opens a file or talks to a database. See ``docs/architecture.md``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("leadflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
