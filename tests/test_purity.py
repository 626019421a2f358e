"""The pure core imports no I/O, storage, CLI or cattrs code and never reads the clock.

``lint-imports`` (run by ``.ci/run``) enforces the layering statically; these
tests check what importing each core module really loads, and scan the core's
source for clock reads and file access. Both cover modules added later
(``stages``, ``queue``, ``routing``) without being edited.
"""

from __future__ import annotations

import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import leadflow

CORE_PREFIXES = (
    "leadflow.errors",
    "leadflow.ids",
    "leadflow.values",
    "leadflow.model",
    "leadflow.validate",
    "leadflow.events",
    "leadflow.stages",
    "leadflow.queue",
    "leadflow.routing",
    "leadflow.predicates",
    "leadflow.views",
    "leadflow.reports",
    "leadflow.automation",
)
FORBIDDEN = ("sqlite3", "click", "cattrs", "smtplib", "psycopg", "hypothesis")
EDGES = (
    "leadflow.storage",
    "leadflow.io",
    "leadflow.notify",
    "leadflow.command",
    "leadflow.intake",
    "leadflow.desk",
    "leadflow.batch",
    "leadflow.cli",
)


def core_modules() -> list[str]:
    names = [
        info.name
        for info in pkgutil.walk_packages(leadflow.__path__, "leadflow.")
        if info.name.startswith(CORE_PREFIXES)
    ]
    return sorted(names)


def test_the_core_modules_are_found() -> None:
    assert {"leadflow.model", "leadflow.validate", "leadflow.events"} <= set(core_modules())


def test_importing_the_core_loads_no_io_or_edge_module() -> None:
    modules = core_modules()
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    bad = sorted(
        name for name in loaded if name.split(".")[0] in FORBIDDEN or name.startswith(EDGES)
    )
    assert bad == []


CLOCK_OR_IO = re.compile(
    r"datetime\.now\(|datetime\.utcnow\(|date\.today\(|time\.time\(|time\.monotonic\(|"
    r"\bopen\(|os\.urandom\(|random\.|secrets\.|uuid\.uuid[14]\(|\bprint\("
)


@pytest.mark.parametrize("module", core_modules())
def test_the_core_reads_no_clock_and_opens_no_file(module: str) -> None:
    spec = __import__("importlib").util.find_spec(module)
    assert spec is not None
    assert spec.origin is not None
    source = Path(spec.origin).read_text(encoding="utf-8")
    assert CLOCK_OR_IO.findall(source) == []
