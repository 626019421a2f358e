"""The system actor in the library (DESIGN D12): batch and admin work without a user."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from desk_helpers import T0, make_desk, org, person, row
from leadflow.desk import LeadDesk
from leadflow.errors import ConfigError, NotFound, PermissionDenied
from leadflow.events import LeadAssigned, LeadCreated, actor_label
from leadflow.model import SYSTEM, Interface, Role, SystemActor, Team
from leadflow.org import OrgConfig, config_changes
from leadflow.routing import Outcome
from leadflow.storage.memory import MemoryStore
from leadflow.storage.protocol import Store


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Store]:
    if request.param == "memory":
        s: Store = MemoryStore()
    else:
        from leadflow.storage.sqlite import SQLiteStore

        s = SQLiteStore(tmp_path / "actor.db")  # type: ignore[operator]
    yield s
    s.close()


def test_the_system_actor_may_do_what_an_admin_may_and_is_no_user() -> None:
    assert SystemActor() == SYSTEM
    assert SYSTEM.is_admin
    assert SYSTEM.user_id is None
    assert SYSTEM.has_permission("reactivate")
    assert str(SYSTEM) == SYSTEM.name == "System"


def test_an_import_needs_no_user_and_its_activity_says_system(store: Store) -> None:
    desk, _ = make_desk(store)
    report = desk.import_rows([row("Ann"), row("Bo")], source="purchased_leads")
    assert (report.rows, report.assigned) == (2, 2)
    with store.unit_of_work() as uow:
        events = uow.activity(start=T0, end=T0.replace(year=2027))
    created = [e for e in events if isinstance(e, LeadCreated)]
    assigned = [e for e in events if isinstance(e, LeadAssigned)]
    assert len(created) == len(assigned) == 2
    assert {(e.actor, e.interface) for e in events} == {(None, Interface.API)}
    assert {actor_label(e) for e in events} == {"System (api)"}
    # routed among the west team's members; the system actor is nobody's candidate
    assert {e.assignee_id for e in assigned} <= {2, 3, 4}


def test_the_interface_is_the_desks(store: Store) -> None:
    desk, _ = make_desk(store, interface="cli")
    created = desk.create_lead(row(), source="purchased_leads")
    assert created.lead is not None
    assert {e.interface for e in desk.history(created.lead.lead_id)} == {Interface.CLI}
    with pytest.raises(ValueError, match="'web'"):
        make_desk(MemoryStore(), interface="web")


def test_admin_work_defaults_to_the_system_actor(store: Store) -> None:
    desk, _ = make_desk(store)
    held = desk.create_lead(row(), source="referral")  # no policy: held as an exception
    assert held.outcome is Outcome.HELD
    assert held.lead is not None
    lead_id = held.lead.lead_id
    desk.ignore_exception(lead_id)
    assert desk.exceptions() == []
    desk.ignore_exception(lead_id, ignored=False)
    assigned = desk.assign_exception(lead_id, 3)
    assert assigned.assignee_id == 3
    moved = desk.assign(lead_id, 4)
    assert moved.assignee_id == 4
    last = desk.history(lead_id)[-1]
    assert (last.actor, actor_label(last, desk.directory.users)) == (None, "System (api)")


def test_a_persons_own_work_refuses_the_system_actor(store: Store) -> None:
    desk, _ = make_desk(store)
    created = desk.create_lead(row(), source="purchased_leads")
    assert created.lead is not None
    lead_id = created.lead.lead_id
    for attempt, what in (
        (lambda: desk.claim(lead_id, actor=SYSTEM), "claiming a lead"),
        (lambda: desk.release(lead_id, actor=SYSTEM), "releasing a lead"),
        (lambda: desk.log_outcome(lead_id, "no_answer", actor=SYSTEM), "logging an outcome"),
        (lambda: desk.set_stage(lead_id, "engaged", actor=SYSTEM), "moving a lead's stage"),
    ):
        with pytest.raises(PermissionDenied, match=f"{what} is a person's own work"):
            attempt()
    assert len(desk.history(lead_id)) == 2  # nothing was written


def test_a_named_member_keeps_a_members_permissions(store: Store) -> None:
    desk, _ = make_desk(store)
    held = desk.create_lead(row(), source="referral")
    assert held.lead is not None
    with pytest.raises(PermissionDenied, match="only an admin"):
        desk.ignore_exception(held.lead.lead_id, actor=2)
    with pytest.raises(PermissionDenied, match="only an admin"):
        desk.import_rows([row()], source="purchased_leads", actor=2, assign_to=3)


def test_an_inactive_or_unknown_user_cannot_act(store: Store) -> None:
    config = org()
    gone = attrs.evolve(config.users[1], active=False)
    desk, _ = make_desk(store, attrs.evolve(config, users=(config.users[0], gone)))
    with pytest.raises(PermissionDenied, match="inactive"):
        desk.create_lead(row(), source="referral", actor=2)
    with pytest.raises(NotFound):
        desk.create_lead(row(), source="referral", actor=99)


def _with_users(config: OrgConfig, *users: object) -> OrgConfig:
    return attrs.evolve(config, users=tuple(users))


def test_configure_applies_a_change_and_refuses_an_orphan(store: Store) -> None:
    desk, _ = make_desk(store)
    desk.import_rows([row("Ann"), row("Bo"), row("Cy")], source="purchased_leads")
    config = org()
    daniel, maria, kelly, annie = config.users
    with store.unit_of_work() as uow:
        cursors = uow.cursors()
    # renaming, deactivating, adding: applied, the rotation kept
    changed = _with_users(
        config,
        daniel,
        attrs.evolve(maria, last_name="Lopez"),
        attrs.evolve(kelly, active=False),
        annie,
        person(5, "Omar"),
    )
    lines = LeadDesk.configure(store, changed, at=T0)
    assert "user 2 renamed 'Maria Officer' -> 'Maria Lopez'" in lines
    assert "user 3 (Kelly Officer) deactivated" in lines
    assert "user 5 (Omar Officer) added" in lines
    with store.unit_of_work() as uow:
        assert uow.cursors() == cursors
        assert uow.count_leads() == 3
        assert uow.load_config() == changed
    # removing a user who holds leads, or a source leads came from: refused, nothing changes
    without_maria = _with_users(changed, *(u for u in changed.users if u.user_id != 2))
    with pytest.raises(ConfigError, match="user 2 is removed but holds 1 lead"):
        LeadDesk.configure(store, without_maria, at=T0)
    no_source = attrs.evolve(
        changed, sources=tuple(s for s in changed.sources if s.key != "purchased_leads")
    )
    with pytest.raises(ConfigError, match="source 'purchased_leads' is removed but 3"):
        LeadDesk.configure(store, no_source, at=T0)
    with store.unit_of_work() as uow:
        assert uow.load_config() == changed
        assert len(uow.config_history()) == 2


def test_configure_by_a_member_or_a_stranger_is_refused(store: Store) -> None:
    make_desk(store)
    renamed = attrs.evolve(org(), settings=attrs.evolve(org().settings, name="Acme 2"))
    with pytest.raises(PermissionDenied, match="only an admin"):
        LeadDesk.configure(store, renamed, actor=2)
    with pytest.raises(NotFound, match="user 42"):
        LeadDesk.configure(store, renamed, actor=42)
    assert LeadDesk.configure(store, renamed, actor=1) == ["setting name: Acme Lending -> Acme 2"]


def test_config_changes_name_every_kind_of_change() -> None:
    old = org()
    new = attrs.evolve(
        old,
        users=(*old.users[:3], attrs.evolve(old.users[3], role=Role.ADMIN)),
        teams=(*old.teams, Team(key="east", name="East")),
        policies=old.policies[:1],
        sources=(attrs.evolve(old.sources[0], name="Bought"), *old.sources[1:]),
    )
    assert config_changes(old, new) == [
        "user 4 (Annie Officer) changed: role",
        "team east added",
        "policy direct_daniel removed",
        "source purchased_leads changed: name",
    ]
    assert config_changes(old, old) == []
