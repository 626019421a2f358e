"""Playbooks from TOML files and dicts (leadflow.io.playbooks), and back to dicts."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import pytest

from leadflow.errors import ConfigError
from leadflow.io import load_playbook, playbook_from_dict, playbook_from_toml, playbook_to_dict
from leadflow.stages.aging import (
    FollowUpPassed,
    ScheduleCleared,
    StageTimeout,
    TouchRevives,
    Untouched,
)
from leadflow.stages.guards import ApprovalWhileNew, MinReports, RequiresNote, RequiresPermission
from leadflow.stages.playbook import (
    Category,
    Channel,
    Direction,
    Disposition,
    Effect,
    FollowUpRule,
    Outcome,
    Ownership,
    Playbook,
    Stage,
)
from leadflow.stages.presets import PRESETS, preset

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "playbooks"
_GUARD_CLASSES = (MinReports, ApprovalWhileNew, RequiresPermission, RequiresNote)
_AGING_CLASSES = (FollowUpPassed, ScheduleCleared, Untouched, StageTimeout, TouchRevives)
_AGING_TYPES = "follow_up_passed, schedule_cleared, untouched, stage_timeout, touch_revives"

MINIMAL = """
key = "tiny"
name = "Tiny"

[[stages]]
key = "new"
label = "New"
order = 1

[[stages]]
key = "done"
label = "Done"
order = 2
"""


# ---------------------------------------------------------------- a tiny TOML writer


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"not a TOML value: {value!r}")


def to_toml(data: dict[str, Any]) -> str:
    """``data`` as TOML: scalars, then ``[tables]``, then ``[[arrays of tables]]``."""
    head: list[str] = []
    tail: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tail += ["", f"[{key}]", *(f"{k} = {toml_value(v)}" for k, v in value.items())]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                tail += ["", f"[[{key}]]", *(f"{k} = {toml_value(v)}" for k, v in item.items())]
        else:
            head.append(f"{key} = {toml_value(value)}")
    return "\n".join([*head, *tail]) + "\n"


def problems_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return list(excinfo.value.problems)


def with_stage(extra: str) -> str:
    return MINIMAL + "\n[[stages]]\n" + extra


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips_through_a_dict(name: str) -> None:
    book = preset(name)
    assert playbook_from_dict(playbook_to_dict(book)) == book


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips_through_toml_text(name: str) -> None:
    book = preset(name)
    text = to_toml(playbook_to_dict(book))
    assert playbook_from_toml(text, origin=f"{name}.toml") == book


def test_a_hand_written_toml_preset_equals_the_preset() -> None:
    text = """
    key = "leads_queue"
    name = "Leads Queue"
    description = "Five statuses; a call's disposition decides when the lead is back."

    [[stages]]
    key = "new"
    label = "New"
    order = 1
    colour = "blue"
    initial = true
    description = "No call or text attempted yet."

    [[stages]]
    key = "contact_attempted"
    label = "Contact Attempted"
    order = 2
    colour = "yellow"
    description = "Called or texted; no contact yet."
    allow_backward = true

    [[stages]]
    key = "engaged"
    label = "Engaged"
    order = 3
    colour = "green"
    description = "Contact established."
    allow_backward = true

    [[stages]]
    key = "nurture"
    label = "Nurture"
    order = 4
    colour = "purple"
    description = "Being cultivated towards conversion."
    allow_backward = true

    [[stages]]
    key = "converted"
    label = "Converted"
    order = 5
    colour = "gold"
    category = "won"
    terminal = true
    description = "Became a customer."

    [[dispositions]]
    key = "no_answer"
    label = "No Answer"
    channel = "call"
    to_stage = "contact_attempted"
    snooze = "1h"
    contact_attempt = true

    [[dispositions]]
    key = "left_vm"
    label = "Left VM"
    channel = "call"
    to_stage = "contact_attempted"
    snooze = "60 minutes"
    contact_attempt = true

    [[dispositions]]
    key = "vm_full"
    label = "VM Full"
    channel = "call"
    to_stage = "contact_attempted"
    snooze = "1 hour"
    contact_attempt = true

    [[dispositions]]
    key = "engaged"
    label = "Engaged"
    channel = "call"
    to_stage = "engaged"
    snooze = "48h"
    contact_attempt = true

    [[dispositions]]
    key = "sms_sent"
    label = "SMS sent"
    channel = "sms"
    to_stage = "contact_attempted"
    contact_attempt = true

    [[dispositions]]
    key = "inbound_call"
    label = "Inbound call"
    channel = "call"
    direction = "inbound"
    to_stage = "engaged"

    [[dispositions]]
    key = "inbound_sms"
    label = "Inbound SMS"
    channel = "sms"
    direction = "inbound"
    to_stage = "engaged"
    """
    assert playbook_from_toml(text) == preset("leads_queue")


def test_to_dict_writes_plain_values_and_omits_defaults() -> None:
    data = playbook_to_dict(preset("investor"))
    assert data["follow_up"] == {"scale": "1/2"}
    stages = {s["key"]: s for s in data["stages"]}
    assert stages["offer_rejected"]["effect"] == {
        "ownership": "release_after",
        "release_after": "7d",
    }
    assert stages["wrong_number"]["guards"] == [
        {"type": "min_reports", "kind": "wrong_number", "count": 3}
    ]
    assert stages["needs_offer"]["effect"] == {"signals": ["notify_underwriter"]}
    assert "enabled" not in stages["needs_offer"]
    assert "effect" not in stages["not_contacted"]
    dispositions = {d["key"]: d for d in data["dispositions"]}
    assert dispositions["sms_reply"] == {
        "key": "sms_reply",
        "label": "SMS reply",
        "channel": "sms",
        "direction": "inbound",
    }
    closed = next(
        s for s in playbook_to_dict(preset("lead_management"))["stages"] if s.get("terminal")
    )
    assert closed["reopen_permission"] == "reactivate"
    assert type(closed["reopen_permission"]) is str


def test_to_dict_writes_aging_rules_tagged_by_type() -> None:
    data = playbook_to_dict(preset("call_log"))
    assert data["pool_stages"] == ["abandoned"]
    assert "speed_to_lead" not in data
    assert [rule["type"] for rule in data["aging"]] == [
        "schedule_cleared",
        "follow_up_passed",
        "touch_revives",
        "untouched",
        "untouched",
        "stage_timeout",
    ]
    assert data["aging"][1] == {
        "type": "follow_up_passed",
        "stages": ["scheduled"],
        "to_stage": "missed",
    }
    assert data["aging"][3]["after"] == "48h"
    assert data["aging"][5] == {
        "type": "stage_timeout",
        "stage": "abandoned",
        "after": "5d",
        "to_stage": "available",
        "release": True,
    }
    assert "aging" not in playbook_to_dict(preset("investor"))
    assert "pool_stages" not in playbook_to_dict(preset("investor"))


def test_to_dict_writes_speed_to_lead_as_a_duration() -> None:
    book = attrs.evolve(preset("leads_queue"), speed_to_lead=timedelta(minutes=15))
    data = playbook_to_dict(book)
    assert data["speed_to_lead"] == "15m"
    assert playbook_from_dict(data) == book
    assert playbook_from_toml(to_toml(data)) == book


def test_to_dict_holds_only_toml_types() -> None:
    def check(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                assert type(key) is str
                check(item)
        elif isinstance(value, list):
            for item in value:
                check(item)
        else:
            assert type(value) in (str, int, bool), value

    for name in PRESETS:
        check(playbook_to_dict(preset(name)))


# ---------------------------------------------------------------- loading


def test_a_preset_name_loads_the_preset() -> None:
    assert load_playbook("investor") == preset("investor")


def test_the_from_scratch_example_loads() -> None:
    book = load_playbook(EXAMPLES / "my_pipeline.toml")
    assert book.key == "my_pipeline"
    assert book.initial_stage.key == "new"
    assert book.stage("on_hold").effect.release_after == timedelta(days=14)
    assert book.stage("on_hold").effect.ownership is Ownership.RELEASE_AFTER
    assert book.stage("closed").outcome("funded") is not None
    assert book.stage("do_not_contact").guards == (
        RequiresNote("record how and when the borrower asked"),
        ApprovalWhileNew(30),
    )
    assert book.disposition("no_answer").snooze == timedelta(hours=2)
    assert book.disposition("inbound_call").direction is Direction.INBOUND
    assert book.disposition("asked_not_to_call").guards == (RequiresPermission("compliance"),)
    assert book.disposition("told_wrong_number").report == "wrong_number"
    assert book.speed_to_lead == timedelta(minutes=30)
    assert book.aging == (
        Untouched(stages=("contacted", "engaged"), after=timedelta(days=10), to_stage="on_hold"),
    )


def test_the_extends_example_customises_the_investor_preset() -> None:
    book = load_playbook(str(EXAMPLES / "investor_custom.toml"))
    base = preset("investor")
    assert book.key == "investor_custom"
    assert book.stage("offer_made").label == "Offer Sent"
    assert book.stage("dead_deal").label == "Dead"
    assert not book.stage("listed_with_agent").enabled
    assert not book.disposition("sms_reply").enabled
    keys = [s.key for s in book.stages]
    assert keys.index("offer_made") < keys.index("negotiating") < keys.index("send_contract")
    assert book.disposition("left_voicemail").snooze == timedelta(hours=1)
    assert book.follow_up == base.follow_up
    assert book.stage("wrong_number").guards == (MinReports("wrong_number", 3),)
    assert book.speed_to_lead == timedelta(minutes=5)
    assert (book.aging, book.pool_stages) == (base.aging, base.pool_stages)


def test_extends_renames_disables_and_adds(tmp_path: Path) -> None:
    text = """
    key = "my_queue"
    name = "My queue"
    extends = "leads_queue"
    rename = { nurture = "Long-term nurture" }
    disable = ["nurture"]
    disable_dispositions = ["vm_full"]

    [[stages]]
    key = "appointment"
    label = "Appointment"
    order = 3
    allow_backward = true

    [[dispositions]]
    key = "booked"
    label = "Booked"
    channel = "call"
    to_stage = "appointment"
    snooze = "1d 12h"
    contact_attempt = true

    [follow_up]
    scale = 0.5
    """
    book = playbook_from_toml(text, origin="my_queue.toml")
    assert (book.key, book.name, book.description) == ("my_queue", "My queue", "")
    nurture = book.stage("nurture")
    assert (nurture.label, nurture.enabled) == ("Long-term nurture", False)
    assert not book.disposition("vm_full").enabled
    assert [s.key for s in book.stages] == [
        "new",
        "contact_attempted",
        "engaged",
        "appointment",
        "nurture",
        "converted",
    ]
    assert book.disposition("booked").snooze == timedelta(days=1, hours=12)
    assert book.follow_up.scale == Fraction(1, 2)
    base = preset("leads_queue")
    assert book.disposition("no_answer") == base.disposition("no_answer")


AGING_FROM_SCRATCH = """
key = "desk"
name = "Desk"
speed_to_lead = "15m"
pool_stages = ["stale"]

[[stages]]
key = "waiting"
label = "Waiting"
order = 1
initial = true

[[stages]]
key = "booked"
label = "Booked"
order = 1
system_only = true

[[stages]]
key = "late"
label = "Late"
order = 1
system_only = true

[[stages]]
key = "stale"
label = "Stale"
order = 1
system_only = true

[[stages]]
key = "free"
label = "Free"
order = 1
system_only = true

[follow_up]
moves_to = "booked"

[[aging]]
type = "schedule_cleared"
stages = ["booked"]
to_stage = "waiting"

[[aging]]
type = "follow_up_passed"
stages = ["booked"]
to_stage = "late"
grace = "5m"

[[aging]]
type = "touch_revives"
stages = ["stale", "free"]
to_stage = "waiting"

[[aging]]
type = "untouched"
stages = ["waiting", "late"]
after = "2 days"
to_stage = "stale"

[[aging]]
type = "stage_timeout"
stage = "stale"
after = "1w"
to_stage = "free"
release = true

[[aging]]
type = "stage_timeout"
stage = "late"
after = "36h"
to_stage = "stale"
"""


def test_aging_rules_speed_to_lead_and_pool_stages_are_read() -> None:
    book = playbook_from_toml(AGING_FROM_SCRATCH, origin="desk.toml")
    assert book.speed_to_lead == timedelta(minutes=15)
    assert book.pool_stages == ("stale",)
    assert book.aging == (
        ScheduleCleared(stages=("booked",), to_stage="waiting"),
        FollowUpPassed(stages=("booked",), to_stage="late", grace=timedelta(minutes=5)),
        TouchRevives(stages=("stale", "free"), to_stage="waiting"),
        Untouched(stages=("waiting", "late"), after=timedelta(days=2), to_stage="stale"),
        StageTimeout(stage="stale", after=timedelta(weeks=1), to_stage="free", release=True),
        StageTimeout(stage="late", after=timedelta(hours=36), to_stage="stale"),
    )
    assert playbook_from_dict(playbook_to_dict(book)) == book
    assert playbook_from_toml(to_toml(playbook_to_dict(book))) == book


def test_a_playbook_without_aging_has_none() -> None:
    book = playbook_from_toml(MINIMAL)
    assert (book.aging, book.pool_stages, book.speed_to_lead) == ((), (), None)


def test_extends_appends_aging_rules_and_replaces_pool_stages_and_speed_to_lead() -> None:
    text = """
    key = "my_call_log"
    name = "My call log"
    extends = "call_log"
    speed_to_lead = "10m"
    pool_stages = ["abandoned", "available"]

    [[aging]]
    type = "stage_timeout"
    stage = "available"
    after = "30d"
    to_stage = "lost_archive"
    """
    book = playbook_from_toml(text, origin="my_call_log.toml")
    base = preset("call_log")
    assert book.aging == (
        *base.aging,
        StageTimeout(stage="available", after=timedelta(days=30), to_stage="lost_archive"),
    )
    assert book.pool_stages == ("abandoned", "available")
    assert book.speed_to_lead == timedelta(minutes=10)


def test_extends_keeps_the_base_aging_pool_stages_and_speed_to_lead() -> None:
    data = {"key": "x", "name": "X", "extends": "call_log", "rename": {"missed": "Late"}}
    book = playbook_from_dict(data)
    base = preset("call_log")
    assert (book.aging, book.pool_stages, book.speed_to_lead) == (
        base.aging,
        base.pool_stages,
        base.speed_to_lead,
    )
    faster = playbook_from_dict(
        {"key": "y", "name": "Y", "extends": "leads_queue", "speed_to_lead": "5m"}
    )
    assert faster.speed_to_lead == timedelta(minutes=5)


def test_extends_with_an_empty_pool_stages_clears_the_base_pool() -> None:
    data = {"key": "x", "name": "X", "extends": "call_log", "pool_stages": []}
    assert playbook_from_dict(data).pool_stages == ()


def test_extends_a_file_relative_to_the_extending_file(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "tiny.toml").write_text(MINIMAL, encoding="utf-8")
    child = tmp_path / "child.toml"
    child.write_text(
        'key = "child"\nname = "Child"\nextends = "base/tiny.toml"\n'
        'rename = { done = "Finished" }\n',
        encoding="utf-8",
    )
    book = load_playbook(child)
    assert book.key == "child"
    assert book.stage("done").label == "Finished"


def test_extends_in_a_circle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('key = "a"\nname = "A"\nextends = "b.toml"\n', "utf-8")
    (tmp_path / "b.toml").write_text('key = "b"\nname = "B"\nextends = "a.toml"\n', "utf-8")
    with pytest.raises(ConfigError, match="circle"):
        load_playbook(tmp_path / "a.toml")


def test_an_unknown_base_is_refused() -> None:
    text = 'key = "x"\nname = "X"\nextends = "leeds_queue"\n'
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml(text, origin="x.toml")
    (problem,) = problems_of(excinfo)
    assert problem.startswith("x.toml: extends: 'leeds_queue' is neither a preset")


def test_extends_refuses_keys_the_base_already_has_and_names_it() -> None:
    text = """
    key = "x"
    name = "X"
    extends = "leads_queue"
    rename = { nurtur = "Nurture" }
    disable = ["nope"]
    disable_dispositions = ["vm_ful"]
    stages = [{ key = "engaged", label = "Engaged again", order = 3 }]
    dispositions = [{ key = "no_answer", label = "No answer", channel = "call" }]
    """
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml(text, origin="x.toml")
    problems = problems_of(excinfo)
    assert problems[0].startswith(
        "x.toml: rename.nurtur: 'nurtur' is not a stage of the base playbook 'leads_queue' ("
    )
    assert problems[1].startswith("x.toml: disable[0]: 'nope' is not a stage")
    assert problems[2].startswith("x.toml: disable_dispositions[0]: 'vm_ful' is not a disposition")
    assert problems[3:] == [
        "x.toml: stages[0].key: 'engaged' is already a stage of the base playbook 'leads_queue'",
        "x.toml: dispositions[0].key: 'no_answer' is already a disposition of the base "
        "playbook 'leads_queue'",
    ]


def test_customising_keys_need_extends() -> None:
    text = MINIMAL.replace('name = "Tiny"', 'name = "Tiny"\ndisable = ["done"]')
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml(text, origin="t.toml")
    assert problems_of(excinfo) == ["t.toml: disable: is only allowed with 'extends'"]


def test_disabling_a_stage_a_disposition_still_moves_to_is_refused() -> None:
    data = {"key": "x", "name": "X", "extends": "leads_queue", "disable": ["engaged"]}
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_dict(data, origin="x.toml")
    assert (
        "x.toml: playbook 'x': disposition 'engaged': moves to stage 'engaged', which is disabled"
        in problems_of(excinfo)
    )


# ---------------------------------------------------------------- the playbook's own checks


def test_a_disposition_moving_to_a_missing_stage_names_both(tmp_path: Path) -> None:
    path = tmp_path / "my.toml"
    path.write_text(
        MINIMAL + '\n[[dispositions]]\nkey = "booked"\nlabel = "Booked"\nchannel = "call"\n'
        'to_stage = "appointment"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as excinfo:
        load_playbook(path)
    assert problems_of(excinfo) == [
        f"{path}: playbook 'tiny': disposition 'booked': moves to stage 'appointment', "
        "which does not exist"
    ]


def test_two_initial_stages_are_refused() -> None:
    text = MINIMAL.replace("order = 1", "order = 1\ninitial = true").replace(
        "order = 2", "order = 2\ninitial = true"
    )
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml(text, origin="t.toml")
    assert problems_of(excinfo) == [
        "t.toml: playbook 'tiny': has 2 initial stages (new, done); mark one"
    ]


# ---------------------------------------------------------------- structure problems


def test_an_unknown_key_in_a_nested_table_names_the_key_and_table() -> None:
    text = with_stage('key = "dead"\nlabel = "Dead"\norder = 3\neffect = { kil = true }\n')
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml(text, origin="my.toml")
    assert problems_of(excinfo) == [
        "my.toml: stages[2].effect: unknown key 'kil' (did you mean 'kill'?)"
    ]


def test_an_unknown_top_level_key_lists_the_keys() -> None:
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml("zzz = 1\n" + MINIMAL, origin="t.toml")
    (problem,) = problems_of(excinfo)
    assert problem.startswith("t.toml: unknown key 'zzz' (keys: key, name, description, extends")


def test_a_bad_enum_value_lists_the_allowed_values() -> None:
    text = MINIMAL.replace("order = 2", 'order = 2\ncategory = "closed"')
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml(text, origin="my.toml")
    assert problems_of(excinfo) == [
        "my.toml: stages[1].category: 'closed' is not one of open, won, lost, dead"
        " (did you mean 'lost'?)"  # the nearest value, as an org config says it
    ]


def test_a_bad_duration_names_the_disposition_entry() -> None:
    data: dict[str, Any] = {
        "key": "x",
        "name": "X",
        "stages": [{"key": "new", "label": "New", "order": 1}],
        "dispositions": [{"key": "na", "label": "NA", "channel": "call", "snooze": "1 hr x"}],
    }
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_dict(data, origin="my.toml")
    (problem,) = problems_of(excinfo)
    assert problem.startswith("my.toml: dispositions[0].snooze: '1 hr x' is not a duration")


def test_every_structure_problem_is_listed_at_once() -> None:
    data: dict[str, Any] = {
        "name": "X",
        "stages": [
            {"key": "a", "label": "A", "order": "1", "terminal": "false"},
            {"key": "b", "order": 2, "guards": [{"type": "min_report"}, {"type": "min_reports"}]},
            "c",
        ],
        "dispositions": [{"key": "d", "label": "D", "channel": "fax", "direction": 1}],
        "follow_up": {"scale": "one half"},
    }
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_dict(data, origin="x.toml")
    assert problems_of(excinfo) == [
        "x.toml: missing required key 'key'",
        "x.toml: stages[0].order: expected a whole number, got '1'",
        "x.toml: stages[0].terminal: expected true or false, got 'false'",
        "x.toml: stages[1]: missing required key 'label'",
        "x.toml: stages[1].guards[0].type: 'min_report' is not one of min_reports, "
        "approval_while_new, requires_permission, requires_note",
        "x.toml: stages[1].guards[1]: missing required key 'kind'",
        "x.toml: stages[1].guards[1]: missing required key 'count'",
        "x.toml: stages[2]: expected a table, got 'c'",
        "x.toml: dispositions[0].channel: 'fax' is not one of call, sms, email",
        "x.toml: dispositions[0].direction: expected one of outbound, inbound, got 1",
        "x.toml: follow_up.scale: 'one half' is not a fraction: write a fraction such as "
        '"1/2", or a number such as 0.5 or 1',
    ]


def test_a_string_is_not_a_list() -> None:
    text = with_stage('key = "c"\nlabel = "C"\norder = 3\neffect = { signals = "notify" }\n')
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml(text, origin="t.toml")
    assert problems_of(excinfo) == [
        "t.toml: stages[2].effect.signals: expected a list, got 'notify'"
    ]


@pytest.mark.parametrize("data", [[], "playbook", None, 3])
def test_data_that_is_not_a_table_is_a_config_error(data: Any) -> None:
    with pytest.raises(ConfigError, match=r"^<dict>: expected a table"):
        playbook_from_dict(data)


def test_a_toml_date_where_a_string_belongs_is_a_config_error() -> None:
    text = MINIMAL.replace('label = "Done"', "label = 2024-01-01")
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml(text, origin="t.toml")
    assert problems_of(excinfo) == [
        "t.toml: stages[1].label: expected a string, got datetime.date(2024, 1, 1)"
    ]


@pytest.mark.parametrize(
    ("written", "scale"),
    [
        ('"1/2"', Fraction(1, 2)),
        ("0.5", Fraction(1, 2)),
        ("1", Fraction(1)),
        ('"2/3"', Fraction(2, 3)),
    ],
)
def test_the_follow_up_scale_is_a_fraction_or_a_number(written: str, scale: Fraction) -> None:
    book = playbook_from_toml(MINIMAL + f'\n[follow_up]\nscale = {written}\nmoves_to = "done"\n')
    assert book.follow_up.scale == scale
    assert book.follow_up.moves_to == "done"


def test_every_guard_type_is_read() -> None:
    guards = (
        '[{ type = "min_reports", kind = "wrong_number", count = 2 }, '
        '{ type = "approval_while_new", days = 10 }, '
        '{ type = "requires_permission", permission = "approve" }, '
        '{ type = "requires_note", prompt = "why?" }]'
    )
    book = playbook_from_toml(with_stage(f'key = "x"\nlabel = "X"\norder = 3\nguards = {guards}\n'))
    assert book.stage("x").guards == (
        MinReports("wrong_number", 2),
        ApprovalWhileNew(10),
        RequiresPermission("approve"),
        RequiresNote("why?"),
    )


def test_an_unknown_aging_type_lists_the_types() -> None:
    text = MINIMAL + '\n[[aging]]\ntype = "sometimes"\nstages = ["new"]\nto_stage = "done"\n'
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml(text, origin="my.toml")
    assert problems_of(excinfo) == [
        f"my.toml: aging[0].type: 'sometimes' is not one of {_AGING_TYPES}"
    ]


def test_an_aging_rule_needs_a_type() -> None:
    text = MINIMAL + '\n[[aging]]\nstages = ["new"]\nto_stage = "done"\n'
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml(text, origin="my.toml")
    assert problems_of(excinfo) == [
        f"my.toml: aging[0]: missing required key 'type' (one of {_AGING_TYPES})"
    ]


def test_a_bad_aging_duration_names_the_rule_and_key() -> None:
    rules = [
        {"type": "schedule_cleared", "stages": ["new"], "to_stage": "done"},
        {"type": "untouched", "stages": ["new"], "after": "2d", "to_stage": "done"},
        {"type": "untouched", "stages": ["new"], "after": "2 dayz", "to_stage": "done"},
    ]
    text = to_toml({"key": "tiny", "name": "Tiny", "aging": rules}) + MINIMAL.split("\n", 3)[3]
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml(text, origin="my.toml")
    (problem,) = problems_of(excinfo)
    assert problem.startswith("my.toml: aging[2].after: '2 dayz' is not a duration: write e.g.")


def test_aging_keys_are_checked_like_any_other() -> None:
    data: dict[str, Any] = {
        "key": "x",
        "name": "X",
        "stages": [{"key": "new", "label": "New", "order": 1}],
        "speed_to_lead": 15,
        "pool_stages": "new",
        "aging": [
            {"type": "stage_timeout", "stage": "new", "after": "1d", "to_stag": "new"},
            {"type": "follow_up_passed", "stages": "new", "to_stage": "new", "grace": 5},
            "untouched",
        ],
    }
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_dict(data, origin="x.toml")
    assert problems_of(excinfo) == [
        "x.toml: aging[0]: missing required key 'to_stage'",
        "x.toml: aging[0]: unknown key 'to_stag' (did you mean 'to_stage'?)",
        "x.toml: aging[1].stages: expected a list, got 'new'",
        'x.toml: aging[1].grace: expected a duration such as "48h" or "7 days", got 5',
        "x.toml: aging[2]: expected a table, got 'untouched'",
        "x.toml: pool_stages: expected a list, got 'new'",
        'x.toml: speed_to_lead: expected a duration such as "48h" or "7 days", got 15',
    ]


def test_an_aging_rule_naming_a_missing_stage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "my.toml"
    path.write_text(
        MINIMAL + '\n[[aging]]\ntype = "untouched"\nstages = ["new", "x"]\nafter = "2d"\n'
        'to_stage = "done"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as excinfo:
        load_playbook(path)
    assert problems_of(excinfo) == [
        f"{path}: playbook 'tiny': aging rule 1 (Untouched): stage 'x' does not exist"
    ]


def test_an_added_aging_rule_is_numbered_after_the_base_rules() -> None:
    text = """
    key = "x"
    name = "X"
    extends = "call_log"
    pool_stages = ["abandonned"]
    speed_to_lead = "0m"

    [[aging]]
    type = "stage_timeout"
    stage = "available"
    after = "30d"
    to_stage = "archived"
    """
    with pytest.raises(ConfigError) as excinfo:
        playbook_from_toml(text, origin="x.toml")
    assert problems_of(excinfo) == [
        "x.toml: playbook 'x': aging rule 7 (StageTimeout): stage 'archived' does not exist",
        "x.toml: playbook 'x': pool stage 'abandonned' does not exist",
        "x.toml: playbook 'x': speed_to_lead must be positive",
    ]


def test_enums_are_read_by_value() -> None:
    book = playbook_from_toml(
        with_stage('key = "x"\nlabel = "X"\norder = 3\ncategory = "dead"\nterminal = true\n')
        + '\n[[dispositions]]\nkey = "t"\nlabel = "T"\nchannel = "sms"\ndirection = "inbound"\n'
    )
    assert book.stage("x").category is Category.DEAD
    assert book.disposition("t").channel is Channel.SMS
    assert book.disposition("t").direction is Direction.INBOUND


# ---------------------------------------------------------------- files and syntax


def test_bad_toml_syntax_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('key = "x"\nname = "X\n', encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_playbook(path)
    (problem,) = problems_of(excinfo)
    assert problem.startswith(f"{path}: line 2, column ")
    assert "invalid TOML" in problem


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as excinfo:
        load_playbook(path)
    (problem,) = problems_of(excinfo)
    assert problem.startswith(f"{path}: no such file, and not a preset (presets: ")


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('key = "x"\nname = "Caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_playbook(path)


def test_a_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_playbook(tmp_path)
    assert problems_of(excinfo) == [
        f"{tmp_path}: is a directory, not a regular file: a playbook is a TOML file"
    ]


def test_loaded_playbooks_are_playbooks() -> None:
    assert isinstance(playbook_from_toml(MINIMAL), Playbook)


# ---------------------------------------------------------------- the documentation

DOC = (ROOT / "docs" / "playbook-toml.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("text", re.findall(r"```toml\n(.*?)```", DOC, flags=re.DOTALL))
def test_every_toml_example_in_the_docs_loads(text: str) -> None:
    assert isinstance(playbook_from_toml(text, origin="docs/playbook-toml.md"), Playbook)


@pytest.mark.parametrize(
    "cls",
    [Playbook, Stage, Effect, Outcome, Disposition, FollowUpRule, *_GUARD_CLASSES, *_AGING_CLASSES],
)
def test_the_docs_list_every_key(cls: type[Any]) -> None:
    for field in attrs.fields(cls):
        if field.init:
            assert f"`{field.name}`" in DOC, f"{cls.__name__}.{field.name} is not documented"


def test_the_docs_list_every_aging_type() -> None:
    for tag in _AGING_TYPES.split(", "):
        assert f'`"{tag}"`' in DOC, f"aging type {tag!r} is not documented"
