"""The text of the messages leadflow sends (DESIGN D10)."""

from __future__ import annotations

import html
from datetime import datetime
from uuid import UUID

from leadflow.model import Contact, Lead, User
from leadflow.storage.protocol import OutboxMessage
from leadflow.templates import render_link

__all__ = ["assignment_message"]


def assignment_message(
    *,
    message_id: UUID,
    lead: Lead,
    contact: Contact,
    assignee: User,
    link_template: str,
    now: datetime,
) -> OutboxMessage:
    """The email telling ``assignee`` a lead was assigned to them, with a link to it.

    The link is ``link_template`` rendered by
    :func:`leadflow.templates.render_link`, the function the configuration
    check uses: a template that is not a link template raises
    :class:`~leadflow.templates.LinkTemplateError` (a ``ConfigError``).
    """
    link = render_link(link_template, lead_id=lead.lead_id)
    name = contact.details.name
    purpose = str(lead.attributes.loan_purpose)
    subject = f"New lead assigned to you: {name} ({purpose})"
    reach = contact.details.email or contact.details.cell_phone or ""
    text = (
        f"Hello {assignee.first_name},\n\n"
        f"A lead was assigned to you.\n\n"
        f"  Name:         {name}\n"
        f"  Contact:      {reach}\n"
        f"  Loan purpose: {purpose}\n"
        f"  Source:       {lead.attributes.source}\n\n"
        f"Open it: {link}\n"
    )
    e = html.escape
    body_html = (
        f"<p>Hello {e(assignee.first_name)},</p>"
        f"<p>A lead was assigned to you.</p>"
        f"<table><tr><th>Name</th><td>{e(name)}</td></tr>"
        f"<tr><th>Contact</th><td>{e(reach)}</td></tr>"
        f"<tr><th>Loan purpose</th><td>{e(purpose)}</td></tr>"
        f"<tr><th>Source</th><td>{e(lead.attributes.source)}</td></tr></table>"
        f'<p><a href="{e(link, quote=True)}">Open the lead</a></p>'
    )
    return OutboxMessage(
        message_id=message_id,
        created_at=now,
        kind="lead_assigned",
        recipient=assignee.email,
        subject=subject,
        body_text=text,
        body_html=body_html,
        lead_id=lead.lead_id,
        next_attempt_at=now,
    )
