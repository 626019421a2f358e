"""The README's embedding snippet type-checks with ``mypy --strict``, as a host's code would.

The snippet is read from README.md when the test runs, so it checks whatever
the README shows today. (tests/test_docs.py runs the README's commands and
examples.)
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EMBED_HEADING = "## Embed it in your CRM"


def python_block_under(heading: str, text: str) -> str:
    """The first ```python block of the README section that starts at ``heading``."""
    lines = text.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == heading)
    except StopIteration:
        raise AssertionError(f"README.md has no heading {heading!r}") from None
    rank = len(heading.split(" ", 1)[0])
    section: list[str] = []
    in_fence = False
    for line in lines[start + 1 :]:
        if line.startswith("```"):
            in_fence = not in_fence
        marks = line.split(" ", 1)[0]
        if not in_fence and set(marks) == {"#"} and len(marks) <= rank:  # the next heading
            break
        section.append(line)
    found = re.search(r"^```python\n(.*?)^```", "".join(section), flags=re.DOTALL | re.MULTILINE)
    assert found is not None, f"README.md has no ```python block under {heading!r}"
    return found.group(1)


def test_the_python_block_under_a_heading_is_found() -> None:
    text = (
        "# t\n\n## Other\n\n```python\nwrong = 1\n```\n\n"
        "## Embed it in your CRM\n\nSome words.\n\n```sh\nls\n```\n\n"
        "### A sub-heading\n\n```python\n# a comment, not a heading\nright = 2\n```\n\n"
        "## Next\n\n```python\nlater = 3\n```\n"
    )
    assert python_block_under(EMBED_HEADING, text) == "# a comment, not a heading\nright = 2\n"
    with pytest.raises(AssertionError, match="no ```python block"):
        python_block_under("## Next", "## Next\n\n```sh\nls\n```\n## After\n```python\nx\n```\n")
    with pytest.raises(AssertionError, match="no heading"):
        python_block_under("## Missing", text)


def test_the_readme_embedding_snippet_passes_mypy_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e '.[test]' brings it)")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = tmp_path / "embed_snippet.py"
    snippet.write_text(python_block_under(EMBED_HEADING, readme), encoding="utf-8")
    # The Python version leadflow's own code is checked for; no other configuration.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    config = tmp_path / "mypy.ini"
    config.write_text(
        f"[mypy]\npython_version = {pyproject['tool']['mypy']['python_version']}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(config),
            "--cache-dir",
            str(tmp_path / "mypy_cache"),
            str(snippet),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        f"the README's snippet under {EMBED_HEADING!r} fails mypy --strict:\n"
        f"{snippet.read_text(encoding='utf-8')}\n{result.stdout}{result.stderr}"
    )
