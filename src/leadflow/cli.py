"""The ``leadflow`` command line: parses arguments, calls the library, prints.

No rule lives here; every command is a thin wrapper over a library call.
"""

from __future__ import annotations

import click

from leadflow import __version__

__all__ = ["cli", "main"]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Example: leadflow --version",
)
@click.version_option(__version__, "-V", "--version", prog_name="leadflow")
def cli() -> None:
    """leadflow: capture, route, work, age and report on sales leads."""


def main() -> None:
    """Entry point of the ``leadflow`` console script."""
    cli()
