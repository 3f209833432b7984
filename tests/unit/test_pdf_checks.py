"""Intake checks on PDFs: what passes, and each reason a file is refused, per page."""

from __future__ import annotations

import io
import os

import pytest
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter

from shared.pdf import checks
from shared.pdf.checks import PdfCheckResult, check_pdf
from shared.pdf.letters import FONTS, Letter, render_letter

LIMITS = {"max_bytes": 30 * 1024 * 1024, "max_pages": 50}


def _check(content: bytes, *, for_paper: bool = True, **limits: int) -> PdfCheckResult:
    return check_pdf(content, for_paper=for_paper, **{**LIMITS, **limits})


def _letter(paragraphs: int = 2) -> bytes:
    return render_letter(
        Letter(
            sender_name="Gemeente Testdorp",
            sender_address=["Marktplein 1", "9999 Testdorp"],
            recipient_name="Jan Peeters",
            recipient_address=["Kerkstraat 1 bus 2", "9999 Testdorp"],
            place_and_date="Testdorp, 1 december 2026",
            subject="Besluit over uw aanvraag",
            paragraphs=["Het college heeft uw aanvraag besproken. " * 12] * paragraphs,
            reference="2026_CBS_00001",
            signatories=["De algemeen directeur", "De burgemeester"],
        )
    )


def _pdf(
    *,
    size: tuple[float, float] = (210, 297),
    orientation: str = "P",
    texts: list[tuple[float, float, str]] | None = None,
    pages: int = 1,
    embedded: bool = True,
) -> bytes:
    """A PDF with `texts` at (x, y) mm; by default the address in the window, nothing else."""
    pdf = FPDF(orientation=orientation, unit="mm", format=size)
    if embedded:
        pdf.add_font("Liberation", "", str(FONTS / "LiberationSans-Regular.ttf"))
        pdf.set_font("Liberation", size=10)
    else:
        pdf.set_font("Helvetica", size=10)
    for _ in range(pages):
        pdf.add_page()
        for x, y, text in texts if texts is not None else [(112, 55, "Jan Peeters")]:
            pdf.text(x, y, text)
    return bytes(pdf.output())


def test_a_letter_from_zegel_passes_every_check() -> None:
    result = _check(_letter())
    assert result.ok, result.summary()
    assert result.page_count == 1
    assert result.previews == {}


def test_a_long_letter_of_several_pages_passes() -> None:
    result = _check(_letter(paragraphs=20))
    assert result.ok, result.summary()
    assert (result.page_count or 0) > 1


def test_random_bytes_are_not_a_pdf() -> None:
    result = _check(os.urandom(2000))
    assert [(f.page, f.code) for f in result.findings] == [(None, "not_a_pdf")]
    assert result.findings[0].message == "Dit bestand is geen PDF-document."


def test_a_renamed_text_file_is_not_a_pdf() -> None:
    assert _check(b"Beste burger,\nhierbij ...").codes == {"not_a_pdf"}


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_truncated_pdf_is_unreadable(cut: float) -> None:
    letter = _letter()
    result = _check(letter[: int(len(letter) * cut)])
    assert result.codes == {"unreadable"}
    assert "beschadigd of onvolledig" in result.findings[0].message


def test_garbage_after_a_pdf_header_is_unreadable() -> None:
    assert _check(b"%PDF-1.7\n" + os.urandom(5000)).codes == {"unreadable"}


def test_an_encrypted_pdf_is_refused() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_letter())))
    writer.encrypt(user_password="", owner_password="geheim", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    result = _check(out.getvalue())
    assert result.codes == {"encrypted"}
    assert "versleuteld" in result.findings[0].message


def test_a_file_above_the_size_limit_is_refused() -> None:
    letter = _letter()
    result = _check(letter, max_bytes=len(letter) - 1)
    assert result.codes == {"too_large"}
    assert result.findings[0].message.startswith("Het bestand is ")
    assert _check(letter, max_bytes=len(letter)).ok


def test_sizes_read_the_dutch_way() -> None:
    assert checks._megabytes(30 * 1024 * 1024) == "30 MB"
    assert checks._megabytes(int(12.44 * 1024 * 1024)) == "12,4 MB"
    assert checks._megabytes(2048) == "2 kB"


def test_too_many_pages_are_refused() -> None:
    result = _check(_pdf(pages=4), max_pages=3)
    assert result.codes == {"too_many_pages"}
    assert result.findings[0].message == "Het document telt 4 pagina's; de grens is 3."


@pytest.mark.parametrize(
    ("size", "orientation"),
    [((148, 210), "P"), ((210, 297), "L"), ((215.9, 279.4), "P")],
    ids=["A5", "A4 landscape", "US letter"],
)
def test_pages_that_are_not_a4_portrait_are_refused(
    size: tuple[float, float], orientation: str
) -> None:
    result = _check(_pdf(size=size, orientation=orientation, texts=[(20, 20, "x")]))
    assert [(f.page, f.code) for f in result.findings] == [(1, "not_a4_portrait")]
    assert "A4 staand" in result.findings[0].message
    assert result.previews[1].startswith(b"\x89PNG")


def test_a4_within_two_millimetres_passes() -> None:
    assert _check(_pdf(size=(211.5, 295.5))).ok


def test_a_rotated_a4_page_reads_as_landscape() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf())))
    writer.pages[0].rotate(90)
    out = io.BytesIO()
    writer.write(out)
    assert _check(out.getvalue()).codes == {"not_a4_portrait"}


def test_fonts_that_are_not_embedded_are_refused_per_page() -> None:
    result = _check(_pdf(embedded=False))
    assert [(f.page, f.code) for f in result.findings] == [(1, "font_not_embedded")]
    assert "Helvetica" in result.findings[0].message


def test_text_in_the_address_window_besides_the_address_is_refused() -> None:
    result = _check(_pdf(texts=[(112, 55, "Jan Peeters"), (150, 97, "Ref 123")]))
    assert [(f.page, f.code) for f in result.findings] == [(1, "ink_in_address_window")]
    assert "venster" in result.findings[0].message
    preview = Image.open(io.BytesIO(result.previews[1])).convert("RGB")
    colours = preview.getcolors(maxcolors=1 << 20) or []
    reds = [rgb for _count, rgb in colours if rgb[0] > 150 and rgb[1] < 60 and rgb[2] < 60]
    assert reds, "the offending zone is outlined in red"


def test_the_window_check_is_only_for_paper_and_the_first_page() -> None:
    window_text = [(112, 55, "Jan Peeters"), (150, 97, "Ref 123")]
    assert _check(_pdf(texts=window_text), for_paper=False).ok
    two_pages = _pdf(texts=window_text, pages=2)
    assert [f.page for f in _check(two_pages).findings] == [1]


def test_a_missing_address_is_refused_for_paper() -> None:
    result = _check(_pdf(texts=[(25, 150, "Geen adres hier")]))
    assert result.codes == {"address_missing"}


def test_ink_in_the_margin_is_refused_on_every_page() -> None:
    texts = [(112, 55, "Jan Peeters"), (1.5, 150, "rand")]
    result = _check(_pdf(texts=texts, pages=2))
    assert [(f.page, f.code) for f in result.findings] == [
        (1, "ink_outside_printable_area"),
        (2, "ink_outside_printable_area"),
    ]
    assert set(result.previews) == {1, 2}


def test_ink_just_inside_the_margin_passes() -> None:
    assert _check(_pdf(texts=[(112, 55, "Jan Peeters"), (5.5, 150, "rand")])).ok


def test_the_zones_are_documented_constants() -> None:
    assert checks.WINDOW.left < checks.ADDRESS_BLOCK.left < checks.ADDRESS_BLOCK.right
    assert checks.ADDRESS_BLOCK.right < checks.WINDOW.right
    assert checks.PRINTABLE_MARGIN == 5
    assert checks.SLACK == 1
