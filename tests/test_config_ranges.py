"""Every whole number of an org config and of the command line has a range, checked as it is read.

The ranges are :mod:`leadflow.limits` (documented in docs/config.md and
docs/cli.md). A config value out of range is one problem naming the table
and the key, and the value (at most 200 characters of it): `config check`
and `init` exit 2, and nothing is stored. A value at the edge of its range
loads as written, and the largest user id goes through a stored route.
An integer option out of range is a usage error naming the option (exit 2).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template

import attrs
import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from desk_helpers import org
from leadflow.batch import open_desk
from leadflow.cli import cli
from leadflow.desk import LeadDesk
from leadflow.errors import ConfigError
from leadflow.io.orgconfig import load_org_config, org_config_from_toml
from leadflow.limits import (
    RING_SIZES,
    ROUTING_CAPS,
    USER_IDS,
    VOLUME_CAP_COUNTS,
    WEIGHTS,
    Bounds,
    number_text,
)
from leadflow.org import OrgConfig
from leadflow.routing.config import MemberFilters, Period, PolicyMember, RoutingPolicy, VolumeCap
from leadflow.storage.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "org.toml"
NOW = "2026-03-09T15:00:00+00:00"

#: A small configuration; each $name is one whole number of the format.
BASE = Template("""
[organization]
name = "Acme Lending"
timezone = "America/Chicago"
routing_cap = $routing_cap

[[teams]]
key = "west"
name = "West"

[[users]]
id = 77
name = "Daniel Davis"
email = "daniel@example.com"
role = "admin"
permissions = ["receive_leads"]
teams = ["west"]

[[users]]
id = $user_id
name = "Maria Garcia"
email = "maria@example.com"
permissions = ["receive_leads"]
teams = ["west"]

[[policies]]
key = "west_weighted"
name = "West weighted"
distribution = "weighted"
teams = ["west"]

  [[policies.members]]
  user = $user_id
  weight = $weight
  filters = { max_leads = [{ per = "day", count = $day_cap }, { per = "week", count = $week_cap }] }

  [[policies.members]]
  user = 77
  filters = { max_leads = { per = "month", count = $month_cap } }

[[policies]]
key = "direct_maria"
name = "Straight to Maria"
distribution = "direct"
user = $user_id

[[policies]]
key = "west_ring"
name = "West ring"
distribution = "ring_all"
teams = ["west"]
ring_size = $ring_size
offer_expires_after = $offer_expires_after

[[sources]]
key = "purchased_leads"
name = "Purchased Leads"
primary_policy = "west_weighted"
fallback_policy = "direct_maria"
""")

GOOD: dict[str, object] = {
    "routing_cap": 50,
    "user_id": 2,
    "weight": 3,
    "day_cap": 20,
    "week_cap": 80,
    "month_cap": 300,
    "ring_size": 3,
    "offer_expires_after": '"2m"',
}

#: Daniel's id in BASE: the varying user id is never it.
DANIEL = 77

#: Each key: where it is written in BASE (every place, for the user id) and its range.
KEYS: dict[str, tuple[tuple[str, ...], Bounds]] = {
    "routing_cap": (("organization.routing_cap",), ROUTING_CAPS),
    "user_id": (
        ("users[1].id", "policies[0].members[0].user", "policies[1].user"),
        USER_IDS,
    ),
    "weight": (("policies[0].members[0].weight",), WEIGHTS),
    "day_cap": (("policies[0].members[0].filters.max_leads[0].count",), VOLUME_CAP_COUNTS),
    "week_cap": (("policies[0].members[0].filters.max_leads[1].count",), VOLUME_CAP_COUNTS),
    "month_cap": (("policies[0].members[1].filters.max_leads.count",), VOLUME_CAP_COUNTS),
    "ring_size": (("policies[2].ring_size",), RING_SIZES),
}


def text(**changes: object) -> str:
    return BASE.substitute({**GOOD, **changes})


def write(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "org.toml"
    path.write_text(text(**changes), encoding="utf-8")
    return path


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def value_of(config: OrgConfig, key: str) -> object:
    """The value ``key`` of BASE loaded as."""
    weighted, direct, ring = config.policies
    if key == "routing_cap":
        return config.settings.routing_cap
    if key == "user_id":
        assert config.users[1].user_id == weighted.members[0].user_id == direct.user
        return direct.user
    if key == "weight":
        return weighted.members[0].weight
    if key in ("day_cap", "week_cap"):
        return weighted.members[0].filters.max_leads[key == "week_cap"].count
    if key == "month_cap":
        return weighted.members[1].filters.max_leads[0].count
    assert key == "ring_size"
    return ring.ring_size


def edges(bounds: Bounds) -> list[tuple[int, bool]]:
    """(value, in range) at and around both ends, and far beyond."""
    return [
        (bounds.low - 1, False),
        (bounds.low, True),
        (bounds.high, True),
        (bounds.high + 1, False),
        (10**20, False),
        (-(10**20), False),
    ]


CASES = [(key, value, ok) for key, (_, bounds) in KEYS.items() for value, ok in edges(bounds)]


def test_the_base_config_checks_clean(tmp_path: Path) -> None:
    result = run("config", "check", write(tmp_path))
    assert result.exit_code == 0, result.output
    loaded = load_org_config(tmp_path / "org.toml").config
    assert {key: value_of(loaded, key) for key in KEYS} == {
        key: value for key, value in GOOD.items() if key in KEYS
    }


@pytest.mark.parametrize(("key", "value", "ok"), CASES)
def test_each_whole_number_is_checked_at_its_edges(
    tmp_path: Path, key: str, value: int, ok: bool
) -> None:
    path = write(tmp_path, **{key: value})
    result = run("config", "check", path)
    places, bounds = KEYS[key]
    if ok:
        assert result.exit_code == 0, result.output
        assert value_of(load_org_config(path).config, key) == value
        return
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout.splitlines() == [
        f"{path}: {place}: {value} is out of range: {bounds.what} is {bounds.low} to {bounds.high}"
        for place in places
    ]


@pytest.mark.parametrize(
    ("key", "value"),
    [("user_id", 2**63), ("user_id", -7), ("routing_cap", 99999999999999999999), ("weight", 0)],
)
def test_init_refuses_a_number_out_of_range_and_stores_nothing(
    tmp_path: Path, key: str, value: int
) -> None:
    db = tmp_path / "leadflow.db"
    result = run("init", "--config", write(tmp_path, **{key: value}), "--db", db, "--now", NOW)
    assert result.exit_code == 2, result.output
    assert "is out of range" in result.output
    assert "Traceback" not in result.output
    assert not db.exists()


def test_the_issue_example_is_refused_naming_table_and_key(tmp_path: Path) -> None:
    copy = EXAMPLE.read_text(encoding="utf-8").replace("\nid = 8\n", "\nid = 9223372036854775808\n")
    assert "9223372036854775808" in copy
    path = tmp_path / "examples-copy.toml"
    path.write_text(copy, encoding="utf-8")
    result = run("config", "check", path)
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"{path}: users[7].id: 9223372036854775808 is out of range: "
        "a user id is 1 to 9223372036854775807"
    ]


def test_the_largest_user_id_is_stored_and_routed_to(tmp_path: Path) -> None:
    db = tmp_path / "leadflow.db"
    biggest = USER_IDS.high
    config = write(tmp_path, user_id=biggest)
    assert run("init", "--config", config, "--db", db, "--now", NOW).exit_code == 0
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "first_name,last_name,email\n" + "".join(f"P{i},Lead,p{i}@example.com\n" for i in range(6)),
        encoding="utf-8",
    )
    result = run(
        "route", leads, "--source", "purchased_leads", "--db", db, "--out", tmp_path, "-q",
        "--now", NOW,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    desk = open_desk(db, now=datetime(2026, 3, 9, 16, tzinfo=UTC))
    try:
        assert desk.config.user(biggest).first_name == "Maria"
        mine = desk.queue(biggest, limit=10)
    finally:
        desk.store.close()
    assert mine  # weight 3 against 1: most of the six leads are hers
    assert all(entry.lead.assignee_id == biggest for entry in mine)
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize(
    ("duration", "ok"),
    [
        ('"0s"', False),
        ('"1s"', True),
        ('"30d"', True),
        ('"30d 1s"', False),
        ('"99999999999999999999d"', False),
        ('"' + "9" * 5000 + 'd"', False),
    ],
)
def test_an_offer_expiry_is_1_second_to_30_days(tmp_path: Path, duration: str, ok: bool) -> None:
    path = write(tmp_path, offer_expires_after=duration)
    result = run("config", "check", path)
    if ok:
        assert result.exit_code == 0, result.output
        expiry = load_org_config(path).config.policies[2].offer_expires_after
        assert expiry in (timedelta(seconds=1), timedelta(days=30))
        return
    assert result.exit_code == 2, result.output
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{path}: policies[2].offer_expires_after: ")
    assert len(line) < len(str(path)) + 300  # the value quoted to 200 characters
    assert "out of range: an offer stays open 1 second to 30 days" in line or (
        "is too long a duration" in line
    )


def test_a_number_too_long_to_quote_is_described(tmp_path: Path) -> None:
    huge = "0x" + "f" * 2000  # TOML reads it: 8,000 bits, some 2,400 digits
    path = write(tmp_path, weight=huge)
    result = run("config", "check", path)
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"{path}: policies[0].members[0].weight: a number of 200 digits or more is out of range: "
        "a weight is 1 to 1000"
    ]
    assert number_text(-(16**2000)) == "a negative number of 200 digits or more"
    assert number_text(10**199) == "1" + "0" * 199  # 200 digits: written whole


def test_a_decimal_number_too_long_for_python_is_invalid_toml(tmp_path: Path) -> None:
    path = write(tmp_path, routing_cap="9" * 5000)
    result = run("config", "check", path)
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"{path}: invalid TOML: a number has too many digits to be read"
    ]


@given(
    st.sampled_from(sorted(KEYS)),
    (st.integers() | st.integers(-(2**70), 2**70)).filter(lambda v: v != DANIEL),
)
def test_any_whole_number_loads_in_range_or_is_one_problem_per_place(key: str, value: int) -> None:
    places, bounds = KEYS[key]
    problems: tuple[str, ...] = ()
    try:
        loaded = org_config_from_toml(text(**{key: value}), name="org.toml")
    except ConfigError as exc:
        problems = exc.problems
    if value not in bounds:
        assert [p.split(": ", 2)[1] for p in problems] == list(places)
        assert all(re.search(r": .* is out of range: ", p) for p in problems)
        return
    assert problems == ()
    assert value_of(loaded.config, key) == value


# ---------------------------------------------------------------- a config built in Python


def test_a_desk_refuses_a_config_built_in_python_with_a_number_out_of_range() -> None:
    policy = RoutingPolicy(
        key="west_rr",
        name="West",
        teams=("west",),
        members=(
            PolicyMember(
                user_id=2,
                weight=1001,
                filters=MemberFilters(max_leads=(VolumeCap(Period.DAY, 1_000_001),)),
            ),
        ),
        ring_size=10_001,
        offer_expires_after=timedelta(days=31),
    )
    base = org()
    config = OrgConfig(
        settings=base.settings,
        users=base.users,
        teams=base.teams,
        policies=(policy, *base.policies[1:]),
        sources=base.sources,
    )
    with pytest.raises(ConfigError) as info:
        LeadDesk.configure(MemoryStore(), config)
    assert list(info.value.problems) == [
        "policy 'west_rr': ring_size: 10001 is out of range: a ring size is 1 to 10000",
        "policy 'west_rr': offer_expires_after 31d is out of range: "
        "an offer stays open 1 second to 30 days",
        "policy 'west_rr': member 2: weight: 1001 is out of range: a weight is 1 to 1000",
        "policy 'west_rr': member 2: max_leads per day: 1000001 is out of range: "
        "a volume cap's count is 0 to 1000000",
    ]


def test_a_desk_refuses_a_user_id_or_routing_cap_out_of_range_built_in_python() -> None:
    base = org()
    bad_user = attrs.evolve(base.users[3], user_id=2**63)
    config = attrs.evolve(
        base,
        users=(*base.users[:3], bad_user),
        settings=attrs.evolve(base.settings, routing_cap=10_001),
    )
    with pytest.raises(ConfigError) as info:
        LeadDesk.configure(MemoryStore(), config)
    assert list(info.value.problems) == [
        "routing cap: 10001 is out of range: the routing cap is 1 to 10000",
        f"user {2**63}: id {2**63} is out of range: a user id is 1 to {2**63 - 1}",
    ]


# ---------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("cli") / "leadflow.db"
    assert run("init", "--config", EXAMPLE, "--db", db, "--now", NOW).exit_code == 0
    return db


#: Every whole-number option of the command line (the user ids are in test_option_ranges.py).
OPTIONS = [
    (["queue", "--user", "2"], "--limit", 1, 100_000),
    (["pool", "--user", "2"], "--limit", 1, 100_000),
    (["deliver", "--smtp-host", "127.0.0.1", "--sender", "a@example.com"], "--limit", 1, 1_000_000),
    (
        ["deliver", "--smtp-host", "127.0.0.1", "--sender", "a@example.com"],
        "--max-attempts",
        1,
        100,
    ),
    (["deliver", "--smtp-host", "127.0.0.1", "--sender", "a@example.com"], "--smtp-port", 1, 65535),
    (["demo"], "--leads", 1, 100_000),
]


@pytest.mark.parametrize(("command", "option", "low", "high"), OPTIONS)
@pytest.mark.parametrize("beyond", ["low", "high", "huge", "negative-huge"])
def test_an_integer_option_out_of_range_is_a_usage_error_naming_it(
    store: Path, command: list[str], option: str, low: int, high: int, beyond: str
) -> None:
    value = {"low": low - 1, "high": high + 1, "huge": 10**30, "negative-huge": -(10**30)}[beyond]
    db = [] if command == ["demo"] else ["--db", str(store)]
    result = run(*command, option, str(value), *db)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output
    assert f"{low}<=x<={high}" in result.output  # click names the range
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["queue", "pool"])
@pytest.mark.parametrize("limit", ["1", "100000"])
def test_a_limit_at_its_edges_is_accepted(store: Path, command: str, limit: str) -> None:
    result = run(command, "--user", "2", "--limit", limit, "--db", store, "--now", NOW)
    assert result.exit_code == 0, result.output


def test_deliver_at_its_edges_is_accepted_with_nothing_to_send(store: Path) -> None:
    result = run(
        "deliver", "--smtp-host", "127.0.0.1", "--sender", "a@example.com",
        "--smtp-port", "65535", "--limit", "1000000", "--max-attempts", "100",
        "--db", store, "--now", NOW, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("length", "ok"), [(1, True), (64, True), (65, False), (5000, False)])
def test_a_system_key_is_1_to_64_characters_and_a_long_one_is_quoted_cut(
    tmp_path: Path, length: int, ok: bool
) -> None:
    key = "k" * length
    path = tmp_path / "org.toml"
    path.write_text(text().replace('"west"', f'"{key}"'), encoding="utf-8")
    result = run("config", "check", path)
    if ok:
        assert result.exit_code == 0, result.output
        assert load_org_config(path).config.teams[0].key == key
        return
    assert result.exit_code == 2
    assert "is not a system key: use letters, digits and _ only, at most 64 of them" in (
        result.output
    )
    assert all(len(line) < 500 for line in result.output.splitlines())


def test_a_long_team_reference_or_source_option_is_quoted_cut(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(text().replace('teams = ["west"]', f'teams = ["{"w" * 5000}"]', 1))
    result = run("config", "check", path)
    assert result.exit_code == 2
    assert "team 'www" in result.output
    assert all(len(line) < 500 for line in result.output.splitlines())
    leads = tmp_path / "leads.csv"
    leads.write_text("first_name,last_name,email\nAnn,Lee,ann@example.com\n")
    result = run(
        "route", leads, "--source", "s" * 5000, "--dry-run", "--config", EXAMPLE,
        "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "lead source 'sss" in result.output
    assert all(len(line) < 500 for line in result.output.splitlines())


@pytest.mark.parametrize("table", ["policies", "sources"])
def test_a_long_policy_or_source_key_is_quoted_cut_everywhere(tmp_path: Path, table: str) -> None:
    old = "west_weighted" if table == "policies" else "purchased_leads"
    path = tmp_path / "org.toml"
    path.write_text(text().replace(f'key = "{old}"', f'key = "{"x" * 1000}"', 1))
    result = run("config", "check", path)
    assert result.exit_code == 2
    assert "is not a system key" in result.output
    assert all(len(line) < 700 for line in result.output.splitlines()), result.output
