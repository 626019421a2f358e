"""The command line, driven through click's CliRunner."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from leadflow import __version__
from leadflow.cli import cli


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"leadflow, version {__version__}\n"
    assert __version__ != "0.0.0"  # installed metadata is found


def test_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "capture, route, work, age and report" in result.output


def test_console_script_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from leadflow.cli import main; main()", "--version"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0
    assert __version__ in out.stdout
