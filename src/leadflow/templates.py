"""Link templates: the link an assignment email carries (``organization.lead_link``).

A link template is text with placeholders in braces. The only placeholder
is ``{lead_id}``, replaced by the lead's id (``str(lead_id)``: the UUID with
dashes); a template holds it at least once, so that the link names the
lead. ``{{`` and ``}}`` write a literal brace. Anything else in braces is
refused, naming it: a format spec (``{lead_id:.8}``), a conversion
(``{lead_id!r}``), attribute or index access (``{lead_id.hex}``,
``{lead_id[0]}``), a positional ``{}`` or ``{0}``, an unknown name, a lone
brace.

:func:`render_link` is the one function that reads a template: the
configuration check renders it once with an example id, and sending renders
it with the lead's, so a template that passes the check renders for every
lead. Pure: the standard library only.
"""

from __future__ import annotations

import string
from uuid import UUID

from leadflow.errors import ConfigError, clip

__all__ = ["EXAMPLE_LEAD_ID", "LINK_PLACEHOLDERS", "LinkTemplateError", "render_link"]

#: The placeholders a link template may hold.
LINK_PLACEHOLDERS: tuple[str, ...] = ("lead_id",)
#: The id the configuration check renders a template with.
EXAMPLE_LEAD_ID = UUID(int=0)
_ALLOWED = "a link template holds only {lead_id} (and {{ or }} for a literal brace)"


class LinkTemplateError(ConfigError):
    """A link template that cannot be rendered. ``reason`` says why, without the setting's name.

    Its one problem names the setting: ``organization.lead_link: <reason>``.
    """

    reason: str

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"organization.lead_link: {reason}")


def _placeholder(field: str, conversion: str | None, spec: str) -> str:
    """The placeholder as written (near enough: ``{lead_id:}`` reads back as ``{lead_id}``)."""
    shown = field + (f"!{conversion}" if conversion is not None else "")
    shown += f":{spec}" if spec else ""
    return "{" + clip(shown) + "}"


def _refusal(field: str, conversion: str | None, spec: str) -> str | None:
    """Why the placeholder ``{field!conversion:spec}`` is refused; ``None`` when it is allowed."""
    shown = _placeholder(field, conversion, spec)
    if field == "" or field.isdigit():
        return f"the positional placeholder {shown} is not allowed: {_ALLOWED}"
    if "." in field or "[" in field:
        return f"attribute or index access in {shown} is not allowed: {_ALLOWED}"
    if field not in LINK_PLACEHOLDERS:
        return f"unknown placeholder {shown}: {_ALLOWED}"
    if conversion is not None:
        return f"the conversion in {shown} is not allowed: {_ALLOWED}"
    if spec:
        return f"the format spec in {shown} is not allowed: {_ALLOWED}"
    return None


def render_link(template: str, *, lead_id: UUID) -> str:
    """``template`` with every ``{lead_id}`` replaced by ``str(lead_id)``.

    Parsed with :meth:`string.Formatter.parse`; a template holding anything
    but the documented placeholders and literal braces raises
    :class:`LinkTemplateError` naming the first offending part (quoted to
    at most 200 characters), and so does one without ``{lead_id}``.
    """
    parts: list[str] = []
    placed = False
    try:
        for literal, field, spec, conversion in string.Formatter().parse(template):
            parts.append(literal)
            if field is None:
                continue
            refusal = _refusal(field, conversion, spec or "")
            if refusal is not None:
                raise LinkTemplateError(refusal)
            parts.append(str(lead_id))
            placed = True
    except ValueError as exc:  # a lone or unclosed brace
        raise LinkTemplateError(
            f"a brace is not closed or not doubled ({exc}): {_ALLOWED}"
        ) from None
    if not placed:
        raise LinkTemplateError("the link has no {lead_id}: a link template names the lead with it")
    return "".join(parts)
