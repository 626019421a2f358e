"""The lead link template: one function reads it for the config check and for sending.

``organization.lead_link`` holds ``{lead_id}`` (at least once) and literal
braces written ``{{``/``}}``, nothing else in braces. Whatever the text,
either the config check refuses it, as one problem on
``organization.lead_link``, or every lead's email renders with the lead's
id in the link.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import pytest
from click.testing import CliRunner, Result
from hypothesis import example, given
from hypothesis import strategies as st

from desk_helpers import T0, make_desk, org, row
from leadflow.batch import open_desk
from leadflow.cli import cli
from leadflow.desk import LeadDesk
from leadflow.errors import ConfigError
from leadflow.io.orgconfig import org_config_from_dict
from leadflow.model import Contact
from leadflow.notify.messages import assignment_message
from leadflow.storage.memory import MemoryStore
from leadflow.storage.protocol import OutboxMessage, Store
from leadflow.templates import EXAMPLE_LEAD_ID, LinkTemplateError, render_link

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "org.toml"
LEADS = ROOT / "examples" / "leads.csv"
NOW = "2026-03-09T15:00:00+00:00"
GOOD = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
ALLOWED = "a link template holds only {lead_id} (and {{ or }} for a literal brace)"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def check(template: str) -> tuple[str, ...]:
    """The problems the config check finds with ``template`` as the lead link."""
    data: dict[str, Any] = copy.deepcopy(GOOD)
    data["organization"]["lead_link"] = template
    try:
        org_config_from_dict(data, name="org.toml")
    except ConfigError as exc:
        return exc.problems
    return ()


# ---------------------------------------------------------------- any template


_PIECES = st.sampled_from(
    [
        *("{", "}", "{{", "}}", "{lead_id}", "{}", "lead_id", "lead", "_id", "__class__"),
        *(":", ".8", ".", "[", "0", "]", "!", "r", "s", " ", "https://crm.example/", "?a=", "/"),
    ]
)
_FIELDS = st.sampled_from(["lead_id"] * 6 + ["", "0", "id", "lead_id.hex", "lead_id[0]"])
_PLACEHOLDERS = st.builds(
    lambda field, conversion, spec: "{" + field + conversion + spec + "}",
    _FIELDS | st.text(max_size=4),
    st.sampled_from([""] * 6 + ["!r", "!s", "!", "!x"]),
    st.sampled_from([""] * 6 + [":", ":.8", ":>40", ":{x}"]) | st.text(max_size=3).map(":".__add__),
)
_LITERALS = st.text(st.characters(exclude_characters="{}"), max_size=8)
_MIXED = st.lists(_PLACEHOLDERS | _LITERALS | _PIECES | st.text(max_size=3), max_size=6).map(
    "".join
)
TEMPLATES = (
    _MIXED
    | st.tuples(_MIXED, st.just("{lead_id}"), _MIXED).map("".join)
    | st.tuples(_LITERALS, st.just("{lead_id}"), _LITERALS).map("".join)
    | st.text()
)


@given(TEMPLATES, st.uuids())
@example("https://x/{lead_id:.8}", UUID(int=1))
@example("https://x/{lead_id.__class__.__mro__}", UUID(int=1))
@example("https://x/{{{lead_id}}}", UUID(int=1))
def test_a_template_is_refused_by_the_check_or_renders_the_id_for_every_lead(
    template: str, lead_id: UUID
) -> None:
    problems = check(template)
    if problems:
        assert len(problems) == 1
        assert problems[0].startswith("org.toml: organization.lead_link: ")
        assert len(problems[0]) < 600  # the template is quoted to 200 characters at most
        with pytest.raises(LinkTemplateError):
            render_link(template, lead_id=lead_id)
        return
    rendered = render_link(template, lead_id=lead_id)
    assert str(lead_id) in rendered
    # the plain placeholder and literal braces mean what Python's formatting says
    assert rendered == template.format(lead_id=str(lead_id))


@given(TEMPLATES)
def test_the_check_and_the_renderer_are_one_function(template: str) -> None:
    refusal: LinkTemplateError | None = None
    try:
        render_link(template, lead_id=EXAMPLE_LEAD_ID)
    except LinkTemplateError as exc:
        refusal = exc
    if refusal is None:
        assert check(template) == ()
        return
    assert check(template) == (f"org.toml: organization.lead_link: {refusal.reason}",)
    assert refusal.problems == (f"organization.lead_link: {refusal.reason}",)


# ---------------------------------------------------------------- each refused form


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("https://x/{lead_id:.8}", f"the format spec in {{lead_id:.8}} is not allowed: {ALLOWED}"),
        (
            "https://x/{lead_id:{x}}",
            f"the format spec in {{lead_id:{{x}}}} is not allowed: {ALLOWED}",
        ),
        ("https://x/{lead_id!r}", f"the conversion in {{lead_id!r}} is not allowed: {ALLOWED}"),
        (
            "https://x/{lead_id.__class__.__mro__}",
            f"attribute or index access in {{lead_id.__class__.__mro__}} is not allowed: {ALLOWED}",
        ),
        (
            "https://x/{lead_id[0]}",
            f"attribute or index access in {{lead_id[0]}} is not allowed: {ALLOWED}",
        ),
        ("https://x/{}", f"the positional placeholder {{}} is not allowed: {ALLOWED}"),
        ("https://x/{0}", f"the positional placeholder {{0}} is not allowed: {ALLOWED}"),
        ("https://x/{id}", f"unknown placeholder {{id}}: {ALLOWED}"),
        ("https://x/{ lead_id }", f"unknown placeholder {{ lead_id }}: {ALLOWED}"),
        (
            "https://x/{lead_id",
            f"a brace is not closed or not doubled (expected '}}' before end of string): {ALLOWED}",
        ),
        (
            "https://x/}{lead_id}",
            "a brace is not closed or not doubled (Single '}' encountered in format string): "
            + ALLOWED,
        ),
        ("https://x/", "the link has no {lead_id}: a link template names the lead with it"),
        (
            "https://x/{{lead_id}}",
            "the link has no {lead_id}: a link template names the lead with it",
        ),
    ],
    ids=[
        "spec",
        "nested-spec",
        "conversion",
        "attribute",
        "index",
        "positional",
        "numbered",
        "unknown",
        "spaced",
        "unclosed",
        "lone-close",
        "no-placeholder",
        "only-literal-braces",
    ],
)
def test_each_refused_form_is_named_by_config_check(
    tmp_path: Path, template: str, reason: str
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    default = 'lead_link = "https://crm.acmelending.example/leads/{lead_id}"'
    assert default in text
    path = tmp_path / "org.toml"
    path.write_text(text.replace(default, f"lead_link = {template!r}"), encoding="utf-8")
    result = run("config", "check", path)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.stdout.splitlines() == [f"{path}: organization.lead_link: {reason}"]
    db = tmp_path / "leadflow.db"
    assert run("init", "--config", path, "--db", db).exit_code == 2
    assert not db.exists()


def test_a_long_placeholder_is_quoted_to_200_characters() -> None:
    name = "x" * 5000
    [problem] = check("https://x/{" + name + "}{lead_id}")
    assert problem == (
        "org.toml: organization.lead_link: unknown placeholder {" + "x" * 197 + "...}: " + ALLOWED
    )


# ---------------------------------------------------------------- sending


def test_a_link_is_rendered_into_every_assignment_email(tmp_path: Path) -> None:
    link = "https://crm.example/{{app}}/leads/{lead_id}?again={lead_id}"
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        '"https://crm.acmelending.example/leads/{lead_id}"', repr(link)
    )
    config = tmp_path / "org.toml"
    config.write_text(text, encoding="utf-8")
    db = tmp_path / "leadflow.db"
    assert run("init", "--config", config, "--db", db, "--now", NOW).exit_code == 0
    routed = run(
        "route", LEADS, "--source", "purchased_leads", "--db", db, "--out", tmp_path, "-q",
        "--now", NOW,
    )  # fmt: skip
    assert routed.exit_code in (0, 1), routed.output
    desk = open_desk(db)
    try:
        with desk.store.unit_of_work() as uow:
            messages = uow.messages()
    finally:
        desk.store.close()
    assert messages
    for message in messages:
        expected = f"https://crm.example/{{app}}/leads/{message.lead_id}?again={message.lead_id}"
        assert f"Open it: {expected}\n" in message.body_text
        assert f'href="{expected}"' in (message.body_html or "")


def sent(store: Store) -> list[OutboxMessage]:
    with store.unit_of_work() as uow:
        return uow.messages()


def test_the_desk_refuses_a_bad_link_before_saving_a_config() -> None:
    store = MemoryStore()
    with pytest.raises(ConfigError) as info:
        LeadDesk.configure(store, org(lead_link="https://x/{lead_id:.8}"), actor=None, at=T0)
    assert info.value.problems == (
        f"organization.lead_link: the format spec in {{lead_id:.8}} is not allowed: {ALLOWED}",
    )
    with store.unit_of_work() as uow:
        assert uow.load_config() is None


def test_assignment_message_renders_with_the_same_function() -> None:
    desk, _ = make_desk(MemoryStore(), org(lead_link="https://x/{{a}}/{lead_id}"))
    created = desk.create_lead(row("Ann"), source="purchased_leads", actor=None)
    assert created.lead is not None
    [message] = sent(desk.store)
    assert f"Open it: https://x/{{a}}/{created.lead.lead_id}\n" in message.body_text
    with desk.store.unit_of_work() as uow:
        contact: Contact = uow.get_contact(created.lead.contact_id)
    kwargs: dict[str, Any] = {
        "message_id": UUID(int=9),
        "lead": created.lead,
        "contact": contact,
        "assignee": desk.user(2),
        "now": T0,
    }
    for bad in ("https://x/{lead_id:.8}", "https://x/{lead_id.__class__.__mro__}"):
        with pytest.raises(LinkTemplateError):
            assignment_message(link_template=bad, **kwargs)


def test_a_stored_config_with_a_bad_link_is_refused_in_one_line_and_init_repairs_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "leadflow.db"
    assert run("init", "--config", EXAMPLE, "--db", db, "--now", NOW).exit_code == 0
    desk = open_desk(db)  # a link stored by an earlier version, before it was checked
    try:
        spoiled = attrs.evolve(
            desk.config,
            settings=attrs.evolve(desk.config.settings, lead_link="https://x/{lead_id:.8}"),
        )
        with desk.store.unit_of_work() as uow:
            uow.save_config(spoiled, actor=None, at=T0)
    finally:
        desk.store.close()
    route = ("route", LEADS, "--source", "purchased_leads", "--db", db, "--out", tmp_path, "-q")
    refused = run(*route)
    assert refused.exit_code == 2
    assert refused.output.splitlines() == [
        "error: organization.lead_link: the format spec in {lead_id:.8} is not allowed: " + ALLOWED
    ]
    assert run("init", "--config", EXAMPLE, "--db", db, "--now", NOW).exit_code == 0
    assert run(*route).exit_code in (0, 1)
