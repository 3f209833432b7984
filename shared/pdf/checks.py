"""Checks on an uploaded PDF before anything else happens to it (a signed PDF can no longer
be fixed, so every layout problem must surface while the document is still a draft).

`check_pdf()` takes the bytes and returns every finding, per page where it has one, each with
a code and a Dutch message, plus a low-resolution PNG preview of every page with a finding
(the offending zone outlined in red). For paper delivery, each page is rendered with PDFium
and searched for ink, as GOV.UK Notify does: nothing outside the printable area, and on the
first page nothing in the envelope's address window except the address block.

Geometry (millimetres, measured from the top-left corner of an A4 portrait page)
------------------------------------------------------------------------------
Zegel assumes the window envelopes Belgian municipalities commonly use for an A4 letter
folded in three: DL (220 × 110 mm) and C5/6 (229 × 114 mm) with a 100 × 45 mm window on the
right, 20 mm from the right edge and 15 mm from the bottom edge of the envelope (the window
dimensions and position of NF/ISO 269 right-window envelopes). With the top third of the
letter behind the window and the play of a 210 mm sheet in a 220–229 mm envelope:

- `WINDOW` (x 100–200, y 40–100) is every part of the page that may show through the window.
  Nothing but the address may be printed there.
- `ADDRESS_BLOCK` (x 105–195, y 45–90) is the part that shows whatever the play: the address
  belongs inside it. bpost wants nothing else in the address zone, and `shared.pdf.letters`
  prints its address block at x 110, y 50.
- `PRINTABLE_MARGIN` (5 mm on every side): printers leave this edge blank, so ink there is lost.

Each zone gets `SLACK` (1 mm) of tolerance, as Notify allows, which also absorbs the
anti-aliasing of glyphs that touch a border.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pypdfium2 as pdfium  # type: ignore[import-untyped]
from PIL import Image, ImageDraw
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import DictionaryObject, IndirectObject, PdfObject

MM_PER_POINT = 25.4 / 72
A4_WIDTH_MM = 210.0
A4_HEIGHT_MM = 297.0
A4_TOLERANCE_MM = 2.0


@dataclass(frozen=True)
class Zone:
    """A rectangle on an A4 page in millimetres from the top-left corner."""

    left: float
    top: float
    right: float
    bottom: float

    def grown(self, mm: float) -> Zone:
        return Zone(self.left - mm, self.top - mm, self.right + mm, self.bottom + mm)

    def pixels(self, scale: float) -> tuple[int, int, int, int]:
        """The zone as a Pillow box at `scale` pixels per millimetre."""
        return (
            round(self.left * scale),
            round(self.top * scale),
            round(self.right * scale),
            round(self.bottom * scale),
        )


WINDOW = Zone(left=100, top=40, right=200, bottom=100)
ADDRESS_BLOCK = Zone(left=105, top=45, right=195, bottom=90)
PRINTABLE_MARGIN = 5.0
PRINTABLE_AREA = Zone(
    left=PRINTABLE_MARGIN,
    top=PRINTABLE_MARGIN,
    right=A4_WIDTH_MM - PRINTABLE_MARGIN,
    bottom=A4_HEIGHT_MM - PRINTABLE_MARGIN,
)
SLACK = 1.0

INK_THRESHOLD = 245
"""A pixel darker than this (0–255 grey) is ink."""
DETECTION_DPI = 100
PREVIEW_DPI = 40

NOT_A_PDF = "not_a_pdf"
TOO_LARGE = "too_large"
ENCRYPTED = "encrypted"
UNREADABLE = "unreadable"
TOO_MANY_PAGES = "too_many_pages"
NOT_A4_PORTRAIT = "not_a4_portrait"
FONT_NOT_EMBEDDED = "font_not_embedded"
INK_IN_ADDRESS_WINDOW = "ink_in_address_window"
ADDRESS_MISSING = "address_missing"
INK_OUTSIDE_PRINTABLE_AREA = "ink_outside_printable_area"


@dataclass(frozen=True)
class Finding:
    page: int | None
    """1-based page number; None when the finding is about the whole file."""
    code: str
    message: str
    """For the user, in Dutch."""


@dataclass(frozen=True)
class PdfCheckResult:
    findings: tuple[Finding, ...]
    page_count: int | None
    previews: Mapping[int, bytes] = field(default_factory=dict)
    """PNG preview of each page (1-based) that has a finding, problem zones outlined in red."""

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def for_page(self, page: int) -> list[Finding]:
        return [f for f in self.findings if f.page == page]

    def summary(self) -> str:
        """One Dutch line per finding, with its page: for an error message or a log."""
        return "\n".join(
            f"Pagina {f.page}: {f.message}" if f.page else f.message for f in self.findings
        )


def _megabytes(size: int) -> str:
    """A file size in Dutch notation: '30 MB', '12,4 MB', '512 kB'."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} kB"
    text = f"{size / 1024 / 1024:.1f}".replace(".", ",")
    return text.removesuffix(",0") + " MB"


# PDFium is not thread-safe; the web apps run checks in a thread pool.
_pdfium_lock = threading.Lock()


def check_pdf(content: bytes, *, max_bytes: int, max_pages: int, for_paper: bool) -> PdfCheckResult:
    """Check an uploaded file; see the module documentation for what is checked."""
    if not content.startswith(b"%PDF-"):
        return PdfCheckResult(
            (Finding(None, NOT_A_PDF, "Dit bestand is geen PDF-document."),), None
        )
    if len(content) > max_bytes:
        message = (
            f"Het bestand is {_megabytes(len(content))} groot; de grens is {_megabytes(max_bytes)}."
        )
        return PdfCheckResult((Finding(None, TOO_LARGE, message),), None)

    unreadable = Finding(
        None,
        UNREADABLE,
        "Het PDF-bestand is beschadigd of onvolledig en kan niet gelezen worden."
        " Bewaar of exporteer het opnieuw.",
    )
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        encrypted = reader.is_encrypted
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return PdfCheckResult((unreadable,), None)
    if encrypted:
        message = (
            "Het PDF-bestand is versleuteld of met een wachtwoord beveiligd."
            " Bewaar het opnieuw zonder beveiliging."
        )
        return PdfCheckResult((Finding(None, ENCRYPTED, message),), None)
    if not _signable(content):
        return PdfCheckResult((unreadable,), None)
    try:
        pages = list(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return PdfCheckResult((unreadable,), None)
    if not pages:
        return PdfCheckResult((unreadable,), 0)
    if len(pages) > max_pages:
        message = f"Het document telt {len(pages)} pagina's; de grens is {max_pages}."
        return PdfCheckResult((Finding(None, TOO_MANY_PAGES, message),), len(pages))

    findings: list[Finding] = []
    a4_pages: set[int] = set()
    for number, page in enumerate(pages, start=1):
        try:
            width_mm, height_mm = _page_size_mm(page)
            missing = sorted(_fonts_not_embedded(page))
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return PdfCheckResult((unreadable,), len(pages))
        if (
            abs(width_mm - A4_WIDTH_MM) <= A4_TOLERANCE_MM
            and abs(height_mm - A4_HEIGHT_MM) <= A4_TOLERANCE_MM
        ):
            a4_pages.add(number)
        else:
            findings.append(
                Finding(
                    number,
                    NOT_A4_PORTRAIT,
                    f"De pagina is {width_mm:.0f} × {height_mm:.0f} mm;"
                    " elke pagina moet A4 staand zijn (210 × 297 mm).",
                )
            )
        if missing:
            names = ", ".join(missing)
            word = "Het lettertype" if len(missing) == 1 else "De lettertypen"
            verb = "is" if len(missing) == 1 else "zijn"
            findings.append(
                Finding(
                    number,
                    FONT_NOT_EMBEDDED,
                    f"{word} {names} {verb} niet ingesloten. Exporteer de PDF opnieuw met"
                    " ingesloten lettertypen.",
                )
            )

    previews: dict[int, bytes] = {}
    try:
        with _pdfium_lock:
            document = pdfium.PdfDocument(content)
            try:
                document.init_forms()  # form fields are ink too
                for number in range(1, len(pages) + 1):
                    flagged = any(f.page == number for f in findings)
                    if not for_paper and not flagged:
                        continue
                    image = _render(document, number - 1)
                    marks: list[Zone] = []
                    if for_paper and number in a4_pages:
                        page_findings, marks = _ink_checks(image, number)
                        findings.extend(page_findings)
                        flagged = flagged or bool(page_findings)
                    if flagged:
                        previews[number] = _preview(image, marks)
            finally:
                document.close()
    except pdfium.PdfiumError:
        return PdfCheckResult((unreadable,), len(pages))
    findings.sort(key=lambda f: f.page or 0)
    return PdfCheckResult(tuple(findings), len(pages), previews)


def render_preview(content: bytes, page: int) -> bytes:
    """A PNG preview of one page (1-based) at the preview resolution, without marks.

    Raises IndexError when the document has no such page, and pypdfium2's PdfiumError when
    it cannot be read."""
    with _pdfium_lock:
        document = pdfium.PdfDocument(content)
        try:
            if not 1 <= page <= len(document):
                raise IndexError(page)
            image = _render(document, page - 1)
        finally:
            document.close()
    return _preview(image, [])


def _signable(content: bytes) -> bool:
    """Whether pyHanko, which adds the signatures, can parse the file as it stands."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(content))
        reader.root["/Pages"]
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, OSError):
        return False
    return True


def _page_size_mm(page: Any) -> tuple[float, float]:
    box = page.cropbox
    width = float(box.width) * MM_PER_POINT
    height = float(box.height) * MM_PER_POINT
    if (page.rotation or 0) % 180:
        width, height = height, width
    return width, height


def _resolve(obj: PdfObject | None) -> Any:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _fonts_not_embedded(page: Any) -> set[str]:
    missing: set[str] = set()
    seen: set[int] = set()
    for fonts in _font_dictionaries(_resolve(page.get("/Resources")), seen, depth=0):
        for font_ref in fonts.values():
            font = _resolve(font_ref)
            if not isinstance(font, DictionaryObject):
                continue
            subtype = font.get("/Subtype")
            if subtype == "/Type3":
                continue  # glyphs are drawn by the font's own content streams
            descriptor_holder = font
            if subtype == "/Type0":
                descendants = _resolve(font.get("/DescendantFonts"))
                if not descendants:
                    continue
                descriptor_holder = _resolve(descendants[0])
            descriptor = _resolve(descriptor_holder.get("/FontDescriptor"))
            embedded = isinstance(descriptor, DictionaryObject) and any(
                key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
            )
            if not embedded:
                name = str(font.get("/BaseFont", "?")).lstrip("/")
                missing.add(name.split("+", 1)[-1])
    return missing


def _font_dictionaries(resources: Any, seen: set[int], *, depth: int) -> Iterator[DictionaryObject]:
    """Font dictionaries of `resources` and of the form XObjects it uses, recursively."""
    if not isinstance(resources, DictionaryObject) or depth > 10:
        return
    fonts = _resolve(resources.get("/Font"))
    if isinstance(fonts, DictionaryObject):
        yield fonts
    xobjects = _resolve(resources.get("/XObject"))
    if not isinstance(xobjects, DictionaryObject):
        return
    for ref in xobjects.values():
        if isinstance(ref, IndirectObject):
            if ref.idnum in seen:
                continue
            seen.add(ref.idnum)
        xobject = _resolve(ref)
        if isinstance(xobject, DictionaryObject) and xobject.get("/Subtype") == "/Form":
            yield from _font_dictionaries(
                _resolve(xobject.get("/Resources")), seen, depth=depth + 1
            )


def _render(document: pdfium.PdfDocument, index: int) -> Image.Image:
    page = document[index]
    try:
        bitmap = page.render(scale=DETECTION_DPI / 72, grayscale=True, may_draw_forms=True)
        image: Image.Image = bitmap.to_pil().convert("L")
    finally:
        page.close()
    # Normalise to exactly A4 at the detection resolution (pages may be up to 2 mm off).
    size = (round(A4_WIDTH_MM * _scale()), round(A4_HEIGHT_MM * _scale()))
    if image.size != size:
        image = image.resize(size)
    return image


def _scale() -> float:
    """Pixels per millimetre at the detection resolution."""
    return DETECTION_DPI / 25.4


def _ink_mask(image: Image.Image) -> Image.Image:
    return image.point(lambda value: 255 if value < INK_THRESHOLD else 0)


def _ink_checks(image: Image.Image, number: int) -> tuple[list[Finding], list[Zone]]:
    scale = _scale()
    mask = _ink_mask(image)
    findings: list[Finding] = []
    marks: list[Zone] = []

    outside = mask.copy()
    outside.paste(0, PRINTABLE_AREA.grown(SLACK).pixels(scale))
    box = outside.getbbox()
    if box is not None:
        findings.append(
            Finding(
                number,
                INK_OUTSIDE_PRINTABLE_AREA,
                f"Er staat iets in de rand van {PRINTABLE_MARGIN:.0f} mm rond de pagina die"
                " de printer niet afdrukt (rood omlijnd). Houd tekst en afbeeldingen binnen"
                " de afdrukbare zone.",
            )
        )
        marks.append(_zone_from_pixels(box, scale))

    if number == 1:
        window = WINDOW.grown(-SLACK)
        window_pixels = window.pixels(scale)
        in_window = mask.crop(window_pixels)
        block = ADDRESS_BLOCK.grown(SLACK)
        block_pixels = block.pixels(scale)
        in_window.paste(
            0,
            (
                block_pixels[0] - window_pixels[0],
                block_pixels[1] - window_pixels[1],
                block_pixels[2] - window_pixels[0],
                block_pixels[3] - window_pixels[1],
            ),
        )
        box = in_window.getbbox()
        if box is not None:
            findings.append(
                Finding(
                    number,
                    INK_IN_ADDRESS_WINDOW,
                    "In het venster van de envelop mag alleen het adres staan, maar er staat"
                    " nog iets anders (rood omlijnd). Het adresblok hoort tussen"
                    f" {ADDRESS_BLOCK.left:.0f} en {ADDRESS_BLOCK.right:.0f} mm van de"
                    f" linkerrand en {ADDRESS_BLOCK.top:.0f} en {ADDRESS_BLOCK.bottom:.0f} mm"
                    " van de bovenrand.",
                )
            )
            marks.append(WINDOW)
            marks.append(
                _zone_from_pixels(
                    (
                        box[0] + window_pixels[0],
                        box[1] + window_pixels[1],
                        box[2] + window_pixels[0],
                        box[3] + window_pixels[1],
                    ),
                    scale,
                )
            )
        if mask.crop(ADDRESS_BLOCK.pixels(scale)).getbbox() is None:
            findings.append(
                Finding(
                    number,
                    ADDRESS_MISSING,
                    "Er staat geen adres op de plaats van het venster van de envelop (rood"
                    f" omlijnd): tussen {ADDRESS_BLOCK.left:.0f} en {ADDRESS_BLOCK.right:.0f} mm"
                    f" van de linkerrand en {ADDRESS_BLOCK.top:.0f} en"
                    f" {ADDRESS_BLOCK.bottom:.0f} mm van de bovenrand.",
                )
            )
            marks.append(ADDRESS_BLOCK)
    return findings, marks


def _zone_from_pixels(box: tuple[int, int, int, int], scale: float) -> Zone:
    return Zone(box[0] / scale, box[1] / scale, box[2] / scale, box[3] / scale)


def _preview(image: Image.Image, marks: list[Zone]) -> bytes:
    factor = PREVIEW_DPI / DETECTION_DPI
    small = image.resize(
        (round(image.width * factor), round(image.height * factor)), Image.Resampling.LANCZOS
    ).convert("RGB")
    if marks:
        draw = ImageDraw.Draw(small)
        scale = PREVIEW_DPI / 25.4
        for zone in marks:
            left, top, right, bottom = zone.grown(1.5).pixels(scale)
            draw.rectangle((left, top, right, bottom), outline=(200, 0, 0), width=2)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()
