"""Email through an SMTP server: :class:`SmtpNotifier`.

Built on the standard library only (:mod:`smtplib`, :mod:`email`). Each
outbox message becomes one email with a plain-text part and, when the
message has one, an HTML alternative::

    notifier = SmtpNotifier(
        "smtp.example.com", 587,
        sender="Leadflow <leads@example.com>",
        username="leads@example.com", password=os.environ["SMTP_PASSWORD"],
        starttls=True,
    )
    deliver_outbox(store, notifier, datetime.now(UTC))

The email's ``Message-ID`` is derived from the outbox message id, so a
message sent again after a retry carries the same ``Message-ID`` and the
receiving side can recognise (and drop) the duplicate.
"""

from __future__ import annotations

import smtplib
import ssl as _ssl
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from leadflow.errors import ConfigError
from leadflow.notify.protocol import DeliveryError
from leadflow.storage.protocol import OutboxMessage

__all__ = ["SmtpNotifier"]

#: The domain of a Message-ID when the sender address has none.
_FALLBACK_DOMAIN = "leadflow.invalid"


def _reason(error: BaseException) -> str:
    """What went wrong, in a few words, for a DeliveryError."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refusals = [
            f"{address} refused ({code} {_text(reply)})"
            for address, (code, reply) in error.recipients.items()
        ]
        return "; ".join(refusals) or "every recipient was refused"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"the server answered {error.smtp_code} {_text(error.smtp_error)}"
    if isinstance(error, TimeoutError):
        return "timed out"
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _hang_up(smtp: smtplib.SMTP) -> None:
    """Say QUIT and close; once the server accepted the mail, a failure here is no failure."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        smtp.close()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


class SmtpNotifier:
    """A :class:`~leadflow.notify.protocol.Notifier` sending email through one SMTP server.

    ``sender`` is the ``From`` address (``"Leadflow <leads@example.com>"``).
    ``ssl=True`` speaks TLS from the first byte (usually port 465);
    ``starttls=True`` upgrades a plain connection (usually port 587); not
    both. ``username``/``password`` log in when given. ``timeout`` bounds
    each network operation, in seconds.

    One connection per :meth:`send`. Any network or SMTP failure is raised as
    :class:`~leadflow.notify.protocol.DeliveryError` naming ``host:port`` and
    the reason.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        ssl: bool = False,
        timeout: float = 10.0,
    ) -> None:
        problems = []
        if not host:
            problems.append("SmtpNotifier: host is required")
        if not 0 < port < 65536:
            problems.append(f"SmtpNotifier: port {port} is not between 1 and 65535")
        if "@" not in parseaddr(sender)[1]:
            problems.append(f"SmtpNotifier: sender {sender!r} is not an email address")
        if ssl and starttls:
            problems.append("SmtpNotifier: choose ssl (TLS at once) or starttls, not both")
        if (username is None) != (password is None):
            problems.append("SmtpNotifier: give both username and password, or neither")
        if timeout <= 0:
            problems.append(f"SmtpNotifier: timeout {timeout} must be more than 0 seconds")
        if problems:
            raise ConfigError(problems)
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.ssl = ssl
        self.timeout = timeout

    def __repr__(self) -> str:  # never shows the password
        return (
            f"SmtpNotifier({self.host!r}, {self.port}, sender={self.sender!r}, "
            f"username={self.username!r}, starttls={self.starttls}, ssl={self.ssl})"
        )

    @property
    def address(self) -> str:
        """``host:port``, as error messages name the server."""
        return f"{self.host}:{self.port}"

    def message_id(self, message: OutboxMessage) -> str:
        """The email ``Message-ID`` of ``message``: the same on every attempt."""
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or _FALLBACK_DOMAIN
        return f"<{message.message_id}@{domain}>"

    def email(self, message: OutboxMessage) -> EmailMessage:
        """The email :meth:`send` sends for ``message``.

        Raises DeliveryError if the message cannot be an email (a line break
        in the subject or the recipient, say).
        """
        mail = EmailMessage()
        try:
            mail["Subject"] = message.subject
            mail["From"] = self.sender
            mail["To"] = message.recipient
            mail["Date"] = formatdate(usegmt=True)
            mail["Message-ID"] = self.message_id(message)
            mail["X-Leadflow-Kind"] = message.kind
            if message.lead_id is not None:
                mail["X-Leadflow-Lead-Id"] = str(message.lead_id)
            mail.set_content(message.body_text)
            if message.body_html:
                mail.add_alternative(message.body_html, subtype="html")
        except (ValueError, TypeError) as error:
            raise DeliveryError(
                f"message {message.message_id} to {message.recipient!r} cannot be sent "
                f"as an email: {error}"
            ) from error
        return mail

    def send(self, message: OutboxMessage) -> None:
        """Send ``message`` as one email; DeliveryError naming host:port if that fails."""
        mail = self.email(message)
        try:
            smtp = self._connect()
            try:
                refused = smtp.send_message(mail)
            finally:
                _hang_up(smtp)
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(
                f"could not send message {message.message_id} to {message.recipient} "
                f"through {self.address}: {_reason(error)}"
            ) from error
        if refused:  # some recipients accepted, some not: we only have one, but be sure
            raise DeliveryError(
                f"could not send message {message.message_id} to {message.recipient} "
                f"through {self.address}: {', '.join(sorted(refused))} refused"
            )

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if self.ssl:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=_ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                smtp.starttls(context=_ssl.create_default_context())
            if self.username is not None and self.password is not None:
                smtp.login(self.username, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp
