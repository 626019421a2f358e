"""Delivering the outbox (DESIGN D10), against a real SMTP server on localhost.

The server is aiosmtpd's :class:`Controller`, run in a thread on a free port.
"Down" is the same port with no server listening: connections are refused.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from itertools import cycle, islice
from typing import Any
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from desk_helpers import make_desk, org, row
from leadflow.desk import LeadDesk
from leadflow.errors import ConfigError, ValidationError
from leadflow.notify import (
    DeliveryError,
    DeliveryReport,
    MemoryNotifier,
    Notifier,
    SmtpNotifier,
    deliver_outbox,
    outbox_status,
)
from leadflow.notify.delivery import MAX_BACKOFF, retry_delay
from leadflow.storage.memory import MemoryStore
from leadflow.storage.protocol import OutboxMessage, OutboxStatus, Store

LEADS = 20
ROTATION = ["maria@example.com", "kelly@example.com", "annie@example.com"]
SENDER = "Leadflow <leads@example.com>"


# ---------------------------------------------------------------------- fixtures


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpServer:
    """An aiosmtpd server on a fixed localhost port that can be started, stopped and restarted.

    It is also the aiosmtpd handler: it keeps every envelope it accepts and
    refuses the recipients in ``refuse``.
    """

    def __init__(self, port: int) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.envelopes: list[Envelope] = []
        self.refuse: set[str] = set()
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        assert self._controller is None, "already running"
        controller = Controller(
            self, hostname=self.host, port=self.port, server_hostname="localhost", ready_timeout=5
        )
        try:
            controller.start()
        except BaseException:
            controller.loop.close()
            raise
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            controller.loop.close()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def mails(self) -> list[EmailMessage]:
        with self._lock:
            envelopes = list(self.envelopes)
        mails = []
        for envelope in envelopes:
            assert isinstance(envelope.content, bytes)
            mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(mail, EmailMessage)
            mails.append(mail)
        return mails

    def notifier(self) -> SmtpNotifier:
        return SmtpNotifier(self.host, self.port, sender=SENDER, timeout=5.0)


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    """A server on a free port, NOT started: call ``start()`` to bring it up."""
    smtp = SmtpServer(free_port())
    yield smtp
    smtp.stop()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Store]:
    if request.param == "memory":
        s: Store = MemoryStore()
    else:
        from leadflow.storage.sqlite import SQLiteStore

        s = SQLiteStore(tmp_path / "notify.db")  # type: ignore[operator]
    yield s
    s.close()


def route_leads(desk: LeadDesk, count: int = LEADS) -> list[UUID]:
    """Create ``count`` distinct purchased leads; each is routed round robin."""
    lead_ids = []
    for i in range(count):
        created = desk.create_lead(row(f"P{i}", "Lead"), source="purchased_leads", actor=None)
        assert created.lead is not None
        lead_ids.append(created.lead.lead_id)
    return lead_ids


def pending(store: Store) -> list[OutboxMessage]:
    with store.unit_of_work() as uow:
        return uow.messages(status=OutboxStatus.PENDING)


def all_messages(store: Store) -> list[OutboxMessage]:
    with store.unit_of_work() as uow:
        return uow.messages()


def parts(mail: EmailMessage) -> tuple[str, str]:
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    return text.get_content(), html.get_content()


# ---------------------------------------------------------------------- over SMTP


def test_routed_leads_are_mailed_to_their_assignees_with_a_link(
    store: Store, server: SmtpServer
) -> None:
    server.start()
    desk, clock = make_desk(store)
    lead_ids = route_leads(desk)

    report = deliver_outbox(store, server.notifier(), clock.now)

    assert report == DeliveryReport(sent=LEADS, failed_now=0, gave_up=0, remaining=0)
    expected = list(islice(cycle(ROTATION), LEADS))
    assert [envelope.rcpt_tos for envelope in server.envelopes] == [[a] for a in expected]
    assert {envelope.mail_from for envelope in server.envelopes} == {"leads@example.com"}
    mails = server.mails()
    assert [mail["X-Leadflow-Lead-Id"] for mail in mails] == [str(i) for i in lead_ids]
    for lead_id, recipient, mail in zip(lead_ids, expected, mails, strict=True):
        assert mail["To"] == recipient
        assert mail["From"] == SENDER
        assert mail["Subject"].startswith("New lead assigned to you: P")
        assert mail.get_content_type() == "multipart/alternative"
        text, html = parts(mail)
        link = f"https://crm.example.com/leads/{lead_id}"
        assert link in text
        assert f'href="{link}"' in html
        with store.unit_of_work() as uow:
            assignee = uow.get_lead(lead_id).assignee_id
        assert recipient == desk.user(assignee).email  # type: ignore[arg-type]
    assert outbox_status(store) == {"pending": 0, "sent": LEADS, "failed": 0}
    assert all(m.attempts == 1 and m.next_attempt_at is None for m in all_messages(store))


def test_a_down_server_delays_mail_but_never_loses_an_assignment(
    store: Store, server: SmtpServer
) -> None:
    desk, clock = make_desk(store)
    lead_ids = route_leads(desk)
    with store.unit_of_work() as uow:
        assert all(uow.get_lead(i).assignee_id in {2, 3, 4} for i in lead_ids)

    down = deliver_outbox(store, server.notifier(), clock.now)

    assert down == DeliveryReport(sent=0, failed_now=LEADS, gave_up=0, remaining=LEADS)
    assert outbox_status(store) == {"pending": LEADS, "sent": 0, "failed": 0}
    waiting = pending(store)
    assert len(waiting) == LEADS
    for message in waiting:
        assert message.attempts == 1
        assert message.next_attempt_at is not None
        assert message.next_attempt_at > clock.now
        assert f"127.0.0.1:{server.port}" in message.last_error
    with store.unit_of_work() as uow:  # the assignments stand
        assert all(uow.get_lead(i).assignee_id in {2, 3, 4} for i in lead_ids)

    server.start()
    too_soon = deliver_outbox(store, server.notifier(), clock.tick(seconds=30))
    assert too_soon == DeliveryReport(remaining=LEADS)
    assert server.envelopes == []

    back = deliver_outbox(store, server.notifier(), clock.tick(minutes=2))
    assert back == DeliveryReport(sent=LEADS, remaining=0)
    ids = [mail["Message-ID"] for mail in server.mails()]
    assert len(ids) == len(set(ids)) == LEADS
    assert set(ids) == {f"<{m.message_id}@example.com>" for m in waiting}

    again = deliver_outbox(store, server.notifier(), clock.tick(days=3))
    assert again == DeliveryReport()
    assert len(server.envelopes) == LEADS
    assert outbox_status(store) == {"pending": 0, "sent": LEADS, "failed": 0}
    assert all(m.attempts == 2 and m.last_error == "" for m in all_messages(store))


def test_a_crash_after_sending_resends_after_the_lease_with_the_same_message_id(
    store: Store, server: SmtpServer
) -> None:
    class DiesAfterSending(SmtpNotifier):
        def send(self, message: OutboxMessage) -> None:
            super().send(message)
            raise RuntimeError("the process died before recording")

    server.start()
    desk, clock = make_desk(store)
    route_leads(desk, 1)
    start = clock.now
    dying = DiesAfterSending(server.host, server.port, sender=SENDER)
    with pytest.raises(RuntimeError, match="died"):
        deliver_outbox(store, dying, start)
    (claimed,) = pending(store)
    assert claimed.attempts == 0
    assert claimed.next_attempt_at is not None
    assert claimed.next_attempt_at >= start + timedelta(minutes=5)

    assert deliver_outbox(store, server.notifier(), start + timedelta(minutes=4)).sent == 0
    assert deliver_outbox(store, server.notifier(), start + timedelta(minutes=6)).sent == 1
    first, second = server.mails()
    assert first["Message-ID"] == second["Message-ID"] == f"<{claimed.message_id}@example.com>"


def test_turning_notifications_off_queues_and_sends_nothing(
    store: Store, server: SmtpServer
) -> None:
    server.start()
    desk, clock = make_desk(store, org(notify_on_assignment=False))
    lead_ids = route_leads(desk, 5)
    with store.unit_of_work() as uow:
        assert all(uow.get_lead(i).assignee_id is not None for i in lead_ids)
    assert all_messages(store) == []
    assert deliver_outbox(store, server.notifier(), clock.now) == DeliveryReport()
    assert server.envelopes == []
    assert outbox_status(store) == {"pending": 0, "sent": 0, "failed": 0}


# ---------------------------------------------------------------------- SmtpNotifier


def message(**fields: Any) -> OutboxMessage:
    base: dict[str, Any] = {
        "message_id": UUID(int=7),
        "created_at": datetime(2026, 3, 10, tzinfo=UTC),
        "kind": "lead_assigned",
        "recipient": "kelly@example.com",
        "subject": "Hello",
        "body_text": "Plain words.\n",
    }
    base.update(fields)
    return OutboxMessage(**base)


def test_smtp_errors_name_the_server_and_the_reason(server: SmtpServer) -> None:
    notifier = server.notifier()
    with pytest.raises(DeliveryError, match=rf"through 127\.0\.0\.1:{server.port}: .*refused"):
        notifier.send(message())

    server.start()
    server.refuse.add("kelly@example.com")
    with pytest.raises(DeliveryError, match=rf"127\.0\.0\.1:{server.port}: .*550") as info:
        notifier.send(message())
    assert "kelly@example.com" in str(info.value)

    tls = SmtpNotifier(server.host, server.port, sender=SENDER, starttls=True)
    with pytest.raises(DeliveryError, match=rf"127\.0\.0\.1:{server.port}: .*STARTTLS"):
        tls.send(message(recipient="maria@example.com"))
    assert server.envelopes == []


def test_a_text_only_message_is_one_plain_part_with_a_stable_message_id(
    server: SmtpServer,
) -> None:
    server.start()
    notifier = server.notifier()
    notifier.send(message())
    notifier.send(message())
    first, second = server.mails()
    assert first.get_content_type() == "text/plain"
    assert first.get_content().replace("\r\n", "\n") == "Plain words.\n"
    assert first["Message-ID"] == second["Message-ID"] == f"<{UUID(int=7)}@example.com>"
    assert first["X-Leadflow-Lead-Id"] is None
    assert first["X-Leadflow-Kind"] == "lead_assigned"


def test_a_message_that_cannot_be_an_email_is_a_delivery_error() -> None:
    notifier = SmtpNotifier("mail.invalid", sender=SENDER)
    with pytest.raises(DeliveryError, match="cannot be sent as an email"):
        notifier.email(message(subject="Hi\nBcc: everyone@example.com"))


def test_smtp_notifier_settings_are_checked() -> None:
    with pytest.raises(ConfigError) as info:
        SmtpNotifier("", 0, sender="nobody", ssl=True, starttls=True, username="u", timeout=0)
    assert len(info.value.problems) == 6
    secret = SmtpNotifier("mail.example.com", 587, sender=SENDER, username="u", password="hunter2")
    assert "hunter2" not in repr(secret)
    assert secret.address == "mail.example.com:587"


# ---------------------------------------------------------------------- retries


def test_retries_back_off_exponentially_up_to_a_day(store: Store) -> None:
    desk, clock = make_desk(store)
    route_leads(desk, 1)
    notifier = MemoryNotifier(down=True)
    now = clock.now
    delays = []
    for _ in range(14):
        report = deliver_outbox(store, notifier, now, max_attempts=99)
        assert report == DeliveryReport(failed_now=1, remaining=1)
        (msg,) = pending(store)
        assert msg.next_attempt_at is not None
        delays.append(msg.next_attempt_at - now)
        assert deliver_outbox(store, notifier, msg.next_attempt_at - timedelta(seconds=1)) == (
            DeliveryReport(remaining=1)
        )
        now = msg.next_attempt_at
    assert delays == [min(timedelta(minutes=2**n), MAX_BACKOFF) for n in range(14)]
    assert delays[-1] == timedelta(days=1)
    assert retry_delay(10**6, timedelta(days=30)) == MAX_BACKOFF


def test_a_message_that_keeps_failing_is_given_up_but_kept(store: Store) -> None:
    desk, clock = make_desk(store)
    route_leads(desk, 2)
    notifier = MemoryNotifier(down=True)
    runs = [deliver_outbox(store, notifier, clock.tick(days=1), max_attempts=3) for _ in range(3)]
    assert runs == [
        DeliveryReport(failed_now=2, remaining=2),
        DeliveryReport(failed_now=2, remaining=2),
        DeliveryReport(gave_up=2, remaining=0),
    ]
    assert outbox_status(store) == {"pending": 0, "sent": 0, "failed": 2}
    with store.unit_of_work() as uow:
        failed = uow.messages(status=OutboxStatus.FAILED)
        assert uow.messages() == failed
    assert [m.attempts for m in failed] == [3, 3]
    assert all("the notifier is down" in m.last_error for m in failed)
    notifier.down = False
    assert deliver_outbox(store, notifier, clock.tick(days=30)) == DeliveryReport()
    assert notifier.sent == []
    assert len(notifier.refused) == 6


def test_a_failed_attempt_is_retried_and_then_sent(store: Store) -> None:
    desk, clock = make_desk(store)
    route_leads(desk, 3)
    notifier = MemoryNotifier()
    notifier.fail_next(1)
    assert deliver_outbox(store, notifier, clock.now) == DeliveryReport(
        sent=2, failed_now=1, remaining=1
    )
    assert deliver_outbox(store, notifier, clock.tick(minutes=1)) == DeliveryReport(sent=1)
    assert [m.attempts for m in all_messages(store)] == [2, 1, 1]
    first, second, third = (m.message_id for m in all_messages(store))
    assert [m.message_id for m in notifier.sent] == [second, third, first]


def test_limit_sends_the_oldest_first(store: Store) -> None:
    desk, clock = make_desk(store)
    route_leads(desk, 5)
    notifier = MemoryNotifier()
    assert deliver_outbox(store, notifier, clock.now, limit=2) == DeliveryReport(
        sent=2, remaining=3
    )
    assert [m.message_id for m in notifier.sent] == [m.message_id for m in all_messages(store)][:2]


def test_bad_arguments_are_refused(store: Store) -> None:
    naive = datetime(2026, 3, 10)
    with pytest.raises(ValidationError) as info:
        deliver_outbox(
            store, MemoryNotifier(), naive, limit=0, max_attempts=0, backoff=timedelta(0)
        )
    assert info.value.fields == ("now", "limit", "max_attempts", "backoff")


# ---------------------------------------------------------------------- concurrency


class SlowNotifier(MemoryNotifier):
    """Takes a moment per send, so two runs overlap."""

    def send(self, message: OutboxMessage) -> None:
        time.sleep(0.003)
        super().send(message)


def run_together(store: Store, notifier: Notifier, now: datetime) -> list[DeliveryReport]:
    barrier = threading.Barrier(2)
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=5)
            reports.append(deliver_outbox(store, notifier, now))
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(reports) == 2
    return reports


def test_two_concurrent_runs_send_each_message_once(store: Store) -> None:
    desk, clock = make_desk(store)
    route_leads(desk)
    notifier = SlowNotifier()
    reports = run_together(store, notifier, clock.now)
    ids = [m.message_id for m in notifier.sent]
    assert len(ids) == len(set(ids)) == LEADS
    assert sum(r.sent for r in reports) == LEADS
    assert outbox_status(store) == {"pending": 0, "sent": LEADS, "failed": 0}
    assert all(m.attempts == 1 for m in all_messages(store))


def test_two_concurrent_runs_count_each_failure_once(store: Store) -> None:
    desk, clock = make_desk(store)
    route_leads(desk)
    notifier = SlowNotifier(down=True)
    reports = run_together(store, notifier, clock.now)
    assert sum(r.failed_now for r in reports) == LEADS
    assert len(notifier.refused) == LEADS
    assert all(m.attempts == 1 for m in pending(store))
