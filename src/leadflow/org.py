"""An organisation's configuration: settings, users, teams, routing policies and sources.

Pure values. The TOML loader (:mod:`leadflow.io`) builds an
:class:`OrgConfig` from a file; a store keeps it; the application service
builds its routing :class:`~leadflow.routing.Directory` from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo

import attrs

from leadflow.errors import ConfigError, NotFound
from leadflow.limits import (
    RING_SIZES,
    ROUTING_CAPS,
    USER_IDS,
    VOLUME_CAP_COUNTS,
    WEIGHTS,
    number_text,
    offer_expiry_problem,
)
from leadflow.model import MatchScope, Team, User
from leadflow.routing.config import DEFAULT_CAP, LeadSource, RoutingPolicy, Unroutable
from leadflow.routing.directory import Directory
from leadflow.stages.durations import format_duration
from leadflow.templates import EXAMPLE_LEAD_ID, LinkTemplateError, render_link

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
    * ``routing_cap``: candidates per policy (50, the seed's; 1 to 10,000,
      :data:`leadflow.limits.ROUTING_CAPS`);
    * ``lead_link``: the link in assignment emails, a link template whose
      only placeholder is ``{lead_id}`` (:func:`leadflow.templates.render_link`).
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
        """The routing directory of this configuration (validated; ConfigError otherwise).

        :meth:`problems` are checked first: a configuration with any is
        refused with them alone.
        """
        problems = self.problems()
        if problems:
            raise ConfigError(problems)
        return Directory(
            users=self.users,
            teams=self.teams,
            policies=self.policies,
            sources=self.sources,
            cap=self.settings.routing_cap,
            unroutable=self.settings.unroutable,
            timezone=timezone,
        )

    def problems(self) -> list[str]:
        """What the routing directory does not check: whole numbers out of their range
        (:mod:`leadflow.limits`) and a lead link that is not a link template.

        One line a problem, naming the user, the policy and member, or the
        setting. A configuration file is checked for these as it is read
        (:mod:`leadflow.io.orgconfig`); this covers one built in Python.
        """
        problems: list[str] = []
        cap = ROUTING_CAPS.problem(self.settings.routing_cap)
        if cap is not None:
            problems.append(f"routing cap: {cap}")
        try:
            render_link(self.settings.lead_link, lead_id=EXAMPLE_LEAD_ID)
        except LinkTemplateError as exc:
            problems += exc.problems
        for user in self.users:
            found = USER_IDS.problem(user.user_id)
            if found is not None:
                problems.append(f"user {number_text(user.user_id)}: id {found}")
        for policy in self.policies:
            problems += [f"policy {policy.key!r}: {p}" for p in _policy_problems(policy)]
        return problems

    def user(self, user_id: int) -> User:
        for user in self.users:
            if user.user_id == user_id:
                return user
        raise NotFound(f"user {user_id} does not exist")


def _policy_problems(policy: RoutingPolicy) -> list[str]:
    found: list[str | None] = [
        None if policy.user is None else _named("user", USER_IDS.problem(policy.user)),
        _named("ring_size", RING_SIZES.problem(policy.ring_size)),
    ]
    expiry = offer_expiry_problem(policy.offer_expires_after)
    if expiry is not None:
        found.append(f"offer_expires_after {format_duration(policy.offer_expires_after)} {expiry}")
    for member in policy.members:
        who = f"member {number_text(member.user_id)}: "
        found += [
            _named(who + "user", USER_IDS.problem(member.user_id)),
            _named(who + "weight", WEIGHTS.problem(member.weight)),
            *(
                _named(f"{who}max_leads per {cap.per}", VOLUME_CAP_COUNTS.problem(cap.count))
                for cap in member.filters.max_leads
            ),
        ]
    return [problem for problem in found if problem is not None]


def _named(name: str, problem: str | None) -> str | None:
    return None if problem is None else f"{name}: {problem}"


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
