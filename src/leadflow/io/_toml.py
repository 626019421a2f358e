"""Helpers the TOML loaders share (:mod:`leadflow.io.playbooks`, :mod:`leadflow.io.orgconfig`).

Plain checks for cattrs hooks, the way a value is shown in a message, and
the dotted path of a problem (``policies[1].members[0].user``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

__all__ = [
    "BARE_KEY",
    "Invalid",
    "join",
    "show",
    "structure_bool",
    "structure_int",
    "structure_str",
]

#: A key TOML lets one write without quotes.
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class Invalid(ValueError):
    """A value of the wrong type or form; the message is shown as written."""


def show(value: object) -> str:
    """``value`` as a person who wrote TOML would recognise it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return f"the date and time {value.isoformat()}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def join(path: str, key: str | int) -> str:
    """``path`` one step further: ``[key]`` for a list index, ``.key`` for a table key."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    part = key if BARE_KEY.fullmatch(key) else f'"{key}"'
    return f"{path}.{part}" if path else part


def structure_str(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected a string, got {show(value)}")
    return value


def structure_int(value: Any, _: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"expected a whole number, got {show(value)}")
    return value


def structure_bool(value: Any, _: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {show(value)}")
    return value
