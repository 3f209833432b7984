"""The PDF layer: PAdES-B-T signatures with pyHanko, checked by pdfsig, qpdf and pyHanko's
validator; the Dutch errors for a dead TSA, a wrong passphrase, a bad certificate and a
document changed after a signature."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from shared.pdf import devpki
from shared.pdf.signing import (
    TSA_UNAVAILABLE_MESSAGE,
    SigningBackend,
    SigningError,
    StampText,
    check_signer_certificate,
    make_timestamper,
    open_pkcs12,
    sign_pdf,
    stamp_box,
)
from shared.pdf.validation import validate_signatures
from tests.integration.signing.conftest import (
    PASSPHRASE,
    Pki,
    letter_pdf,
    pdfsig,
    qpdf_check,
)

TODAY = date(2026, 12, 1)


def _backend(pki: Pki, subject: str) -> SigningBackend:
    return open_pkcs12(pki.p12(subject), PASSPHRASE)


def _sign(pdf: bytes, backend: SigningBackend, field: str, capacity: str, tsa_url: str) -> bytes:
    return sign_pdf(
        pdf,
        backend,
        field_name=field,
        stamp=StampText(backend.signer_name, capacity, TODAY),
        timestamper=make_timestamper(tsa_url),
    )


def test_two_signatures_are_incremental_timestamped_and_pass_independent_checks(
    pki: Pki, tsa_url: str, nss_db: str, tmp_path: Path
) -> None:
    original = letter_pdf()
    with _backend(pki, "directeur") as director, _backend(pki, "burgemeester") as mayor:
        once = _sign(original, director, "Handtekening-1-1", "algemeen directeur", tsa_url)
        twice = _sign(once, mayor, "Handtekening-1-2", "burgemeester", tsa_url)

    # Incremental updates: each version starts with the previous one, byte for byte.
    assert once.startswith(original)
    assert twice.startswith(once)

    checked = pdfsig(twice, nss_db, tmp_path)
    assert [(s.field_name, s.signer) for s in checked] == [
        ("Handtekening-1-1", "Koen Wouters"),
        ("Handtekening-1-2", "Els Vermeulen"),
    ]
    assert all(s.valid and s.trusted for s in checked)
    assert checked[-1].total_document
    qpdf_check(twice, tmp_path)

    results = validate_signatures(twice, trust_roots=[pki.root.certificate])
    assert [(r.signer_name, r.capacity) for r in results] == [
        ("Koen Wouters", "algemeen directeur"),
        ("Els Vermeulen", "burgemeester"),
    ]
    for result in results:
        assert result.valid
        assert result.intact
        assert result.trusted
        assert result.timestamp_trusted
        assert result.signed_at is not None  # from the TSA's token
        assert not result.changed_after
    assert not results[0].covers_whole_document  # the mayor's signature came after it
    assert results[1].covers_whole_document
    assert results[0].summary == "Geldige handtekening van Koen Wouters (algemeen directeur)."


def test_without_trust_roots_the_signatures_are_intact_but_not_trusted(
    pki: Pki, tsa_url: str
) -> None:
    other_root = devpki.create_root_ca("Iemand anders")
    with _backend(pki, "directeur") as director:
        signed = _sign(letter_pdf(), director, "Handtekening-1-1", "algemeen directeur", tsa_url)
    [result] = validate_signatures(signed, trust_roots=[other_root.certificate])
    assert result.intact
    assert not result.trusted
    assert not result.valid
    assert "niet vertrouwd" in result.summary


def test_stamps_stand_side_by_side_in_the_signature_area(pki: Pki, tsa_url: str) -> None:
    assert stamp_box(0)[1] == stamp_box(1)[1] == stamp_box(2)[1]
    assert stamp_box(0)[2] < stamp_box(1)[0] < stamp_box(1)[2] < stamp_box(2)[0]
    assert stamp_box(3)[1] > stamp_box(0)[3]  # a fourth signer starts a row above
    assert stamp_box(2)[2] < (210 - 5) * 72 / 25.4  # inside the printable area
    assert stamp_box(0)[1] > 5 * 72 / 25.4

    from pyhanko.pdf_utils.reader import PdfFileReader

    with _backend(pki, "directeur") as director, _backend(pki, "burgemeester") as mayor:
        once = _sign(letter_pdf(), director, "Handtekening-1-1", "algemeen directeur", tsa_url)
        twice = _sign(once, mayor, "Handtekening-1-2", "burgemeester", tsa_url)
    reader = PdfFileReader(io.BytesIO(twice))
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    rects = sorted(
        tuple(round(float(v)) for v in annotation.get_object()["/Rect"])
        for annotation in page["/Annots"]
        if annotation.get_object().get("/FT") == "/Sig"
    )
    assert rects == [stamp_box(0), stamp_box(1)]


def test_a_dead_tsa_fails_with_a_clear_message_and_no_signature(
    pki: Pki, dead_tsa_url: str
) -> None:
    original = letter_pdf()
    with _backend(pki, "directeur") as director, pytest.raises(SigningError) as caught:
        _sign(original, director, "Handtekening-1-1", "algemeen directeur", dead_tsa_url)
    assert caught.value.code == "tsa_unavailable"
    assert caught.value.message == TSA_UNAVAILABLE_MESSAGE
    assert TSA_UNAVAILABLE_MESSAGE == (
        "De tijdstempeldienst antwoordt niet; er is niets ondertekend. Probeer het later opnieuw."
    )


def test_a_tsa_that_refuses_the_request_fails_the_same_way(pki: Pki, tsa_url: str) -> None:
    # The sandbox answers 404 below /tsa: not a timestamp reply.
    with _backend(pki, "directeur") as director, pytest.raises(SigningError) as caught:
        _sign(letter_pdf(), director, "Handtekening-1-1", "algemeen directeur", tsa_url + "/x")
    assert caught.value.code == "tsa_unavailable"


def test_a_wrong_passphrase_is_refused(pki: Pki) -> None:
    with pytest.raises(SigningError) as caught:
        open_pkcs12(pki.p12("directeur"), "fout")
    assert caught.value.code == "wrong_pin"
    assert caught.value.message == (
        "Het wachtwoord van uw certificaatbestand is onjuist; er is niets ondertekend."
    )


def test_an_expired_certificate_is_refused(pki: Pki) -> None:
    with _backend(pki, "verlopen") as expired, pytest.raises(SigningError) as caught:
        check_signer_certificate(expired, trust_roots=[pki.root.certificate])
    assert caught.value.code == "certificate_expired"
    assert caught.value.message.startswith("Uw certificaat is verlopen op ")


def test_a_revoked_certificate_is_refused(pki: Pki) -> None:
    crl = pki.crl_path.read_bytes()
    with _backend(pki, "ingetrokken") as revoked, pytest.raises(SigningError) as caught:
        check_signer_certificate(revoked, trust_roots=[pki.root.certificate], crls=[crl])
    assert caught.value.code == "certificate_revoked"
    assert caught.value.message == "Uw certificaat is ingetrokken; er is niets ondertekend."
    with _backend(pki, "directeur") as fine:
        check_signer_certificate(fine, trust_roots=[pki.root.certificate], crls=[crl])


def test_a_certificate_from_an_unknown_ca_is_refused(pki: Pki) -> None:
    stranger = devpki.create_root_ca("Vreemde CA")
    with _backend(pki, "directeur") as director, pytest.raises(SigningError) as caught:
        check_signer_certificate(director, trust_roots=[stranger.certificate])
    assert caught.value.code == "certificate_untrusted"


def test_a_document_changed_after_the_first_signature_is_not_signed(pki: Pki, tsa_url: str) -> None:
    with _backend(pki, "directeur") as director:
        once = _sign(letter_pdf(), director, "Handtekening-1-1", "algemeen directeur", tsa_url)

    # An incremental update that changes the page after the signature.
    writer = IncrementalPdfFileWriter(io.BytesIO(once))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(180)
    writer.update_container(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    appended = buffer.getvalue()

    # Bytes flipped inside the signed range.
    marker = once.index(b"Kerkstraat") if b"Kerkstraat" in once else len(once) // 3
    flipped = once[:marker] + bytes([once[marker] ^ 0x01]) + once[marker + 1 :]

    for changed in (appended, flipped, once + b"\n% extra\n"):
        with _backend(pki, "burgemeester") as mayor, pytest.raises(SigningError) as caught:
            _sign(changed, mayor, "Handtekening-1-2", "burgemeester", tsa_url)
        assert caught.value.code == "document_changed"
        assert caught.value.message.startswith(
            "Het document is gewijzigd na de vorige handtekening; er is niets ondertekend."
        )

    [result] = validate_signatures(appended, trust_roots=[pki.root.certificate])
    assert result.intact
    assert result.changed_after
    assert not result.valid


def test_unreadable_input_is_refused(pki: Pki, tsa_url: str) -> None:
    with _backend(pki, "directeur") as director, pytest.raises(SigningError) as caught:
        _sign(b"%PDF-1.7\nrommel", director, "Handtekening-1-1", "directeur", tsa_url)
    assert caught.value.code == "unreadable"


def test_stamp_text_keeps_to_what_the_stamp_font_can_show() -> None:
    text = StampText("Łukasz Nowak-Dvořák", "waarnemend burgemeester", TODAY).lines()
    assert text.splitlines()[0] == "Lukasz Nowak-Dvorák"
    assert text.splitlines()[-1] == "digitaal ondertekend op 01.12.2026"
    assert StampText("Zoë Hernández", "x", TODAY).lines().startswith("Zoë Hernández")
