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

Structuring is done by a private :mod:`cattrs` converter built once
(:mod:`leadflow.io._orgconfig_hooks`); callers never register hooks on it.
Writing a configuration back as TOML is :mod:`leadflow.io._orgconfig_writer`.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any, TypeVar

import attrs

from leadflow.errors import ConfigError, ValidationError
from leadflow.io._orgconfig_hooks import _converter, _split_name, _UserEntry
from leadflow.io._orgconfig_writer import org_config_to_toml
from leadflow.io._toml import join as _join
from leadflow.io._toml import parse_toml, structure_problems
from leadflow.io._toml import show as _show
from leadflow.io._toml import unknown_key as _unknown_key
from leadflow.io.playbooks import load_playbook, nothing_at
from leadflow.model import Team, User
from leadflow.org import OrgConfig, OrgSettings
from leadflow.routing.config import (
    LeadSource,
    PolicyMember,
    RoutingPolicy,
)
from leadflow.stages.playbook import Playbook
from leadflow.stages.presets import PRESETS, preset

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


@attrs.frozen(kw_only=True)
class OrgFile:
    """A loaded organisation configuration and the playbook its settings name.

    ``path`` is the file it was read from (``None`` for text or a dict).
    """

    config: OrgConfig
    playbook: Playbook
    path: Path | None = None


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
