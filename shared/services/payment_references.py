"""Belgian structured communication (OGM/VCS) and the EPC QR code of a SEPA credit transfer.

Structured communication: +++123/4567/89002+++ — ten digits followed by two check digits,
the ten digits modulo 97 (97 when the remainder is 0). Banks verify the check digits, so a
mistyped communication is refused before the money leaves.

EPC QR code (EPC069-12, "Quick Response Code: Guidelines to Enable Data Capture for the
Initiation of a SEPA Credit Transfer"): a "BCD" payload, one element per line (LF), that
banking apps scan to fill in a transfer. Zegel puts the 12 digits of the structured
communication in the structured remittance element, as Belgian banks expect.
"""

from __future__ import annotations

import functools
import html
import io
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import segno
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumValidationError

from shared.errors import InvalidInput
from shared.i18n import gettext as _

# -- structured communication ---------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s+*/.\-]")


def check_digits(base: str) -> str:
    """The two check digits of ten digits: their value modulo 97, 97 when that is 0."""
    if len(base) != 10 or not base.isdigit():
        raise ValueError("a structured communication starts with exactly ten digits")
    remainder = int(base) % 97
    return f"{remainder or 97:02d}"


def is_valid_ogm(digits: str) -> bool:
    """True when `digits` are twelve digits whose last two check the first ten."""
    return len(digits) == 12 and digits.isdigit() and check_digits(digits[:10]) == digits[10:]


def make_ogm(base: str) -> str:
    """The twelve digits for ten given digits."""
    return base + check_digits(base)


def random_ogm(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """Twelve digits from ten random ones (not sequential: a citizen cannot guess another's)."""
    return make_ogm(f"{randbelow(10**10):010d}")


def generate_unique_ogm(
    exists: Callable[[str], bool],
    *,
    randbelow: Callable[[int], int] = secrets.randbelow,
    attempts: int = 20,
) -> str:
    """A random structured communication for which `exists` says False.

    With 10^10 possibilities a clash is rare; after `attempts` clashes in a row something is
    wrong (a broken random source), which is an error rather than an endless loop."""
    for _attempt in range(attempts):
        candidate = random_ogm(randbelow)
        if not exists(candidate):
            return candidate
    raise RuntimeError("no unused structured communication found")


def format_ogm(digits: str) -> str:
    """+++123/4567/89002+++ for the twelve digits 123456789002."""
    if len(digits) != 12 or not digits.isdigit():
        raise ValueError("a structured communication has twelve digits")
    return f"+++{digits[:3]}/{digits[3:7]}/{digits[7:]}+++"


def parse_ogm(text: str) -> str:
    """The twelve digits of a structured communication as people and banks write it
    (+++123/4567/89002+++, ***123/4567/89002***, 123456789002, with spaces).

    Raises InvalidInput (in Dutch) when it is not twelve digits or the check digits are wrong."""
    digits = _SEPARATORS.sub("", text or "")
    if len(digits) != 12 or not digits.isdigit():
        raise InvalidInput(
            _(
                "‘%(text)s’ is geen gestructureerde mededeling: die bestaat uit twaalf cijfers,"
                " zoals +++123/4567/89002+++."
            )
            % {"text": (text or "").strip()[:40]}
        )
    if not is_valid_ogm(digits):
        raise InvalidInput(
            _(
                "De gestructureerde mededeling %(ogm)s klopt niet: de laatste twee cijfers zijn"
                " geen geldig controlegetal."
            )
            % {"ogm": format_ogm(digits)}
        )
    return digits


def find_ogm(text: str) -> str | None:
    """The first valid structured communication inside free text (a bank line's
    unstructured remittance), or None."""
    for match in re.finditer(r"(?<!\d)(\d{3})\D{0,3}(\d{4})\D{0,3}(\d{5})(?!\d)", text or ""):
        digits = "".join(match.groups())
        if is_valid_ogm(digits):
            return digits
    return None


# -- IBAN and BIC -------------------------------------------------------------------------------


def normalise_iban(value: str) -> str:
    """The IBAN in its electronic form (BE32091000123402); InvalidInput when it is not valid."""
    try:
        return str(stdnum_iban.validate(value))
    except StdnumValidationError:
        raise InvalidInput(
            _("‘%(value)s’ is geen geldig IBAN-rekeningnummer.") % {"value": value}
        ) from None


def format_iban(value: str) -> str:
    """BE32 0910 0012 3402: in groups of four, as it is printed."""
    return str(stdnum_iban.format(value))


def normalise_bic(value: str) -> str:
    try:
        return str(stdnum_bic.validate(value))
    except StdnumValidationError:
        raise InvalidInput(_("‘%(value)s’ is geen geldige BIC-code.") % {"value": value}) from None


# -- EPC QR code (EPC069-12) --------------------------------------------------------------------

EPC_MAX_BYTES = 331
EPC_MAX_CENTS = 99_999_999_999


@dataclass(frozen=True)
class EpcTransfer:
    """The elements of an EPC QR code for one SEPA credit transfer."""

    name: str
    """Beneficiary name, at most 70 characters."""
    iban: str
    amount_cents: int | None = None
    """None: the payer fills it in."""
    bic: str | None = None
    """Optional in version 002 within the EEA."""
    purpose: str = ""
    """Four-letter ISO 20022 purpose code (e.g. GOVT), or empty."""
    reference: str = ""
    """Structured remittance (the 12 digits of an OGM, or an ISO 11649 RF reference), ≤ 35."""
    text: str = ""
    """Unstructured remittance, ≤ 140; only when there is no structured reference."""
    information: str = ""
    """Beneficiary to originator information (shown to the payer, not sent), ≤ 70."""
    version: str = "002"


def epc_amount(cents: int) -> str:
    """EUR followed by the amount with a point and at most two decimals, no leading zeros
    and no trailing decimal zeros: EUR1, EUR12.5, EUR123.45."""
    if not 1 <= cents <= EPC_MAX_CENTS:
        raise ValueError("an EPC amount lies between EUR0.01 and EUR999999999.99")
    euros, rest = divmod(cents, 100)
    if rest == 0:
        return f"EUR{euros}"
    return f"EUR{euros}.{rest:02d}".rstrip("0")


def epc_payload(transfer: EpcTransfer) -> str:
    """The "BCD" payload: service tag, version, character set 1 (UTF-8), identification
    SCT, BIC, name, IBAN, amount, purpose, structured reference, text, information; lines
    separated by LF, trailing empty elements left out. Raises ValueError on what the
    guidelines forbid."""
    if transfer.version not in ("001", "002"):
        raise ValueError("EPC QR version is 001 or 002")
    iban = str(stdnum_iban.validate(transfer.iban))
    bic = str(stdnum_bic.validate(transfer.bic)) if transfer.bic else ""
    if transfer.version == "001" and not bic:
        raise ValueError("version 001 requires a BIC")
    name = transfer.name.strip()
    if not name or len(name) > 70:
        raise ValueError("the beneficiary name has 1 to 70 characters")
    if transfer.reference and transfer.text:
        raise ValueError("a structured reference and an unstructured text exclude each other")
    if len(transfer.reference) > 35:
        raise ValueError("the structured reference has at most 35 characters")
    if len(transfer.text) > 140:
        raise ValueError("the unstructured text has at most 140 characters")
    if len(transfer.information) > 70:
        raise ValueError("the information to the payer has at most 70 characters")
    if transfer.purpose and not re.fullmatch(r"[A-Z]{4}", transfer.purpose):
        raise ValueError("the purpose is a four-letter code")
    elements = [
        "BCD",
        transfer.version,
        "1",
        "SCT",
        bic,
        name,
        iban,
        epc_amount(transfer.amount_cents) if transfer.amount_cents is not None else "",
        transfer.purpose,
        transfer.reference,
        transfer.text,
        transfer.information,
    ]
    while elements and not elements[-1]:
        elements.pop()
    payload = "\n".join(elements)
    if len(payload.encode("utf-8")) > EPC_MAX_BYTES:
        raise ValueError("an EPC QR payload has at most 331 bytes")
    return payload


def epc_qr(transfer: EpcTransfer) -> segno.QRCode:
    """The QR code: error correction level M and at most version 13, as EPC069-12 prescribes."""
    qr = segno.make(
        epc_payload(transfer), error="m", boost_error=False, encoding="utf-8", micro=False
    )
    if int(qr.version) > 13:
        raise ValueError("an EPC QR code is at most version 13")
    return qr


@functools.lru_cache(maxsize=512)
def epc_qr_svg(transfer: EpcTransfer, *, title: str, scale: int = 4) -> str:
    """The QR code as an inline SVG element (no request to anyone), with a title for
    screen readers.

    Drawn once per process for the same transfer, title and scale: segno chooses the best of
    eight masks in pure Python (some 7 ms), and a citizen sees the same code on every visit
    of the page until the amount changes. A few hundred codes of some 10 kB at most."""
    out = io.BytesIO()
    epc_qr(transfer).save(
        out,
        kind="svg",
        scale=scale,
        border=4,
        xmldecl=False,
        svgns=True,
        title=title,
        svgclass="epc-qr",
        lineclass=None,
        omitsize=False,
    )
    svg = out.getvalue().decode("utf-8")
    label = html.escape(title, quote=True)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def ogm_transfer(
    *, name: str, iban: str, bic: str | None, amount_cents: int, ogm_digits: str
) -> EpcTransfer:
    """The transfer for a payment request: the organisation's account, the amount still due,
    the structured communication in the structured reference element."""
    return EpcTransfer(
        name=name[:70],
        iban=iban,
        bic=bic or None,
        amount_cents=amount_cents,
        reference=ogm_digits,
    )
