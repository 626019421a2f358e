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

from leadflow.routing.config import (
    DEFAULT_CAP,
    Distribution,
    FailureReason,
    LeadSource,
    MemberFilters,
    Period,
    PolicyMember,
    RoutingPolicy,
    Unroutable,
    VolumeCap,
)
from leadflow.routing.directory import Directory
from leadflow.routing.engine import (
    Offer,
    Outcome,
    PolicyCursor,
    Router,
    RoutingResult,
    RoutingState,
    TraceEntry,
    UserLoad,
    Verdict,
    resolve_offer,
    route,
)
from leadflow.routing.exceptions import (
    ExceptionFilter,
    ExceptionRecord,
    assign_exception,
    exception_record,
    ignore_exception,
    list_exceptions,
    unignore_exception,
)

__all__ = [
    "DEFAULT_CAP",
    "Directory",
    "Distribution",
    "ExceptionFilter",
    "ExceptionRecord",
    "FailureReason",
    "LeadSource",
    "MemberFilters",
    "Offer",
    "Outcome",
    "Period",
    "PolicyCursor",
    "PolicyMember",
    "Router",
    "RoutingPolicy",
    "RoutingResult",
    "RoutingState",
    "TraceEntry",
    "Unroutable",
    "UserLoad",
    "Verdict",
    "VolumeCap",
    "assign_exception",
    "exception_record",
    "ignore_exception",
    "list_exceptions",
    "resolve_offer",
    "route",
    "unignore_exception",
]
