"""Hostile TOML is a ConfigError naming the file, for every loader, and never a crash.

Every TOML document leadflow reads -- an org config, a playbook, views --
goes through :func:`leadflow.io._toml.parse_toml`: a number too long for
Python, a key of tens of thousands of dotted parts (tomllib's time and
memory grow with the square of their count), arrays nested past the
parser's recursion limit, and a syntax error quoting a huge key are each
one short problem.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from leadflow.errors import ConfigError
from leadflow.io._toml import MAX_KEY_PARTS, parse_toml
from leadflow.io.orgconfig import org_config_from_toml
from leadflow.io.playbooks import playbook_from_toml
from leadflow.io.views import views_from_toml

LOADERS: dict[str, Callable[[str], object]] = {
    "org config": lambda text: org_config_from_toml(text, name="org.toml"),
    "playbook": lambda text: playbook_from_toml(text, origin="org.toml"),
    "views": lambda text: views_from_toml(text, origin="org.toml"),
}

HOSTILE = {
    "a 5,000-digit number": (
        "x = " + "9" * 5000,
        "org.toml: invalid TOML: a number has too many digits to be read",
    ),
    "a key of 50,000 dotted parts": (
        "name = 1\n" + "a" + ".a" * 50_000 + " = 1\n",
        f"org.toml: line 2: invalid TOML: a key has more than {MAX_KEY_PARTS} dotted parts",
    ),
    "a table header of quoted parts": (
        "[" + ".".join(['"a"'] * 1000) + "]\n",
        f"org.toml: line 1: invalid TOML: a key has more than {MAX_KEY_PARTS} dotted parts",
    ),
    "a dotted key in an inline table": (
        "x = { b = 1, " + ".".join(["c"] * 50_000) + " = 1 }\n",
        f"org.toml: line 1: invalid TOML: a key has more than {MAX_KEY_PARTS} dotted parts",
    ),
    "arrays nested 100,000 deep": (
        "x = " + "[" * 100_000,
        "org.toml: invalid TOML: arrays or inline tables nested too deeply to be read",
    ),
    "inline tables nested 100,000 deep": (
        "x = " + "{a=" * 100_000,
        "org.toml: invalid TOML: arrays or inline tables nested too deeply to be read",
    ),
}


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_toml_is_one_short_problem(loader: str, case: str) -> None:
    text, message = HOSTILE[case]
    with pytest.raises(ConfigError) as info:
        LOADERS[loader](text)
    assert str(info.value) == message


@pytest.mark.parametrize("loader", LOADERS)
def test_a_syntax_error_quoting_a_huge_key_quotes_at_most_200_characters(loader: str) -> None:
    key = "k" * 100_000
    with pytest.raises(ConfigError) as info:
        LOADERS[loader](f"[{key}]\n[{key}]\n")
    assert str(info.value).startswith("org.toml: line 2, column ")
    assert len(str(info.value)) < 300


def test_a_key_of_exactly_the_most_parts_is_read() -> None:
    key = ".".join(["a"] * MAX_KEY_PARTS)
    data = parse_toml(f"{key} = 1\n", "x.toml")
    for _ in range(MAX_KEY_PARTS - 1):
        data = data["a"]
    assert data == {"a": 1}
    with pytest.raises(ConfigError, match="more than 64 dotted parts"):
        parse_toml(f"{key}.a = 1\n", "x.toml")


def test_dots_in_values_are_not_key_parts() -> None:
    text = 'url = "' + ".".join(["a"] * 200) + '"\nversion = 1.5\n'
    assert parse_toml(text, "x.toml")["version"] == 1.5
