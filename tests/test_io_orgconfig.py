"""Organisation configurations from TOML (leadflow.io.orgconfig), and back to TOML text."""

from __future__ import annotations

import copy
import shutil
import tomllib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.errors import ConfigError, LeadflowError
from leadflow.io.orgconfig import (
    OrgFile,
    check_org_config,
    load_org_config,
    org_config_from_dict,
    org_config_from_toml,
    org_config_to_toml,
)
from leadflow.io.playbooks import load_playbook
from leadflow.model import CreditRating, License, LoanPurpose, MatchScope, Role, Team, User
from leadflow.org import OrgConfig, OrgSettings
from leadflow.routing.config import (
    Distribution,
    LeadSource,
    MemberFilters,
    Period,
    PolicyMember,
    RoutingPolicy,
    Unroutable,
    VolumeCap,
)
from leadflow.stages.presets import PRESETS, preset
from leadflow.testing import strategies as lfst
from leadflow.values import USPS_STATES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "org.toml"
PLAYBOOK_EXAMPLE = ROOT / "examples" / "playbooks" / "my_pipeline.toml"

GOOD = """
[organization]
name = "Acme Lending"
timezone = "America/Chicago"
playbook = "lead_management"
contact_matching = "policy_pool"
unroutable = "hold"
notify_on_assignment = true
routing_cap = 50

[[teams]]
key = "west"
name = "West Region"

[[users]]
id = 1
name = "Daniel Davis"
email = "daniel@example.com"
role = "admin"
active = true
permissions = ["receive_leads"]
licenses = ["TX", "OK"]
teams = ["west"]
started_on = "2026-01-05"

[[users]]
id = 3
name = "Mary Ann Smith"
email = "Mary@Example.com"
permissions = ["receive_leads", "approve"]
licenses = [{ state = "TX", expires_on = 2027-12-31 }]
teams = ["west"]

[[policies]]
key = "west_rr"
name = "West round robin"
distribution = "round_robin"
teams = ["west"]
  [[policies.members]]
  user = 3
  paused = true
  filters = { states = ["TX"], loan_purposes = ["Purchase"], require_license = true, max_leads = { per = "day", count = 20 } }

[[policies]]
key = "direct_daniel"
name = "Direct to Daniel"
distribution = "direct"
user = 1

[[sources]]
key = "purchased_leads"
name = "Purchased Leads"
description = "Leads bought from a partner"
channel = "Partner"
primary_policy = "west_rr"
fallback_policy = "direct_daniel"
"""  # noqa: E501 (a TOML inline table is one line)

EXPECTED = OrgConfig(
    settings=OrgSettings(
        name="Acme Lending",
        timezone="America/Chicago",
        playbook="lead_management",
        contact_matching=MatchScope.POLICY_POOL,
        unroutable=Unroutable.HOLD,
        notify_on_assignment=True,
        routing_cap=50,
    ),
    teams=(Team(key="west", name="West Region"),),
    users=(
        User(
            user_id=1,
            first_name="Daniel",
            last_name="Davis",
            email="daniel@example.com",
            role=Role.ADMIN,
            active=True,
            permissions=frozenset({"receive_leads"}),
            licenses=(License("TX"), License("OK")),
            teams=frozenset({"west"}),
            started_on=date(2026, 1, 5),
        ),
        User(
            user_id=3,
            first_name="Mary Ann",
            last_name="Smith",
            email="mary@example.com",
            permissions=frozenset({"receive_leads", "approve"}),
            licenses=(License("TX", date(2027, 12, 31)),),
            teams=frozenset({"west"}),
        ),
    ),
    policies=(
        RoutingPolicy(
            key="west_rr",
            name="West round robin",
            distribution=Distribution.ROUND_ROBIN,
            teams=("west",),
            members=(
                PolicyMember(
                    user_id=3,
                    paused=True,
                    filters=MemberFilters(
                        states=frozenset({"TX"}),
                        loan_purposes=frozenset({LoanPurpose.PURCHASE}),
                        require_license=True,
                        max_leads=(VolumeCap(Period.DAY, 20),),
                    ),
                ),
            ),
        ),
        RoutingPolicy(
            key="direct_daniel",
            name="Direct to Daniel",
            distribution=Distribution.DIRECT,
            user=1,
        ),
    ),
    sources=(
        LeadSource(
            key="purchased_leads",
            name="Purchased Leads",
            description="Leads bought from a partner",
            channel="Partner",
            primary_policy="west_rr",
            fallback_policy="direct_daniel",
        ),
    ),
)


def good() -> dict[str, Any]:
    """The GOOD file as data, a fresh copy each time, to be spoiled by a test."""
    return copy.deepcopy(tomllib.loads(GOOD))


def problems(data: dict[str, Any], base_dir: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as excinfo:
        org_config_from_dict(data, name="org.toml", base_dir=base_dir)
    return list(excinfo.value.problems)


def spoiled(change: Callable[[dict[str, Any]], object]) -> list[str]:
    """The problems of the GOOD file after ``change`` (which edits the data in place)."""
    data = good()
    change(data)
    return problems(data)


def member(data: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = data["policies"][0]["members"][0]
    return first


# ---------------------------------------------------------------- the good file


def test_the_good_file_loads_to_the_expected_config_and_preset() -> None:
    loaded = org_config_from_toml(GOOD)
    assert loaded.config == EXPECTED
    assert loaded.playbook == preset("lead_management")
    assert loaded.path is None
    # Defaults of keys left out come from OrgSettings.
    assert loaded.config.settings.organization_id == "org"
    assert loaded.config.settings.lead_link == OrgSettings().lead_link


def test_a_file_loads_with_its_path_and_checks_clean(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(GOOD, encoding="utf-8")
    loaded = load_org_config(path)
    assert loaded == OrgFile(config=EXPECTED, playbook=preset("lead_management"), path=path)
    assert check_org_config(path) == []
    assert check_org_config(str(path)) == []


def test_a_name_splits_before_its_last_word_and_may_be_written_apart() -> None:
    data = good()
    users = data["users"]
    users[0]["name"] = "  Cher  "
    del users[1]["name"]
    users[1]["first_name"] = "Linda"
    users[1]["last_name"] = "van der Berg"
    loaded = org_config_from_dict(data).config
    assert (loaded.users[0].first_name, loaded.users[0].last_name) == ("Cher", "")
    assert (loaded.users[1].first_name, loaded.users[1].last_name) == ("Linda", "van der Berg")


def test_max_leads_may_be_one_table_or_a_list_and_dates_bare_or_quoted() -> None:
    data = good()
    member(data)["filters"]["max_leads"] = [
        {"per": "day", "count": 20},
        {"per": "month", "count": 300},
    ]
    data["users"][0]["started_on"] = date(2026, 1, 5)
    data["users"][1]["licenses"] = [{"state": "TX", "expires_on": "2027-12-31"}]
    loaded = org_config_from_dict(data).config
    caps = loaded.policies[0].members[0].filters.max_leads
    assert caps == (VolumeCap(Period.DAY, 20), VolumeCap(Period.MONTH, 300))
    assert loaded.users == EXPECTED.users


def test_filters_may_be_a_sub_table_instead_of_an_inline_table() -> None:
    inline = 'filters = { states = ["TX"], loan_purposes = ["Purchase"], require_license = true, '
    inline += 'max_leads = { per = "day", count = 20 } }'
    sub_table = "\n".join(
        [
            "[policies.members.filters]",
            'states = ["TX"]',
            'loan_purposes = ["Purchase"]',
            "require_license = true",
            'max_leads = { per = "day", count = 20 }',
        ]
    )
    assert inline in GOOD
    assert org_config_from_toml(GOOD.replace(inline, sub_table)).config == EXPECTED


def test_policy_options_for_offers_are_read() -> None:
    data = good()
    data["policies"][0].update(
        distribution="ring_all", ring_size=3, offer_expires_after="2m", teams=["west"]
    )
    member(data)["weight"] = 4
    policy = org_config_from_dict(data).config.policies[0]
    assert policy.distribution is Distribution.RING_ALL
    assert (policy.ring_size, policy.offer_expires_after) == (3, timedelta(minutes=2))
    assert policy.members[0].weight == 4


def test_a_playbook_path_is_read_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    shutil.copy(PLAYBOOK_EXAMPLE, tmp_path / "playbooks" / "ours.toml")
    path = tmp_path / "org.toml"
    path.write_text(
        GOOD.replace('playbook = "lead_management"', 'playbook = "playbooks/ours.toml"'),
        encoding="utf-8",
    )
    loaded = load_org_config(path)
    assert loaded.playbook == load_playbook(PLAYBOOK_EXAMPLE)
    assert loaded.config.settings.playbook == "playbooks/ours.toml"  # kept as written


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_name_is_a_playbook(name: str) -> None:
    data = good()
    data["organization"]["playbook"] = name
    assert org_config_from_dict(data).playbook == preset(name)


# ---------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d.update(polices=[]),
            "org.toml: unknown key 'polices' (did you mean 'policies'?)",
        ),
        (
            lambda d: d["organization"].update(timezon="UTC"),
            "org.toml: organization: unknown key 'timezon' (did you mean 'timezone'?)",
        ),
        (
            lambda d: d["teams"][0].update(label="x"),
            "org.toml: teams[0]: unknown key 'label' (keys: key, name)",
        ),
        (
            lambda d: d["users"][1].update(emial="x"),
            "org.toml: users[1]: unknown key 'emial' (did you mean 'email'?)",
        ),
        (
            lambda d: d["users"][1]["licenses"][0].update(expires="2027-01-01"),
            "org.toml: users[1].licenses[0]: unknown key 'expires' (did you mean 'expires_on'?)",
        ),
        (
            lambda d: d["policies"][0].update(distrib="direct"),
            "org.toml: policies[0]: unknown key 'distrib' (did you mean 'distribution'?)",
        ),
        (
            lambda d: member(d).update(user_id=3),
            "org.toml: policies[0].members[0]: unknown key 'user_id' (did you mean 'user'?)",
        ),
        (
            lambda d: member(d)["filters"].update(stats=["TX"]),
            "org.toml: policies[0].members[0].filters: unknown key 'stats' "
            "(did you mean 'states'?)",
        ),
        (
            lambda d: member(d)["filters"]["max_leads"].update(every="day"),
            "org.toml: policies[0].members[0].filters.max_leads: unknown key 'every' "
            "(keys: per, count)",
        ),
        (
            lambda d: d["sources"][0].update(chanel="x"),
            "org.toml: sources[0]: unknown key 'chanel' (did you mean 'channel'?)",
        ),
    ],
    ids=[
        "top",
        "organization",
        "teams",
        "users",
        "licenses",
        "policies",
        "members",
        "filters",
        "max_leads",
        "sources",
    ],
)
def test_an_unknown_key_names_the_key_and_its_table(
    change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    assert spoiled(change) == [expected]


# ---------------------------------------------------------------- values


_PURPOSES = (
    "'Purchase', 'Refinance - No Cash Out', 'Refinance - Cash Out', 'HELOC', "
    "'Home Equity Loan', 'Reverse Mortgage', 'Second Mortgage', 'Construction Loan', "
    "'Other', 'TBD'"
)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["organization"].update(contact_matching="everyone"),
            "org.toml: organization.contact_matching: 'everyone' is not one of "
            "account, policy_pool, organization",
        ),
        (
            lambda d: d["organization"].update(unroutable="Hold"),
            "org.toml: organization.unroutable: 'Hold' is not one of hold, reject "
            "(did you mean 'hold'?)",
        ),
        (
            lambda d: d["users"][0].update(role="boss"),
            "org.toml: users[0].role: 'boss' is not one of admin, member",
        ),
        (
            lambda d: d["policies"][0].update(distribution="round robin"),
            "org.toml: policies[0].distribution: 'round robin' is not one of round_robin, "
            "direct, weighted, least_loaded, ring_all, first_claim (did you mean 'round_robin'?)",
        ),
        (
            lambda d: member(d)["filters"].update(loan_purposes=["purchase"]),
            "org.toml: policies[0].members[0].filters.loan_purposes[0]: 'purchase' is not one "
            f"of {_PURPOSES} (did you mean 'Purchase'?)",
        ),
        (
            lambda d: member(d)["filters"].update(credit_ratings=["Great"]),
            "org.toml: policies[0].members[0].filters.credit_ratings[0]: 'Great' is not one of "
            "Excellent, Good, Fair, Poor",
        ),
        (
            lambda d: member(d)["filters"]["max_leads"].update(per="year"),
            "org.toml: policies[0].members[0].filters.max_leads.per: 'year' is not one of "
            "day, week, month",
        ),
    ],
    ids=["contact_matching", "unroutable", "role", "distribution", "purpose", "credit", "per"],
)
def test_a_bad_enum_value_names_the_field_the_value_and_the_allowed_values(
    change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    assert spoiled(change) == [expected]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["organization"].update(notify_on_assignment="yes"),
            "org.toml: organization.notify_on_assignment: expected true or false, got 'yes'",
        ),
        (
            lambda d: d["organization"].update(routing_cap=2.5),
            "org.toml: organization.routing_cap: expected a whole number, got 2.5",
        ),
        (
            lambda d: d["organization"].update(routing_cap=0),
            "org.toml: organization.routing_cap: 0 is out of range: the routing cap is 1 to 10000",
        ),
        (
            lambda d: d["users"][0].update(id="1"),
            "org.toml: users[0].id: expected a whole number, got '1'",
        ),
        (
            lambda d: d["users"][0].update(permissions="receive_leads"),
            "org.toml: users[0].permissions: expected a list, got 'receive_leads'",
        ),
        (
            lambda d: d["users"][0].update(licenses=["TX", "tx"]),
            "org.toml: users[0].licenses[1]: 'tx' is not a USPS state code such as 'TX' "
            "(did you mean 'TX'?)",
        ),
        (
            lambda d: d["users"][0].update(licenses=[3]),
            'org.toml: users[0].licenses[0]: expected a state code such as "TX" or a table '
            "{ state = ..., expires_on = ... }, got 3",
        ),
        (
            lambda d: d["users"][0].update(email="daniel@"),
            "org.toml: users[0].email: 'daniel@' is not a well-formed email address: "
            "no domain after the @",
        ),
        (
            lambda d: d["users"][0].update(name=" "),
            "org.toml: users[0].name: is blank",
        ),
        (
            lambda d: member(d).update(filters=["TX"]),
            "org.toml: policies[0].members[0].filters: expected a table, got a list",
        ),
        (
            lambda d: member(d)["filters"].update(zips=[75001]),
            "org.toml: policies[0].members[0].filters.zips[0]: expected a string, got 75001",
        ),
        (
            lambda d: member(d)["filters"].update(max_leads=20),
            "org.toml: policies[0].members[0].filters.max_leads: expected a table "
            "{ per = ..., count = ... } or a list of them, got 20",
        ),
        (
            lambda d: member(d)["filters"]["max_leads"].update(count=-1),
            "org.toml: policies[0].members[0].filters.max_leads.count: "
            "-1 is out of range: a volume cap's count is 0 to 1000000",
        ),
        (
            lambda d: d["policies"][0].update(offer_expires_after="5 parsecs"),
            "org.toml: policies[0].offer_expires_after: '5 parsecs' is not a duration: "
            "write e.g. '48h' or '7 days' (minutes, hours, days, weeks)",
        ),
        (
            lambda d: d["organization"].update(lead_link="https://crm/{id}"),
            "org.toml: organization.lead_link: unknown placeholder {id}: "
            "a link template holds only {lead_id} (and {{ or }} for a literal brace)",
        ),
        (
            lambda d: d.update(teams={"key": "west", "name": "West"}),
            "org.toml: teams: expected a list of tables (write [[teams]]), got a single table",
        ),
        (
            lambda d: d.update(organization="Acme"),
            "org.toml: organization: expected a table, got 'Acme'",
        ),
    ],
    ids=[
        "bool",
        "float-int",
        "cap",
        "id",
        "list",
        "license",
        "license-type",
        "email",
        "blank-name",
        "table",
        "zip-int",
        "caps",
        "cap-count",
        "duration",
        "link",
        "single-table",
        "organization",
    ],
)
def test_a_bad_value_gives_a_precise_message(
    change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    assert spoiled(change) == [expected]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-02-30", "'2026-02-30' is not a date: day is out of range for month"),
        ("Jan 5 2026", "'Jan 5 2026' is not a date: write a date such as 2026-01-05"),
        (
            datetime(2026, 1, 5, 9, 30),
            "expected a date, got the date and time 2026-01-05T09:30:00: "
            "write a date such as 2026-01-05",
        ),
        (20260105, "expected a date, got 20260105: write a date such as 2026-01-05"),
    ],
)
def test_a_bad_date_names_the_value(value: object, message: str) -> None:
    found = spoiled(lambda d: d["users"][0].update(started_on=value))
    assert found == [f"org.toml: users[0].started_on: {message}"]


@pytest.mark.parametrize(
    ("zone", "hint"),
    [("America/Chicgo", " (did you mean 'America/Chicago'?)"), ("Mars/Olympus_Mons", "")],
)
def test_a_bad_timezone_is_refused(zone: str, hint: str) -> None:
    found = spoiled(lambda d: d["organization"].update(timezone=zone))
    assert found == [
        f"org.toml: organization.timezone: {zone!r} is not an IANA time zone: "
        f"write e.g. 'America/Chicago'{hint}"
    ]


def test_required_settings_and_the_organization_table_are_required() -> None:
    assert spoiled(lambda d: d["organization"].pop("timezone")) == [
        "org.toml: organization: missing required key 'timezone'"
    ]
    assert spoiled(lambda d: d.pop("organization")) == [
        "org.toml: missing required table [organization]"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["users"][1].pop("name"),
            "org.toml: users[1]: missing required key 'name'",
        ),
        (
            lambda d: d["users"][1].update(first_name="Mary Ann", last_name="Smith"),
            "org.toml: users[1]: give either 'name' or 'first_name' and 'last_name', not both",
        ),
        (
            lambda d: (d["users"][1].pop("name"), d["users"][1].update(first_name="Mary")),
            "org.toml: users[1]: missing required key 'last_name' "
            "(or write the whole 'name' instead)",
        ),
        (
            lambda d: d["users"][1].pop("email"),
            "org.toml: users[1]: missing required key 'email'",
        ),
        (
            lambda d: member(d).pop("user"),
            "org.toml: policies[0].members[0]: missing required key 'user'",
        ),
        (
            lambda d: d["sources"][0].pop("name"),
            "org.toml: sources[0]: missing required key 'name'",
        ),
    ],
    ids=["no-name", "both-names", "half-name", "email", "member-user", "source-name"],
)
def test_a_missing_key_is_named(change: Callable[[dict[str, Any]], object], expected: str) -> None:
    assert spoiled(change) == [expected]


def test_a_models_own_validation_is_located() -> None:
    def change(data: dict[str, Any]) -> None:
        data["teams"].append({"key": "west region", "name": "West Region"})
        member(data)["filters"]["states"] = ["TX", "XX"]
        data["sources"][0]["name"] = " "

    assert spoiled(change) == [
        "org.toml: teams[1].key: 'west region' is not a system key: "
        "use letters, digits and _ only, at most 64 of them",
        "org.toml: policies[0]: policy 'west_rr': member 3: state 'XX' is not a USPS code",
        "org.toml: sources[0]: source 'purchased_leads': name is blank",
    ]


# ---------------------------------------------------------------- references and duplicates


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["users"][1].update(teams=["west", "north"]),
            "org.toml: users[1].teams: user 3: team 'north' does not exist",
        ),
        (
            lambda d: d["policies"][0].update(teams=["west", "east"]),
            "org.toml: policies[0].teams: policy 'west_rr': team 'east' does not exist",
        ),
        (
            lambda d: d["policies"][1].update(user=99),
            "org.toml: policies[1].user: policy 'direct_daniel': user 99 does not exist",
        ),
        (
            lambda d: member(d).update(user=1) or d["users"][0].update(teams=[]),
            "org.toml: policies[0].members[0]: policy 'west_rr': member 1 is not in the "
            "policy's target",
        ),
        (
            lambda d: d["sources"][0].update(primary_policy="west"),
            "org.toml: sources[0].primary_policy: source 'purchased_leads': primary policy "
            "'west' does not exist",
        ),
        (
            lambda d: d["sources"][0].update(fallback_policy="daniel"),
            "org.toml: sources[0].fallback_policy: source 'purchased_leads': fallback policy "
            "'daniel' does not exist",
        ),
    ],
    ids=["user-team", "policy-team", "policy-user", "member", "primary", "fallback"],
)
def test_an_unknown_reference_is_located(
    change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    assert spoiled(change) == [expected]


def test_duplicate_keys_and_ids_point_at_the_repeat_and_the_first() -> None:
    def change(data: dict[str, Any]) -> None:
        data["teams"].append({"key": "west", "name": "West again"})
        data["users"].append({"id": 1, "name": "Dan Again", "email": "dan2@example.com"})
        data["policies"].append({"key": "west_rr", "name": "Again", "teams": ["west"]})
        data["sources"].append({"key": "purchased_leads", "name": "Again"})

    assert spoiled(change) == [
        "org.toml: teams[1].key: team 'west' is defined twice (first at teams[0])",
        "org.toml: users[2].id: user 1 is defined twice (first at users[0])",
        "org.toml: policies[2].key: policy 'west_rr' is defined twice (first at policies[0])",
        "org.toml: sources[1].key: source 'purchased_leads' is defined twice (first at sources[0])",
    ]


def test_a_key_written_twice_in_one_table_is_invalid_toml() -> None:
    text = GOOD.replace('name = "West Region"', 'name = "West Region"\nname = "West"')
    with pytest.raises(ConfigError) as excinfo:
        org_config_from_toml(text, name="org.toml")
    (problem,) = excinfo.value.problems
    assert problem.startswith("org.toml: line 14, column ")
    assert "invalid TOML: Cannot overwrite a value" in problem


def test_references_to_an_entry_that_failed_are_not_reported_as_missing() -> None:
    def change(data: dict[str, Any]) -> None:
        data["users"][0]["email"] = "nobody"  # user 1 fails: direct_daniel's user is not "missing"
        data["policies"][0]["distribution"] = "sometimes"  # west_rr fails: the source's primary
        data["teams"][0]["name"] = 7  # team west fails: user 3's and west_rr's team

    assert spoiled(change) == [
        "org.toml: teams[0].name: expected a string, got 7",
        "org.toml: users[0].email: 'nobody' is not a well-formed email address: it has no @",
        "org.toml: policies[0].distribution: 'sometimes' is not one of round_robin, direct, "
        "weighted, least_loaded, ring_all, first_claim",
    ]


# ---------------------------------------------------------------- many problems at once


def test_every_problem_of_a_file_is_listed_at_once_in_file_order() -> None:
    text = """
polices = []

[organization]
name = "Acme Lending"
timezone = "America/Chicgo"
playbook = "lead_managment"
routing_cap = 0

[[teams]]
key = "west"
name = "West"

[[users]]
id = 1
name = "Daniel Davis"
email = "daniel@example.com"
role = "owner"
teams = ["west", "north"]

[[users]]
id = 2
name = "Ann Lee"
email = "ann@example.com"
teams = ["west"]
started_on = "yesterday"

[[policies]]
key = "west_rr"
name = "West"
teams = ["west", "east"]
  [[policies.members]]
  user = 5

[[sources]]
key = "website"
name = "Website"
primary_policy = "web"
colour = "blue"
"""
    with pytest.raises(ConfigError) as excinfo:
        org_config_from_toml(text, name="org.toml", base_dir=Path("/nowhere"))
    assert list(excinfo.value.problems) == [
        "org.toml: unknown key 'polices' (did you mean 'policies'?)",
        "org.toml: organization.timezone: 'America/Chicgo' is not an IANA time zone: "
        "write e.g. 'America/Chicago' (did you mean 'America/Chicago'?)",
        "org.toml: organization.routing_cap: 0 is out of range: the routing cap is 1 to 10000",
        "org.toml: organization.playbook: 'lead_managment' is neither a preset "
        "(lead_management, leads_queue, investor, call_log) nor a playbook file "
        "(no file at /nowhere/lead_managment)",
        "org.toml: users[0].role: 'owner' is not one of admin, member",
        "org.toml: users[1].started_on: 'yesterday' is not a date: write a date such as 2026-01-05",
        "org.toml: policies[0].teams: policy 'west_rr': team 'east' does not exist",
        "org.toml: policies[0].members[0]: policy 'west_rr': member 5 is not in the "
        "policy's target",
        "org.toml: sources[0]: unknown key 'colour' "
        "(keys: key, name, description, channel, primary_policy, fallback_policy)",
    ]


def test_check_lists_the_same_problems_without_raising(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(GOOD.replace('role = "admin"', 'role = "root"'), encoding="utf-8")
    assert check_org_config(path) == [f"{path}: users[0].role: 'root' is not one of admin, member"]


# ---------------------------------------------------------------- files


def test_a_missing_file_is_one_line_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as excinfo:
        load_org_config(path)
    assert excinfo.value.problems == (f"{path}: no such file",)
    assert isinstance(excinfo.value, LeadflowError)
    assert check_org_config(path) == [f"{path}: no such file"]


def test_an_unreadable_path_and_bad_toml_are_one_line_each(tmp_path: Path) -> None:
    assert check_org_config(tmp_path) == [f"{tmp_path}: cannot be read (Is a directory)"]
    path = tmp_path / "org.toml"
    path.write_text('[organization]\nname = "Acme\n', encoding="utf-8")
    (problem,) = check_org_config(path)
    assert problem.startswith(f"{path}: line 2, column ")
    assert "invalid TOML" in problem
    path.write_bytes(b'[organization]\nname = "\xff"\n')
    (problem,) = check_org_config(path)
    assert problem.startswith(f"{path}: is not UTF-8 text")


def test_a_missing_playbook_file_is_named_relative_to_the_config(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(
        GOOD.replace('playbook = "lead_management"', 'playbook = "playbooks/ours.toml"'),
        encoding="utf-8",
    )
    assert check_org_config(path) == [
        f"{path}: organization.playbook: 'playbooks/ours.toml' is neither a preset "
        "(lead_management, leads_queue, investor, call_log) nor a playbook file "
        f"(no file at {tmp_path / 'playbooks' / 'ours.toml'})"
    ]


def test_problems_in_the_playbook_file_are_reported_with_the_configs(tmp_path: Path) -> None:
    (tmp_path / "ours.toml").write_text(
        'key = "ours"\nname = "Ours"\ncolour = "red"\n[[stages]]\nkey = "new"\n'
        'label = "New"\norder = 1\n',
        encoding="utf-8",
    )
    path = tmp_path / "org.toml"
    text = GOOD.replace('playbook = "lead_management"', 'playbook = "ours.toml"')
    text = text.replace('role = "admin"', 'role = "root"').replace('"America/Chicago"', '"CST"')
    path.write_text(text, encoding="utf-8")
    found = check_org_config(path)
    # The playbook's problems come after [organization]'s: on organization.playbook, each
    # naming the playbook file.
    assert found[0].startswith(f"{path}: organization.timezone: 'CST' is not an IANA time zone")
    assert found[1].startswith(
        f"{path}: organization.playbook: {tmp_path / 'ours.toml'}: unknown key 'colour'"
    )
    assert found[2] == f"{path}: users[0].role: 'root' is not one of admin, member"
    assert len(found) == 3


# ---------------------------------------------------------------- the example


def test_the_example_file_loads_and_covers_what_it_promises() -> None:
    assert check_org_config(EXAMPLE) == []
    loaded = load_org_config(EXAMPLE)
    config = loaded.config
    assert config.settings.name == "Acme Lending"
    assert loaded.playbook == preset(config.settings.playbook)
    assert {p.distribution for p in config.policies} == set(Distribution)
    direct = next(p for p in config.policies if p.distribution is Distribution.DIRECT)
    assert direct.user is not None
    weighted = next(p for p in config.policies if p.distribution is Distribution.WEIGHTED)
    assert {m.weight for m in weighted.members} > {1}
    assert len(config.teams) == 2
    assert len(config.users) == 8
    assert any(u.is_admin for u in config.users)
    assert any(not u.active for u in config.users)
    assert any("receive_leads" not in u.permissions for u in config.users)
    members = [m for p in config.policies for m in p.members]
    assert any(m.paused for m in members)
    filters = [m.filters for m in members]
    assert any(f.states for f in filters)
    assert any(f.loan_purposes for f in filters)
    assert any(f.require_license for f in filters)
    assert any(len(f.max_leads) > 1 for f in filters)
    sources = {s.key: s for s in config.sources}
    assert {"purchased_leads", "website", "referral"} <= set(sources)
    assert any(s.fallback_policy for s in config.sources)
    # The configuration is one a desk can route with.
    directory = config.directory(__import__("zoneinfo").ZoneInfo(config.settings.timezone))
    assert directory.candidates("west_rr")


def test_the_example_round_trips() -> None:
    config = load_org_config(EXAMPLE).config
    assert org_config_from_toml(org_config_to_toml(config)).config == config


# ---------------------------------------------------------------- writing


def rich_config() -> OrgConfig:
    """A configuration using every kind of value the writer has to spell."""
    awkward = 'Quote " back\\slash \t tab\nnewline \x00 nul \x7f del \u00e9 \U0001f600 \u2028'
    return attrs.evolve(
        EXPECTED,
        settings=attrs.evolve(
            EXPECTED.settings,
            name=awkward,
            organization_id="acme-1",
            contact_matching=MatchScope.ORGANIZATION,
            unroutable=Unroutable.REJECT,
            notify_on_assignment=False,
            routing_cap=7,
            lead_link='https://crm.example/{lead_id}?from="mail"',
        ),
        teams=(*EXPECTED.teams, Team(key="east", name=awkward)),
        users=(
            *EXPECTED.users,
            User(
                user_id=8,
                first_name="Linda",
                last_name="van der Berg",
                email="linda@example.com",
                active=False,
                permissions=frozenset({"approve", "host:custom"}),
                teams=frozenset({"west", "east"}),
            ),
            User(user_id=9, first_name="", last_name="Solo", email="solo@example.com"),
        ),
        policies=(
            *EXPECTED.policies,
            RoutingPolicy(
                key="ring",
                name="Ring",
                distribution=Distribution.RING_ALL,
                teams=("east", "west"),
                members=(
                    PolicyMember(
                        user_id=8,
                        weight=3,
                        filters=MemberFilters(
                            zips=frozenset({"750", "75001"}),
                            credit_ratings=frozenset({CreditRating.GOOD}),
                            loan_purposes=frozenset({LoanPurpose.REFINANCE_CASH_OUT}),
                            max_leads=(VolumeCap(Period.WEEK, 0), VolumeCap(Period.DAY, 3)),
                        ),
                    ),
                ),
                ring_size=2,
                offer_expires_after=timedelta(days=1, hours=2, minutes=3, seconds=4),
            ),
        ),
        sources=(*EXPECTED.sources, LeadSource(key="walk_in", name=awkward, description=awkward)),
    )


def test_a_rich_config_round_trips_through_toml_text() -> None:
    config = rich_config()
    text = org_config_to_toml(config)
    assert org_config_from_toml(text).config == config
    assert 'first_name = "Linda"\nlast_name = "van der Berg"' in text
    assert "\\u0000 nul \\u007F del" in text
    assert 'max_leads = [{ per = "week", count = 0 }, { per = "day", count = 3 }]' in text


def test_the_good_file_round_trips_and_is_written_readably() -> None:
    text = org_config_to_toml(EXPECTED)
    assert org_config_from_toml(text).config == EXPECTED
    assert 'name = "Mary Ann Smith"' in text
    assert 'licenses = [{ state = "TX", expires_on = 2027-12-31 }]' in text
    assert "[[policies.members]]\nuser = 3\npaused = true\n" in text
    assert "started_on = 2026-01-05" in text


def test_a_default_config_round_trips() -> None:
    assert org_config_from_toml(org_config_to_toml(OrgConfig())).config == OrgConfig()


def test_a_duration_a_file_cannot_hold_is_refused_when_writing() -> None:
    policy = attrs.evolve(
        EXPECTED.policies[0], offer_expires_after=timedelta(minutes=2, microseconds=5)
    )
    config = attrs.evolve(EXPECTED, policies=(policy, *EXPECTED.policies[1:]))
    with pytest.raises(ConfigError, match=r"policy 'west_rr': offer_expires_after 0:02:00\.000005"):
        org_config_to_toml(config)


# ---------------------------------------------------------------- properties

_ZONES = ("UTC", "America/Chicago", "America/New_York", "America/Denver", "Pacific/Honolulu")
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@st.composite
def member_filters(draw: st.DrawFn) -> MemberFilters:
    periods = draw(st.lists(st.sampled_from(Period), unique=True, max_size=3))
    return MemberFilters(
        states=draw(st.frozensets(st.sampled_from(sorted(USPS_STATES)), max_size=3)),
        zips=draw(st.frozensets(st.from_regex(r"[0-9]{3}|[0-9]{5}", fullmatch=True), max_size=2)),
        loan_purposes=draw(st.frozensets(st.sampled_from(LoanPurpose), max_size=3)),
        credit_ratings=draw(st.frozensets(st.sampled_from(CreditRating), max_size=2)),
        require_license=draw(st.booleans()),
        max_leads=tuple(VolumeCap(p, draw(st.integers(0, 500))) for p in periods),
    )


@st.composite
def org_configs(draw: st.DrawFn) -> OrgConfig:
    """Valid configurations: every reference resolves, so a directory can be built."""
    team_keys = draw(st.lists(lfst.source_keys(), min_size=1, max_size=3, unique=True))
    teams = tuple(Team(key=key, name=draw(lfst.names())) for key in team_keys)
    users = draw(
        st.lists(
            lfst.users(user_ids=st.integers(1, 10_000), team_keys=team_keys),
            min_size=1,
            max_size=5,
            unique_by=lambda u: u.user_id,
        )
    )
    policy_keys = draw(st.lists(lfst.source_keys(), max_size=4, unique=True))
    policies = []
    for key in policy_keys:
        distribution = draw(st.sampled_from(Distribution))
        if distribution is Distribution.DIRECT:
            user: int | None = draw(st.sampled_from(users)).user_id
            targets: tuple[str, ...] = ()
            pool = [user]
        else:
            user = None
            targets = tuple(draw(st.lists(st.sampled_from(team_keys), min_size=1, unique=True)))
            pool = [u.user_id for u in users if u.teams & set(targets)]
        member_ids = draw(st.lists(st.sampled_from(pool), unique=True)) if pool else []
        members = tuple(
            PolicyMember(
                user_id=m,
                paused=draw(st.booleans()),
                weight=draw(st.integers(1, 9)),
                filters=draw(member_filters()),
            )
            for m in member_ids
        )
        policies.append(
            RoutingPolicy(
                key=key,
                name=draw(lfst.names()),
                distribution=distribution,
                teams=targets,
                user=user,
                members=members,
                ring_size=draw(st.integers(1, 20)),
                offer_expires_after=timedelta(seconds=draw(st.integers(1, 10 * 86400))),
            )
        )
    sources = []
    for key in draw(st.lists(lfst.source_keys(), max_size=4, unique=True)):
        primary = draw(st.none() | st.sampled_from(policy_keys)) if policy_keys else None
        others = [k for k in policy_keys if k != primary]
        fallback = draw(st.none() | st.sampled_from(others)) if primary and others else None
        sources.append(
            LeadSource(
                key=key,
                name=draw(lfst.names()),
                description=draw(_TEXT),
                channel=draw(_TEXT),
                primary_policy=primary,
                fallback_policy=fallback,
            )
        )
    settings = OrgSettings(
        name=draw(_TEXT),
        organization_id=draw(_TEXT),
        timezone=draw(st.sampled_from(_ZONES)),
        playbook=draw(st.sampled_from(sorted(PRESETS))),
        contact_matching=draw(st.sampled_from(MatchScope)),
        unroutable=draw(st.sampled_from(Unroutable)),
        notify_on_assignment=draw(st.booleans()),
        routing_cap=draw(st.integers(1, 100)),
        lead_link=draw(_TEXT.map(lambda s: s.replace("{", "").replace("}", "") + "{lead_id}")),
    )
    return OrgConfig(
        settings=settings,
        teams=teams,
        users=tuple(users),
        policies=tuple(policies),
        sources=tuple(sources),
    )


@given(org_configs())
def test_every_valid_config_round_trips_through_toml_text(config: OrgConfig) -> None:
    loaded = org_config_from_toml(org_config_to_toml(config))
    assert loaded.config == config
    assert loaded.playbook == preset(config.settings.playbook)


_JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


_PLACES = [p for p in _leaves(tomllib.loads(GOOD)) if p]


@given(st.sampled_from(_PLACES), _JUNK)
def test_any_value_anywhere_loads_or_gives_config_problems_naming_the_file(
    place: tuple[Any, ...], junk: Any
) -> None:
    data = good()
    target = data
    for step in place[:-1]:
        target = target[step]
    target[place[-1]] = junk
    found: tuple[str, ...] = ()
    try:
        org_config_from_dict(data, name="org.toml")
    except ConfigError as exc:  # any other exception fails the test
        found = exc.problems
    assert all(p.startswith("org.toml: ") for p in found)
