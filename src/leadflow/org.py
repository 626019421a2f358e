"""An organisation's configuration: settings, users, teams, routing policies and sources.

Pure values. The TOML loader (:mod:`leadflow.io`) builds an
:class:`OrgConfig` from a file; a store keeps it; the application service
builds its routing :class:`~leadflow.routing.Directory` from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo

import attrs

from leadflow.errors import NotFound
from leadflow.model import MatchScope, Team, User
from leadflow.routing.config import DEFAULT_CAP, LeadSource, RoutingPolicy, Unroutable
from leadflow.routing.directory import Directory

__all__ = ["OrgConfig", "OrgSettings", "config_changes"]


@attrs.frozen(kw_only=True)
class OrgSettings:
    """Organisation-wide settings.

    * ``timezone``: an IANA name; calendar periods (reports, volume caps) are
      counted there;
    * ``playbook``: a preset name or the path of a playbook TOML file;
    * ``contact_matching``: where a new lead looks for its existing contact;
    * ``unroutable``: hold or reject a lead nobody can take whose contact is new;
    * ``notify_on_assignment``: email the assignee of every assignment;
    * ``routing_cap``: candidates per policy (50, the seed's);
    * ``lead_link``: the link in assignment emails, with ``{lead_id}``.
    """

    name: str = "My Organization"
    organization_id: str = "org"
    timezone: str = "UTC"
    playbook: str = "lead_management"
    contact_matching: MatchScope = MatchScope.POLICY_POOL
    unroutable: Unroutable = Unroutable.HOLD
    notify_on_assignment: bool = True
    routing_cap: int = DEFAULT_CAP
    lead_link: str = "https://crm.example.com/leads/{lead_id}"


@attrs.frozen(kw_only=True)
class OrgConfig:
    """Everything an administrator configures."""

    settings: OrgSettings = OrgSettings()
    users: tuple[User, ...] = ()
    teams: tuple[Team, ...] = ()
    policies: tuple[RoutingPolicy, ...] = ()
    sources: tuple[LeadSource, ...] = ()

    def directory(self, timezone: tzinfo) -> Directory:
        """The routing directory of this configuration (validated; ConfigError otherwise)."""
        return Directory(
            users=self.users,
            teams=self.teams,
            policies=self.policies,
            sources=self.sources,
            cap=self.settings.routing_cap,
            unroutable=self.settings.unroutable,
            timezone=timezone,
        )

    def user(self, user_id: int) -> User:
        for user in self.users:
            if user.user_id == user_id:
                return user
        raise NotFound(f"user {user_id} does not exist")


def _fields_changed(old: attrs.AttrsInstance, new: attrs.AttrsInstance) -> list[str]:
    return [
        field.name
        for field in attrs.fields(type(old))
        if getattr(old, field.name) != getattr(new, field.name)
    ]


def _keyed_changes(
    kind: str, old: Mapping[str, attrs.AttrsInstance], new: Mapping[str, attrs.AttrsInstance]
) -> list[str]:
    lines = [f"{kind} {key} added" for key in new if key not in old]
    lines += [f"{kind} {key} removed" for key in old if key not in new]
    for key, value in new.items():
        before = old.get(key)
        if before is not None and before != value:
            lines.append(f"{kind} {key} changed: {', '.join(_fields_changed(before, value))}")
    return lines


def config_changes(old: OrgConfig, new: OrgConfig) -> list[str]:
    """What changes from ``old`` to ``new``, one line a change, for the configuration log.

    Users are added, removed, deactivated, re-activated, renamed or
    otherwise changed (the fields named); teams, policies and sources are
    added, removed or changed; settings name their old and new values.
    """
    lines: list[str] = []
    before = {u.user_id: u for u in old.users}
    after = {u.user_id: u for u in new.users}
    for user_id, user in after.items():
        was = before.get(user_id)
        if was is None:
            lines.append(f"user {user_id} ({user.name}) added")
            continue
        if was.active and not user.active:
            lines.append(f"user {user_id} ({user.name}) deactivated")
        elif user.active and not was.active:
            lines.append(f"user {user_id} ({user.name}) re-activated")
        if was.name != user.name:
            lines.append(f"user {user_id} renamed {was.name!r} -> {user.name!r}")
        rest = [
            f for f in _fields_changed(was, user) if f not in ("active", "first_name", "last_name")
        ]
        if rest:
            lines.append(f"user {user_id} ({user.name}) changed: {', '.join(rest)}")
    lines += [f"user {uid} ({u.name}) removed" for uid, u in before.items() if uid not in after]
    lines += _keyed_changes("team", {t.key: t for t in old.teams}, {t.key: t for t in new.teams})
    lines += _keyed_changes(
        "policy", {p.key: p for p in old.policies}, {p.key: p for p in new.policies}
    )
    lines += _keyed_changes(
        "source", {s.key: s for s in old.sources}, {s.key: s for s in new.sources}
    )
    for name in _fields_changed(old.settings, new.settings):
        lines.append(
            f"setting {name}: {getattr(old.settings, name)!s} -> {getattr(new.settings, name)!s}"
        )
    return lines
