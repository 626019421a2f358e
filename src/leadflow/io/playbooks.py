"""Playbooks from TOML files and plain dicts, and back to dicts.

The TOML format is documented in ``docs/playbook-toml.md``. In short: a file
names its ``key`` and ``name`` and either lists every ``[[stages]]``,
``[[dispositions]]`` and ``[[aging]]`` rule itself, or ``extends`` a preset
(or another playbook file) and renames, disables and adds to it.

Every problem in a file is reported at once, in one
:class:`~leadflow.errors.ConfigError` whose ``problems`` name the file, the
table and the key::

    my.toml: stages[2].effect: unknown key 'kil' (did you mean 'kill'?)
    my.toml: dispositions[0].snooze: '1 hr x' is not a duration: write e.g. '48h' ...
    my.toml: aging[0].type: 'sometimes' is not one of follow_up_passed, schedule_cleared, ...
    my.toml: playbook 'my_pipeline': disposition 'x': moves to stage 'y', which does not exist

A playbook read from a path (:func:`load_playbook`, and the files an
``extends`` names) must be an existing regular file of at most
:data:`MAX_PLAYBOOK_BYTES`, readable, UTF-8 TOML; its problems never quote
its text: a TOML syntax error gives the line, the column and what is
wrong, and a value longer than 40 characters is described by its length.

Structuring is done by a private :mod:`cattrs` converter built once by
:func:`_make_converter`; callers never register hooks on it.
"""

from __future__ import annotations

import enum
import functools
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from leadflow.errors import ConfigError
from leadflow.io._toml import Invalid as _Invalid
from leadflow.io._toml import (
    collection_hook,
    duration_hook,
    parse_toml,
    plain_checks,
    show,
    structure_problems,
)
from leadflow.io._toml import join as _join
from leadflow.io._toml import structure_enum as _structure_enum
from leadflow.stages.aging import (
    AgingRule,
    FollowUpPassed,
    ScheduleCleared,
    StageTimeout,
    TouchRevives,
    Untouched,
)
from leadflow.stages.durations import format_duration
from leadflow.stages.guards import (
    ApprovalWhileNew,
    Guard,
    MinReports,
    RequiresNote,
    RequiresPermission,
)
from leadflow.stages.playbook import (
    Category,
    Channel,
    Direction,
    Disposition,
    FollowUpRule,
    Ownership,
    Playbook,
    Stage,
)
from leadflow.stages.presets import PRESETS, preset

__all__ = [
    "MAX_PLAYBOOK_BYTES",
    "load_playbook",
    "nothing_at",
    "playbook_from_dict",
    "playbook_from_toml",
    "playbook_to_dict",
]

#: The largest playbook file read, in bytes (1 MiB); a playbook is a few kilobytes.
MAX_PLAYBOOK_BYTES = 1024 * 1024

#: The ``type`` tag of each guard in a file.
_GUARD_TYPES: Mapping[str, type[Any]] = {
    "min_reports": MinReports,
    "approval_while_new": ApprovalWhileNew,
    "requires_permission": RequiresPermission,
    "requires_note": RequiresNote,
}
#: The ``type`` tag of each aging rule in a file.
_AGING_TYPES: Mapping[str, type[Any]] = {
    "follow_up_passed": FollowUpPassed,
    "schedule_cleared": ScheduleCleared,
    "untouched": Untouched,
    "stage_timeout": StageTimeout,
    "touch_revives": TouchRevives,
}
#: The tag of every class written as a table tagged by ``type`` (guards, aging rules).
_TAGS: Mapping[type[Any], str] = {
    cls: tag for types in (_GUARD_TYPES, _AGING_TYPES) for tag, cls in types.items()
}
#: The longest value, key or number (in characters) a playbook file's problem quotes.
_QUOTE_LIMIT = 40
#: A value quoted as Python quotes it (``'x'``, ``"it's"``), not an apostrophe in a word.
_QUOTED = re.compile(r"""(?<![\w'"])(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")(?![\w'"])""")
#: A key (in a problem's path), a number or a word longer than that, unquoted.
_LONG_WORD = re.compile(rf"[\w-]{{{_QUOTE_LIMIT + 1},}}")


@attrs.frozen(kw_only=True)
class _PlaybookFile:
    """A playbook file's top-level table, as written (before ``extends`` is applied)."""

    key: str
    name: str
    description: str = ""
    extends: str | None = None
    rename: dict[str, str] | None = None
    disable: tuple[str, ...] | None = None
    disable_dispositions: tuple[str, ...] | None = None
    stages: tuple[Stage, ...] = ()
    dispositions: tuple[Disposition, ...] = ()
    follow_up: FollowUpRule | None = None
    aging: tuple[AgingRule, ...] = ()
    pool_stages: tuple[str, ...] | None = None
    speed_to_lead: timedelta | None = None


# ---------------------------------------------------------------------- public API


def load_playbook(source: str | os.PathLike[str]) -> Playbook:
    """The playbook ``source`` names: a preset's name, or the path of a TOML file.

    A name in :data:`~leadflow.stages.presets.PRESETS` (``"investor"``) gives
    that preset; anything else is read as a playbook TOML file, which must be
    a regular file (not a directory, device or pipe) of at most
    :data:`MAX_PLAYBOOK_BYTES`, readable, and UTF-8 TOML. A missing file, any
    of those failures and every problem in the playbook raise one
    :class:`~leadflow.errors.ConfigError` naming the file; its problems
    never quote the file's text (see the module documentation).
    """
    if isinstance(source, str) and source in PRESETS:
        return preset(source)
    path = Path(source)
    if nothing_at(path):
        raise ConfigError(f"{path}: no such file, and not a preset (presets: {', '.join(PRESETS)})")
    return _load_file(path, chain=())


def playbook_from_toml(text: str, *, origin: str = "<string>") -> Playbook:
    """The playbook written in the TOML ``text``.

    ``origin`` names the text in messages; when it is a file path, a relative
    ``extends`` path is taken relative to that file's directory.
    """
    return _from_toml(text, origin=origin, chain=())


def playbook_from_dict(data: Mapping[str, Any], *, origin: str = "<dict>") -> Playbook:
    """The playbook described by ``data``, a mapping shaped like the TOML format.

    ``origin`` names the data in messages (and anchors a relative ``extends``
    path, as for :func:`playbook_from_toml`).
    """
    return _from_dict(data, origin=origin, chain=())


def playbook_to_dict(playbook: Playbook) -> dict[str, Any]:
    """``playbook`` as plain TOML-compatible data; :func:`playbook_from_dict` reverses it.

    Durations become strings (``"48h"``), the follow-up scale a fraction
    string (``"1/2"``), enums their values, and guards and aging rules
    tables tagged by ``type``. Keys left at their default are omitted.
    """
    converter = _converter()
    data: dict[str, Any] = {"key": playbook.key, "name": playbook.name}
    if playbook.description:
        data["description"] = playbook.description
    if playbook.speed_to_lead is not None:
        data["speed_to_lead"] = format_duration(playbook.speed_to_lead)
    if playbook.pool_stages:
        data["pool_stages"] = list(playbook.pool_stages)
    data["stages"] = [converter.unstructure(s, Stage) for s in playbook.stages]
    if playbook.dispositions:
        data["dispositions"] = [
            converter.unstructure(d, Disposition) for d in playbook.dispositions
        ]
    if playbook.follow_up != FollowUpRule():
        data["follow_up"] = converter.unstructure(playbook.follow_up, FollowUpRule)
    if playbook.aging:
        data["aging"] = [converter.unstructure(rule, type(rule)) for rule in playbook.aging]
    plain: dict[str, Any] = _plain(data)
    return plain


# ---------------------------------------------------------------------- loading


def _load_file(path: Path, *, chain: tuple[Path, ...]) -> Playbook:
    """The playbook in the file at ``path``; its problems never quote the file's text."""
    origin = str(path)
    text = _read_file(path, origin)
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symbolic link loop (RuntimeError before 3.13)
        raise ConfigError(f"{origin}: cannot be read ({_reason(exc)})") from None
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ConfigError(f"{origin}: 'extends' goes round in a circle ({cycle})")
    data = _parse(text, origin, quiet=True)
    try:
        return _from_dict(data, origin=origin, chain=(*chain, resolved))
    except ConfigError as exc:
        # The lines about this file; those of a file it extends were quietened there.
        head = f"{origin}: "
        raise ConfigError(
            head + _quiet(line[len(head) :]) if line.startswith(head) else line
            for line in exc.problems
        ) from None


def nothing_at(path: Path) -> bool:
    """Whether nothing is at ``path`` (a path that cannot be looked at is not missing:
    reading it says why, no permission or a NUL character in the name)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except (OSError, ValueError):  # reading it says why (no permission, a NUL in the name)
        return False
    return False


def _read_file(path: Path, origin: str) -> str:
    """The text of the playbook file at ``path``: a readable regular UTF-8 file, 1 MiB at most.

    The path is looked at before it is opened, so a pipe or a device is
    never opened (opening a pipe would wait for a writer); the file opened
    is looked at again, and at most :data:`MAX_PLAYBOOK_BYTES` + 1 bytes are
    read, so a file that grew in between is still refused.
    """
    try:
        _check_kind(os.stat(path), origin)
        flags = os.O_RDONLY
        for extra in ("O_NONBLOCK", "O_NOCTTY", "O_CLOEXEC", "O_BINARY"):
            flags |= getattr(os, extra, 0)
        fd = os.open(path, flags)
        try:
            _check_kind(os.fstat(fd), origin)
            chunks: list[bytes] = []
            left = MAX_PLAYBOOK_BYTES + 1
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 16))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
        finally:
            os.close(fd)
    except ValueError:  # a NUL character in the path
        raise ConfigError(f"{origin}: cannot be read (the path holds a NUL character)") from None
    except OSError as exc:
        if isinstance(exc, FileNotFoundError | NotADirectoryError):
            raise ConfigError(f"{origin}: no such file") from None
        raise ConfigError(f"{origin}: cannot be read ({_reason(exc)})") from None
    if left <= 0:
        raise ConfigError(
            f"{origin}: is larger than a playbook file may be ({MAX_PLAYBOOK_BYTES:,} bytes, 1 MiB)"
        )
    data = b"".join(chunks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{origin}: is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


def _check_kind(info: os.stat_result, origin: str) -> None:
    """Refuse anything but a regular file of at most :data:`MAX_PLAYBOOK_BYTES`."""
    mode = info.st_mode
    if stat.S_ISREG(mode):
        if info.st_size > MAX_PLAYBOOK_BYTES:
            raise ConfigError(
                f"{origin}: is {info.st_size:,} bytes, larger than a playbook file may be "
                f"({MAX_PLAYBOOK_BYTES:,} bytes, 1 MiB)"
            )
        return
    if stat.S_ISDIR(mode):
        kind = "a directory"
    elif stat.S_ISCHR(mode):
        kind = "a character device"
    elif stat.S_ISBLK(mode):
        kind = "a block device"
    elif stat.S_ISFIFO(mode):
        kind = "a named pipe (FIFO)"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    else:
        kind = "a special file"
    raise ConfigError(f"{origin}: is {kind}, not a regular file: a playbook is a TOML file")


def _reason(exc: BaseException) -> str:
    """Why ``exc`` happened, without the file name it may carry."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def _quiet(text: str) -> str:
    """``text`` with each quoted value longer than 40 characters, and each unquoted key,
    number or word longer than that, replaced by its length: a playbook file's problem
    never quotes much of the file."""

    def value(match: re.Match[str]) -> str:
        inner = match[0][1:-1]
        if len(inner) <= _QUOTE_LIMIT:
            return match[0]
        if inner.endswith("..."):  # already cut short for a message: longer than shown
            return f"[over {len(inner) - 3:,} characters, not shown]"
        return f"[{len(inner):,} characters, not shown]"

    text = _QUOTED.sub(value, text)
    return _LONG_WORD.sub(lambda match: f"[{len(match[0]):,} characters, not shown]", text)


def _parse(text: str, origin: str, *, quiet: bool = False) -> dict[str, Any]:
    """The TOML ``text`` (:func:`~leadflow.io._toml.parse_toml`); ``quiet``: its problems
    quote nothing of the text."""
    return parse_toml(text, origin, quiet=_quiet if quiet else None)


def _from_toml(text: str, *, origin: str, chain: tuple[Path, ...]) -> Playbook:
    return _from_dict(_parse(text, origin), origin=origin, chain=chain)


def _from_dict(data: Mapping[str, Any], *, origin: str, chain: tuple[Path, ...]) -> Playbook:
    try:
        written = _converter().structure(data, _PlaybookFile)
    except Exception as exc:  # every structuring failure becomes one ConfigError
        raise ConfigError(_format(origin, _structure_problems(exc, ""))) from None

    if written.extends is None:
        problems = [
            (name, "is only allowed with 'extends'")
            for name in ("rename", "disable", "disable_dispositions")
            if getattr(written, name) is not None
        ]
        if problems:
            raise ConfigError(_format(origin, problems))
        return _build(
            origin,
            key=written.key,
            name=written.name,
            description=written.description,
            stages=written.stages,
            dispositions=written.dispositions,
            follow_up=written.follow_up or FollowUpRule(),
            aging=written.aging,
            pool_stages=written.pool_stages or (),
            speed_to_lead=written.speed_to_lead,
        )
    base = _base(written.extends, origin=origin, chain=chain)
    return _extend(base, written, origin=origin)


def _base(extends: str, *, origin: str, chain: tuple[Path, ...]) -> Playbook:
    """The playbook ``extends`` names: a preset, or a file relative to ``origin``'s directory."""
    if extends in PRESETS:
        return preset(extends)
    path = Path(origin).parent / extends
    if nothing_at(path):
        # The path is not shown when it holds a long value (which a file's problems hide).
        where = f" (no file at {path})" if len(extends) <= _QUOTE_LIMIT else ""
        raise ConfigError(
            f"{origin}: extends: {extends!r} is neither a preset ({', '.join(PRESETS)}) "
            f"nor a playbook file{where}"
        )
    return _load_file(path, chain=chain)


def _extend(base: Playbook, written: _PlaybookFile, *, origin: str) -> Playbook:
    """``base`` with the renames, disables and additions of ``written``, validated once.

    Stages, dispositions and aging rules are added to the base's; a
    ``follow_up``, ``pool_stages`` or ``speed_to_lead`` given replaces the base's.
    """
    problems: list[tuple[str, str]] = []
    about = f"of the base playbook {base.key!r}"
    stage_keys = [s.key for s in base.stages]
    disposition_keys = [d.key for d in base.dispositions]

    renames = written.rename or {}
    for key in renames:
        if key not in stage_keys:
            problems.append((_join("rename", key), _not_one(key, "a stage " + about, stage_keys)))
    disabled = written.disable or ()
    for index, key in enumerate(disabled):
        if key not in stage_keys:
            problems.append((f"disable[{index}]", _not_one(key, "a stage " + about, stage_keys)))
    disabled_dispositions = written.disable_dispositions or ()
    for index, key in enumerate(disabled_dispositions):
        if key not in disposition_keys:
            problems.append(
                (
                    f"disable_dispositions[{index}]",
                    _not_one(key, "a disposition " + about, disposition_keys),
                )
            )
    for index, stage in enumerate(written.stages):
        if stage.key in stage_keys:
            problems.append((f"stages[{index}].key", f"{stage.key!r} is already a stage {about}"))
    for index, disposition in enumerate(written.dispositions):
        if disposition.key in disposition_keys:
            problems.append(
                (
                    f"dispositions[{index}].key",
                    f"{disposition.key!r} is already a disposition {about}",
                )
            )
    if problems:
        raise ConfigError(_format(origin, problems))

    # The same changes as Playbook.rename_stage, disable_stage, add_stage,
    # disable_disposition and add_disposition, made at once so that the
    # result is validated once (a stage and the dispositions that move to it
    # may be disabled together).
    stages = [
        attrs.evolve(
            stage,
            label=renames.get(stage.key, stage.label),
            enabled=stage.enabled and stage.key not in disabled,
        )
        for stage in base.stages
    ]
    dispositions = [
        attrs.evolve(d, enabled=False) if d.key in disabled_dispositions else d
        for d in base.dispositions
    ]
    return _build(
        origin,
        key=written.key,
        name=written.name,
        description=written.description,
        stages=tuple(sorted((*stages, *written.stages), key=lambda s: s.order)),
        dispositions=(*dispositions, *written.dispositions),
        follow_up=written.follow_up or base.follow_up,
        aging=(*base.aging, *written.aging),
        pool_stages=base.pool_stages if written.pool_stages is None else written.pool_stages,
        speed_to_lead=(
            base.speed_to_lead if written.speed_to_lead is None else written.speed_to_lead
        ),
    )


def _build(origin: str, **fields: Any) -> Playbook:
    """A :class:`Playbook`; its own validation problems are prefixed with ``origin``."""
    try:
        return Playbook(**fields)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {p}" for p in exc.problems) from None


def _not_one(key: str, what: str, allowed: Iterable[str]) -> str:
    return f"{key!r} is not {what} ({', '.join(allowed)})"


# ---------------------------------------------------------------------- errors


def _format(origin: str, problems: Iterable[tuple[str, str]]) -> list[str]:
    return [
        f"{origin}: {path}: {message}" if path else f"{origin}: {message}"
        for path, message in problems
    ]


def _structure_problems(exc: BaseException, path: str) -> list[tuple[str, str]]:
    """One ``(table path, message)`` per problem in a structuring failure ``exc`` at ``path``."""
    return structure_problems(exc, path, allowed_keys=_allowed_keys)


def _allowed_keys(cls: type[Any]) -> list[str]:
    keys = [f.name for f in attrs.fields(cls) if f.init]
    return ["type", *keys] if cls in _TAGS else keys


# ---------------------------------------------------------------------- converter


@functools.cache
def _converter() -> cattrs.Converter:
    """The one converter of this module, built on first use and never changed afterwards."""
    return _make_converter()


def _make_converter() -> cattrs.Converter:
    """A new converter that structures playbook files strictly and unstructures playbooks."""
    converter = cattrs.Converter(forbid_extra_keys=True, omit_if_default=True)

    # Strict scalars: a TOML "false" string is not a bool, 1.0 is not an int.
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(timedelta, _structure_timedelta)
    converter.register_structure_hook(Fraction, _structure_fraction)
    # Enums by value. Each enum is registered by class: these are StrEnums,
    # which would otherwise be structured as plain strings.
    for enum_type in (Category, Channel, Direction, Ownership):
        converter.register_structure_hook(enum_type, _structure_enum)
    converter.register_structure_hook_func(
        lambda t: t == Guard, _structure_tagged(converter, "guard", _GUARD_TYPES)
    )
    converter.register_structure_hook_func(
        lambda t: t == AgingRule, _structure_tagged(converter, "aging rule", _AGING_TYPES)
    )
    converter.register_structure_hook_factory(_is_tuple, collection_hook(converter))
    converter.register_structure_hook_factory(_is_str_dict, lambda _: _structure_str_dict)
    converter.register_structure_hook_factory(attrs.has, _attrs_hook(converter))

    converter.register_unstructure_hook(timedelta, format_duration)
    converter.register_unstructure_hook(Fraction, str)
    converter.register_unstructure_hook_factory(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), lambda _: _enum_value
    )
    for tagged_type, tag in _TAGS.items():
        converter.register_unstructure_hook(
            tagged_type, _unstructure_tagged(converter, tagged_type, tag)
        )
    return converter


#: Values are shown as :func:`leadflow.io._toml.show` does, but dates as Python does.
_show = functools.partial(show, dates=False)
_structure_str, _structure_int, _structure_bool = plain_checks(_show)
_structure_timedelta = duration_hook('"48h" or "7 days"', _show)


def _structure_fraction(value: Any, _: Any) -> Fraction:
    hint = 'write a fraction such as "1/2", or a number such as 0.5 or 1'
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid(f"expected a fraction, got {_show(value)}: {hint}")
    try:
        return Fraction(value.strip() if isinstance(value, str) else str(value))
    except (ValueError, ZeroDivisionError):
        raise _Invalid(f"{_show(value)} is not a fraction: {hint}") from None


def _enum_value(value: enum.Enum) -> Any:
    return value.value


def _structure_str_dict(value: Any, _: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _Invalid(f"expected a table, got {_show(value)}")
    errors: list[Exception] = []
    result: dict[str, str] = {}
    for key, item in value.items():
        try:
            result[key] = _structure_str(item, str)
        except _Invalid as exc:
            exc.add_note(IterableValidationNote(f"Structuring mapping @ key {key!r}", key, str))
            errors.append(exc)
    if errors:
        raise IterableValidationError("While structuring a table", errors, dict)
    return result


def _is_str_dict(type_: Any) -> bool:
    return get_origin(type_) is dict and get_args(type_) == (str, str)


def _is_tuple(type_: Any) -> bool:
    args = get_args(type_)
    return get_origin(type_) is tuple and len(args) == 2 and args[1] is Ellipsis


def _attrs_hook(converter: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """Attrs classes from tables only, refusing unknown keys."""

    def factory(cls: Any) -> Callable[[Any, Any], Any]:
        generated = make_dict_structure_fn(
            cls, converter, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True
        )

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, Mapping):
                raise _Invalid(f"expected a table, got {_show(value)}")
            return generated(value, cls)

        return structure

    return factory


def _structure_tagged(
    converter: cattrs.Converter, what: str, types: Mapping[str, type[Any]]
) -> Callable[[Any, Any], Any]:
    """A ``what`` (a guard, an aging rule) from a table tagged by ``type``, one of ``types``."""
    allowed = ", ".join(types)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _Invalid(f"expected a table, got {_show(value)}")
        if "type" not in value:
            raise _Invalid(f"missing required key 'type' (one of {allowed})")
        tag = value["type"]
        cls = types.get(tag) if isinstance(tag, str) else None
        if cls is None:
            problem = _Invalid(f"{_show(tag)} is not one of {allowed}")
            problem.add_note(AttributeValidationNote(f"Structuring {what} @ type", "type", str))
            raise ClassValidationError(f"While structuring {what}", [problem], dict)
        fields = {k: v for k, v in value.items() if k != "type"}
        return converter.get_structure_hook(cls)(fields, cls)

    return structure


def _unstructure_tagged(
    converter: cattrs.Converter, cls: type[Any], tag: str
) -> Callable[[Any], dict[str, Any]]:
    """``cls`` as a table tagged by ``type``, keys left at their default omitted."""
    generated = make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True)

    def unstructure(value: Any) -> dict[str, Any]:
        return {"type": tag, **generated(value)}

    return unstructure


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists and enums as their values, all the way down."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
