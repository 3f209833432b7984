"""Signing and declining: one document or hundreds with one confirmation.

`sign()` works in three steps so that the CPU-heavy signatures never run inside a database
transaction:
1. plan (one short read): which of the chosen requests this signer may sign now: pending, the
   document awaiting signature, every earlier position signed, the signer holding the function
   (titular, stand-in or delegate: the capacity follows);
2. sign each PDF with pyHanko (`shared.pdf.signing`), one after the other;
3. per document, store the signed PDF and record it in one short transaction that locks the
   document row, checks again that the request is still pending and that the document's PDF
   is still the one that was signed, and only then records the signature (and, after the
   last one, moves the document to signed and ready and queues the validation of its
   signatures; before it, queues the next signer's digest e-mail, see
   `shared.services.notifications`). Step 3 runs in a second thread, so the database work
   of one document overlaps the wait for the next one's timestamp.
So a double click, two tabs or two signers at once never sign twice: the second finds the
request signed (or the PDF changed) in step 3 and records nothing. Its unused signed PDF may
stay in the content-addressed storage, unreferenced.

The key is opened once per batch (`open_signer`: PIN or passphrase typed by the signer or read
from the environment, never from the database), its certificate checked once (dates, trust,
revocation), and the TSA's reply size estimated once, which keeps batch signing close to raw
pyHanko speed (see bench/signing.py).
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import jobs
from shared.config import Settings, get_settings
from shared.db import get_session_factory, session_scope, utcnow
from shared.errors import Forbidden, IntegrityError, InvalidInput, NotFound
from shared.models.documents import DOCUMENT_STATES, Document, DocumentStatus
from shared.models.people import (
    SIGNER_FUNCTION_LABELS,
    Organisation,
    OrganisationKind,
    SignerFunction,
    StaffRole,
    StaffRoleAssignment,
    StaffUser,
)
from shared.models.signing import SignatureRequest, SignatureStatus
from shared.pdf.signers import SignerConfig, load_signer_configs, open_backend
from shared.pdf.signing import (
    DOCUMENT_CHANGED_MESSAGE,
    SigningBackend,
    SigningError,
    StampText,
    TimeStamper,
    TsaClient,
    check_signer_certificate,
    load_certificates,
    load_crls,
    make_timestamper,
    sign_pdf,
)
from shared.pdf.validation import SignatureValidation, validate_signatures
from shared.services import audit, notifications, transitions
from shared.storage import FileStorage, get_storage
from shared.timeutil import today

log = logging.getLogger("zegel.signing")

VALIDATE_JOB = "signing.validate"


# -- configuration --------------------------------------------------------------------------


def _dev_fallback(settings: Settings, name: str) -> Path | None:
    if settings.is_production:
        return None
    path = settings.dev_pki_path / name
    return path if path.exists() else None


def signers_config_path(settings: Settings | None = None) -> Path | None:
    """ZEGEL_SIGNERS_CONFIG_PATH; outside production the dev PKI's signers.json otherwise."""
    settings = settings or get_settings()
    return settings.signers_config_path or _dev_fallback(settings, "signers.json")


def trust_roots(settings: Settings | None = None) -> list[x509.Certificate]:
    """ZEGEL_TRUST_ROOTS_PATH; outside production the dev PKI's root otherwise."""
    settings = settings or get_settings()
    path = settings.trust_roots_path or _dev_fallback(settings, "root.pem")
    return _certificates(path) if path else []


@cache
def _certificates_cached(path: Path, mtime: float) -> tuple[x509.Certificate, ...]:
    return tuple(load_certificates(path))


def _certificates(path: Path) -> list[x509.Certificate]:
    return list(_certificates_cached(path, path.stat().st_mtime))


def crls(settings: Settings | None = None) -> list[bytes]:
    settings = settings or get_settings()
    return load_crls(settings.crl_path) if settings.crl_path else []


def signer_config(user: StaffUser) -> SignerConfig:
    """The signing backend configured for `user` (by OIDC subject, or by Zegel user id)."""
    path = signers_config_path()
    configs = load_signer_configs(path) if path else {}
    config = configs.get(user.subject) or configs.get(str(user.id))
    if config is None:
        raise SigningError(
            "Voor u is nog geen handtekeningsleutel ingesteld; er is niets ondertekend."
            " Vraag het aan de beheerder.",
            code="no_signing_key",
        )
    return config


def open_signer(
    session: Session, signer_user_id: uuid.UUID, *, secret: str | None = None
) -> SigningBackend:
    """Open the signer's configured key with `secret` (the PIN or passphrase they typed) or,
    without it, the one in the environment variable the configuration names."""
    user = session.get(StaffUser, signer_user_id)
    if user is None or not user.active:
        raise NotFound("Deze medewerker bestaat niet.")
    return open_backend(signer_config(user), secret=secret)


def make_tsa_client(settings: Settings | None = None) -> TsaClient:
    settings = settings or get_settings()
    return make_timestamper(settings.tsa_url, timeout=settings.tsa_timeout_seconds)


# -- capacity -------------------------------------------------------------------------------


def function_label(function: SignerFunction, kind: OrganisationKind) -> str:
    if kind is OrganisationKind.OCMW and function is SignerFunction.BURGEMEESTER:
        return "voorzitter van het vast bureau"
    return SIGNER_FUNCTION_LABELS[function]


def capacity(assignment: StaffRoleAssignment, kind: OrganisationKind) -> str:
    """What the signature states: 'burgemeester', 'waarnemend burgemeester', or
    'bij delegatie van de burgemeester (<delegation decision>)'."""
    assert assignment.signer_function is not None
    label = function_label(assignment.signer_function, kind)
    if not assignment.substitute:
        return label
    if assignment.delegation_reference:
        return f"bij delegatie van de {label} ({assignment.delegation_reference})"
    return f"waarnemend {label}"


def _signer_assignments(
    session: Session, signer_user_id: uuid.UUID
) -> dict[tuple[uuid.UUID, SignerFunction], StaffRoleAssignment]:
    """The signer's functions per organisation; a titular assignment wins over a substitute."""
    rows = session.scalars(
        select(StaffRoleAssignment).where(
            StaffRoleAssignment.staff_user_id == signer_user_id,
            StaffRoleAssignment.role == StaffRole.ONDERTEKENAAR,
            StaffRoleAssignment.signer_function.is_not(None),
        )
    ).all()
    found: dict[tuple[uuid.UUID, SignerFunction], StaffRoleAssignment] = {}
    for row in sorted(rows, key=lambda r: not r.substitute):
        assert row.signer_function is not None
        found[(row.organisation_id, row.signer_function)] = row
    return found


def capacity_of(session: Session, signer_user_id: uuid.UUID, request: SignatureRequest) -> str:
    """The capacity in which this signer would sign `request` (for the confirmation page)."""
    assignment = _signer_assignments(session, signer_user_id).get(
        (request.organisation_id, request.signer_function)
    )
    organisation = session.get(Organisation, request.organisation_id)
    assert organisation is not None
    if assignment is None:
        return function_label(request.signer_function, organisation.kind)
    return capacity(assignment, organisation.kind)


# -- outcomes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignOutcome:
    """What happened to one requested signature."""

    signature_request_id: uuid.UUID
    document_id: uuid.UUID | None
    signed: bool
    code: str
    """'signed', or why not: not_found, forbidden, not_pending, already_signed,
    not_awaiting_signature, out_of_order, document_changed, changed_meanwhile, or a
    SigningError code (tsa_unavailable, wrong_pin, certificate_expired, ...)."""
    message: str
    """Dutch, for the signer."""
    document_status: DocumentStatus | None = None


@dataclass(frozen=True)
class _Plan:
    request_id: uuid.UUID
    document_id: uuid.UUID
    organisation_id: uuid.UUID
    signing_round: int
    position: int
    field_name: str
    expected_sha256: str
    capacity: str
    location: str
    kind: OrganisationKind


def _refused(
    request_id: uuid.UUID, document_id: uuid.UUID | None, code: str, message: str
) -> SignOutcome:
    return SignOutcome(request_id, document_id, False, code, message)


def _check_turn(
    request: SignatureRequest,
    document: Document,
    round_requests: Sequence[SignatureRequest],
    kind: OrganisationKind,
) -> SignOutcome | None:
    """Why `request` cannot be signed now, or None."""
    if request.status is SignatureStatus.SIGNED:
        who = request.signer.name if request.signer is not None else "een andere ondertekenaar"
        return _refused(
            request.id,
            document.id,
            "already_signed",
            f"‘{document.title}’ is al ondertekend door {who}; er is niets dubbel ondertekend.",
        )
    if request.status is not SignatureStatus.PENDING:
        return _refused(
            request.id,
            document.id,
            "not_pending",
            f"Voor ‘{document.title}’ wordt deze handtekening niet meer gevraagd"
            f" ({request.states.label(request.status)}).",
        )
    if document.status is not DocumentStatus.AWAITING_SIGNATURE:
        return _refused(
            request.id,
            document.id,
            "not_awaiting_signature",
            f"‘{document.title}’ wacht niet op een handtekening; het staat op"
            f" ‘{DOCUMENT_STATES.label(document.status)}’.",
        )
    earlier = [
        r
        for r in round_requests
        if r.position < request.position and r.status is not SignatureStatus.SIGNED
    ]
    if earlier:
        first = min(earlier, key=lambda r: r.position)
        return _refused(
            request.id,
            document.id,
            "out_of_order",
            f"‘{document.title}’ moet eerst ondertekend worden door de"
            f" {function_label(first.signer_function, kind)}.",
        )
    previous = [r for r in round_requests if r.position < request.position]
    if previous:
        last = max(previous, key=lambda r: r.position)
        if last.signed_sha256 != document.current_sha256:
            return _refused(request.id, document.id, "document_changed", DOCUMENT_CHANGED_MESSAGE)
    return None


def _plan(
    session: Session, request_ids: Sequence[uuid.UUID], signer_user_id: uuid.UUID
) -> tuple[list[_Plan], dict[uuid.UUID, SignOutcome]]:
    assignments = _signer_assignments(session, signer_user_id)
    organisations = {org_id for org_id, _ in assignments}
    requests = {
        r.id: r
        for r in session.scalars(
            select(SignatureRequest).where(SignatureRequest.id.in_(request_ids))
        ).all()
    }
    documents = {
        d.id: d
        for d in session.scalars(
            select(Document).where(Document.id.in_({r.document_id for r in requests.values()}))
        ).all()
    }
    siblings: dict[tuple[uuid.UUID, int], list[SignatureRequest]] = {}
    for sibling in session.scalars(
        select(SignatureRequest).where(SignatureRequest.document_id.in_(documents))
    ).all():
        siblings.setdefault((sibling.document_id, sibling.signing_round), []).append(sibling)
    kinds = {
        o.id: (o.kind, o.name)
        for o in session.scalars(select(Organisation).where(Organisation.id.in_(organisations)))
    }

    plans: list[_Plan] = []
    refused: dict[uuid.UUID, SignOutcome] = {}
    for request_id in request_ids:
        request = requests.get(request_id)
        if request is None or request.organisation_id not in organisations:
            refused[request_id] = _refused(
                request_id, None, "not_found", "Deze handtekening bestaat niet."
            )
            continue
        document = documents[request.document_id]
        kind, organisation_name = kinds[request.organisation_id]
        assignment = assignments.get((request.organisation_id, request.signer_function))
        if assignment is None:
            refused[request_id] = _refused(
                request_id,
                document.id,
                "forbidden",
                f"‘{document.title}’ wacht op de handtekening van de"
                f" {function_label(request.signer_function, kind)}; die functie hebt u niet.",
            )
            continue
        problem = _check_turn(
            request, document, siblings[(document.id, request.signing_round)], kind
        )
        if problem is not None:
            refused[request_id] = problem
            continue
        plans.append(
            _Plan(
                request_id=request.id,
                document_id=document.id,
                organisation_id=request.organisation_id,
                signing_round=request.signing_round,
                position=request.position,
                field_name=request.field_name,
                expected_sha256=document.current_sha256,
                capacity=capacity(assignment, kind),
                location=organisation_name,
                kind=kind,
            )
        )
    return plans, refused


# -- signing --------------------------------------------------------------------------------


def sign(
    signature_request_ids: Sequence[uuid.UUID],
    *,
    signer_user_id: uuid.UUID,
    backend: SigningBackend,
    actor: audit.Actor,
    session_factory: Callable[[], Session] | None = None,
    timestamper: TimeStamper | None = None,
) -> list[SignOutcome]:
    """Sign the given signature requests as `signer_user_id` with `backend`; one outcome per
    distinct id, in the order given. Manages its own short transactions: call it outside any.
    """
    factory = session_factory or get_session_factory()
    ids = list(dict.fromkeys(signature_request_ids))
    if not ids:
        return []
    session = factory()
    try:
        signer = session.get(StaffUser, signer_user_id)
        if signer is None or not signer.active:
            raise Forbidden("U kunt niet ondertekenen: uw account is niet actief.")
        signer_name = signer.name
        plans, outcomes = _plan(session, ids, signer_user_id)
    finally:
        session.rollback()
        session.close()

    own_client = make_tsa_client() if timestamper is None else None
    tsa = timestamper or own_client
    assert tsa is not None
    try:
        _sign_all(plans, outcomes, factory, tsa, signer_name, signer_user_id, backend, actor)
    finally:
        if own_client is not None:
            own_client.close()
    return [outcomes[request_id] for request_id in ids]


def _sign_all(
    plans: list[_Plan],
    outcomes: dict[uuid.UUID, SignOutcome],
    factory: Callable[[], Session],
    tsa: TimeStamper,
    signer_name: str,
    signer_user_id: uuid.UUID,
    backend: SigningBackend,
    actor: audit.Actor,
) -> None:
    settings = get_settings()
    if plans:
        try:
            check_signer_certificate(
                backend,
                trust_roots=trust_roots(settings),
                crls=crls(settings),
                allow_fetching=settings.revocation_checks_online,
            )
        except SigningError as error:
            for plan in plans:
                outcomes[plan.request_id] = _refused(
                    plan.request_id, plan.document_id, error.code, error.message
                )
            plans = []

    storage = get_storage()
    signed_on = today()
    recorder = _Recorder(
        factory, outcomes, signer_user_id=signer_user_id, backend=backend, actor=actor
    )
    try:
        _sign_each(plans, outcomes, recorder, storage, tsa, signer_name, signed_on, backend)
    finally:
        recorder.finish()


def _sign_each(
    plans: list[_Plan],
    outcomes: dict[uuid.UUID, SignOutcome],
    recorder: _Recorder,
    storage: FileStorage,
    tsa: TimeStamper,
    signer_name: str,
    signed_on: date,
    backend: SigningBackend,
) -> None:
    for index, plan in enumerate(plans):
        try:
            pdf = storage.get(plan.expected_sha256)
            signed = sign_pdf(
                pdf,
                backend,
                field_name=plan.field_name,
                stamp=StampText(signer_name, plan.capacity, signed_on),
                timestamper=tsa,
                location=plan.location,
            )
        except SigningError as error:
            outcomes[plan.request_id] = _refused(
                plan.request_id, plan.document_id, error.code, error.message
            )
            if error.code in ("tsa_unavailable", "backend_unavailable", "wrong_pin"):
                for rest in plans[index + 1 :]:  # the next ones would fail the same way
                    outcomes[rest.request_id] = _refused(
                        rest.request_id, rest.document_id, error.code, error.message
                    )
                break
            continue
        except (NotFound, IntegrityError):
            log.error("stored PDF %s missing or corrupt", plan.expected_sha256)
            outcomes[plan.request_id] = _refused(
                plan.request_id,
                plan.document_id,
                "document_changed",
                "Het PDF-bestand van dit document ontbreekt of is beschadigd; er is niets"
                " ondertekend.",
            )
            continue
        recorder.submit(plan, signed)


class _Recorder:
    """Stores each signed PDF and records its signature, in a thread of its own: while the
    next document waits for its timestamp, the previous one is written to storage and the
    database. One document per transaction, in the order signed."""

    def __init__(
        self,
        factory: Callable[[], Session],
        outcomes: dict[uuid.UUID, SignOutcome],
        *,
        signer_user_id: uuid.UUID,
        backend: SigningBackend,
        actor: audit.Actor,
    ) -> None:
        self._factory = factory
        self._outcomes = outcomes
        self._signer_user_id = signer_user_id
        self._backend = backend
        self._actor = actor
        self._queue: queue.Queue[tuple[_Plan, bytes] | None] = queue.Queue(maxsize=16)
        context = contextvars.copy_context()  # keeps the request id for the audit trail
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name="signing-recorder", daemon=True
        )
        self._thread.start()

    def submit(self, plan: _Plan, signed: bytes) -> None:
        self._queue.put((plan, signed))

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        storage = get_storage()
        while (item := self._queue.get()) is not None:
            plan, signed = item
            try:
                sha256 = storage.put(signed)
                outcome = _record(
                    self._factory,
                    plan,
                    sha256,
                    signer_user_id=self._signer_user_id,
                    backend=self._backend,
                    actor=self._actor,
                )
            except Exception:
                log.exception("recording signature %s failed", plan.request_id)
                outcome = _refused(
                    plan.request_id,
                    plan.document_id,
                    "signing_failed",
                    "Ondertekenen is mislukt door een technische fout; er is niets ondertekend."
                    " Probeer het opnieuw.",
                )
            self._outcomes[plan.request_id] = outcome


def _record(
    factory: Callable[[], Session],
    plan: _Plan,
    sha256: str,
    *,
    signer_user_id: uuid.UUID,
    backend: SigningBackend,
    actor: audit.Actor,
) -> SignOutcome:
    """Record one signature in one transaction, or nothing when something changed meanwhile."""
    session = factory()
    try:
        with session.begin():
            document = session.scalars(
                select(Document)
                .where(Document.id == plan.document_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one()
            round_requests = list(
                session.scalars(
                    select(SignatureRequest)
                    .where(
                        SignatureRequest.document_id == plan.document_id,
                        SignatureRequest.signing_round == plan.signing_round,
                    )
                    .order_by(SignatureRequest.position)
                    .with_for_update()
                ).all()
            )
            request = next(r for r in round_requests if r.id == plan.request_id)
            problem = _check_turn(request, document, round_requests, plan.kind)
            if problem is None and document.current_sha256 != plan.expected_sha256:
                problem = _refused(
                    plan.request_id,
                    plan.document_id,
                    "changed_meanwhile",
                    f"‘{document.title}’ werd intussen gewijzigd; er is niets ondertekend."
                    " Laad de lijst opnieuw.",
                )
            if problem is not None:
                return problem  # nothing was changed; the empty transaction just ends

            before = document.current_sha256
            request.signer_id = signer_user_id
            request.capacity = plan.capacity
            request.signed_at = utcnow()
            request.signed_sha256 = sha256
            transitions.transition(
                session,
                request,
                SignatureStatus.SIGNED,
                actor=actor,
                data={
                    "document_id": str(document.id),
                    "capacity": plan.capacity,
                    "sha256_before": before,
                    "sha256": sha256,
                    "certificate": backend.certificate.subject.human_friendly,
                    "certificate_serial": format(backend.certificate.serial_number, "x"),
                    "backend": backend.kind,
                },
            )
            document.current_sha256 = sha256
            if all(r.status is SignatureStatus.SIGNED for r in round_requests):
                transitions.transition(
                    session, document, DocumentStatus.SIGNED, actor=actor, data={"sha256": sha256}
                )
                transitions.transition(session, document, DocumentStatus.READY, actor=actor)
                jobs.enqueue(
                    session,
                    VALIDATE_JOB,
                    {"document_id": str(document.id)},
                    key=f"{VALIDATE_JOB}:{document.id}:{sha256}",
                    organisation_id=document.organisation_id,
                )
            following = min(
                (r for r in round_requests if r.status is SignatureStatus.PENDING),
                key=lambda r: r.position,
                default=None,
            )
            if following is not None:
                # The next signer's turn: queue their digest e-mail (one per signer per batch).
                notifications.signing_work_arrived(
                    session, document.organisation_id, [following.signer_function]
                )
            status = document.status
            title = document.title
    finally:
        session.close()
    return SignOutcome(
        plan.request_id,
        plan.document_id,
        True,
        "signed",
        f"‘{title}’ is ondertekend als {plan.capacity}.",
        status,
    )


# -- declining ------------------------------------------------------------------------------


def decline(
    session: Session,
    signature_request_id: uuid.UUID,
    reason: str,
    *,
    signer_user_id: uuid.UUID,
    actor: audit.Actor,
) -> SignatureRequest:
    """Decline a signature with a reason, in the caller's transaction: the request becomes
    declined, the other open requests of its round lapse, and the document goes back to draft
    for its owner, with the reason in the audit trail and on the request, and an e-mail to
    the owner queued (`notifications.document_declined`)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Geef een reden op waarom u niet ondertekent.")
    found = session.get(SignatureRequest, signature_request_id)
    assignments = _signer_assignments(session, signer_user_id)
    if found is None or found.organisation_id not in {org for org, _ in assignments}:
        raise NotFound("Deze handtekening bestaat niet.")
    document = session.scalars(
        select(Document)
        .where(Document.id == found.document_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    round_requests = list(
        session.scalars(
            select(SignatureRequest)
            .where(
                SignatureRequest.document_id == document.id,
                SignatureRequest.signing_round == found.signing_round,
            )
            .order_by(SignatureRequest.position)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
    )
    request = next(r for r in round_requests if r.id == signature_request_id)
    organisation = session.get(Organisation, request.organisation_id)
    assert organisation is not None
    assignment = assignments.get((request.organisation_id, request.signer_function))
    if assignment is None:
        raise Forbidden(
            f"Alleen de {function_label(request.signer_function, organisation.kind)} kan deze"
            " handtekening weigeren."
        )
    problem = _check_turn(request, document, round_requests, organisation.kind)
    if problem is not None and problem.code != "document_changed":
        raise InvalidInput(problem.message, code=problem.code)

    signer = session.get(StaffUser, signer_user_id)
    request.signer_id = signer_user_id
    request.capacity = capacity(assignment, organisation.kind)
    request.decline_reason = reason
    transitions.transition(
        session,
        request,
        SignatureStatus.DECLINED,
        actor=actor,
        data={"document_id": str(document.id), "reason": reason, "capacity": request.capacity},
    )
    for other in round_requests:
        if other.status is SignatureStatus.PENDING:
            transitions.transition(
                session,
                other,
                SignatureStatus.CANCELLED,
                actor=actor,
                data={"document_id": str(document.id), "declined_request": str(request.id)},
            )
    transitions.transition(
        session,
        document,
        DocumentStatus.DRAFT,
        actor=actor,
        action="document.declined",
        data={
            "reason": reason,
            "declined_by": signer.name if signer is not None else None,
            "capacity": request.capacity,
            "signature_request_id": str(request.id),
        },
    )
    notifications.document_declined(session, request)  # e-mail to the document's owner
    return request


# -- validation -----------------------------------------------------------------------------


def validate_document(session: Session, document_id: uuid.UUID) -> list[SignatureValidation]:
    """Validate every signature in the document's current PDF against the trust roots and
    store each verdict on its signature request (for the portal), in the caller's transaction."""
    document = session.get(Document, document_id)
    if document is None:
        raise NotFound("Dit document bestaat niet.")
    settings = get_settings()
    results = validate_signatures(
        get_storage().get(document.current_sha256),
        trust_roots=trust_roots(settings),
        crls=crls(settings),
        allow_fetching=settings.revocation_checks_online,
    )
    requests = {
        r.field_name: r
        for r in session.scalars(
            select(SignatureRequest).where(
                SignatureRequest.document_id == document.id,
                SignatureRequest.status == SignatureStatus.SIGNED,
            )
        ).all()
    }
    validated_at = utcnow().isoformat()
    for result in results:
        request = requests.get(result.field_name)
        if request is not None:
            request.validation = {
                **result.as_json(),
                "document_sha256": document.current_sha256,
                "validated_at": validated_at,
            }
    audit.record(
        session,
        actor=audit.Actor.system("handtekeningcontrole"),
        organisation_id=document.organisation_id,
        action="document.signatures_validated",
        object_type="document",
        object_id=document.id,
        data={
            "sha256": document.current_sha256,
            "signatures": len(results),
            "valid": sum(1 for r in results if r.valid),
        },
    )
    return results


@jobs.handler(VALIDATE_JOB)
def _validate_job(payload: dict[str, object], context: jobs.JobContext) -> None:
    with session_scope() as session:
        validate_document(session, uuid.UUID(str(payload["document_id"])))
