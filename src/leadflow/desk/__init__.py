"""LeadDesk: the application service, where the pure core meets a store and a clock.

Every command is one unit of work: it reads what it needs, brings the lead up
to date with the clock (aging), applies the pure rule, and writes the lead,
its contact, the activity, the routing cursor, the exception record and the
outbox message together -- or nothing, if anything fails::

    desk = LeadDesk(SQLiteStore("leadflow.db"))
    created = desk.create_lead({"first_name": "Annie", ...}, source="referral", actor=1)
    desk.log_outcome(created.lead.lead_id, "no_answer", actor=7)
    for entry in desk.queue(7):
        ...

:class:`LeadDesk` is a facade over small command handlers that share one
:class:`~leadflow.command.CommandContext`: creating leads
(:mod:`~leadflow.desk.intake`, over the intake pipeline), working them
(:mod:`~leadflow.desk.working`), routing administration
(:mod:`~leadflow.desk.admin`), the aging sweep (:mod:`~leadflow.desk.sweep`),
automations (:mod:`~leadflow.desk.automations`) and views
(:mod:`~leadflow.desk.views`). Once a command commits, its events go to the
context's event bus (:meth:`LeadDesk.subscribe`).

The desk reads the clock (``clock``, injectable: tests and the CLI's
``--now`` pass their own) and the randomness for ids (``entropy``); the core
it calls never does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime

from leadflow.automation import Subscription
from leadflow.command import CommandContext, Committed, system_clock
from leadflow.desk.admin import AdminHandler, configure
from leadflow.desk.automations import Automations
from leadflow.desk.intake import IntakeHandler
from leadflow.desk.sweep import AdvanceReport, SweepHandler
from leadflow.desk.views import ActivityReport, QueuePage, ViewHandler, Why
from leadflow.desk.working import WorkHandler
from leadflow.errors import ConfigError
from leadflow.intake import CreateResult, ImportReport, RowOutcome
from leadflow.model import Interface
from leadflow.org import OrgConfig
from leadflow.routing.directory import Directory
from leadflow.stages.playbook import Playbook
from leadflow.storage.protocol import Store

__all__ = [
    "ActivityReport",
    "AdvanceReport",
    "CreateResult",
    "ImportReport",
    "LeadDesk",
    "QueuePage",
    "RowOutcome",
    "Why",
    "system_clock",
]


class LeadDesk:
    """The application service. See the module documentation.

    ``store`` keeps everything; ``config`` is the organisation's
    configuration (``None``: the one saved in the store); ``playbook`` the
    lifecycle (``None``: the one the configuration names); ``clock`` gives
    ``now``; ``entropy(n)`` gives ``n`` random bytes for ids.
    ``subscriptions`` are the automations (the seed's journeys) the desk
    runs: after each command that fired one, unless ``run_subscriptions``
    is false (then the host calls :meth:`run_automations`, e.g. from a
    worker). ``interface`` is recorded on every event the desk stores (the
    CLI's desk says ``cli``; a host's, ``api``).

    Batch and administrative commands (imports, :meth:`advance`,
    :meth:`assign`, the exception list, :meth:`configure`) take an
    ``actor`` that defaults to :data:`~leadflow.model.SYSTEM`, the
    organisation's system actor (DESIGN D12): a host runs them without
    inventing a user. A person's own work (:meth:`log_outcome`,
    :meth:`set_stage`, :meth:`claim`, :meth:`release`, follow-ups, notes,
    :meth:`queue`) names the user.
    """

    configure = staticmethod(configure)

    def __init__(
        self,
        store: Store,
        *,
        config: OrgConfig | None = None,
        playbook: Playbook | None = None,
        clock: Callable[[], datetime] = system_clock,
        entropy: Callable[[int], bytes] = os.urandom,
        subscriptions: Sequence[Subscription] = (),
        run_subscriptions: bool = True,
        interface: Interface | str = Interface.API,
    ) -> None:
        if config is None:
            with store.unit_of_work() as uow:
                config = uow.load_config()
            if config is None:
                raise ConfigError(
                    "no organisation is configured in this store: "
                    "save one with LeadDesk.configure (or `leadflow init`)"
                )
        if playbook is None:
            from leadflow.io.playbooks import load_playbook

            playbook = load_playbook(config.settings.playbook)
        ctx = self.ctx = CommandContext(
            store,
            config,
            playbook,
            clock=clock,
            entropy=entropy,
            interface=interface,
            subscriptions=subscriptions,
        )
        intake = self.intake = IntakeHandler(ctx)
        self.automations = Automations(ctx, intake, run_after_commit=run_subscriptions)
        work, admin, views = WorkHandler(ctx), AdminHandler(ctx), ViewHandler(ctx)
        # creating leads
        self.create_lead = intake.create_lead
        self.import_rows = intake.import_rows
        self.import_table = intake.import_table
        # working a lead
        self.log_outcome = work.log_outcome
        self.set_stage = work.set_stage
        self.schedule_follow_up = work.schedule_follow_up
        self.general_follow_up = work.general_follow_up
        self.claim = work.claim
        self.release = work.release
        self.assign = work.assign
        self.add_note = work.add_note
        self.update_lead = work.update_lead
        # routing administration
        self.exceptions = admin.exceptions
        self.assign_exception = admin.assign_exception
        self.ignore_exception = admin.ignore_exception
        self.resolve_offer = admin.resolve_offer
        # aging and automations
        self.advance = SweepHandler(ctx).advance
        self.run_automations = self.automations.run
        # views
        self.get_lead = views.get_lead
        self.queue = views.queue
        self.queue_page = views.queue_page
        self.resolve_lead_id = views.resolve_lead_id
        self.why_not = views.why_not
        self.why = views.why
        self.pool = views.pool
        self.history = views.history
        self.activity_report = views.activity_report
        # the context
        self.now = ctx.now
        self.user = ctx.user
        self.actor = ctx.actor
        self.validator = ctx.validator

    def subscribe(self, subscriber: Callable[[Committed], None]) -> Callable[[], None]:
        """Call ``subscriber`` with what each command stored (its events, in order), once
        the command has committed; returns the function that unsubscribes it."""
        return self.ctx.bus.subscribe(subscriber)

    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def config(self) -> OrgConfig:
        return self.ctx.config

    @property
    def playbook(self) -> Playbook:
        return self.ctx.playbook

    @property
    def directory(self) -> Directory:
        return self.ctx.directory

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.ctx.clock

    @property
    def interface(self) -> Interface:
        return self.ctx.interface

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return self.ctx.subscriptions

    @property
    def run_subscriptions(self) -> bool:
        return self.automations.run_after_commit
