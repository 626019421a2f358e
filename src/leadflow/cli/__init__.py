"""The ``leadflow`` command line: parses arguments, calls the library, prints.

No rule lives here; every command is a thin wrapper over a library call
(:mod:`leadflow.batch`, :class:`~leadflow.desk.LeadDesk`, :mod:`leadflow.io`).
The commands are grouped by what they are for: :mod:`.setup` (init, config
check, template, demo), :mod:`.routing` (route), :mod:`.work` (a person's
queue and leads), :mod:`.admin` (assign, exceptions, advance, report).
Exit codes and the shared options are in :mod:`._common`; see ``docs/cli.md``.
"""

from __future__ import annotations

from leadflow.cli._common import cli

from . import admin, routing, setup, work

__all__ = ["cli", "main"]

_COMMANDS = (admin, routing, setup, work)  # registered on `cli` when imported


def main() -> None:
    """Entry point of the ``leadflow`` console script."""
    cli()
