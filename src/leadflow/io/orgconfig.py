"""Organisation configurations from TOML files and plain dicts, and back to TOML text.

The format is documented in ``docs/config.md``. In short: an
``[organization]`` table of settings, then arrays of tables for
``[[teams]]``, ``[[users]]``, ``[[policies]]`` (each with its
``[[policies.members]]``) and ``[[sources]]``::

    [organization]
    name = "Acme Lending"
    timezone = "America/Chicago"
    playbook = "lead_management"

    [[teams]]
    key = "west"
    name = "West Region"

    [[users]]
    id = 1
    name = "Daniel Davis"
    email = "daniel@example.com"
    permissions = ["receive_leads"]
    teams = ["west"]

Loading a file gives an :class:`OrgFile`: the :class:`~leadflow.org.OrgConfig`
and the :class:`~leadflow.stages.playbook.Playbook` its settings name (a
preset, or a playbook TOML file relative to the configuration file).

Every problem in a file is reported at once, in one
:class:`~leadflow.errors.ConfigError` whose ``problems`` name the file, the
table and the key::

    org.toml: organization.timezone: 'America/Chicgo' is not an IANA time zone ...
    org.toml: users[2]: unknown key 'emial' (did you mean 'email'?)
    org.toml: policies[0].distribution: 'round robin' is not one of round_robin, ...
    org.toml: sources[1].primary_policy: source 'website': primary policy 'web' does not exist

The cross-references (a user's teams, a policy's teams, user and members, a
source's policies) are checked by building the routing
:class:`~leadflow.routing.directory.Directory`, exactly as a desk does; its
problems are reported with the rest, located in the file.

Structuring is done by a private :mod:`cattrs` converter built once by
:func:`_make_converter`; callers never register hooks on it.
"""

from __future__ import annotations

import difflib
import enum
import functools
import os
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, override

from leadflow.errors import ConfigError, ValidationError
from leadflow.io._toml import Invalid as _Invalid
from leadflow.io._toml import duration_hook, parse_toml, structure_problems
from leadflow.io._toml import join as _join
from leadflow.io._toml import quote as _quote
from leadflow.io._toml import show as _show
from leadflow.io._toml import structure_bool as _structure_bool
from leadflow.io._toml import structure_int as _structure_int
from leadflow.io._toml import structure_str as _structure_str
from leadflow.io._toml import unknown_key as _unknown_key
from leadflow.io.playbooks import load_playbook, nothing_at
from leadflow.limits import (
    RING_SIZES,
    ROUTING_CAPS,
    USER_IDS,
    VOLUME_CAP_COUNTS,
    WEIGHTS,
    Bounds,
    offer_expiry_problem,
)
from leadflow.model import CreditRating, License, LoanPurpose, MatchScope, Role, Team, User
from leadflow.org import OrgConfig, OrgSettings
from leadflow.routing.config import (
    Distribution,
    LeadSource,
    MemberFilters,
    Period,
    PolicyMember,
    RoutingPolicy,
    Unroutable,
    VolumeCap,
)
from leadflow.stages.durations import format_duration, parse_duration
from leadflow.stages.playbook import Playbook
from leadflow.stages.presets import PRESETS, preset
from leadflow.templates import EXAMPLE_LEAD_ID, LinkTemplateError, render_link
from leadflow.values import USPS_STATES, BadValue, parse_email

__all__ = [
    "OrgFile",
    "check_org_config",
    "load_org_config",
    "org_config_from_dict",
    "org_config_from_toml",
    "org_config_to_toml",
]

T = TypeVar("T")

#: The top-level keys of a file, in the order they are written.
_TABLES = ("organization", "teams", "users", "policies", "sources")
#: Keys required in ``[organization]``: the rest default to :class:`OrgSettings`'.
_REQUIRED_SETTINGS = ("name", "timezone")
#: Attributes spelt differently in a file: class -> {attribute: key in the file}.
_RENAMED: Mapping[type[Any], Mapping[str, str]] = {PolicyMember: {"user_id": "user"}}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@attrs.frozen(kw_only=True)
class OrgFile:
    """A loaded organisation configuration and the playbook its settings name.

    ``path`` is the file it was read from (``None`` for text or a dict).
    """

    config: OrgConfig
    playbook: Playbook
    path: Path | None = None


@attrs.frozen(kw_only=True)
class _UserEntry:
    """A ``[[users]]`` table as written: ``id`` and ``name`` rather than the model's fields."""

    id: int
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str
    role: Role = Role.MEMBER
    active: bool = True
    permissions: tuple[str, ...] = ()
    licenses: tuple[License, ...] = ()
    teams: tuple[str, ...] = ()
    started_on: date | None = None


class _At(ValueError):
    """A problem at ``key`` (``""``: the table itself) of the table being structured."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


# ---------------------------------------------------------------------- public API


def load_org_config(path: str | os.PathLike[str]) -> OrgFile:
    """The organisation configuration in the TOML file at ``path``.

    A missing or unreadable file, invalid TOML and every problem in the
    configuration (and in the playbook file it names) raise one
    :class:`~leadflow.errors.ConfigError`; each problem names the file.
    """
    path = Path(path)
    origin = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{origin}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{origin}: is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{origin}: cannot be read ({exc.strerror or exc})") from None
    loaded = org_config_from_toml(text, name=origin, base_dir=path.parent)
    return attrs.evolve(loaded, path=path)


def org_config_from_toml(
    text: str, *, name: str = "<string>", base_dir: str | os.PathLike[str] | None = None
) -> OrgFile:
    """The organisation configuration written in the TOML ``text``.

    ``name`` names the text in messages; a relative playbook path is taken
    relative to ``base_dir`` (the current directory when ``None``).
    """
    data = parse_toml(text, name)
    return org_config_from_dict(data, name=name, base_dir=base_dir)


def org_config_from_dict(
    data: Mapping[str, Any],
    *,
    name: str = "<dict>",
    base_dir: str | os.PathLike[str] | None = None,
) -> OrgFile:
    """The organisation configuration described by ``data``, shaped like the TOML format.

    ``name`` names the data in messages; a relative playbook path is taken
    relative to ``base_dir`` (the current directory when ``None``).
    """
    return _Loader(name, Path.cwd() if base_dir is None else Path(base_dir)).load(data)


def check_org_config(path: str | os.PathLike[str]) -> list[str]:
    """Every problem of the configuration file at ``path``, one line each; ``[]`` when fine.

    Never raises for bad content: a missing or unreadable file and invalid
    TOML are one problem line each too.
    """
    try:
        load_org_config(path)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def org_config_to_toml(config: OrgConfig) -> str:
    """``config`` as TOML text that :func:`org_config_from_toml` reads back to an equal config.

    Keys left at their default are omitted, except in ``[organization]``,
    which is written in full. A value TOML cannot hold as this format
    writes it (an offer expiry with a fraction of a second, a string with
    an unpaired surrogate) raises :class:`~leadflow.errors.ConfigError`.
    """
    lines = ["# A leadflow organisation configuration: see docs/config.md.", ""]
    lines += _table("[organization]", _settings_pairs(config.settings))
    for team in config.teams:
        lines += _table("[[teams]]", [("key", team.key), ("name", team.name)])
    for user in config.users:
        lines += _table("[[users]]", _user_pairs(user))
    for policy in config.policies:
        lines += _table("[[policies]]", _policy_pairs(policy))
        for member in policy.members:
            lines += _table("[[policies.members]]", _member_pairs(member))
    for source in config.sources:
        lines += _table("[[sources]]", _source_pairs(source))
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------------- loading


@attrs.define
class _Failed:
    """The identities (team keys, user ids...) of entries of one table that failed to load.

    ``unknown`` is set when an entry failed without a readable identity: then
    any reference to that table may be to it.
    """

    keys: set[object] = attrs.field(factory=set)
    unknown: bool = False

    def add(self, entry: object, field: str, kind: type[Any]) -> None:
        """Note that ``entry`` failed: its identity is its ``field``, if that is a ``kind``."""
        key = entry.get(field) if isinstance(entry, Mapping) else None
        if isinstance(key, kind) and not isinstance(key, bool):
            self.keys.add(key)
        else:
            self.unknown = True

    def covers(self, key: object) -> bool:
        return self.unknown or key in self.keys


class _Loader:
    """One load: the problems found so far, located in the file, and what failed."""

    def __init__(self, origin: str, base_dir: Path) -> None:
        self.origin = origin
        self.base_dir = base_dir
        self.converter = _converter()
        #: ``(table path, message)``, the path ``""`` for the file as a whole.
        self.problems: list[tuple[str, str]] = []
        #: Problems of the playbook file the settings name: whole lines, naming that file.
        self.playbook_problems: list[str] = []
        self.failed = {table: _Failed() for table in _TABLES}

    def load(self, data: Mapping[str, Any]) -> OrgFile:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{self.origin}: expected a table, got {_show(data)}")
        for key in data:
            if key not in _TABLES:
                self.problems.append(("", _unknown_key(key, _TABLES)))
        settings = self._settings(data)
        teams = self._entries(data, "teams", "key", Team, _same)
        users = self._entries(data, "users", "id", _UserEntry, _user)
        policies = self._entries(data, "policies", "key", RoutingPolicy, _same)
        sources = self._entries(data, "sources", "key", LeadSource, _same)
        config = OrgConfig(
            settings=settings or OrgSettings(),
            teams=tuple(team for _, team in teams),
            users=tuple(user for _, user in users),
            policies=tuple(policy for _, policy in policies),
            sources=tuple(source for _, source in sources),
        )
        zone: tzinfo = zoneinfo.ZoneInfo(settings.timezone) if settings else UTC
        try:
            config.directory(zone)
        except ConfigError as exc:
            located = _Locator(teams, users, policies, sources)
            for problem in exc.problems:
                if not self._about_failed(problem):
                    self.problems.append(located.locate(problem))
        playbook = self._playbook(data)
        if self.problems or self.playbook_problems:
            raise ConfigError(self._lines())
        assert playbook is not None  # every way to have none is a problem
        return OrgFile(config=config, playbook=playbook)

    def _lines(self) -> list[str]:
        """Every problem as a line, in the order of the file's tables and entries.

        The playbook file's problems come right after those of ``[organization]``.
        """

        def order(problem: tuple[str, str]) -> tuple[int, int]:
            head = re.match(r"([^.\[]*)(?:\[(\d+)\])?", problem[0])
            assert head is not None  # the pattern matches any string
            rank = _TABLES.index(head[1]) + 1 if head[1] in _TABLES else 0
            return rank, int(head[2]) if head[2] else -1

        lines = []
        settings_done = False
        for path, message in sorted(self.problems, key=order):
            if not settings_done and order((path, message))[0] > 1:
                lines += self.playbook_problems
                settings_done = True
            lines.append(
                f"{self.origin}: {path}: {message}" if path else f"{self.origin}: {message}"
            )
        if not settings_done:
            lines += self.playbook_problems
        return lines

    def _settings(self, data: Mapping[str, Any]) -> OrgSettings | None:
        if "organization" not in data:
            self.problems.append(("", "missing required table [organization]"))
            return None
        raw = data["organization"]
        if not isinstance(raw, Mapping):
            self.problems.append(("organization", f"expected a table, got {_show(raw)}"))
            return None
        missing = [
            ("organization", f"missing required key {key!r}")
            for key in _REQUIRED_SETTINGS
            if key not in raw
        ]
        self.problems += missing
        try:
            settings: OrgSettings = self.converter.structure(raw, OrgSettings)
        except Exception as exc:  # every structuring failure is reported, located
            self.problems += _structure_problems(exc, "organization")
            return None
        return None if missing else settings

    def _entries(
        self,
        data: Mapping[str, Any],
        table: str,
        identity: str,
        cls: type[T],
        build: Callable[[T], Any],
    ) -> list[tuple[int, Any]]:
        """``(index, value)`` for each entry of ``table`` that loaded; the others are problems."""
        raw = data.get(table, [])
        if not isinstance(raw, list):
            shown = "a single table" if isinstance(raw, Mapping) else _show(raw)
            self.problems.append(
                (table, f"expected a list of tables (write [[{table}]]), got {shown}")
            )
            self.failed[table].unknown = True
            return []
        loaded: list[tuple[int, Any]] = []
        for index, entry in enumerate(raw):
            path = f"{table}[{index}]"
            try:
                loaded.append((index, build(self.converter.structure(entry, cls))))
            except Exception as exc:  # every structuring failure is reported, located
                self.problems += _structure_problems(exc, path)
                self.failed[table].add(entry, identity, int if identity == "id" else str)
        return loaded

    def _about_failed(self, problem: str) -> bool:
        """Whether a directory ``problem`` refers to an entry that failed to load.

        Such a reference is not wrong as written; the entry's own problems
        are reported instead.
        """
        for pattern, table, as_int in _REFERENCES:
            match = pattern.search(problem)
            if match is not None:
                key: object = int(match[1]) if as_int else match[1]
                return self.failed[table].covers(key)
        return False

    def _playbook(self, data: Mapping[str, Any]) -> Playbook | None:
        """The playbook ``organization.playbook`` names: a preset, or a file.

        A path is taken relative to :attr:`base_dir` (an absolute one as it
        is) and read by :func:`~leadflow.io.playbooks.load_playbook`, with
        its checks (a regular file of at most 1 MiB, readable UTF-8 TOML,
        problems that never quote its text). Every failure is a problem of
        ``organization.playbook``, naming the path.
        """
        raw = data.get("organization")
        written = raw.get("playbook", OrgSettings().playbook) if isinstance(raw, Mapping) else None
        if not isinstance(written, str):
            return None  # already reported
        if written in PRESETS:
            return preset(written)
        if len(written) > _LONGEST_PLAYBOOK_PATH:
            self.problems.append(
                (
                    "organization.playbook",
                    f"a text of {len(written):,} characters is neither a preset "
                    f"({', '.join(PRESETS)}) nor the path of a playbook file "
                    f"(at most {_LONGEST_PLAYBOOK_PATH:,} characters)",
                )
            )
            return None
        path = self.base_dir / written
        if nothing_at(path):
            self.problems.append(
                (
                    "organization.playbook",
                    f"{written!r} is neither a preset ({', '.join(PRESETS)}) "
                    f"nor a playbook file (no file at {path})",
                )
            )
            return None
        try:
            return load_playbook(path)
        except ConfigError as exc:  # each problem names the playbook file and where in it
            self.playbook_problems += [
                f"{self.origin}: organization.playbook: {problem}" for problem in exc.problems
            ]
            return None


#: The longest ``organization.playbook`` read as a path: a message quotes at most 200
#: characters of any input.
_LONGEST_PLAYBOOK_PATH = 200


def _same(value: T) -> T:
    return value


def _user(entry: _UserEntry) -> User:
    first_name, last_name = _user_names(entry)
    return User(
        user_id=entry.id,
        first_name=first_name,
        last_name=last_name,
        email=entry.email,
        role=entry.role,
        active=entry.active,
        permissions=frozenset(entry.permissions),
        licenses=entry.licenses,
        teams=frozenset(entry.teams),
        started_on=entry.started_on,
    )


def _user_names(entry: _UserEntry) -> tuple[str, str]:
    """First and last name: ``name`` split before its last word, or as written apart."""
    apart = entry.first_name is not None or entry.last_name is not None
    if entry.name is not None and apart:
        raise _At("", "give either 'name' or 'first_name' and 'last_name', not both")
    if entry.name is not None:
        if not entry.name.strip():
            raise _At("name", "is blank")
        return _split_name(entry.name)
    if entry.first_name is None and entry.last_name is None:
        raise _At("", "missing required key 'name'")
    if entry.first_name is None or entry.last_name is None:
        missing = "first_name" if entry.first_name is None else "last_name"
        raise _At("", f"missing required key {missing!r} (or write the whole 'name' instead)")
    if not (entry.first_name.strip() or entry.last_name.strip()):
        raise _At("", "first_name and last_name are both blank")
    return entry.first_name, entry.last_name


def _split_name(name: str) -> tuple[str, str]:
    """``"Mary Ann Smith"`` -> ``("Mary Ann", "Smith")``; one word is a first name alone."""
    words = name.strip().rsplit(None, 1)
    return (words[0], "") if len(words) == 1 else (words[0], words[1])


#: A reference in a directory problem: (pattern, the table it names, whether the key is an id).
_REFERENCES: tuple[tuple[re.Pattern[str], str, bool], ...] = (
    (re.compile(r": team '([^']*)' does not exist$"), "teams", False),
    (re.compile(r": user (-?\d+) does not exist$"), "users", True),
    (re.compile(r": member (-?\d+) is not in the policy's target$"), "users", True),
    (re.compile(r": (?:primary|fallback) policy '([^']*)' does not exist$"), "policies", False),
)
_SUBJECT = re.compile(
    r"(?:user (?P<user>-?\d+)|(?P<kind>team|policy|source) '(?P<key>[^']*)')"
    r"(?:(?P<twice> is defined twice)|: (?P<what>.*))",
    re.DOTALL,
)


class _Locator:
    """Finds where in the file a problem the directory reports comes from."""

    def __init__(
        self,
        teams: Sequence[tuple[int, Team]],
        users: Sequence[tuple[int, User]],
        policies: Sequence[tuple[int, RoutingPolicy]],
        sources: Sequence[tuple[int, LeadSource]],
    ) -> None:
        self.indexes: dict[str, list[tuple[object, int]]] = {
            "teams": [(t.key, i) for i, t in teams],
            "users": [(u.user_id, i) for i, u in users],
            "policies": [(p.key, i) for i, p in policies],
            "sources": [(s.key, i) for i, s in sources],
        }
        self.policies: dict[str, RoutingPolicy] = {}
        for _, policy in policies:
            self.policies.setdefault(policy.key, policy)  # the first of a repeated key
        self.repeats: dict[tuple[str, object], int] = {}

    def locate(self, problem: str) -> tuple[str, str]:
        if problem.startswith("routing cap"):
            return "organization.routing_cap", problem
        subject = _SUBJECT.fullmatch(problem)
        if subject is None:
            return "", problem
        key: object
        if subject["user"] is not None:
            table, key, field = "users", int(subject["user"]), "id"
        else:
            table, key, field = _PLURAL[subject["kind"]], subject["key"], "key"
        places = [index for k, index in self.indexes[table] if k == key]
        if not places:
            return "", problem
        if subject["twice"]:
            seen = self.repeats[table, key] = self.repeats.get((table, key), 0) + 1
            at = places[min(seen, len(places) - 1)]
            return f"{table}[{at}].{field}", f"{problem} (first at {table}[{places[0]}])"
        return f"{table}[{places[0]}]" + self._field(table, key, subject["what"]), problem

    def _field(self, table: str, key: object, what: str) -> str:
        if what.startswith("team "):
            return ".teams"
        if what.startswith("user "):
            return ".user"
        if what.startswith(("primary policy", "fallback policy")):
            return "." + what.split(" ", 1)[0] + "_policy"
        member = re.match(r"member (-?\d+) ", what)
        policy = self.policies.get(str(key)) if table == "policies" else None
        if member is not None and policy is not None:
            for index, entry in enumerate(policy.members):
                if entry.user_id == int(member[1]):
                    return f".members[{index}]"
        return ""


_PLURAL = {"team": "teams", "policy": "policies", "source": "sources"}


# ---------------------------------------------------------------------- errors


def _structure_problems(exc: BaseException, path: str) -> list[tuple[str, str]]:
    """One ``(table path, message)`` per problem in a structuring failure ``exc`` at ``path``."""
    return structure_problems(
        exc, path, allowed_keys=_allowed_keys, key_name=_key_name, own=_own_problems
    )


def _key_name(cls: type[Any], name: str) -> str:
    return _RENAMED.get(cls, {}).get(name, name)


def _own_problems(exc: BaseException, path: str) -> list[tuple[str, str]] | None:
    if isinstance(exc, _At):
        return [(_join(path, exc.key) if exc.key else path, exc.message)]
    if isinstance(exc, ConfigError):  # a model's own validation (a policy, a source...)
        return [(path, problem) for problem in exc.problems]
    if isinstance(exc, ValidationError):  # a model's field validator (a team's key)
        return [
            (_join(path, error.field), f"{_show(error.value)} {error.message}")
            for error in exc.errors
        ]
    return None


def _allowed_keys(cls: type[Any]) -> list[str]:
    renamed = _RENAMED.get(cls, {})
    return [renamed.get(f.name, f.name) for f in attrs.fields(cls) if f.init]


# ---------------------------------------------------------------------- converter


@functools.cache
def _converter() -> cattrs.Converter:
    """The one converter of this module, built on first use and never changed afterwards."""
    return _make_converter()


def _make_converter() -> cattrs.Converter:
    """A new converter that structures configuration files strictly."""
    converter = cattrs.Converter(forbid_extra_keys=True)

    # Strict scalars: a TOML "false" string is not a bool, 1.0 is not an int.
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(date, _structure_date)
    converter.register_structure_hook(timedelta, _structure_timedelta)
    # Enums by value. Each enum is registered by class: these are StrEnums,
    # which would otherwise be structured as plain strings.
    for enum_type in (
        MatchScope,
        Unroutable,
        Role,
        Distribution,
        Period,
        LoanPurpose,
        CreditRating,
    ):
        converter.register_structure_hook(enum_type, _structure_enum)
    converter.register_structure_hook_factory(_is_collection, _collection_hook(converter))
    converter.register_structure_hook_factory(attrs.has, lambda cls: _table_hook(converter, cls))
    converter.register_structure_hook(License, _license_hook(converter))
    converter.register_structure_hook(
        OrgSettings,
        _table_hook(
            converter,
            OrgSettings,
            timezone=override(struct_hook=_structure_timezone),
            routing_cap=override(struct_hook=_bounded(ROUTING_CAPS)),
            lead_link=override(struct_hook=_structure_link),
        ),
    )
    converter.register_structure_hook(
        _UserEntry,
        _table_hook(
            converter,
            _UserEntry,
            id=override(struct_hook=_bounded(USER_IDS)),
            email=override(struct_hook=_structure_email),
        ),
    )
    # Caps before filters before members before policies: a generated hook looks
    # up its fields' hooks when it is made.
    converter.register_structure_hook(
        VolumeCap,
        _table_hook(converter, VolumeCap, count=override(struct_hook=_bounded(VOLUME_CAP_COUNTS))),
    )
    converter.register_structure_hook(
        MemberFilters,
        _table_hook(
            converter, MemberFilters, max_leads=override(struct_hook=_caps_hook(converter))
        ),
    )
    converter.register_structure_hook(
        PolicyMember,
        _table_hook(
            converter,
            PolicyMember,
            user_id=override(rename="user", struct_hook=_bounded(USER_IDS)),
            weight=override(struct_hook=_bounded(WEIGHTS)),
        ),
    )
    converter.register_structure_hook(
        RoutingPolicy,
        _table_hook(
            converter,
            RoutingPolicy,
            user=override(struct_hook=_bounded(USER_IDS, optional=True)),
            ring_size=override(struct_hook=_bounded(RING_SIZES)),
            offer_expires_after=override(struct_hook=_structure_offer_expiry),
        ),
    )
    return converter


def _structure_date(value: Any, _: Any) -> date:
    hint = "write a date such as 2026-01-05"
    if isinstance(value, datetime):
        raise _Invalid(f"expected a date, got {_show(value)}: {hint}")
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise _Invalid(f"expected a date, got {_show(value)}: {hint}")
    if not _ISO_DATE.fullmatch(value):
        raise _Invalid(f"{_quote(value)} is not a date: {hint}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise _Invalid(f"{_quote(value)} is not a date: {exc}") from None


_structure_timedelta = duration_hook('"5m" or "2h"')


def _structure_enum(value: Any, cls: type[enum.Enum]) -> enum.Enum:
    values = [str(member.value) for member in cls]
    shown = [repr(v) for v in values] if any(" " in v for v in values) else values
    allowed = ", ".join(shown)
    if not isinstance(value, str):
        raise _Invalid(f"expected one of {allowed}, got {_show(value)}")
    try:
        return cls(value)
    except ValueError:
        pass
    same = [v for v in values if v.casefold() == value.casefold()]
    close = same or difflib.get_close_matches(value, values, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise _Invalid(f"{_quote(value)} is not one of {allowed}{hint}")


def _structure_timezone(value: Any, _: Any) -> str:
    name = _structure_str(value, str)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        close = difflib.get_close_matches(name, _zone_names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _Invalid(
            f"{_quote(name)} is not an IANA time zone: write e.g. 'America/Chicago'{hint}"
        ) from None
    return name


@functools.cache
def _zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def _bounded(bounds: Bounds, *, optional: bool = False) -> Callable[[Any, Any], Any]:
    """A hook for a whole number in ``bounds`` (or ``None`` too when ``optional``)."""

    def structure(value: Any, _: Any) -> int | None:
        if value is None and optional:
            return None
        number = _structure_int(value, int)
        problem = bounds.problem(number)
        if problem is not None:
            raise _Invalid(problem)
        return number

    return structure


def _structure_offer_expiry(value: Any, _: Any) -> timedelta:
    expiry = _structure_timedelta(value, timedelta)
    problem = offer_expiry_problem(expiry)
    if problem is not None:
        raise _Invalid(f"{_show(value)} {problem}")
    return expiry


def _structure_link(value: Any, _: Any) -> str:
    """A link template, checked by rendering it exactly as sending does."""
    link = _structure_str(value, str)
    try:
        render_link(link, lead_id=EXAMPLE_LEAD_ID)
    except LinkTemplateError as exc:
        raise _Invalid(exc.reason) from None
    return link


def _structure_email(value: Any, _: Any) -> str:
    raw = _structure_str(value, str)
    try:
        return parse_email(raw)
    except BadValue as exc:
        raise _Invalid(f"{_quote(raw)} {exc}") from None


def _license_hook(converter: cattrs.Converter) -> Callable[[Any, Any], License]:
    """A license from a state code (``"TX"``) or a table ``{ state, expires_on }``."""
    table = _table_hook(converter, License)

    def structure(value: Any, _: Any) -> License:
        if isinstance(value, str):
            license_ = License(value)
        elif isinstance(value, Mapping):
            license_ = table(value, License)
        else:
            raise _Invalid(
                f'expected a state code such as "TX" or a table '
                f"{{ state = ..., expires_on = ... }}, got {_show(value)}"
            )
        if license_.state not in USPS_STATES:
            upper = license_.state.upper()
            hint = f" (did you mean {upper!r}?)" if upper in USPS_STATES else ""
            raise _Invalid(f"{_quote(license_.state)} is not a USPS state code such as 'TX'{hint}")
        return license_

    return structure


def _caps_hook(converter: cattrs.Converter) -> Callable[[Any, Any], tuple[VolumeCap, ...]]:
    """Volume caps from one table or a list of tables."""
    one = converter.get_structure_hook(VolumeCap)
    many = converter.get_structure_hook(tuple[VolumeCap, ...])

    def structure(value: Any, _: Any) -> tuple[VolumeCap, ...]:
        if isinstance(value, Mapping):
            return (one(value, VolumeCap),)
        if isinstance(value, list | tuple):
            caps: tuple[VolumeCap, ...] = many(value, tuple[VolumeCap, ...])
            return caps
        raise _Invalid(
            f"expected a table {{ per = ..., count = ... }} or a list of them, got {_show(value)}"
        )

    return structure


def _is_collection(type_: Any) -> bool:
    args = get_args(type_)
    if get_origin(type_) is tuple:
        return len(args) == 2 and args[1] is Ellipsis
    return get_origin(type_) is frozenset and len(args) == 1


def _collection_hook(converter: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """Homogeneous tuples and frozensets from lists only: a string is not a list of letters."""

    def factory(type_: Any) -> Callable[[Any, Any], Any]:
        item_type = get_args(type_)[0]
        make = tuple if get_origin(type_) is tuple else frozenset

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, list | tuple):
                raise _Invalid(f"expected a list, got {_show(value)}")
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


def _table_hook(
    converter: cattrs.Converter, cls: type[T], **overrides: Any
) -> Callable[[Any, Any], T]:
    """Attrs classes from tables only, refusing unknown keys."""
    generated = make_dict_structure_fn(
        cls,
        converter,
        _cattrs_forbid_extra_keys=True,
        _cattrs_detailed_validation=True,
        **overrides,
    )

    def structure(value: Any, _: Any) -> T:
        if not isinstance(value, Mapping):
            raise _Invalid(f"expected a table, got {_show(value)}")
        built: T = generated(value, cls)
        return built

    return structure


# ---------------------------------------------------------------------- writing


def _settings_pairs(settings: OrgSettings) -> list[tuple[str, Any]]:
    return [(f.name, getattr(settings, f.name)) for f in attrs.fields(OrgSettings)]


def _user_pairs(user: User) -> list[tuple[str, Any]]:
    whole = f"{user.first_name} {user.last_name}"
    if _split_name(whole) == (user.first_name, user.last_name):
        names: list[tuple[str, Any]] = [("name", whole.strip())]
    else:
        names = [("first_name", user.first_name), ("last_name", user.last_name)]
    pairs: list[tuple[str, Any]] = [
        ("id", user.user_id),
        *names,
        ("email", user.email),
        ("role", user.role),
        ("active", user.active),
    ]
    if user.permissions:
        pairs.append(("permissions", sorted(str(p) for p in user.permissions)))
    if user.licenses:
        pairs.append(
            (
                "licenses",
                [
                    lic.state
                    if lic.expires_on is None
                    else {"state": lic.state, "expires_on": lic.expires_on}
                    for lic in user.licenses
                ],
            )
        )
    if user.teams:
        pairs.append(("teams", sorted(user.teams)))
    if user.started_on is not None:
        pairs.append(("started_on", user.started_on))
    return pairs


def _policy_pairs(policy: RoutingPolicy) -> list[tuple[str, Any]]:
    defaults = attrs.fields(RoutingPolicy)
    pairs: list[tuple[str, Any]] = [
        ("key", policy.key),
        ("name", policy.name),
        ("distribution", policy.distribution),
    ]
    if policy.teams:
        pairs.append(("teams", list(policy.teams)))
    if policy.user is not None:
        pairs.append(("user", policy.user))
    if policy.ring_size != defaults.ring_size.default:
        pairs.append(("ring_size", policy.ring_size))
    if policy.offer_expires_after != defaults.offer_expires_after.default:
        pairs.append(
            (
                "offer_expires_after",
                _duration(policy.offer_expires_after, f"policy {policy.key!r}"),
            )
        )
    return pairs


def _duration(value: timedelta, where: str) -> str:
    text = format_duration(value)
    try:
        same = parse_duration(text) == value
    except ValidationError:
        same = False
    if not same:
        raise ConfigError(
            f"{where}: offer_expires_after {value} cannot be written: "
            "a duration in a file is a positive whole number of seconds"
        )
    return text


def _member_pairs(member: PolicyMember) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = [("user", member.user_id)]
    if member.paused:
        pairs.append(("paused", True))
    if member.weight != 1:
        pairs.append(("weight", member.weight))
    filters = member.filters
    written: dict[str, Any] = {}
    for name in ("states", "zips", "loan_purposes", "credit_ratings"):
        values: frozenset[Any] = getattr(filters, name)
        if values:
            written[name] = sorted(str(v) for v in values)
    if filters.require_license:
        written["require_license"] = True
    caps = [{"per": cap.per, "count": cap.count} for cap in filters.max_leads]
    if caps:
        written["max_leads"] = caps[0] if len(caps) == 1 else caps
    if written:
        pairs.append(("filters", written))
    return pairs


def _source_pairs(source: LeadSource) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = [("key", source.key), ("name", source.name)]
    for name in ("description", "channel"):
        if getattr(source, name):
            pairs.append((name, getattr(source, name)))
    for name in ("primary_policy", "fallback_policy"):
        if getattr(source, name) is not None:
            pairs.append((name, getattr(source, name)))
    return pairs


def _table(header: str, pairs: Iterable[tuple[str, Any]]) -> list[str]:
    return [header, *(f"{key} = {_value(value)}" for key, value in pairs), ""]


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _string(text: str) -> str:
    """``text`` as a TOML basic string."""
    out = ['"']
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char < " " or char == "\x7f":
            out.append(f"\\u{ord(char):04X}")
        elif "\ud800" <= char <= "\udfff":
            raise ConfigError(f"{text!r} cannot be written: it holds an unpaired surrogate")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _value(value: Any) -> str:
    """``value`` as a TOML value: strings, enums, whole numbers, booleans, dates, lists, tables."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime):
        raise ConfigError(f"{value.isoformat()} cannot be written: only dates are")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{key} = {_value(item)}" for key, item in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise ConfigError(f"{value!r} cannot be written as a TOML value")
