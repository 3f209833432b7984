"""PDFs for intake tests: a letter that passes every check, and each kind of bad file."""

from __future__ import annotations

import functools
import io

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from shared.pdf.letters import FONTS, Letter, render_letter


@functools.cache
def letter(subject: str = "Besluit over uw aanvraag", recipient: str = "Jan Peeters") -> bytes:
    """A one-page letter from Zegel's own renderer: passes every intake check. The same
    arguments give the same bytes (the renderer stamps the time)."""
    return render_letter(
        Letter(
            sender_name="Gemeente Testdorp",
            sender_address=["Marktplein 1", "9999 Testdorp"],
            recipient_name=recipient,
            recipient_address=["Kerkstraat 1", "9999 Testdorp"],
            place_and_date="Testdorp, 1 december 2026",
            subject=subject,
            paragraphs=["Het college heeft uw aanvraag besproken."],
            reference="2026_CBS_00001",
            signatories=["De algemeen directeur", "De burgemeester"],
        )
    )


def with_ink_in_window() -> bytes:
    """A4 with the address in place and a logo-sized text inside the envelope window: a
    finding on page 1, but a usable PDF."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_font("Liberation", "", str(FONTS / "LiberationSans-Regular.ttf"))
    pdf.set_font("Liberation", size=10)
    pdf.add_page()
    pdf.text(112, 55, "Jan Peeters")
    pdf.text(102, 96, "Referentie buiten het adresblok")
    pdf.text(20, 150, "Het college heeft uw aanvraag besproken.")
    return bytes(pdf.output())


def landscape() -> bytes:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.add_font("Liberation", "", str(FONTS / "LiberationSans-Regular.ttf"))
    pdf.set_font("Liberation", size=10)
    pdf.add_page()
    pdf.text(20, 20, "Liggende pagina")
    return bytes(pdf.output())


def encrypted() -> bytes:
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(letter())).pages:
        writer.add_page(page)
    writer.encrypt(user_password="geheim", owner_password="geheimer")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def corrupt() -> bytes:
    return b"%PDF-1.7\n" + b"\0" * 200


NOT_A_PDF = b"Dit is een tekstbestand, geen PDF.\n"
