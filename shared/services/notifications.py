"""E-mail to staff about signing: a digest when work lands in a signer's signing folder,
reminders when it keeps waiting, and a notice to a document's owner when a signer declines.

All of it goes through the durable job queue (`shared.jobs`): the state change queues a job in
its own transaction, a worker sends the e-mail over SMTP (`shared.integrations.mail.client`)
and records `mail.sent` in the audit trail. When the SMTP server is down the job fails and is
retried with backoff, so no e-mail is lost; a server that refuses for good (5xx) is recorded as
`mail.failed` and not retried. Text is Dutch, through gettext.

## Who is told
A signature request is *waiting* for a signer when it is pending, its document awaits
signature and every earlier position of its signing round is signed (the same rule as the
signing folder and `shared.services.signing`). It waits since it was created (first position)
or since the previous position was signed. Any active holder of the function (titular,
stand-in or delegate) may sign it; the e-mail goes to the active titular holders of the
function in the organisation, and only when there is none, to its substitutes (Zegel has no
absence marker yet: a titular signer who is absent is made inactive, or loses the function,
and the substitute is told). Staff without an e-mail address are not told.

## One digest per signer, however many documents
`signing_work_arrived()` runs in the transaction that gives a signer work (screening, or the
previous signer signing). Per signer and organisation, a `SignerNotification` row holds the
number of the digest being gathered (`digest_round`). The call locks that row and queues the
job `notifications.signing_digest` with the key
`notifications.signing_digest:<organisation>:<staff member>:<round>`, to run
`ZEGEL_SIGNING_DIGEST_DELAY_SECONDS` later. Every later call with the same round finds the
same key, so 200 screenings (in one transaction or in many within the delay) queue one job.
When the job runs it first locks the same row and moves the round on, then counts what is
waiting (in the same transaction) and sends one e-mail with that count and the link to the
signing folder. Work that commits before the job takes the lock is in its count; work that
commits after it sees the new round and queues the next digest. The lock makes these the only
two cases, so no work goes untold, and a burst of work gives one e-mail (two only when an
SMTP failure makes a digest's retry overlap the next one). A digest that finds nothing waiting
any more (all signed or declined meanwhile) sends nothing. The digest is per organisation (its
folder is): someone who signs for the gemeente and its OCMW gets one for each. The e-mail gives
counts and a link, no titles or recipients: the documents themselves stay behind login.

## Reminders
The periodic job `notifications.signing_reminders` (hourly) looks for requests that have
waited longer than `ZEGEL_SIGNING_REMINDER_DAYS` and queues `notifications.signing_reminder`
per signer with the key `…:<organisation>:<staff member>:<date in Brussels>`: whichever worker
or slot queues it, a signer gets at most one reminder a day.

## Declined
`document_declined()` runs in the transaction of `signing.decline` and queues
`notifications.document_declined` (key: the signature request), which tells the document's
owner (`Document.created_by_id`) the reason, with a link to the document. A document without
an owner who can be reached (registered through the API or an import) goes to the
organisation's secretariat.

Each e-mail's Message-ID follows from its job's key, so one sent again after a crash between
sending and recording (at least once, never lost) is recognisable as the same message.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session, aliased

from shared import jobs
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.i18n import DEFAULT_LANGUAGE, format_date, ngettext, use_language
from shared.i18n import gettext as _
from shared.integrations.mail.client import (
    MailBody,
    Recipient,
    SentMail,
    compose,
    valid_address,
)
from shared.logging import get_logger
from shared.models.documents import Document, DocumentStatus
from shared.models.jobs import Job
from shared.models.notifications import SignerNotification
from shared.models.people import (
    Organisation,
    SignerFunction,
    StaffRole,
    StaffRoleAssignment,
    StaffUser,
)
from shared.models.signing import SignatureRequest, SignatureStatus
from shared.services import mail_delivery
from shared.timeutil import BRUSSELS

log = get_logger("zegel.mail")

DIGEST_JOB = "notifications.signing_digest"
REMINDER_SCAN_JOB = "notifications.signing_reminders"
REMINDER_JOB = "notifications.signing_reminder"
DECLINED_JOB = "notifications.document_declined"
REMINDER_SCAN_EVERY = timedelta(hours=1)


# -- who waits for whom -----------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingSignature:
    """A signature request whose turn it is."""

    request_id: uuid.UUID
    document_id: uuid.UUID
    organisation_id: uuid.UUID
    signer_function: SignerFunction
    waiting_since: datetime


def waiting_signatures(
    session: Session,
    *,
    organisation_id: uuid.UUID | None = None,
    functions: Iterable[SignerFunction] | None = None,
) -> list[WaitingSignature]:
    """Pending requests whose turn it is (every earlier position of the round signed), with
    since when: the request's creation or the previous position's signature."""
    request = SignatureRequest
    earlier = aliased(SignatureRequest)
    previous = aliased(SignatureRequest)
    not_yet = (
        select(earlier.id)
        .where(
            earlier.document_id == request.document_id,
            earlier.signing_round == request.signing_round,
            earlier.position < request.position,
            earlier.status != SignatureStatus.SIGNED,
        )
        .exists()
    )
    query = (
        select(
            request.id,
            request.document_id,
            request.organisation_id,
            request.signer_function,
            request.created_at,
            previous.signed_at,
        )
        .join(Document, Document.id == request.document_id)
        .outerjoin(
            previous,
            and_(
                previous.document_id == request.document_id,
                previous.signing_round == request.signing_round,
                previous.position == request.position - 1,
            ),
        )
        .where(
            request.status == SignatureStatus.PENDING,
            Document.status == DocumentStatus.AWAITING_SIGNATURE,
            ~not_yet,
        )
    )
    if organisation_id is not None:
        query = query.where(request.organisation_id == organisation_id)
    if functions is not None:
        query = query.where(request.signer_function.in_(list(functions)))
    return [
        WaitingSignature(
            request_id=row[0],
            document_id=row[1],
            organisation_id=row[2],
            signer_function=row[3],
            waiting_since=max(row[4], row[5]) if row[5] is not None else row[4],
        )
        for row in session.execute(query).all()
    ]


def notification_recipients(
    session: Session, organisation_id: uuid.UUID, function: SignerFunction
) -> list[StaffUser]:
    """Whom to tell about work for `function`: its active titular holders who are not marked
    absent, or, when there is none, its active substitutes (stand-ins and delegates)."""
    rows = session.execute(
        select(StaffRoleAssignment.substitute, StaffRoleAssignment.absent, StaffUser)
        .join(StaffUser, StaffUser.id == StaffRoleAssignment.staff_user_id)
        .where(
            StaffRoleAssignment.organisation_id == organisation_id,
            StaffRoleAssignment.role == StaffRole.ONDERTEKENAAR,
            StaffRoleAssignment.signer_function == function,
            StaffUser.active.is_(True),
        )
        .order_by(StaffUser.name, StaffUser.id)
    ).all()
    titular = [user for substitute, absent, user in rows if not substitute and not absent]
    return titular or [user for substitute, _absent, user in rows if substitute]


def _functions_told_to(
    session: Session, organisation_id: uuid.UUID, staff_user_id: uuid.UUID
) -> set[SignerFunction]:
    held = session.scalars(
        select(StaffRoleAssignment.signer_function).where(
            StaffRoleAssignment.organisation_id == organisation_id,
            StaffRoleAssignment.staff_user_id == staff_user_id,
            StaffRoleAssignment.role == StaffRole.ONDERTEKENAAR,
            StaffRoleAssignment.signer_function.is_not(None),
        )
    ).all()
    return {
        function
        for function in held
        if function is not None
        and any(
            user.id == staff_user_id
            for user in notification_recipients(session, organisation_id, function)
        )
    }


def _lock_marker(
    session: Session, organisation_id: uuid.UUID, staff_user_id: uuid.UUID
) -> SignerNotification:
    query = (
        select(SignerNotification)
        .where(
            SignerNotification.organisation_id == organisation_id,
            SignerNotification.staff_user_id == staff_user_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    marker = session.scalars(query).one_or_none()
    if marker is not None:
        return marker
    try:
        with session.begin_nested():
            session.add(
                SignerNotification(
                    organisation_id=organisation_id, staff_user_id=staff_user_id, digest_round=0
                )
            )
    except SAIntegrityError:
        pass  # another transaction added it first
    return session.scalars(query).one()


# -- queueing (in the caller's transaction) ---------------------------------------------------


def signing_work_arrived(
    session: Session,
    organisation_id: uuid.UUID,
    functions: Iterable[SignerFunction],
    *,
    now: datetime | None = None,
) -> list[Job]:
    """Work for `functions` landed in signing folders of the organisation: queue the digest
    of each signer to tell (one job per signer however often this is called, see above)."""
    run_at = (now or utcnow()) + timedelta(seconds=get_settings().signing_digest_delay_seconds)
    staff: dict[uuid.UUID, None] = {}
    for function in dict.fromkeys(functions):
        for user in notification_recipients(session, organisation_id, function):
            if user.email:
                staff.setdefault(user.id)
    queued: list[Job] = []
    for staff_user_id in staff:
        marker = _lock_marker(session, organisation_id, staff_user_id)
        queued.append(
            jobs.enqueue(
                session,
                DIGEST_JOB,
                {
                    "organisation_id": str(organisation_id),
                    "staff_user_id": str(staff_user_id),
                    "round": marker.digest_round,
                },
                key=f"{DIGEST_JOB}:{organisation_id}:{staff_user_id}:{marker.digest_round}",
                organisation_id=organisation_id,
                run_at=run_at,
            )
        )
    return queued


def document_declined(session: Session, request: SignatureRequest) -> Job:
    """A signer declined `request`: queue the e-mail to the document's owner."""
    return jobs.enqueue(
        session,
        DECLINED_JOB,
        {"signature_request_id": str(request.id)},
        key=f"{DECLINED_JOB}:{request.id}",
        organisation_id=request.organisation_id,
    )


def schedule_reminders(session: Session, *, now: datetime | None = None) -> list[Job]:
    """Queue today's reminder for every signer with work waiting longer than
    ZEGEL_SIGNING_REMINDER_DAYS (at most one per signer, organisation and day)."""
    now = now or utcnow()
    cutoff = now - timedelta(days=get_settings().signing_reminder_days)
    overdue = {
        (w.organisation_id, w.signer_function)
        for w in waiting_signatures(session)
        if w.waiting_since < cutoff
    }
    targets: dict[tuple[uuid.UUID, uuid.UUID], None] = {}
    for organisation_id, function in sorted(overdue):
        for user in notification_recipients(session, organisation_id, function):
            if user.email:
                targets.setdefault((organisation_id, user.id))
    day = now.astimezone(BRUSSELS).date().isoformat()
    return [
        jobs.enqueue(
            session,
            REMINDER_JOB,
            {
                "organisation_id": str(organisation_id),
                "staff_user_id": str(staff_user_id),
                "as_of": now.isoformat(),
            },
            key=f"{REMINDER_JOB}:{organisation_id}:{staff_user_id}:{day}",
            organisation_id=organisation_id,
        )
        for organisation_id, staff_user_id in targets
    ]


# -- composing ------------------------------------------------------------------------------


@dataclass
class _Prepared:
    """An e-mail ready to send, and what to record once it is sent."""

    kind: str
    organisation_id: uuid.UUID
    recipients: list[tuple[uuid.UUID, Recipient]]
    subject: str
    body: MailBody
    object_type: str
    object_id: uuid.UUID
    data: dict[str, Any] = field(default_factory=dict)
    request_ids: list[uuid.UUID] = field(default_factory=list)
    """Signature requests to mark as notified."""


def _backoffice_url(path: str) -> str:
    return get_settings().backoffice_base_url.rstrip("/") + path


def _automatic() -> str:
    return _("Dit is een automatisch bericht van Zegel; u hoeft er niet op te antwoorden.")


def _reachable_signer(
    session: Session, organisation_id: uuid.UUID, staff_user_id: uuid.UUID, kind: str
) -> tuple[StaffUser, Organisation] | None:
    user = session.get(StaffUser, staff_user_id)
    organisation = session.get(Organisation, organisation_id)
    if user is None or organisation is None or not user.active:
        log.info("mail not needed", kind=kind, staff_user_id=str(staff_user_id), why="inactive")
        return None
    if not valid_address(user.email):
        log.warning(
            "mail not sent: no usable e-mail address",
            kind=kind,
            staff_user_id=str(staff_user_id),
        )
        return None
    return user, organisation


def _folder_summary(
    session: Session, organisation_id: uuid.UUID, staff_user_id: uuid.UUID
) -> list[WaitingSignature]:
    functions = _functions_told_to(session, organisation_id, staff_user_id)
    if not functions:
        return []
    return waiting_signatures(session, organisation_id=organisation_id, functions=functions)


def _documents_text(organisation: str, count: int) -> str:
    return ngettext(
        "In de handtekenmap van %(organisation)s wacht %(num)d stuk op uw handtekening.",
        "In de handtekenmap van %(organisation)s wachten %(num)d stukken op uw handtekening.",
        count,
    ) % {"organisation": organisation, "num": count}


def _prepare_digest(
    session: Session, organisation_id: uuid.UUID, staff_user_id: uuid.UUID
) -> _Prepared | None:
    found = _reachable_signer(session, organisation_id, staff_user_id, "signing_digest")
    if found is None:
        return None
    user, organisation = found
    waiting = _folder_summary(session, organisation_id, staff_user_id)
    documents = len({w.document_id for w in waiting})
    if not documents:
        log.info("mail not needed", kind="signing_digest", staff_user_id=str(user.id))
        return None
    oldest = min(w.waiting_since for w in waiting)
    subject = ngettext(
        "%(num)d stuk wacht op uw handtekening",
        "%(num)d stukken wachten op uw handtekening",
        documents,
    ) % {"num": documents}
    body = MailBody(
        greeting=_("Beste %(name)s,") % {"name": user.name},
        paragraphs=[
            _documents_text(organisation.name, documents),
            _("Het oudste wacht sinds %(date)s.") % {"date": format_date(oldest)},
        ],
        link_label=_("Open de handtekenmap"),
        link_url=_backoffice_url("/handtekenmap"),
        closing=[
            _(
                "U krijgt één bericht wanneer er werk voor u klaarstaat, niet één per stuk,"
                " en een herinnering wanneer stukken blijven wachten."
            ),
            _automatic(),
        ],
    )
    return _Prepared(
        kind="signing_digest",
        organisation_id=organisation_id,
        recipients=[(user.id, Recipient(str(user.email), user.name))],
        subject=f"{subject} — {organisation.name}",
        body=body,
        object_type="staff_user",
        object_id=user.id,
        data={"documents": documents},
        request_ids=[w.request_id for w in waiting],
    )


def _prepare_reminder(
    session: Session, organisation_id: uuid.UUID, staff_user_id: uuid.UUID, as_of: datetime
) -> _Prepared | None:
    found = _reachable_signer(session, organisation_id, staff_user_id, "signing_reminder")
    if found is None:
        return None
    user, organisation = found
    days = get_settings().signing_reminder_days
    cutoff = as_of - timedelta(days=days)
    waiting = _folder_summary(session, organisation_id, staff_user_id)
    documents = len({w.document_id for w in waiting})
    overdue = len({w.document_id for w in waiting if w.waiting_since < cutoff})
    if not overdue:
        log.info("mail not needed", kind="signing_reminder", staff_user_id=str(user.id))
        return None
    period = ngettext("%(num)d dag", "%(num)d dagen", days) % {"num": days}
    subject = ngettext(
        "Herinnering: %(num)d stuk wacht al langer dan %(period)s op uw handtekening",
        "Herinnering: %(num)d stukken wachten al langer dan %(period)s op uw handtekening",
        overdue,
    ) % {"num": overdue, "period": period}
    paragraphs = [
        ngettext(
            "In de handtekenmap van %(organisation)s wacht %(num)d stuk al langer dan"
            " %(period)s op uw handtekening.",
            "In de handtekenmap van %(organisation)s wachten %(num)d stukken al langer dan"
            " %(period)s op uw handtekening.",
            overdue,
        )
        % {"organisation": organisation.name, "num": overdue, "period": period},
        _("Het oudste wacht sinds %(date)s.")
        % {"date": format_date(min(w.waiting_since for w in waiting))},
    ]
    if documents > overdue:
        paragraphs.append(
            ngettext(
                "In totaal wacht er %(num)d stuk.",
                "In totaal wachten er %(num)d stukken.",
                documents,
            )
            % {"num": documents}
        )
    body = MailBody(
        greeting=_("Beste %(name)s,") % {"name": user.name},
        paragraphs=paragraphs,
        link_label=_("Open de handtekenmap"),
        link_url=_backoffice_url("/handtekenmap"),
        closing=[
            _("U krijgt hoogstens één herinnering per dag, zolang er stukken blijven wachten."),
            _automatic(),
        ],
    )
    return _Prepared(
        kind="signing_reminder",
        organisation_id=organisation_id,
        recipients=[(user.id, Recipient(str(user.email), user.name))],
        subject=f"{subject} — {organisation.name}",
        body=body,
        object_type="staff_user",
        object_id=user.id,
        data={"documents": documents, "overdue": overdue, "days": days},
    )


def document_owners(session: Session, document: Document) -> tuple[list[StaffUser], bool]:
    """Who hears about the document: its owner when they can be reached by e-mail, otherwise
    the organisation's secretariat; and whether it is the secretariat."""
    if document.created_by_id is not None:
        owner = session.get(StaffUser, document.created_by_id)
        if owner is not None and owner.active and valid_address(owner.email):
            return [owner], False
    secretariat = session.scalars(
        select(StaffUser)
        .join(StaffRoleAssignment, StaffRoleAssignment.staff_user_id == StaffUser.id)
        .where(
            StaffRoleAssignment.organisation_id == document.organisation_id,
            StaffRoleAssignment.role == StaffRole.SECRETARIAAT,
            StaffUser.active.is_(True),
        )
        .order_by(StaffUser.name, StaffUser.id)
    ).all()
    return [u for u in dict.fromkeys(secretariat) if valid_address(u.email)], True


def _prepare_declined(session: Session, request_id: uuid.UUID) -> _Prepared | None:
    request = session.get(SignatureRequest, request_id)
    if request is None or request.status is not SignatureStatus.DECLINED:
        log.warning("mail not sent: no declined signature", kind="document_declined")
        return None
    document = session.get(Document, request.document_id)
    assert document is not None
    owners, secretariat = document_owners(session, document)
    if not owners:
        log.warning(
            "mail not sent: the document's owner and secretariat have no e-mail address",
            kind="document_declined",
            document_id=str(document.id),
        )
        return None
    signer = session.get(StaffUser, request.signer_id) if request.signer_id else None
    greeting = (
        _("Beste %(name)s,") % {"name": owners[0].name}
        if len(owners) == 1
        else _("Beste collega's,")
    )
    paragraphs = [
        _(
            "%(signer)s (%(capacity)s) heeft ‘%(title)s’ niet ondertekend en het stuk"
            " teruggestuurd, met deze reden:"
        )
        % {
            "signer": signer.name if signer is not None else _("Een ondertekenaar"),
            "capacity": request.capacity or "",
            "title": document.title,
        }
    ]
    after = [
        _(
            "Het stuk staat weer in ontwerp. Pas het aan en laat het opnieuw screenen; dan"
            " begint een nieuwe ronde handtekeningen."
        )
    ]
    if secretariat:
        after.append(
            _(
                "Dit stuk heeft in Zegel geen eigenaar die we kunnen mailen; daarom krijgt het"
                " secretariaat dit bericht."
            )
        )
    body = MailBody(
        greeting=greeting,
        paragraphs=paragraphs,
        quote=request.decline_reason or "",
        after_quote=after,
        link_label=_("Open het stuk"),
        link_url=_backoffice_url(f"/stukken/{document.id}"),
        closing=[_automatic()],
    )
    return _Prepared(
        kind="document_declined",
        organisation_id=document.organisation_id,
        recipients=[(u.id, Recipient(str(u.email), u.name)) for u in owners],
        subject=_("Niet ondertekend: %(title)s") % {"title": document.title},
        body=body,
        object_type="document",
        object_id=document.id,
        data={"signature_request_id": str(request.id), "to_secretariat": secretariat},
    )


# -- sending --------------------------------------------------------------------------------


def _deliver(prepared: _Prepared, context: jobs.JobContext) -> SentMail | None:
    """Send, then record it; a temporary SMTP failure propagates so the job is retried."""
    settings = get_settings()
    message = compose(
        to=[recipient for _id, recipient in prepared.recipients],
        subject=prepared.subject,
        body=prepared.body,
        reference=context.idempotency_key,
        mail_from=settings.mail_from,
        language=DEFAULT_LANGUAGE,
    )
    staff_ids = [str(staff_id) for staff_id, _recipient in prepared.recipients]

    def mark_told(session: Session) -> None:
        now = utcnow()
        if prepared.request_ids:
            session.execute(
                update(SignatureRequest)
                .where(
                    SignatureRequest.id.in_(prepared.request_ids),
                    SignatureRequest.notified_at.is_(None),
                )
                .values(notified_at=now)
            )
        if prepared.kind == "signing_reminder":
            session.execute(
                update(SignerNotification)
                .where(
                    SignerNotification.organisation_id == prepared.organisation_id,
                    SignerNotification.staff_user_id == prepared.object_id,
                )
                .values(last_reminder_at=now)
            )

    return mail_delivery.send_and_record(
        message,
        organisation_id=prepared.organisation_id,
        object_type=prepared.object_type,
        object_id=prepared.object_id,
        data={
            **prepared.data,
            "kind": prepared.kind,
            "job_id": str(context.id),
            "attempt": context.attempt,
            "recipients": staff_ids,
        },
        after_sent=mark_told,
    )


def _ids(payload: dict[str, Any], *names: str) -> Sequence[uuid.UUID]:
    return [uuid.UUID(str(payload[name])) for name in names]


@jobs.handler(DIGEST_JOB)
def _digest_job(payload: dict[str, Any], context: jobs.JobContext) -> None:
    organisation_id, staff_user_id = _ids(payload, "organisation_id", "staff_user_id")
    digest_round = int(payload["round"])
    with use_language(DEFAULT_LANGUAGE), session_scope() as session:
        marker = _lock_marker(session, organisation_id, staff_user_id)
        if marker.digest_round <= digest_round:  # else an earlier attempt took it up already
            marker.digest_round = digest_round + 1
            marker.last_digest_at = utcnow()
        prepared = _prepare_digest(session, organisation_id, staff_user_id)
    if prepared is not None:
        _deliver(prepared, context)


@jobs.handler(REMINDER_JOB)
def _reminder_job(payload: dict[str, Any], context: jobs.JobContext) -> None:
    organisation_id, staff_user_id = _ids(payload, "organisation_id", "staff_user_id")
    as_of = datetime.fromisoformat(str(payload["as_of"]))
    with use_language(DEFAULT_LANGUAGE), session_scope() as session:
        prepared = _prepare_reminder(session, organisation_id, staff_user_id, as_of)
    if prepared is not None:
        _deliver(prepared, context)


@jobs.handler(DECLINED_JOB)
def _declined_job(payload: dict[str, Any], context: jobs.JobContext) -> None:
    [request_id] = _ids(payload, "signature_request_id")
    with use_language(DEFAULT_LANGUAGE), session_scope() as session:
        prepared = _prepare_declined(session, request_id)
    if prepared is not None:
        _deliver(prepared, context)


@jobs.handler(REMINDER_SCAN_JOB)
def _reminder_scan_job(payload: dict[str, Any], context: jobs.JobContext) -> None:
    with session_scope() as session:
        queued = schedule_reminders(session)
    log.info("reminders queued", signers=len(queued))


jobs.periodic(REMINDER_SCAN_JOB, REMINDER_SCAN_EVERY)
