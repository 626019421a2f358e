"""Organisation configurations back to TOML text."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import attrs

from leadflow.errors import ConfigError, ValidationError
from leadflow.io._orgconfig_hooks import _split_name
from leadflow.model import User
from leadflow.org import OrgConfig, OrgSettings
from leadflow.routing.config import (
    LeadSource,
    PolicyMember,
    RoutingPolicy,
)
from leadflow.stages.durations import format_duration, parse_duration


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
