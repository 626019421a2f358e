"""Helpers the TOML loaders share (:mod:`leadflow.io.playbooks`, :mod:`leadflow.io.orgconfig`).

Plain checks for cattrs hooks, the way a value is shown in a message, the
dotted path of a problem (``policies[1].members[0].user``), and the walk
that turns a cattrs structuring failure into one located message a problem.
"""

from __future__ import annotations

import difflib
import enum
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, get_args, get_origin

import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from leadflow.errors import ConfigError, ValidationError, clip
from leadflow.limits import number_text
from leadflow.stages.durations import parse_duration

__all__ = [
    "BARE_KEY",
    "MAX_KEY_PARTS",
    "Invalid",
    "PlainChecks",
    "Problem",
    "duration_hook",
    "join",
    "parse_toml",
    "plain_checks",
    "quote",
    "show",
    "structure_bool",
    "structure_enum",
    "structure_int",
    "structure_problems",
    "structure_str",
    "unknown_key",
]

#: Where a problem is (a dotted path; ``""`` for the top) and what it is.
Problem = tuple[str, str]

#: A key TOML lets one write without quotes.
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class Invalid(ValueError):
    """A value of the wrong type or form; the message is shown as written."""


def quote(text: str) -> str:
    """``text`` quoted as Python writes a string, cut to its first 200 characters."""
    return repr(clip(text))


def show(value: object, *, dates: bool = True) -> str:
    """``value`` as a person who wrote TOML would recognise it (dates as Python shows them
    when not ``dates``); a string is quoted to at most 200 characters, a number of more
    than 200 digits is described."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if dates and isinstance(value, datetime):
        return f"the date and time {value.isoformat()}"
    if dates and isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, int):
        return number_text(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def structure_enum(value: Any, cls: type[enum.Enum]) -> enum.Enum:
    """The member of ``cls`` whose value is ``value``; else what it could be, and the
    member a near miss was probably meant to be."""
    values = [str(member.value) for member in cls]
    shown = [repr(v) for v in values] if any(" " in v for v in values) else values
    allowed = ", ".join(shown)
    if not isinstance(value, str):
        raise Invalid(f"expected one of {allowed}, got {show(value)}")
    try:
        return cls(value)
    except ValueError:
        pass
    same = [v for v in values if v.casefold() == value.casefold()]
    close = same or difflib.get_close_matches(value, values, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise Invalid(f"{quote(value)} is not one of {allowed}{hint}")


def join(path: str, key: str | int) -> str:
    """``path`` one step further: ``[key]`` for a list index, ``.key`` for a table key."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    part = key if BARE_KEY.fullmatch(key) else f'"{key}"'
    return f"{path}.{part}" if path else part


class PlainChecks(NamedTuple):
    """cattrs structure hooks for plain TOML values, refusing anything of another type."""

    str: Callable[[Any, Any], str]
    int: Callable[[Any, Any], int]
    bool: Callable[[Any, Any], bool]


def plain_checks(display: Callable[[object], str] = show) -> PlainChecks:
    """The plain hooks, naming a wrong value with ``display``."""

    def structure_str(value: Any, _: Any) -> str:
        if not isinstance(value, str):
            raise Invalid(f"expected a string, got {display(value)}")
        return value

    def structure_int(value: Any, _: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"expected a whole number, got {display(value)}")
        return value

    def structure_bool(value: Any, _: Any) -> bool:
        if not isinstance(value, bool):
            raise Invalid(f"expected true or false, got {display(value)}")
        return value

    return PlainChecks(structure_str, structure_int, structure_bool)


structure_str, structure_int, structure_bool = plain_checks()


def duration_hook(
    examples: str, display: Callable[[object], str] = show
) -> Callable[[Any, Any], timedelta]:
    """A cattrs hook for a duration written as text (``examples``: how the message shows some)."""

    def structure_duration(value: Any, _: Any) -> timedelta:
        if not isinstance(value, str):
            raise Invalid(f"expected a duration such as {examples}, got {display(value)}")
        try:
            return parse_duration(value)
        except ValidationError as exc:
            raise Invalid(f"{quote(value)} {exc.errors[0].message}") from None
        except (OverflowError, ValueError):  # more days than a timedelta holds, or digits
            raise Invalid(f"{quote(value)} is too long a duration") from None

    return structure_duration


def unknown_key(key: str, allowed: Sequence[str]) -> str:
    """The message for a key that is not one of ``allowed``, with the closest if any."""
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"unknown key {quote(key)} (did you mean {close[0]!r}?)"
    return f"unknown key {quote(key)} (keys: {', '.join(allowed)})"


def _same_name(cls: type[Any], name: str) -> str:
    return name


def _not_ours(exc: BaseException, path: str) -> list[Problem] | None:
    return None


def structure_problems(
    exc: BaseException,
    path: str,
    *,
    allowed_keys: Callable[[type[Any]], list[str]],
    key_name: Callable[[type[Any], str], str] = _same_name,
    own: Callable[[BaseException, str], list[Problem] | None] = _not_ours,
) -> list[Problem]:
    """One problem per failure in a cattrs structuring error ``exc`` of the value at ``path``.

    Walks cattrs' exception groups down to each failing key or list item:
    a missing required key, unknown keys (with ``allowed_keys`` of their
    class), an :class:`Invalid` value. ``key_name`` gives the key a class's
    field is written as (a renamed field); ``own`` reports the errors of the
    loader's own kinds (``None``: not one of them). Anything else is shown
    with its type.
    """

    def walk(exc: BaseException, path: str) -> list[Problem]:
        problems: list[Problem] = []
        if isinstance(exc, ClassValidationError):
            attributed, others = exc.group_exceptions()
            for sub, note in attributed:
                key = key_name(exc.cl, note.name)
                if type(sub) is KeyError and sub.args == (key,):
                    problems.append((path, f"missing required key {key!r}"))
                else:
                    problems.extend(walk(sub, join(path, key)))
            for sub in others:
                problems.extend(walk(sub, path))
            return problems
        if isinstance(exc, IterableValidationError):
            indexed, others = exc.group_exceptions()
            for sub, index_note in indexed:
                problems.extend(walk(sub, join(path, index_note.index)))
            for sub in others:
                problems.extend(walk(sub, path))
            return problems
        if isinstance(exc, BaseExceptionGroup):
            return [p for sub in exc.exceptions for p in walk(sub, path)]
        if isinstance(exc, ForbiddenExtraKeysError):
            allowed = allowed_keys(exc.cl)
            return [(path, unknown_key(key, allowed)) for key in sorted(exc.extra_fields)]
        if isinstance(exc, Invalid):
            return [(path, str(exc))]
        found = own(exc, path)
        if found is not None:
            return found
        return [(path, f"is invalid ({type(exc).__name__}: {clip(str(exc))})")]

    return walk(exc, path)


# --------------------------------------------------------------------------- parsing

_TOML_POSITION = re.compile(r"^(?P<message>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")
#: tomllib's messages that quote the text, and what a quiet problem says instead.
_TOML_QUOTING = (
    (re.compile(r"Cannot declare .* twice", re.DOTALL), "Cannot declare a table twice"),
    (
        re.compile(r"Cannot mutate immutable namespace .*", re.DOTALL),
        "Cannot add to an inline table or an array already written",
    ),
    (re.compile(r"Cannot redefine namespace .*", re.DOTALL), "Cannot define a table again"),
    (re.compile(r"Duplicate inline table key .*", re.DOTALL), "Duplicate key in an inline table"),
    (re.compile(r"Found invalid character .*", re.DOTALL), "Found an invalid character"),
    (re.compile(r"Illegal character .*", re.DOTALL), "Found an illegal character"),
)
#: The most dotted parts a key may have (``a.b.c`` has 3). tomllib's time and memory grow
#: with the square of a key's parts: a key of 50,000 parts would take gigabytes.
MAX_KEY_PARTS = 64
#: A key of more than :data:`MAX_KEY_PARTS` dotted parts (bare or quoted) where a key
#: may start: at the start of a line, or after ``[`` (a table header), ``{`` or ``,``
#: (an inline table). Possessive, so a long word costs one pass, not one per character.
_LONG_DOTTED = re.compile(
    r"(?:^|[\[{,])[ \t]*+"
    rf"""(?:(?:[A-Za-z0-9_-]++|"[^"\n]*+"|'[^'\n]*+')[ \t]*+\.[ \t]*+){{{MAX_KEY_PARTS},}}""",
    re.MULTILINE,
)


def parse_toml(
    text: str, origin: str, *, quiet: Callable[[str], str] | None = None
) -> dict[str, Any]:
    """The TOML ``text``; a problem is a ConfigError naming ``origin`` (and the line and column).

    The message quotes at most 200 characters of the text; with ``quiet``, tomllib's
    messages that quote keys say what is wrong without them and what is left goes
    through ``quiet``, which takes out anything else of the text. A decimal number of
    over 4,300 digits, a key of more than :data:`MAX_KEY_PARTS` dotted parts and arrays
    or tables nested too deeply for the parser are problems too, never a crash.
    """
    long_key = _LONG_DOTTED.search(text)
    if long_key is not None:
        line = text.count("\n", 0, long_key.start()) + 1
        raise ConfigError(
            f"{origin}: line {line}: invalid TOML: a key has more than {MAX_KEY_PARTS} dotted parts"
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
    except ValueError:  # Python reads no decimal integer of over 4,300 digits
        raise ConfigError(
            f"{origin}: invalid TOML: a number has too many digits to be read"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{origin}: invalid TOML: arrays or inline tables nested too deeply to be read"
        ) from None
    where = _TOML_POSITION.match(message)
    what = message if where is None else where["message"]
    if quiet is None:
        what = clip(what)
    else:
        for pattern, plain in _TOML_QUOTING:
            if pattern.fullmatch(what):
                what = plain
                break
        what = quiet(what)
    if where is None:
        raise ConfigError(f"{origin}: invalid TOML: {what}")
    raise ConfigError(
        f"{origin}: line {where['line']}, column {where['column']}: invalid TOML: {what}"
    )


def collection_hook(converter: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """Homogeneous tuples and frozensets from lists only: a string is not a list of letters."""

    def factory(type_: Any) -> Callable[[Any, Any], Any]:
        item_type = get_args(type_)[0]
        make = tuple if get_origin(type_) is tuple else frozenset

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, list | tuple):
                raise Invalid(f"expected a list, got {show(value)}")
            hook = converter.get_structure_hook(item_type)
            items: list[Any] = []
            errors: list[Exception] = []
            for index, item in enumerate(value):
                try:
                    items.append(hook(item, item_type))
                except Exception as exc:
                    exc.add_note(
                        IterableValidationNote(
                            f"Structuring list @ index {index}", index, item_type
                        )
                    )
                    errors.append(exc)
            if errors:
                raise IterableValidationError("While structuring a list", errors, type_)
            return make(items)

        return structure

    return factory
