"""Looking recipients up in the national register and the KBO, through the real client and
the sandbox, with every consultation logged and no national number in clear anywhere."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from shared.db import Base
from shared.errors import Forbidden, InvalidInput
from shared.integrations.magda import testdata
from shared.models import EboxStatus, RecipientKind, RegisterConsultation, StaffRole
from shared.protection import ssin_digest, unseal
from shared.services import recipients
from shared.services.recipients import Requester
from tests import factories
from tests.integration.dispatch.conftest import LEGAL_BASIS, Magda

AN = testdata.person_by_key("an-janssens")
PIETER = testdata.person_by_key("pieter-de-smet")
PURPOSE = "Verzending van het besluit over uw aanvraag"


def _requester(session: Session) -> Requester:
    org = factories.organisation(session)
    staff = factories.staff_member(session, org, [StaffRole.DOSSIERBEHANDELAAR])
    return Requester(org.id, staff.id, staff.name)


def _every_text_in_the_database(session: Session) -> str:
    parts = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(table.select()):
            parts.extend(str(value) for value in row)
    return "\n".join(parts)


def test_a_lookup_finds_the_citizen_and_logs_each_consultation(
    session: Session, magda: Magda, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    requester = _requester(session)
    found = recipients.look_up_citizen(session, requester, AN.ssin, purpose=PURPOSE)
    session.commit()

    assert found.problem is None
    assert found.name == "An Janssens"
    assert found.masked_number == "85.07.30-***.**"
    assert found.ebox is EboxStatus.ACTIVATED
    recipient = found.recipient
    assert recipient is not None
    assert recipient.kind is RecipientKind.CITIZEN
    assert (recipient.street, recipient.postal_code, recipient.city) == (
        "Kerkstraat 12",
        "9999",
        "Zegelbeek",
    )
    assert recipient.ebox_source == "MAGDA citizenEboxConsents"
    assert unseal(recipient.ssin_sealed or "") == AN.ssin

    logged = session.scalars(
        select(RegisterConsultation).order_by(RegisterConsultation.service)
    ).all()
    assert [c.service for c in logged] == ["GeefPersoon", "citizenEboxConsents"]
    for consultation in logged:
        assert consultation.organisation_id == requester.organisation_id
        assert consultation.staff_user_id == requester.staff_user_id
        assert consultation.actor_label == requester.label
        assert consultation.subject_digest == ssin_digest(AN.ssin)
        assert unseal(consultation.subject_sealed) == AN.ssin
        assert consultation.purpose == PURPOSE
        assert consultation.legal_basis == LEGAL_BASIS
        assert consultation.outcome == "found"
        assert consultation.correlation_id
    assert AN.ssin not in _every_text_in_the_database(session), "a national number in clear"
    assert AN.ssin not in caplog.text


def test_a_second_lookup_updates_the_same_recipient(session: Session, magda: Magda) -> None:
    requester = _requester(session)
    first = recipients.look_up_citizen(session, requester, AN.ssin, purpose=PURPOSE)
    again = recipients.look_up_citizen(session, requester, AN.ssin, purpose=PURPOSE)
    assert first.recipient is not None
    assert again.recipient is not None
    assert first.recipient.id == again.recipient.id
    count = session.scalar(text("select count(*) from register_consultation"))
    assert count == 4


def test_without_a_legal_basis_nothing_is_asked(
    session: Session, magda: Magda, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.config import get_settings

    monkeypatch.setenv("ZEGEL_MAGDA_LEGAL_BASIS", " ")
    get_settings.cache_clear()
    requester = _requester(session)
    with pytest.raises(Forbidden) as raised:
        recipients.look_up_citizen(session, requester, AN.ssin, purpose=PURPOSE)
    assert "geen rechtsgrond ingesteld" in raised.value.message
    assert magda.sandbox.calls["persons"] == 0
    assert session.scalars(select(RegisterConsultation)).all() == []


def test_a_purpose_is_required(session: Session, magda: Magda) -> None:
    with pytest.raises(InvalidInput, match="waarvoor"):
        recipients.look_up_citizen(session, _requester(session), AN.ssin, purpose="  ")


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("85073003428", "controlegetal is fout"),
        ("8507300342", "11 cijfers"),
    ],
)
def test_invalid_national_numbers_are_refused_before_asking(
    session: Session, magda: Magda, number: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        recipients.look_up_citizen(session, _requester(session), number, purpose=PURPOSE)
    assert magda.sandbox.calls["persons"] == 0


@pytest.mark.parametrize(
    ("number", "message"),
    [("0412345615", "controlegetal is fout"), ("12345", "10 cijfers")],
)
def test_invalid_enterprise_numbers_are_refused(
    session: Session, magda: Magda, number: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        recipients.look_up_enterprise(session, _requester(session), number, purpose=PURPOSE)


def test_an_unknown_person_is_a_clear_message_and_still_logged(
    session: Session, magda: Magda
) -> None:
    requester = _requester(session)
    found = recipients.look_up_citizen(session, requester, testdata.UNKNOWN_SSIN, purpose=PURPOSE)
    session.commit()
    assert found.recipient is None
    assert found.problem == "Het rijksregister kent niemand met dit rijksregisternummer."
    [consultation] = session.scalars(select(RegisterConsultation)).all()
    assert consultation.outcome == "not_found"
    assert consultation.service == "GeefPersoon"


def test_a_person_without_address_is_found_with_a_warning(session: Session, magda: Magda) -> None:
    found = recipients.look_up_citizen(
        session, _requester(session), testdata.NO_ADDRESS.ssin, purpose=PURPOSE
    )
    assert found.recipient is not None
    assert found.recipient.street is None
    assert found.ebox is EboxStatus.NOT_ACTIVATED
    assert any("geen officieel adres" in w for w in found.warnings)


def test_magda_down_is_a_message_and_logged_as_error(session: Session, magda: Magda) -> None:
    magda.sandbox.fail_next("503", endpoint="persons")
    found = recipients.look_up_citizen(session, _requester(session), AN.ssin, purpose=PURPOSE)
    assert found.problem is not None
    assert found.problem.startswith("MAGDA gaf geen bruikbaar antwoord")
    [consultation] = session.scalars(select(RegisterConsultation)).all()
    assert consultation.outcome == "error"


def test_an_enterprise_by_kbo_number(session: Session, magda: Magda) -> None:
    enterprise = testdata.ENTERPRISES[0]
    number = enterprise.enterprise_number
    formatted = f"{number[:4]}.{number[4:7]}.{number[7:]}"
    found = recipients.look_up_enterprise(session, _requester(session), formatted, purpose=PURPOSE)
    assert found.recipient is not None
    assert found.recipient.kind is RecipientKind.ENTERPRISE
    assert found.recipient.enterprise_number == number
    assert found.ebox is EboxStatus.ACTIVATED
    [consultation] = session.scalars(select(RegisterConsultation)).all()
    assert consultation.service == "enterpriseEboxPreferences"


def test_the_dpo_filters_by_person_and_exports_masked(session: Session, magda: Magda) -> None:
    requester = _requester(session)
    recipients.look_up_citizen(session, requester, AN.ssin, purpose=PURPOSE)
    recipients.look_up_citizen(session, requester, PIETER.ssin, purpose=PURPOSE)
    about_an = recipients.consultations(session, requester.organisation_id, about=AN.ssin)
    assert len(about_an) == 2
    persons = recipients.consultations(
        session, requester.organisation_id, service=recipients.SERVICE_PERSON
    )
    assert len(persons) == 2
    other = factories.organisation(session, "Andere gemeente")
    assert recipients.consultations(session, other.id) == []
    csv_text = "".join(recipients.export_consultations_csv(about_an))
    assert "85.07.30-***.**" in csv_text
    assert AN.ssin not in csv_text
    assert LEGAL_BASIS in csv_text
