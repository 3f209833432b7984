"""E-mail to signers and owners through the durable jobs and the real SMTP client, received by
the aiosmtpd sink on loopback: one digest per signer, the next signer's digest, reminders,
the decline notice, and retries while the SMTP server is down."""

from __future__ import annotations

import re
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared import jobs
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.integrations.mail.client import message_id
from shared.integrations.mail.sandbox import MailSink, ReceivedMail
from shared.models import (
    AuditEvent,
    Document,
    Job,
    JobStatus,
    Organisation,
    Recipient,
    SignatureRequest,
    SignatureStatus,
    SignerFunction,
    StaffRole,
    StaffUser,
)
from shared.services import audit, notifications
from shared.services.access import StaffContext
from shared.services.documents import awaiting_my_signature
from shared.services.screening import screen_document
from shared.services.signing import decline, open_signer, sign
from tests import factories
from tests.integration.signing.conftest import PASSPHRASE, draft, signer

DIRECTOR, MAYOR = SignerFunction.ALGEMEEN_DIRECTEUR, SignerFunction.BURGEMEESTER
SECRETARIAT = audit.Actor.system("secretariaat (test)")

pytestmark = pytest.mark.usefixtures("signing_settings")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_port(signing_settings: None, monkeypatch: pytest.MonkeyPatch) -> int:
    """Zegel's SMTP settings point at a loopback port (the sink may or may not listen)."""
    port = _free_port()
    monkeypatch.setenv("ZEGEL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ZEGEL_SMTP_PORT", str(port))
    monkeypatch.setenv("ZEGEL_SMTP_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("ZEGEL_BACKOFFICE_BASE_URL", "https://zegel.testdorp.example")
    monkeypatch.setenv("ZEGEL_MAIL_FROM", "Zegel Testdorp <zegel@testdorp.example>")
    get_settings.cache_clear()
    return port


@pytest.fixture
def sink(smtp_port: int) -> Iterator[MailSink]:
    with MailSink("127.0.0.1", smtp_port) as running:
        yield running


class World:
    def __init__(self, session: Session) -> None:
        self.org: Organisation = factories.organisation(session)
        self.recipient: Recipient = factories.citizen(session, self.org)
        self.director = signer(
            session, self.org, "directeur", DIRECTOR, email="koen.wouters@testdorp.example"
        )
        self.mayor = signer(
            session, self.org, "burgemeester", MAYOR, email="els.vermeulen@testdorp.example"
        )
        self.stand_in = signer(
            session, self.org, "waarnemend", MAYOR, substitute=True, email="bart@testdorp.example"
        )
        self.owner = factories.staff_member(
            session, self.org, [StaffRole.SECRETARIAAT], email="sofie.claes@testdorp.example"
        )


@pytest.fixture
def world(session: Session) -> World:
    built = World(session)
    session.commit()
    return built


def _screen(session: Session, world: World, count: int, *, owner: bool = True) -> list[Document]:
    documents = []
    for n in range(count):
        document = draft(
            session,
            world.org,
            world.recipient,
            title=f"Besluit {uuid.uuid4().hex[:6]} nr. {n}",
            created_by=world.owner if owner else None,
        )
        screen_document(session, document, actor=SECRETARIAT)
        documents.append(document)
    return documents


def _requests(session: Session, document: Document) -> list[SignatureRequest]:
    return list(
        session.scalars(
            select(SignatureRequest)
            .where(SignatureRequest.document_id == document.id)
            .order_by(SignatureRequest.signing_round, SignatureRequest.position)
        ).all()
    )


def _mail_jobs(session: Session, kind: str) -> list[Job]:
    session.expire_all()
    return list(session.scalars(select(Job).where(Job.kind == kind).order_by(Job.created_at)))


def _run_due(session: Session, *, move_clock: bool = True) -> int:
    """Let the debounce delay pass (move queued jobs' run_at to now), then run a worker."""
    session.commit()
    if move_clock:
        with session_scope() as move:
            move.execute(update(Job).where(Job.status == JobStatus.QUEUED).values(run_at=utcnow()))
    return jobs.Worker("test").run_pending()


def _to(sink: MailSink, address: str) -> list[ReceivedMail]:
    return [m for m in sink.messages if address in m.recipients]


def _text(mail: ReceivedMail) -> str:
    return mail.text().replace("\r\n", "\n")


def _sign_as(session: Session, user: StaffUser, request_ids: list[uuid.UUID]) -> None:
    user_id, actor = user.id, audit.Actor.staff(user.id, user.name)
    with open_signer(session, user_id, secret=PASSPHRASE) as backend:
        session.rollback()
        outcomes = sign(request_ids, signer_user_id=user_id, backend=backend, actor=actor)
    assert all(o.signed for o in outcomes), outcomes


def _mail_events(session: Session, action: str = "mail.sent") -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.sequence)
        )
    )


# -- the digest -----------------------------------------------------------------------------


def test_a_batch_of_screenings_gives_each_signer_one_digest(
    session: Session, world: World, sink: MailSink
) -> None:
    # Five documents in one transaction, two more in transactions of their own.
    _screen(session, world, 5)
    session.commit()
    for _ in range(2):
        _screen(session, world, 1)
        session.commit()

    [job] = _mail_jobs(session, notifications.DIGEST_JOB)
    assert job.payload == {
        "organisation_id": str(world.org.id),
        "staff_user_id": str(world.director.id),
        "round": 0,
    }
    assert job.run_at > utcnow() + timedelta(seconds=30), "waits for more work (debounce)"
    assert _run_due(session, move_clock=False) == 0, "nothing is sent before the delay"
    assert sink.messages == []

    assert _run_due(session) == 1
    [mail] = sink.messages
    assert mail.recipients == ["koen.wouters@testdorp.example"]
    assert mail.mail_from == "zegel@testdorp.example"
    assert mail.subject == "7 stukken wachten op uw handtekening — Gemeente Testdorp"
    text = _text(mail)
    assert text.startswith("Beste Koen Wouters,")
    assert "In de handtekenmap van Gemeente Testdorp wachten 7 stukken op uw handtekening." in text
    assert "https://zegel.testdorp.example/handtekenmap" in text
    html = mail.message.get_body(preferencelist=("html",))
    assert html is not None
    assert 'href="https://zegel.testdorp.example/handtekenmap"' in html.get_content()
    assert mail.message["Message-ID"] == message_id(job.idempotency_key, get_settings().mail_from)

    # The mayor's turn has not come, so neither the mayor nor the stand-in is told.
    assert _to(sink, "els.vermeulen@testdorp.example") == []
    assert _to(sink, "bart@testdorp.example") == []

    [event] = _mail_events(session)
    assert event.object_type == "staff_user"
    assert event.object_id == str(world.director.id)
    assert event.organisation_id == world.org.id
    assert event.actor_label == "e-mail"
    assert event.data["kind"] == "signing_digest"
    assert event.data["documents"] == 7
    assert event.data["recipients"] == [str(world.director.id)]
    assert event.data["message_id"] == mail.message["Message-ID"]
    assert "@" not in str({k: v for k, v in event.data.items() if k != "message_id"})
    assert audit.verify_all(session) == []

    notified = session.scalars(select(SignatureRequest).where(SignatureRequest.position == 1)).all()
    assert len(notified) == 7
    assert all(r.notified_at is not None for r in notified)

    # Running again sends nothing; new work afterwards starts the next digest.
    assert _run_due(session) == 0
    _screen(session, world, 1)
    session.commit()
    jobs_now = _mail_jobs(session, notifications.DIGEST_JOB)
    assert [j.payload["round"] for j in jobs_now] == [0, 1]
    assert _run_due(session) == 1
    assert [m.subject for m in sink.messages][-1] == (
        "8 stukken wachten op uw handtekening — Gemeente Testdorp"
    )
    assert len(sink.messages) == 2


def test_work_that_commits_while_the_digest_job_waits_for_the_lock_is_in_its_count(
    session: Session, world: World, sink: MailSink
) -> None:
    _screen(session, world, 1)
    session.commit()
    with session_scope() as move:  # the debounce delay has passed
        move.execute(update(Job).values(run_at=utcnow()))

    # A second screening is under way (its transaction holds the signer's digest row) ...
    _screen(session, world, 1)
    worker = threading.Thread(target=jobs.Worker("test").run_pending)
    worker.start()
    worker.join(timeout=1)
    assert worker.is_alive(), "the digest job waits for the screening's transaction"
    assert sink.messages == []
    session.commit()
    worker.join(timeout=60)
    assert not worker.is_alive()

    # ... so its document is in the one digest, and no second digest is queued.
    [mail] = sink.messages
    assert mail.subject == "2 stukken wachten op uw handtekening — Gemeente Testdorp"
    [job] = _mail_jobs(session, notifications.DIGEST_JOB)
    assert job.status is JobStatus.DONE


def test_the_next_signer_gets_a_digest_after_the_first_signs(
    session: Session, world: World, sink: MailSink
) -> None:
    documents = _screen(session, world, 3)
    session.commit()
    assert _run_due(session) == 1
    sink.clear()

    _sign_as(session, world.director, [_requests(session, d)[0].id for d in documents])
    assert [j.payload["staff_user_id"] for j in _mail_jobs(session, notifications.DIGEST_JOB)][
        1:
    ] == [str(world.mayor.id)], "one digest for the batch, for the titular mayor only"
    _run_due(session)
    [mail] = sink.messages
    assert mail.recipients == ["els.vermeulen@testdorp.example"]
    assert mail.subject == "3 stukken wachten op uw handtekening — Gemeente Testdorp"
    assert _to(sink, "koen.wouters@testdorp.example") == []
    assert _to(sink, "bart@testdorp.example") == []

    # With the mayor away (inactive), the stand-in is the one who is told.
    with session_scope() as change:
        change.execute(update(StaffUser).where(StaffUser.id == world.mayor.id).values(active=False))
    sink.clear()
    [extra] = _screen(session, world, 1)
    session.commit()
    _run_due(session)
    sink.clear()
    _sign_as(session, world.director, [_requests(session, extra)[0].id])
    _run_due(session)
    [mail] = sink.messages
    assert mail.recipients == ["bart@testdorp.example"]
    assert mail.subject == "4 stukken wachten op uw handtekening — Gemeente Testdorp"


def test_a_digest_that_finds_nothing_waiting_any_more_sends_nothing(
    session: Session, world: World, sink: MailSink
) -> None:
    documents = _screen(session, world, 2)
    session.commit()
    for document in documents:
        decline(
            session,
            _requests(session, document)[0].id,
            "Verkeerde bestemmeling.",
            signer_user_id=world.director.id,
            actor=SECRETARIAT,
        )
    session.commit()
    sink.clear()
    _run_due(session)
    assert [m.subject.split(":")[0] for m in sink.messages] == ["Niet ondertekend"] * 2
    assert all(m.recipients == ["sofie.claes@testdorp.example"] for m in sink.messages)
    [digest] = _mail_jobs(session, notifications.DIGEST_JOB)
    assert digest.status is JobStatus.DONE


def test_after_a_decline_and_new_screening_the_digest_matches_the_signing_folder(
    session: Session, world: World, sink: MailSink
) -> None:
    [document] = _screen(session, world, 1)
    session.commit()
    first, _second = _requests(session, document)
    decline(session, first.id, "Fout bedrag.", signer_user_id=world.director.id, actor=SECRETARIAT)
    session.commit()
    fresh = session.get(Document, document.id)
    assert fresh is not None
    screen_document(session, fresh, actor=SECRETARIAT)  # fixed: round 2
    session.commit()
    _sign_as(session, world.director, [_requests(session, document)[2].id])
    _run_due(session)
    [mail] = [m for m in sink.messages if m.recipients == ["els.vermeulen@testdorp.example"]][-1:]
    assert mail.subject == "1 stuk wacht op uw handtekening — Gemeente Testdorp"

    # The mayor's signing folder shows the same document (round 1's decline does not hide it).
    context = StaffContext(
        user_id=world.mayor.id,
        name=world.mayor.name,
        organisation_id=world.org.id,
        organisation_name=world.org.name,
        roles=frozenset({StaffRole.ONDERTEKENAAR}),
        organisations=((world.org.id, world.org.name),),
    )
    folder = awaiting_my_signature(session, context)
    assert [(r.document_id, r.signing_round, r.position) for r in folder] == [(document.id, 2, 2)]


# -- reminders ------------------------------------------------------------------------------


def test_a_reminder_after_the_configured_days_at_most_once_a_day(
    session: Session, world: World, sink: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZEGEL_SIGNING_REMINDER_DAYS", "2")
    get_settings.cache_clear()
    old = _screen(session, world, 2)
    session.commit()
    _run_due(session)  # the digest
    sink.clear()

    # Not yet overdue: the hourly scan queues nothing.
    assert notifications.schedule_reminders(session) == []
    # Three days later (the requests were created three days ago).
    session.execute(
        update(SignatureRequest)
        .where(SignatureRequest.document_id.in_([d.id for d in old]))
        .values(created_at=utcnow() - timedelta(days=3))
    )
    _screen(session, world, 1)  # one that has not waited long
    session.commit()
    sink.clear()

    # The periodic scan (as a worker schedules it) queues the reminder, which is sent.
    assert notifications.REMINDER_SCAN_JOB in jobs._periodic  # type: ignore[attr-defined]
    with session_scope() as scheduling:
        jobs.schedule_periodic(scheduling)
    jobs.Worker("test").run_pending()
    reminders = [m for m in sink.messages if m.subject.startswith("Herinnering")]
    [mail] = reminders
    assert mail.recipients == ["koen.wouters@testdorp.example"]
    assert mail.subject == (
        "Herinnering: 2 stukken wachten al langer dan 2 dagen op uw handtekening"
        " — Gemeente Testdorp"
    )
    text = _text(mail)
    assert "wachten 2 stukken al langer dan 2 dagen op uw handtekening" in text
    assert "In totaal wachten er 3 stukken." in text
    assert "https://zegel.testdorp.example/handtekenmap" in text
    [event] = [e for e in _mail_events(session) if e.data["kind"] == "signing_reminder"]
    assert event.data["overdue"] == 2
    assert event.data["documents"] == 3

    # The same day: no second reminder, however often the scan runs.
    sink.clear()
    notifications.schedule_reminders(session)
    notifications.schedule_reminders(session)
    session.commit()
    jobs.Worker("test").run_pending()
    assert sink.messages == []
    assert len(_mail_jobs(session, notifications.REMINDER_JOB)) == 1

    # The next day, another one.
    notifications.schedule_reminders(session, now=utcnow() + timedelta(days=1))
    session.commit()
    jobs.Worker("test").run_pending()
    assert [m.subject.split(":")[0] for m in sink.messages] == ["Herinnering"]
    assert len(_mail_jobs(session, notifications.REMINDER_JOB)) == 2


def test_the_mayor_is_reminded_counting_from_the_directors_signature(
    session: Session, world: World, sink: MailSink
) -> None:
    [document] = _screen(session, world, 1)
    first, _second = _requests(session, document)
    session.execute(
        update(SignatureRequest)
        .where(SignatureRequest.document_id == document.id)
        .values(created_at=utcnow() - timedelta(days=10))
    )
    session.commit()
    _sign_as(session, world.director, [first.id])
    # Screened ten days ago, but the mayor's turn came just now: no reminder yet.
    assert notifications.schedule_reminders(session) == []
    session.execute(
        update(SignatureRequest)
        .where(SignatureRequest.id == first.id)
        .values(signed_at=utcnow() - timedelta(days=4))
    )
    [job] = notifications.schedule_reminders(session)
    assert job.payload["staff_user_id"] == str(world.mayor.id)
    session.commit()
    sink.clear()
    jobs.Worker("test").run_pending()
    [mail] = sink.messages
    assert mail.recipients == ["els.vermeulen@testdorp.example"]
    assert mail.subject == (
        "Herinnering: 1 stuk wacht al langer dan 3 dagen op uw handtekening — Gemeente Testdorp"
    )


# -- declined -------------------------------------------------------------------------------


def test_declining_mails_the_owner_the_reason_and_a_link(
    session: Session, world: World, sink: MailSink
) -> None:
    [document] = _screen(session, world, 1)
    session.commit()
    first, second = _requests(session, document)
    _sign_as(session, world.director, [first.id])
    _run_due(session)
    sink.clear()

    reason = "Het bedrag in paragraaf 2 klopt niet.\nGraag 450 euro in plaats van 540."
    actor = audit.Actor.staff(world.mayor.id, world.mayor.name)
    decline(session, second.id, reason, signer_user_id=world.mayor.id, actor=actor)
    session.commit()
    [job] = _mail_jobs(session, notifications.DECLINED_JOB)
    assert job.idempotency_key == f"{notifications.DECLINED_JOB}:{second.id}"
    assert _run_due(session, move_clock=False) == 1, "sent at once, no debounce"

    [mail] = sink.messages
    assert mail.recipients == ["sofie.claes@testdorp.example"]
    assert mail.subject == f"Niet ondertekend: {document.title}"
    text = _text(mail)
    assert f"Els Vermeulen (burgemeester) heeft ‘{document.title}’ niet ondertekend" in text
    assert "> Het bedrag in paragraaf 2 klopt niet.\n> Graag 450 euro in plaats van 540." in text
    assert f"https://zegel.testdorp.example/stukken/{document.id}" in text
    assert "Het stuk staat weer in ontwerp." in text

    [event] = [e for e in _mail_events(session) if e.data["kind"] == "document_declined"]
    assert event.object_type == "document"
    assert event.object_id == str(document.id)
    assert event.data["recipients"] == [str(world.owner.id)]
    assert event.data["to_secretariat"] is False
    assert "paragraaf" not in str(event.data), "the reason stays out of the mail event"


def test_a_document_without_owner_goes_to_the_secretariat(
    session: Session, world: World, sink: MailSink
) -> None:
    colleague = factories.staff_member(
        session, world.org, [StaffRole.SECRETARIAAT], email="jan@testdorp.example"
    )
    factories.staff_member(session, world.org, [StaffRole.SECRETARIAAT])  # no e-mail address
    [document] = _screen(session, world, 1, owner=False)
    session.commit()
    decline(
        session,
        _requests(session, document)[0].id,
        "Ontbrekende bijlage.",
        signer_user_id=world.director.id,
        actor=SECRETARIAT,
    )
    session.commit()
    sink.clear()
    jobs.Worker("test").run_pending()
    [mail] = sink.messages
    assert sorted(mail.recipients) == ["jan@testdorp.example", "sofie.claes@testdorp.example"]
    assert _text(mail).startswith("Beste collega's,")
    assert "daarom krijgt het secretariaat dit bericht" in _text(mail)
    [event] = _mail_events(session)
    assert sorted(event.data["recipients"]) == sorted([str(colleague.id), str(world.owner.id)])
    assert event.data["to_secretariat"] is True


# -- SMTP down ------------------------------------------------------------------------------


def test_while_the_smtp_server_is_down_the_mail_waits_and_is_retried(
    session: Session, world: World, smtp_port: int
) -> None:
    _screen(session, world, 2)
    session.commit()
    assert _run_due(session) == 1
    [job] = _mail_jobs(session, notifications.DIGEST_JOB)
    assert job.status is JobStatus.QUEUED
    assert job.attempts == 1
    assert job.last_error is not None
    assert f"127.0.0.1:{smtp_port} unreachable" in job.last_error
    assert job.run_at > utcnow(), "backs off before the next attempt"
    assert _mail_events(session) == []

    with MailSink("127.0.0.1", smtp_port) as sink:
        assert _run_due(session) == 1
        [mail] = sink.messages
    assert mail.subject == "2 stukken wachten op uw handtekening — Gemeente Testdorp"
    [job] = _mail_jobs(session, notifications.DIGEST_JOB)
    assert job.status is JobStatus.DONE
    assert job.attempts == 2
    [event] = _mail_events(session)
    assert event.data["attempt"] == 2


def test_a_recipient_refused_for_good_is_recorded_and_not_retried(
    session: Session, world: World, smtp_port: int
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, Envelope
    from aiosmtpd.smtp import Session as SmtpSession

    class NoSuchMailbox:
        async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
            self,
            server: SMTP,
            smtp_session: SmtpSession,
            envelope: Envelope,
            address: str,
            options: object,
        ) -> str:
            return "550 5.1.1 no such mailbox"

    _screen(session, world, 1)
    session.commit()
    controller = Controller(NoSuchMailbox(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        assert _run_due(session) == 1
    finally:
        controller.stop()
    [job] = _mail_jobs(session, notifications.DIGEST_JOB)
    assert job.status is JobStatus.DONE
    [failed] = _mail_events(session, "mail.failed")
    assert failed.data["kind"] == "signing_digest"
    assert failed.data["smtp_code"] == 550  # the reply's text (it may name the address) is not kept
    assert _mail_events(session) == []


def test_signers_without_an_e_mail_address_get_no_job(session: Session, world: World) -> None:
    with session_scope() as change:
        change.execute(
            update(StaffUser).where(StaffUser.id == world.director.id).values(email=None)
        )
    session.expire_all()
    _screen(session, world, 1)
    session.commit()
    assert _mail_jobs(session, notifications.DIGEST_JOB) == []
    assert session.scalar(select(func.count()).select_from(Job)) == 0
    assert SignatureStatus.PENDING in {r.status for r in session.scalars(select(SignatureRequest))}


def test_a_mayor_marked_absent_in_beheer_hands_the_digest_to_the_stand_in(
    session: Session, world: World, sink: MailSink
) -> None:
    from litestar.testing import TestClient

    from backoffice.app import create_app
    from shared.models import AuditEvent
    from shared.services.notifications import notification_recipients

    admin = factories.staff_member(session, world.org, [StaffRole.BEHEERDER])
    cookie = factories.web_session(session, "backoffice", staff=admin, organisation=world.org)
    mayor_id, org_id = world.mayor.id, world.org.id
    session.commit()
    with TestClient(create_app()) as client:
        client.cookies.set("zegel_backoffice_session", cookie)
        page = client.get(f"/beheer/medewerkers/{mayor_id}").text
        assert "Afwezig melden (de vervanger tekent)" in page
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page)
        assert token
        marked = client.post(
            f"/beheer/medewerkers/{mayor_id}/afwezigheid",
            data={"_csrf_token": token.group(1), "organisatie": str(org_id), "afwezig": "ja"},
        )
        assert marked.status_code == 200
        assert "Weer aanwezig melden" in marked.text
        # A substitute cannot be marked absent in their turn.
        refused = client.post(
            f"/beheer/medewerkers/{world.stand_in.id}/afwezigheid",
            data={"_csrf_token": token.group(1), "organisatie": str(org_id), "afwezig": "ja"},
        )
        assert refused.status_code == 422
    session.expire_all()
    told = notification_recipients(session, org_id, MAYOR)
    assert [user.email for user in told] == ["bart@testdorp.example"]
    assert (
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "staff.absent")
        )
        == 1
    )
    session.rollback()

    # The next digest for the mayor's function goes to the stand-in, who signs as such.
    documents = _screen(session, world, 2)
    session.commit()
    _run_due(session)
    sink.clear()
    _sign_as(session, world.director, [_requests(session, d)[0].id for d in documents])
    _run_due(session)
    [mail] = sink.messages
    assert mail.recipients == ["bart@testdorp.example"]
