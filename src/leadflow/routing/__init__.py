"""Routing: who gets a new lead, and the exception records of leads nobody got (DESIGN D7, D8).

* :mod:`~leadflow.routing.config` -- :class:`LeadSource`, :class:`RoutingPolicy`,
  :class:`PolicyMember`, :class:`MemberFilters`, the enums;
* :mod:`~leadflow.routing.directory` -- :class:`Directory`: users, teams,
  policies and sources, validated and indexed once per configuration;
* :mod:`~leadflow.routing.engine` -- :func:`route`, :func:`resolve_offer`,
  :class:`RoutingState`, :class:`RoutingResult`;
* :mod:`~leadflow.routing.exceptions` -- exception records.

All pure: the caller passes ``now`` and the load counts, and stores the
returned state with the assignment.
"""

from leadflow.routing import config, engine, exceptions
from leadflow.routing.config import *
from leadflow.routing.directory import Directory
from leadflow.routing.engine import *
from leadflow.routing.exceptions import *

__all__ = ["Directory", *config.__all__, *engine.__all__, *exceptions.__all__]
