"""Screening and signing through the services, with the real database, storage, sandbox TSA
(over HTTP) and the signer configuration: order, capacity, double signing, declining, and
every refusal changing nothing."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared import jobs
from shared.db import get_session_factory
from shared.errors import IllegalTransition, InvalidInput
from shared.models import (
    AuditEvent,
    Document,
    DocumentStatus,
    Organisation,
    Recipient,
    SignatureRequest,
    SignatureStatus,
    SignerFunction,
    StaffUser,
)
from shared.pdf.signing import TSA_UNAVAILABLE_MESSAGE, SigningError, make_timestamper
from shared.services import audit
from shared.services.intake import PdfCheckFailed
from shared.services.screening import ScreeningOverride, screen_document
from shared.services.signing import SignOutcome, decline, open_signer, sign, validate_document
from shared.storage import get_storage
from tests import factories
from tests.integration.signing.conftest import (
    PASSPHRASE,
    draft,
    letter_pdf,
    pdfsig,
    qpdf_check,
    signer,
)

DIRECTOR, MAYOR = SignerFunction.ALGEMEEN_DIRECTEUR, SignerFunction.BURGEMEESTER
SECRETARIAT = audit.Actor.system("secretariaat (test)")

pytestmark = pytest.mark.usefixtures("signing_settings")


class World:
    def __init__(self, session: Session) -> None:
        self.org: Organisation = factories.organisation(session)
        self.recipient: Recipient = factories.citizen(session, self.org)
        self.director: StaffUser = signer(session, self.org, "directeur", DIRECTOR)
        self.mayor: StaffUser = signer(session, self.org, "burgemeester", MAYOR)
        self.stand_in: StaffUser = signer(session, self.org, "waarnemend", MAYOR, substitute=True)
        self.delegate: StaffUser = signer(
            session,
            self.org,
            "gedelegeerde",
            MAYOR,
            substitute=True,
            delegation_reference="collegebesluit 2026_CBS_00012 van 5 januari 2026",
        )
        self.expired: StaffUser = signer(session, self.org, "verlopen", DIRECTOR)
        self.revoked: StaffUser = signer(session, self.org, "ingetrokken", DIRECTOR)


@pytest.fixture
def world(session: Session) -> World:
    built = World(session)
    session.commit()
    return built


def _screened(session: Session, world: World, *, title: str = "Besluit") -> Document:
    document = draft(session, world.org, world.recipient, title=title)
    screen_document(session, document, actor=SECRETARIAT)
    session.commit()
    return document


def _requests(session: Session, document: Document) -> list[SignatureRequest]:
    session.expire_all()
    return list(
        session.scalars(
            select(SignatureRequest)
            .where(SignatureRequest.document_id == document.id)
            .order_by(SignatureRequest.signing_round, SignatureRequest.position)
        ).all()
    )


def _sign_as(
    session: Session, user: StaffUser, requests: list[SignatureRequest], **kwargs: object
) -> list[SignOutcome]:
    # Read what is needed first: after the rollback every loaded object is expired.
    ids, user_id, actor = [r.id for r in requests], user.id, audit.Actor.staff(user.id, user.name)
    with open_signer(session, user_id, secret=PASSPHRASE) as backend:
        session.rollback()  # sign() runs its own short transactions (SQLite has one writer)
        return sign(
            ids,
            signer_user_id=user_id,
            backend=backend,
            actor=actor,
            **kwargs,  # type: ignore[arg-type]
        )


def _audit_count(session: Session, action: str) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        )
        or 0
    )


def _snapshot(session: Session, document: Document) -> tuple[object, ...]:
    session.expire_all()
    fresh = session.get(Document, document.id)
    assert fresh is not None
    return (
        fresh.status,
        fresh.current_sha256,
        tuple((r.status, r.signed_sha256, r.signer_id) for r in _requests(session, fresh)),
        session.scalar(select(func.count()).select_from(AuditEvent)),
    )


# -- screening ------------------------------------------------------------------------------


def test_screening_applies_the_default_rule_per_document_type(
    session: Session, world: World
) -> None:
    decision = draft(session, world.org, world.recipient)
    result = screen_document(session, decision, actor=SECRETARIAT)
    assert result.signers == (DIRECTOR, MAYOR)
    assert decision.status is DocumentStatus.AWAITING_SIGNATURE
    assert decision.signature_required is True
    assert decision.page_count == 1
    assert [(r.position, r.signer_function) for r in _requests(session, decision)] == [
        (1, DIRECTOR),
        (2, MAYOR),
    ]

    reminder = draft(session, world.org, world.recipient, document_type="reminder")
    screen_document(session, reminder, actor=SECRETARIAT)
    assert reminder.status is DocumentStatus.READY
    assert reminder.signature_required is False
    assert reminder.screening_reason == "Herinnering: geen beslissing, dus geen handtekening nodig."
    assert _requests(session, reminder) == []

    unknown = draft(session, world.org, world.recipient, document_type="brochure")
    with pytest.raises(InvalidInput, match="geen standaardregel"):
        screen_document(session, unknown, actor=SECRETARIAT)
    assert unknown.status is DocumentStatus.DRAFT

    with pytest.raises(IllegalTransition):
        screen_document(session, decision, actor=SECRETARIAT)


def test_the_secretariat_overrides_the_default_with_a_reason_in_the_audit_trail(
    session: Session, world: World
) -> None:
    document = draft(session, world.org, world.recipient)
    with pytest.raises(InvalidInput, match="reden"):
        screen_document(
            session, document, actor=SECRETARIAT, override=ScreeningOverride([MAYOR], "  ")
        )
    override = ScreeningOverride([MAYOR], "Dringend: de burgemeester tekent alleen (art. 1).")
    screen_document(session, document, actor=SECRETARIAT, override=override)
    assert [r.signer_function for r in _requests(session, document)] == [MAYOR]
    event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_id == str(document.id), AuditEvent.action == "document.screened"
        )
    ).one()
    assert event.data["overridden"] is True
    assert event.data["reason"] == override.reason
    assert event.data["signers"] == ["burgemeester"]
    assert event.data["default_signers"] == ["algemeen_directeur", "burgemeester"]

    no_signature = draft(session, world.org, world.recipient)
    screen_document(
        session,
        no_signature,
        actor=SECRETARIAT,
        override=ScreeningOverride([], "Informatieve kopie, geen beslissing."),
    )
    assert no_signature.status is DocumentStatus.READY


def test_a_pdf_that_fails_the_checks_stays_a_draft_with_its_findings(
    session: Session, world: World
) -> None:
    from fpdf import FPDF

    pdf = FPDF(format=(148, 210))
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.text(20, 20, "A5")
    document = draft(session, world.org, world.recipient, pdf=bytes(pdf.output()))
    with pytest.raises(PdfCheckFailed) as caught:
        screen_document(session, document, actor=SECRETARIAT)
    assert {"not_a4_portrait", "font_not_embedded"} <= caught.value.result.codes
    assert caught.value.result.previews[1].startswith(b"\x89PNG")
    assert "Pagina 1:" in caught.value.message
    assert document.status is DocumentStatus.DRAFT
    assert _requests(session, document) == []


# -- signing --------------------------------------------------------------------------------


def test_director_then_mayor_sign_and_the_document_is_signed_ready_and_validated(
    session: Session, world: World, nss_db: str, tmp_path: Path
) -> None:
    document = _screened(session, world)
    first, second = _requests(session, document)

    [outcome] = _sign_as(session, world.director, [first])
    assert outcome.signed
    assert outcome.document_status is DocumentStatus.AWAITING_SIGNATURE
    assert outcome.message == "‘Besluit’ is ondertekend als algemeen directeur."

    [outcome] = _sign_as(session, world.mayor, [second])
    assert outcome.signed
    assert outcome.document_status is DocumentStatus.READY

    first, second = _requests(session, document)
    fresh = session.get(Document, document.id)
    assert fresh is not None
    assert fresh.current_sha256 == second.signed_sha256 != first.signed_sha256
    assert fresh.original_sha256 == document.original_sha256
    assert (first.capacity, second.capacity) == ("algemeen directeur", "burgemeester")
    assert (first.signer_id, second.signer_id) == (world.director.id, world.mayor.id)
    statuses = [
        e.status_after
        for e in session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_id == str(document.id))
            .order_by(AuditEvent.sequence)
        )
    ]
    assert statuses[-2:] == ["signed", "ready"]

    signed_pdf = get_storage().get(fresh.current_sha256)
    checked = pdfsig(signed_pdf, nss_db, tmp_path)
    assert [s.signer for s in checked] == ["Koen Wouters", "Els Vermeulen"]
    assert all(s.valid and s.trusted for s in checked)
    qpdf_check(signed_pdf, tmp_path)

    # The validation runs as a background job queued with the last signature.
    session.rollback()
    assert jobs.Worker("test").run_pending() == 1
    first, second = _requests(session, document)
    for request, name, capacity in (
        (first, "Koen Wouters", "algemeen directeur"),
        (second, "Els Vermeulen", "burgemeester"),
    ):
        assert request.validation is not None
        assert request.validation["valid"] is True
        assert request.validation["trusted"] is True
        assert request.validation["intact"] is True
        assert request.validation["changed_after"] is False
        assert request.validation["signer_name"] == name
        assert request.validation["capacity"] == capacity
        assert request.validation["signed_at"]
        assert request.validation["document_sha256"] == fresh.current_sha256
    assert audit.verify_all(session) == []


def test_a_batch_is_signed_with_one_call_and_duplicates_count_once(
    session: Session, world: World
) -> None:
    documents = [_screened(session, world, title=f"Besluit {n}") for n in range(5)]
    firsts = [_requests(session, d)[0] for d in documents]
    outcomes = _sign_as(session, world.director, [*firsts, firsts[0]])
    assert [o.signature_request_id for o in outcomes] == [r.id for r in firsts]
    assert all(o.signed for o in outcomes)
    again = _sign_as(session, world.director, firsts[:2])
    assert [o.code for o in again] == ["already_signed", "already_signed"]
    assert again[0].message == (
        "‘Besluit 0’ is al ondertekend door Koen Wouters; er is niets dubbel ondertekend."
    )


def test_out_of_order_signing_is_refused_and_changes_nothing(
    session: Session, world: World
) -> None:
    document = _screened(session, world)
    _first, second = _requests(session, document)
    before = _snapshot(session, document)
    [outcome] = _sign_as(session, world.mayor, [second])
    assert not outcome.signed
    assert outcome.code == "out_of_order"
    assert outcome.message == "‘Besluit’ moet eerst ondertekend worden door de algemeen directeur."
    assert _snapshot(session, document) == before


def test_only_the_right_function_may_sign(session: Session, world: World) -> None:
    document = _screened(session, world)
    first, _second = _requests(session, document)
    [outcome] = _sign_as(session, world.mayor, [first])
    assert outcome.code == "forbidden"
    other_org = factories.organisation(session, "Gemeente Elders")
    elsewhere = draft(session, other_org, factories.citizen(session, other_org))
    screen_document(session, elsewhere, actor=SECRETARIAT)
    session.commit()
    [outcome] = _sign_as(session, world.director, [_requests(session, elsewhere)[0]])
    assert outcome.code == "not_found"
    [outcome] = _sign_as(session, world.director, [SignatureRequest(id=uuid.uuid4())])
    assert outcome.code == "not_found"


def test_stand_in_and_delegate_sign_in_their_capacity(session: Session, world: World) -> None:
    documents = [_screened(session, world, title=f"Besluit {n}") for n in range(2)]
    _sign_as(session, world.director, [_requests(session, d)[0] for d in documents])
    [by_stand_in] = _sign_as(session, world.stand_in, [_requests(session, documents[0])[1]])
    [by_delegate] = _sign_as(session, world.delegate, [_requests(session, documents[1])[1]])
    assert by_stand_in.message.endswith("als waarnemend burgemeester.")
    assert by_delegate.signed
    session.rollback()
    jobs.Worker("test").run_pending()
    stand_in_request = _requests(session, documents[0])[1]
    delegate_request = _requests(session, documents[1])[1]
    assert stand_in_request.capacity == "waarnemend burgemeester"
    assert delegate_request.capacity == (
        "bij delegatie van de burgemeester (collegebesluit 2026_CBS_00012 van 5 januari 2026)"
    )
    assert stand_in_request.validation is not None
    assert stand_in_request.validation["capacity"] == "waarnemend burgemeester"
    assert stand_in_request.validation["signer_name"] == "Bart Jacobs"


def test_a_dead_tsa_signs_nothing_and_says_so(
    session: Session, world: World, dead_tsa_url: str
) -> None:
    documents = [_screened(session, world, title=f"Besluit {n}") for n in range(3)]
    before = [_snapshot(session, d) for d in documents]
    outcomes = _sign_as(
        session,
        world.director,
        [_requests(session, d)[0] for d in documents],
        timestamper=make_timestamper(dead_tsa_url, timeout=2),
    )
    assert [o.code for o in outcomes] == ["tsa_unavailable"] * 3
    assert {o.message for o in outcomes} == {TSA_UNAVAILABLE_MESSAGE}
    assert [_snapshot(session, d) for d in documents] == before


def test_a_wrong_passphrase_opens_nothing(session: Session, world: World) -> None:
    with pytest.raises(SigningError) as caught:
        open_signer(session, world.director.id, secret="fout")
    assert caught.value.code == "wrong_pin"
    assert "onjuist" in caught.value.message


def test_a_signer_without_a_configured_key_is_told_so(session: Session, world: World) -> None:
    nobody = signer(session, world.org, "zonder-sleutel", DIRECTOR)
    with pytest.raises(SigningError) as caught:
        open_signer(session, nobody.id, secret=PASSPHRASE)
    assert caught.value.code == "no_signing_key"


@pytest.mark.parametrize(
    ("who", "code", "message"),
    [
        ("expired", "certificate_expired", "Uw certificaat is verlopen op "),
        ("revoked", "certificate_revoked", "Uw certificaat is ingetrokken; er is niets"),
    ],
)
def test_an_expired_or_revoked_certificate_signs_nothing(
    session: Session, world: World, who: str, code: str, message: str
) -> None:
    document = _screened(session, world)
    before = _snapshot(session, document)
    [outcome] = _sign_as(session, getattr(world, who), [_requests(session, document)[0]])
    assert outcome.code == code
    assert outcome.message.startswith(message)
    assert _snapshot(session, document) == before


def test_two_signers_at_once_give_exactly_one_signature(session: Session, world: World) -> None:
    document = _screened(session, world)
    first, second = _requests(session, document)
    _sign_as(session, world.director, [first])
    second_id, document_id = second.id, document.id
    people = {
        "mayor": (world.mayor.id, world.mayor.name),
        "stand-in": (world.stand_in.id, world.stand_in.name),
    }
    session.rollback()

    factory = get_session_factory()
    start = threading.Barrier(2)
    results: dict[str, SignOutcome] = {}

    def click(name: str) -> None:
        user_id, user_name = people[name]
        with factory() as own:
            backend = open_signer(own, user_id, secret=PASSPHRASE)
        with backend:
            start.wait()
            [results[name]] = sign(
                [second_id],
                signer_user_id=user_id,
                backend=backend,
                actor=audit.Actor.staff(user_id, user_name),
            )

    threads = [threading.Thread(target=click, args=(name,)) for name in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(o.signed for o in results.values()) == [False, True]
    loser = next(o for o in results.values() if not o.signed)
    assert loser.code in ("already_signed", "changed_meanwhile")
    assert "niets" in loser.message

    assert _audit_count(session, "signature_request.signed") == 2  # director + one winner
    fresh = session.get(Document, document_id)
    assert fresh is not None
    assert fresh.status is DocumentStatus.READY
    from shared.pdf.validation import validate_signatures

    signatures = validate_signatures(get_storage().get(fresh.current_sha256), trust_roots=[])
    assert len(signatures) == 2


def test_the_same_request_in_two_tabs_is_signed_once(session: Session, world: World) -> None:
    document = _screened(session, world)
    first, _second = _requests(session, document)
    first_id, user_id, user_name = first.id, world.director.id, world.director.name
    backend = open_signer(session, user_id, secret=PASSPHRASE)
    session.rollback()
    start = threading.Barrier(3)
    outcomes: list[SignOutcome] = []

    def tab() -> None:
        start.wait()
        outcomes.extend(
            sign(
                [first_id],
                signer_user_id=user_id,
                backend=backend,
                actor=audit.Actor.staff(user_id, user_name),
            )
        )

    with backend:
        threads = [threading.Thread(target=tab) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert len(outcomes) == 3
    assert sum(o.signed for o in outcomes) == 1
    assert _audit_count(session, "signature_request.signed") == 1


def test_a_document_changed_after_the_first_signature_is_refused(
    session: Session, world: World
) -> None:
    document = _screened(session, world)
    first, second = _requests(session, document)
    _sign_as(session, world.director, [first])

    # Someone puts another PDF in place of the signed one.
    fresh = session.get(Document, document.id)
    assert fresh is not None
    fresh.current_sha256 = get_storage().put(letter_pdf("Een ander besluit"))
    session.commit()
    before = _snapshot(session, document)
    [outcome] = _sign_as(session, world.mayor, [second])
    assert outcome.code == "document_changed"
    assert outcome.message.startswith(
        "Het document is gewijzigd na de vorige handtekening; er is niets ondertekend."
    )
    assert _snapshot(session, document) == before


def test_declining_returns_the_document_to_its_owner_with_the_reason(
    session: Session, world: World
) -> None:
    document = _screened(session, world)
    first, second = _requests(session, document)
    _sign_as(session, world.director, [first])

    with pytest.raises(InvalidInput, match="reden"):
        decline(session, second.id, "   ", signer_user_id=world.mayor.id, actor=SECRETARIAT)
    with pytest.raises(Exception, match="burgemeester"):
        decline(session, second.id, "Nee", signer_user_id=world.director.id, actor=SECRETARIAT)
    session.rollback()

    reason = "Het bedrag in paragraaf 2 klopt niet."
    actor = audit.Actor.staff(world.mayor.id, world.mayor.name)
    declined = decline(session, second.id, reason, signer_user_id=world.mayor.id, actor=actor)
    session.commit()
    assert declined.status is SignatureStatus.DECLINED
    assert declined.decline_reason == reason
    fresh = session.get(Document, document.id)
    assert fresh is not None
    assert fresh.status is DocumentStatus.DRAFT
    returned = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "document.declined")
    ).one()
    assert returned.data["reason"] == reason
    assert returned.data["declined_by"] == "Els Vermeulen"

    # Fixed and screened again: a new round; the old one stays as history.
    screen_document(session, fresh, actor=SECRETARIAT)
    session.commit()
    requests = _requests(session, document)
    assert [(r.signing_round, r.position, r.status) for r in requests] == [
        (1, 1, SignatureStatus.SIGNED),
        (1, 2, SignatureStatus.DECLINED),
        (2, 1, SignatureStatus.PENDING),
        (2, 2, SignatureStatus.PENDING),
    ]
    [outcome] = _sign_as(session, world.director, [requests[2]])
    assert outcome.signed


def test_declining_first_lapses_the_later_signatures(session: Session, world: World) -> None:
    document = _screened(session, world)
    first, _second = _requests(session, document)
    decline(
        session,
        first.id,
        "Verkeerde ontvanger.",
        signer_user_id=world.director.id,
        actor=SECRETARIAT,
    )
    session.commit()
    assert [r.status for r in _requests(session, document)] == [
        SignatureStatus.DECLINED,
        SignatureStatus.CANCELLED,
    ]


def test_validation_can_be_run_again_on_demand(session: Session, world: World) -> None:
    document = _screened(session, world)
    first, second = _requests(session, document)
    _sign_as(session, world.director, [first])
    _sign_as(session, world.mayor, [second])
    results = validate_document(session, document.id)
    assert [r.valid for r in results] == [True, True]


def test_a_stored_pdf_corrupted_in_place_is_not_signed(session: Session, world: World) -> None:
    document = _screened(session, world)
    first, _second = _requests(session, document)
    storage = get_storage()
    path = storage._path(document.current_sha256)  # type: ignore[attr-defined]
    path.write_bytes(path.read_bytes().replace(b"Besluit", b"Beslist", 1))
    before = _snapshot(session, document)
    [outcome] = _sign_as(session, world.director, [first])
    assert outcome.code == "document_changed"
    assert outcome.message.startswith("Het PDF-bestand van dit document ontbreekt of is beschadigd")
    assert _snapshot(session, document) == before


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"geen pdf", "not_a_pdf"),
        (b"%PDF-1.7\n" + b"\0" * 100, "unreadable"),
        (letter_pdf()[:-300], "unreadable"),
    ],
)
def test_a_bad_replacement_pdf_changes_nothing(
    session: Session, world: World, content: bytes, code: str
) -> None:
    from shared.services.intake import replace_pdf

    document = draft(session, world.org, world.recipient)
    before = (document.original_sha256, document.current_sha256, document.file_name)
    with pytest.raises(PdfCheckFailed) as caught:
        replace_pdf(session, document, content, file_name="nieuw.pdf", actor=SECRETARIAT)
    assert caught.value.result.codes == {code}
    assert (document.original_sha256, document.current_sha256, document.file_name) == before

    fixed = letter_pdf("Verbeterd besluit")
    replace_pdf(session, document, fixed, file_name="nieuw.pdf", actor=SECRETARIAT)
    assert document.current_sha256 == document.original_sha256 != before[0]
    assert get_storage().get(document.current_sha256) == fixed
    screen_document(session, document, actor=SECRETARIAT)
    with pytest.raises(InvalidInput, match="ontwerp"):
        replace_pdf(session, document, fixed, file_name="x.pdf", actor=SECRETARIAT)


def test_an_oversized_upload_is_refused_with_the_configured_limit(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.config import get_settings
    from shared.services.intake import check_upload

    monkeypatch.setenv("ZEGEL_PDF_MAX_BYTES", "2048")
    get_settings.cache_clear()
    result = check_upload(letter_pdf())
    assert result.codes == {"too_large"}
    assert result.findings[0].message.endswith("; de grens is 2 kB.")
