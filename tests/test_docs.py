"""The README's commands and examples, and the examples/ scripts, work as written."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_readme_python_example_prints_what_the_readme_says() -> None:
    (code,) = [block for block in fenced(README, "python") if "validate_row" in block]
    (expected,) = fenced(README, "text")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue() == expected


def test_readme_test_command_is_the_one_ci_runs() -> None:
    commands = fenced(README, "sh")
    test_command = next(c.strip() for c in commands if "pytest" in c)
    assert test_command == (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    )
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for step in ("python3 -m venv", ".venv/bin/pip install --quiet -e '.[test]'"):
        assert step in ci
    assert ci.rstrip().endswith(".venv/bin/python -m pytest")


def test_readme_install_command_runs_the_demo() -> None:
    install = next(c.strip() for c in fenced(README, "sh") if "pytest" not in c)
    assert (
        install == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/leadflow demo"
    )


def test_the_embedding_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "embed_in_your_crm.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    assert "routed to" in out
    assert "referral" in out
    assert "2 assignment email(s) sent" in out


def test_validate_csv_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "validate_csv.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[-1] == "4 accepted, 2 refused"
    assert "row 1: ok Annie Quince <annie.quince@example.com>" in lines[0]
    assert any(line.startswith("row 4: REFUSED property_zip = '2134'") for line in lines)
    assert any(line.startswith("row 5: REFUSED last_name: is required") for line in lines)


def test_validate_csv_example_refuses_an_unmappable_header(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("First Name,Colour\nAnn,blue\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "validate_csv.py"), str(bad)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Colour: is not a lead column" in result.stderr


def test_playbook_docs_match_the_preset_data() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_playbooks", ROOT / "docs" / "gen_playbooks.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "playbooks.md").read_text(encoding="utf-8")
    assert module.render(current) == current, (
        "docs/playbooks.md is stale: run docs/gen_playbooks.py"
    )
    for needle in ("`wrong_number`", "needs 3 prior 'wrong_number' reports", "x 1/2", "1h", "48h"):
        assert needle in current


def test_the_readme_embedding_snippet_runs(tmp_path: Path, monkeypatch: Any) -> None:
    from leadflow.batch import init_store
    from leadflow.io.orgconfig import load_org_config

    (code,) = [block for block in fenced(README, "python") if "open_desk" in block]
    monkeypatch.chdir(tmp_path)
    init_store(tmp_path / "leadflow.db", load_org_config(ROOT / "examples" / "org.toml"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert "new_lead" in out.getvalue()
