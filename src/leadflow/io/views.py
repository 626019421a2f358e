"""Saved pipeline views as data: TOML or JSON that an administrator pushes to teams.

::

    [[views]]
    name = "New CI Refi Leads"
    only_contacts_with_leads = true
    sort = [{ field = "loan_amount", descending = true }]
    include = [
      { field = "lead_source", op = "equals", value = "ci_rate_demo" },
      { field = "loan_purpose", op = "in", value = [
        "Refinance - No Cash Out", "Refinance - Cash Out"] },
    ]
    exclude = [{ field = "stage", op = "equals", value = "closed" }]

Every problem is reported in one :class:`~leadflow.errors.ConfigError`,
naming the view and the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from leadflow.errors import ConfigError, ValidationError
from leadflow.io._toml import parse_toml
from leadflow.predicates import Condition, Criteria, Op
from leadflow.views import MAX_LEADS_PER_CONTACT, SortKey, View

__all__ = ["view_from_dict", "view_to_dict", "views_from_json", "views_from_toml"]

_VIEW_KEYS = {
    "name",
    "include",
    "exclude",
    "sort",
    "only_contacts_with_leads",
    "only_unassigned",
    "max_leads_per_contact",
}


def _condition(data: Any, where: str, problems: list[str]) -> Condition | None:
    if not isinstance(data, Mapping):
        problems.append(f"{where}: expected a table with field, op and value")
        return None
    unknown = set(data) - {"field", "op", "value"}
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        return None
    try:
        op = Op(data.get("op", "equals"))
    except ValueError:
        allowed = ", ".join(o.value for o in Op)
        problems.append(f"{where}.op: {data.get('op')!r} is not one of {allowed}")
        return None
    try:
        return Condition(str(data.get("field", "")), op, data.get("value"))
    except ValidationError as exc:
        problems.extend(f"{where}: {e}" for e in exc.errors)
        return None


def view_from_dict(data: Mapping[str, Any], *, where: str = "view") -> View:
    """One view from a mapping shaped like the TOML above; ConfigError lists every problem."""
    problems: list[str] = []
    unknown = set(data) - _VIEW_KEYS
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}.name: a view needs a name")
        name = ""
    where = f"view {name!r}" if name else where
    groups: dict[str, list[Condition]] = {"include": [], "exclude": []}
    for group in groups:
        items = data.get(group, [])
        if not isinstance(items, list):
            problems.append(f"{where}.{group}: expected a list of conditions")
            continue
        for i, item in enumerate(items):
            found = _condition(item, f"{where}.{group}[{i}]", problems)
            if found is not None:
                groups[group].append(found)
    sort: list[SortKey] = []
    for i, item in enumerate(data.get("sort", [])):
        try:
            if isinstance(item, str):
                sort.append(SortKey(item))
            else:
                sort.append(SortKey(str(item["field"]), bool(item.get("descending", False))))
        except (ValidationError, KeyError, TypeError):
            problems.append(f"{where}.sort[{i}]: {item!r} is not a lead field to sort by")
    flags = {}
    for key in ("only_contacts_with_leads", "only_unassigned"):
        value = data.get(key, False)
        if not isinstance(value, bool):
            problems.append(f"{where}.{key}: expected true or false")
        flags[key] = bool(value)
    limit = data.get("max_leads_per_contact", MAX_LEADS_PER_CONTACT)
    if isinstance(limit, bool) or not isinstance(limit, int):
        problems.append(f"{where}.max_leads_per_contact: expected a whole number")
        limit = MAX_LEADS_PER_CONTACT
    if problems:
        raise ConfigError(problems)
    try:
        return View(
            name=name,
            criteria=Criteria(include=tuple(groups["include"]), exclude=tuple(groups["exclude"])),
            sort=tuple(sort) if sort else View(name=name).sort,
            max_leads_per_contact=limit,
            **flags,
        )
    except ValidationError as exc:
        raise ConfigError([f"{where}: {e}" for e in exc.errors]) from None


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset | tuple | list):
        return (
            sorted((_plain(v) for v in value), key=str)
            if isinstance(value, frozenset)
            else [_plain(v) for v in value]
        )
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def view_to_dict(view: View) -> dict[str, Any]:
    """``view`` as plain data that :func:`view_from_dict` reads back."""

    def conditions(items: tuple[Condition, ...]) -> list[dict[str, Any]]:
        out = []
        for c in items:
            entry: dict[str, Any] = {"field": c.field, "op": c.op.value}
            if c.value is not None:
                entry["value"] = _plain(c.value)
            out.append(entry)
        return out

    return {
        "name": view.name,
        "include": conditions(view.criteria.include),
        "exclude": conditions(view.criteria.exclude),
        "sort": [{"field": k.field, "descending": k.descending} for k in view.sort],
        "only_contacts_with_leads": view.only_contacts_with_leads,
        "only_unassigned": view.only_unassigned,
        "max_leads_per_contact": view.max_leads_per_contact,
    }


def _views(data: Mapping[str, Any], origin: str) -> list[View]:
    items = data.get("views")
    if not isinstance(items, list):
        raise ConfigError(f"{origin}: expected a list of views under 'views'")
    views, problems = [], []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            problems.append(f"{origin}: views[{i}]: expected a table")
            continue
        try:
            views.append(view_from_dict(item, where=f"views[{i}]"))
        except ConfigError as exc:
            problems.extend(f"{origin}: {p}" for p in exc.problems)
    if problems:
        raise ConfigError(problems)
    return views


def views_from_toml(text: str, *, origin: str = "<string>") -> list[View]:
    """Every ``[[views]]`` table of a TOML text."""
    return _views(parse_toml(text, origin), origin)


def views_from_json(text: str, *, origin: str = "<string>") -> list[View]:
    """Every view of a JSON document ``{"views": [...]}``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{origin}: invalid JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: expected an object with a 'views' list")
    return _views(data, origin)
