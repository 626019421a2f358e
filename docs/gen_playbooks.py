"""Regenerate the preset tables in docs/playbooks.md from the preset data.

Run: python docs/gen_playbooks.py   (tests/test_docs.py fails while it is stale)
"""

from __future__ import annotations

import sys
from pathlib import Path

from leadflow.stages.describe import playbook_markdown
from leadflow.stages.presets import PRESETS

BEGIN = "<!-- BEGIN GENERATED: presets (python docs/gen_playbooks.py) -->"
END = "<!-- END GENERATED: presets -->"
DOC = Path(__file__).with_name("playbooks.md")


def generated() -> str:
    return "\n".join(playbook_markdown(build()) for build in PRESETS.values())


def render(text: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{generated()}\n{END}{tail}"


if __name__ == "__main__":
    current = DOC.read_text(encoding="utf-8")
    updated = render(current)
    if updated != current:
        DOC.write_text(updated, encoding="utf-8")
        print(f"updated {DOC}")
    sys.exit(0)
