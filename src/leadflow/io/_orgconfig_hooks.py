"""The converter that structures organisation configurations: cattrs hooks, built once."""

from __future__ import annotations

import difflib
import functools
import re
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from leadflow.io._toml import Invalid as _Invalid
from leadflow.io._toml import collection_hook, duration_hook
from leadflow.io._toml import quote as _quote
from leadflow.io._toml import show as _show
from leadflow.io._toml import structure_bool as _structure_bool
from leadflow.io._toml import structure_enum as _structure_enum
from leadflow.io._toml import structure_int as _structure_int
from leadflow.io._toml import structure_str as _structure_str
from leadflow.limits import (
    RING_SIZES,
    ROUTING_CAPS,
    USER_IDS,
    VOLUME_CAP_COUNTS,
    WEIGHTS,
    Bounds,
    offer_expiry_problem,
)
from leadflow.model import CreditRating, License, LoanPurpose, MatchScope, Role
from leadflow.org import OrgSettings
from leadflow.routing.config import (
    Distribution,
    MemberFilters,
    Period,
    PolicyMember,
    RoutingPolicy,
    Unroutable,
    VolumeCap,
)
from leadflow.templates import EXAMPLE_LEAD_ID, LinkTemplateError, render_link
from leadflow.values import USPS_STATES, BadValue, parse_email

T = TypeVar("T")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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


def _split_name(name: str) -> tuple[str, str]:
    """``"Mary Ann Smith"`` -> ``("Mary Ann", "Smith")``; one word is a first name alone."""
    words = name.strip().rsplit(None, 1)
    return (words[0], "") if len(words) == 1 else (words[0], words[1])


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
    converter.register_structure_hook_factory(_is_collection, collection_hook(converter))
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
