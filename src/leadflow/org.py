"""An organisation's configuration: settings, users, teams, routing policies and sources.

Pure values. The TOML loader (:mod:`leadflow.io`) builds an
:class:`OrgConfig` from a file; a store keeps it; the application service
builds its routing :class:`~leadflow.routing.Directory` from it.
"""

from __future__ import annotations

from datetime import tzinfo

import attrs

from leadflow.errors import NotFound
from leadflow.model import MatchScope, Team, User
from leadflow.routing.config import DEFAULT_CAP, LeadSource, RoutingPolicy, Unroutable
from leadflow.routing.directory import Directory

__all__ = ["OrgConfig", "OrgSettings"]


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
