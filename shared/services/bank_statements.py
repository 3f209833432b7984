"""Bank statements: import CAMT.053 (ISO 20022 BkToCstmrStmt) or CODA files and reconcile
their lines.

- `parse_camt053` and `parse_coda` read and check the whole file first; a malformed file
  raises InvalidInput with every problem found (in Dutch) and nothing is stored.
- `import_statement` stores each statement once per (organisation, account, statement id) and
  each line once per (organisation, account, entry reference): importing the same file again,
  or a statement that overlaps an earlier one, stores and books nothing twice.
- A credit line is matched by its structured communication: the creditor reference
  (`RmtInf/Strd/CdtrRefInf/Ref`), or +++xxx/xxxx/xxxxx+++ or twelve digits with a valid check
  in the unstructured text. A match is booked with `payments.record_payment` (method
  bank_transfer, external id `<account IBAN>/<entry reference>`, so it is counted once).
  A line paying less or more than is still due is booked all the same (the request becomes
  partially paid, or paid with a surplus) and marked `partial` / `overpaid` on the statement.
- Everything else waits on the review list: no reference, a reference of no request of this
  organisation, more than one request named, a currency other than euro, or a payment the
  request refuses (suspended, cancelled). Finance assigns such a line to a request by hand
  (booked like a match) or dismisses it with a reason; both are audited.
- Debit lines are stored and shown but never matched.
"""

from __future__ import annotations

import hashlib
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session, joinedload
from stdnum import iban as stdnum_iban

from shared.db import utcnow
from shared.errors import DomainError, InvalidInput, NotFound
from shared.i18n import N_
from shared.i18n import gettext as _
from shared.models.bank_statements import (
    BankStatement,
    BankStatementLine,
    LineStatus,
    ReviewReason,
)
from shared.models.documents import Document
from shared.models.payments import (
    PaymentMethod,
    PaymentRequest,
    PaymentRequestStatus,
)
from shared.models.people import Organisation, StaffRole
from shared.services import audit, payment_overview, payments
from shared.services.access import StaffContext
from shared.services.payment_references import is_valid_ogm

FINANCE_ROLES = (StaffRole.FINANCIEN, StaffRole.BEHEERDER)
BRUSSELS = ZoneInfo("Europe/Brussels")
CAMT053_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053."
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PROBLEMS = 20

REVIEW_REASON_LABELS: dict[ReviewReason, str] = {
    ReviewReason.NO_REFERENCE: N_("geen gestructureerde mededeling"),
    ReviewReason.UNKNOWN_REFERENCE: N_("mededeling van geen betaalverzoek"),
    ReviewReason.AMBIGUOUS: N_("meer dan één betaalverzoek"),
    ReviewReason.REFUSED: N_("betaling geweigerd"),
    ReviewReason.CURRENCY: N_("andere munt dan euro"),
}
LINE_STATUS_LABELS: dict[LineStatus, str] = {
    LineStatus.MATCHED: N_("gekoppeld"),
    LineStatus.REVIEW: N_("na te kijken"),
    LineStatus.ASSIGNED: N_("met de hand gekoppeld"),
    LineStatus.DISMISSED: N_("afgewezen"),
    LineStatus.DEBIT: N_("uitgaand"),
}
AMOUNT_NOTE_LABELS = {"partial": N_("gedeeltelijke betaling"), "overpaid": N_("te veel betaald")}


# --- Reading the file ----------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedLine:
    entry_reference: str
    booking_date: date | None
    value_date: date | None
    booked_at: datetime | None
    amount_cents: int
    currency: str
    is_credit: bool
    counterparty_name: str | None
    counterparty_iban: str | None
    structured_references: tuple[str, ...]
    """The raw creditor references (RmtInf/Strd/CdtrRefInf/Ref)."""
    remittance_text: str | None


@dataclass(frozen=True)
class ParsedStatement:
    message_id: str
    statement_id: str
    sequence_number: str | None
    created_on: datetime | None
    account_iban: str
    lines: tuple[ParsedLine, ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element: ET.Element, path: str) -> ET.Element | None:
    return element.find("/".join(f"{{*}}{part}" for part in path.split("/")))


def _findall(element: ET.Element, path: str) -> list[ET.Element]:
    return element.findall("/".join(f"{{*}}{part}" for part in path.split("/")))


def _text(element: ET.Element, path: str) -> str | None:
    found = _find(element, path)
    if found is None or found.text is None:
        return None
    value = " ".join(found.text.split())
    return value or None


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=BRUSSELS)
    return parsed.astimezone(UTC)


def _cents(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        amount = Decimal(raw.strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        return None
    return int(amount * 100)


def _booking_date(entry: ET.Element) -> tuple[date | None, datetime | None]:
    moment = _datetime(_text(entry, "BookgDt/DtTm"))
    day = _date(_text(entry, "BookgDt/Dt")) or (
        moment.astimezone(BRUSSELS).date() if moment else None
    )
    return day, moment


def _party(transaction: ET.Element, role: str) -> tuple[str | None, str | None]:
    """The name and IBAN of the debtor (credit) or creditor (debit), camt.053.001.02 or .08."""
    name = _text(transaction, f"RltdPties/{role}/Nm") or _text(
        transaction, f"RltdPties/{role}/Pty/Nm"
    )
    iban = _text(transaction, f"RltdPties/{role}Acct/Id/IBAN")
    return name, iban


def parse_camt053(content: bytes) -> list[ParsedStatement]:
    """Read a CAMT.053 file. Raise InvalidInput listing the problems when it is not one, or
    when any entry lacks what Zegel needs (amount, direction, a reference to key it on)."""
    if not content.strip():
        raise InvalidInput(_("Het bestand is leeg."))
    if len(content) > MAX_FILE_BYTES:
        raise InvalidInput(_("Het bestand is groter dan 20 MB."))
    head = content[:2048].lower()
    if b"<!doctype" in head or b"<!entity" in content.lower():
        raise InvalidInput(
            _("Het bestand bevat een DOCTYPE of ENTITY; dat hoort niet in CAMT.053.")
        )
    try:
        # Safe here: a DOCTYPE or ENTITY is refused above, ElementTree never fetches external
        # entities, and expat >= 2.4.1 limits entity expansion anyway.
        root = ET.fromstring(content)  # noqa: S314
    except ET.ParseError as error:
        raise InvalidInput(
            _("Het bestand is geen geldige XML (%(error)s).") % {"error": str(error)}
        ) from None
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if _local(root.tag) != "Document" or not namespace.startswith(CAMT053_NAMESPACE):
        raise InvalidInput(
            _(
                "Dit is geen CAMT.053-rekeninguittreksel (verwacht: een Document in de"
                " namespace %(namespace)s…)."
            )
            % {"namespace": CAMT053_NAMESPACE}
        )
    report = _find(root, "BkToCstmrStmt")
    if report is None:
        raise InvalidInput(_("Het bestand bevat geen BkToCstmrStmt."))
    problems: list[str] = []
    message_id = _text(report, "GrpHdr/MsgId")
    if not message_id:
        problems.append(_("GrpHdr/MsgId ontbreekt."))
    statements_xml = _findall(report, "Stmt")
    if not statements_xml:
        problems.append(_("Het bestand bevat geen uittreksel (Stmt)."))
    statements: list[ParsedStatement] = []
    for s_index, stmt in enumerate(statements_xml, start=1):
        where = _("Uittreksel %(n)d") % {"n": s_index}
        statement_id = _text(stmt, "Id")
        iban = (_text(stmt, "Acct/Id/IBAN") or "").replace(" ", "").upper()
        if not statement_id:
            problems.append(_("%(where)s: Id ontbreekt.") % {"where": where})
        elif len(statement_id) > 35:
            problems.append(_("%(where)s: Id is langer dan 35 tekens.") % {"where": where})
        if not iban:
            problems.append(
                _("%(where)s: de rekening (Acct/Id/IBAN) ontbreekt.") % {"where": where}
            )
        lines: list[ParsedLine] = []
        seen: set[str] = set()
        for e_index, entry in enumerate(_findall(stmt, "Ntry"), start=1):
            entry_where = _("%(where)s, boeking %(n)d") % {"where": where, "n": e_index}
            status = _text(entry, "Sts") or _text(entry, "Sts/Cd")
            if status is not None and status != "BOOK":
                continue  # pending or information only: not money received (yet)
            lines.extend(_entry_lines(entry, entry_where, problems))
        for line in lines:
            if line.entry_reference in seen:
                problems.append(
                    _("%(where)s: de referentie %(ref)s komt twee keer voor.")
                    % {"where": where, "ref": line.entry_reference}
                )
            seen.add(line.entry_reference)
        statements.append(
            ParsedStatement(
                message_id=message_id or "",
                statement_id=statement_id or "",
                sequence_number=_text(stmt, "ElctrncSeqNb") or _text(stmt, "LglSeqNb"),
                created_on=_datetime(_text(stmt, "CreDtTm")),
                account_iban=iban,
                lines=tuple(lines),
            )
        )
    _refuse_if(problems)
    return statements


def _refuse_if(problems: list[str]) -> None:
    """InvalidInput listing the file's problems (the first MAX_PROBLEMS), when it has any:
    a statement is read whole or not at all."""
    if not problems:
        return
    shown = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    text = "\n".join(shown)
    if more:
        text += "\n" + _("… en nog %(count)d andere problemen.") % {"count": more}
    raise InvalidInput(_("Het uittreksel is niet ingelezen; er is niets veranderd.") + "\n" + text)


def _entry_lines(entry: ET.Element, where: str, problems: list[str]) -> list[ParsedLine]:
    amount_element = _find(entry, "Amt")
    amount = _cents(amount_element.text if amount_element is not None else None)
    currency = amount_element.get("Ccy", "") if amount_element is not None else ""
    direction = _text(entry, "CdtDbtInd")
    reference = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef")
    ok = True
    if amount is None:
        problems.append(
            _("%(where)s: het bedrag (Amt) ontbreekt of is ongeldig.") % {"where": where}
        )
        ok = False
    if not re.fullmatch(r"[A-Z]{3}", currency):
        problems.append(_("%(where)s: de munt (Amt/@Ccy) ontbreekt.") % {"where": where})
        ok = False
    if direction not in ("CRDT", "DBIT"):
        problems.append(_("%(where)s: CdtDbtInd moet CRDT of DBIT zijn.") % {"where": where})
        ok = False
    transactions = _findall(entry, "NtryDtls/TxDtls")
    if not reference and len(transactions) <= 1:
        tx_ref = _text(transactions[0], "Refs/AcctSvcrRef") if transactions else None
        reference = tx_ref
    if not reference:
        problems.append(
            _("%(where)s: geen referentie (AcctSvcrRef of NtryRef) om de boeking op te herkennen.")
            % {"where": where}
        )
        ok = False
    if not ok or amount is None or direction is None or reference is None:
        return []
    booking_date, booked_at = _booking_date(entry)
    value_date = _date(_text(entry, "ValDt/Dt") or _text(entry, "ValDt/DtTm"))
    is_credit = direction == "CRDT"
    role = "Dbtr" if is_credit else "Cdtr"
    if len(transactions) <= 1:
        tx = transactions[0] if transactions else None
        name, iban = _party(tx, role) if tx is not None else (None, None)
        return [
            ParsedLine(
                entry_reference=reference[:140],
                booking_date=booking_date,
                value_date=value_date,
                booked_at=booked_at,
                amount_cents=amount,
                currency=currency,
                is_credit=is_credit,
                counterparty_name=name,
                counterparty_iban=iban,
                structured_references=_references(tx) if tx is not None else (),
                remittance_text=_remittance_text(tx) if tx is not None else None,
            )
        ]
    lines = []
    for t_index, tx in enumerate(transactions, start=1):
        tx_amount_element = _find(tx, "AmtDtls/TxAmt/Amt")
        if tx_amount_element is None:
            tx_amount_element = _find(tx, "Amt")
        tx_amount = _cents(tx_amount_element.text if tx_amount_element is not None else None)
        if tx_amount is None:
            problems.append(
                _("%(where)s, transactie %(n)d: het bedrag ontbreekt of is ongeldig.")
                % {"where": where, "n": t_index}
            )
            continue
        tx_currency = (
            tx_amount_element.get("Ccy", currency) if tx_amount_element is not None else currency
        )
        name, iban = _party(tx, role)
        tx_reference = _text(tx, "Refs/AcctSvcrRef") or f"{reference}/{t_index}"
        lines.append(
            ParsedLine(
                entry_reference=tx_reference[:140],
                booking_date=booking_date,
                value_date=value_date,
                booked_at=booked_at,
                amount_cents=tx_amount,
                currency=tx_currency,
                is_credit=is_credit,
                counterparty_name=name,
                counterparty_iban=iban,
                structured_references=_references(tx),
                remittance_text=_remittance_text(tx),
            )
        )
    return lines


def _references(tx: ET.Element) -> tuple[str, ...]:
    found = []
    for ref in _findall(tx, "RmtInf/Strd/CdtrRefInf/Ref"):
        if ref.text and ref.text.strip():
            found.append(ref.text.strip())
    return tuple(found)


def _remittance_text(tx: ET.Element) -> str | None:
    parts = [" ".join(u.text.split()) for u in _findall(tx, "RmtInf/Ustrd") if u.text]
    text = " ".join(p for p in parts if p)
    return text or None


# --- Reading a CODA file (Febelfin "gecodeerde berichtgeving", version 2) ------------------

CODA_LINE = 128


@dataclass
class _CodaMovement:
    sequence: str
    detail: str
    bank_reference: str
    is_credit: bool
    amount_cents: int
    value_date: date | None
    entry_date: date | None
    structured: str | None
    text: str
    counterparty_name: str | None = None
    counterparty_iban: str | None = None


def _coda_date(value: str) -> date | None:
    if value.strip("0 ") == "":
        return None
    if not value.isdigit():
        return None
    try:
        return date(2000 + int(value[4:6]), int(value[2:4]), int(value[0:2]))
    except ValueError:
        return None


def _coda_account(structure: str, zone: str) -> str:
    """The IBAN of the account in a record 1 (structure 2 or 3: an IBAN; 0: a Belgian
    account number, turned into its IBAN)."""
    if structure == "2":
        return zone[:31].strip().replace(" ", "").upper()
    if structure == "3":
        return zone[:34].strip().replace(" ", "").upper()
    if structure == "0" and zone[:12].isdigit():
        bban = zone[:12]
        return f"BE{stdnum_iban.calc_check_digits('BE00' + bban)}{bban}"
    return zone[:34].strip().replace(" ", "").upper()


def is_coda(content: bytes) -> bool:
    first = content.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
    return first[:1] == b"0" and 100 <= len(first) <= CODA_LINE and first[1:5].isdigit()


def parse_coda(content: bytes) -> list[ParsedStatement]:
    """Read a CODA file; InvalidInput listing the problems (nothing stored) when it is not one.

    A movement with details (detail number above 0000, a globalisation by the bank) counts by
    its details, never twice. Structured communications are types 101 and 102."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
    text = text.lstrip("\ufeff")
    problems: list[str] = []
    statements: list[ParsedStatement] = []
    header_date: date | None = None
    account = ""
    paper_sequence = coda_sequence = ""
    movements: list[_CodaMovement] = []
    last: _CodaMovement | None = None
    in_statement = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        if len(raw) > CODA_LINE:
            problems.append(_("Regel %(n)d is langer dan 128 tekens.") % {"n": number})
            continue
        line = raw.ljust(CODA_LINE)
        kind = line[0]
        if kind == "0":
            if in_statement:
                problems.append(
                    _(
                        "Regel %(n)d: een nieuw uittreksel begint voor het vorige"
                        " afgesloten is (record 9)."
                    )
                    % {"n": number}
                )
            in_statement = True
            header_date = _coda_date(line[5:11])
            account, movements, last = "", [], None
            if header_date is None:
                problems.append(_("Regel %(n)d: de aanmaakdatum is ongeldig.") % {"n": number})
        elif not in_statement:
            problems.append(_("Regel %(n)d: het bestand begint niet met record 0.") % {"n": number})
            break
        elif kind == "1":
            account = _coda_account(line[1], line[5:42])
            paper_sequence, coda_sequence = line[2:5], line[125:128]
            if not account:
                problems.append(_("Regel %(n)d: de rekening ontbreekt.") % {"n": number})
        elif kind == "2" and line[1] == "1":
            amount = line[32:47]
            if line[31] not in "01" or not amount.isdigit() or int(amount) % 10:
                problems.append(
                    _("Regel %(n)d: het bedrag of het teken van de beweging is ongeldig.")
                    % {"n": number}
                )
                last = None
                continue
            structured = None
            if line[61] == "1" and line[62:65] in ("101", "102"):
                structured = line[65:77]
            last = _CodaMovement(
                sequence=line[2:6],
                detail=line[6:10],
                bank_reference=line[10:31].strip(),
                is_credit=line[31] == "0",
                amount_cents=int(amount) // 10,
                value_date=_coda_date(line[47:53]),
                entry_date=_coda_date(line[115:121]),
                structured=structured,
                text="" if line[61] == "1" else line[62:115],
            )
            movements.append(last)
        elif kind == "2" and line[1] == "2":
            if last is not None and last.structured is None:
                last.text += line[10:63]
        elif kind == "2" and line[1] == "3":
            if last is not None:
                tokens = line[10:47].split()
                last.counterparty_iban = tokens[0] if tokens else None
                last.counterparty_name = line[47:82].strip() or None
                if last.structured is None:
                    last.text += line[82:115]
        elif kind in ("3", "4", "8"):
            continue  # information, free communication, new balance: nothing to book
        elif kind == "9":
            if not account:
                problems.append(
                    _("Regel %(n)d: het uittreksel heeft geen record 1 (oud saldo).")
                    % {"n": number}
                )
            else:
                statements.append(
                    _coda_statement(account, header_date, paper_sequence, coda_sequence, movements)
                )
            in_statement = False
        else:
            problems.append(
                _("Regel %(n)d: onbekend recordtype ‘%(kind)s’.") % {"n": number, "kind": line[:2]}
            )
    if in_statement:
        problems.append(_("Het bestand eindigt zonder record 9."))
    if not statements and not problems:
        problems.append(_("Het bestand bevat geen uittreksel."))
    _refuse_if(problems)
    return statements


def _coda_statement(
    account: str,
    created: date | None,
    paper_sequence: str,
    coda_sequence: str,
    movements: list[_CodaMovement],
) -> ParsedStatement:
    with_details = {m.sequence for m in movements if m.detail != "0000"}
    lines = []
    for m in movements:
        if m.detail == "0000" and m.sequence in with_details:
            continue  # the total of a globalisation: its details are booked instead
        reference = m.bank_reference or f"{created}-{coda_sequence}-{m.sequence}"
        if m.detail != "0000":
            reference = f"{reference}/{m.detail}"
        text = " ".join(m.text.split()) or None
        lines.append(
            ParsedLine(
                entry_reference=reference[:140],
                booking_date=m.entry_date,
                value_date=m.value_date,
                booked_at=None,
                amount_cents=m.amount_cents,
                currency="EUR",
                is_credit=m.is_credit,
                counterparty_name=m.counterparty_name,
                counterparty_iban=m.counterparty_iban,
                structured_references=(m.structured,) if m.structured else (),
                remittance_text=text,
            )
        )
    year = created.year if created else 0
    return ParsedStatement(
        message_id=f"CODA-{created.isoformat() if created else ''}-{coda_sequence}",
        statement_id=f"CODA-{year}-{coda_sequence}-{paper_sequence}",
        sequence_number=coda_sequence,
        created_on=None,
        account_iban=account,
        lines=tuple(lines),
    )


# --- Finding the structured communication --------------------------------------------------

_OGM_IN_TEXT = re.compile(r"[+*]{3}\s*(\d{3})\s*/?\s*(\d{4})\s*/?\s*(\d{5})\s*[+*]{3}")
_TWELVE_DIGITS = re.compile(r"(?<!\d)(\d{3})[/ .-]?(\d{4})[/ .-]?(\d{5})(?!\d)")


def candidate_references(structured: Iterable[str], text: str | None) -> list[str]:
    """The distinct valid structured communications a line names, in order of appearance:
    the creditor references first, then +++…+++ and bare twelve-digit groups in the text."""
    found: list[str] = []

    def add(digits: str) -> None:
        if is_valid_ogm(digits) and digits not in found:
            found.append(digits)

    for ref in structured:
        add(re.sub(r"\D", "", ref))
    if text:
        for match in _OGM_IN_TEXT.finditer(text):
            add("".join(match.groups()))
        for match in _TWELVE_DIGITS.finditer(text):
            add("".join(match.groups()))
    return found


# --- Importing -----------------------------------------------------------------------------


@dataclass
class ImportResult:
    statements: list[BankStatement] = field(default_factory=list)
    already_imported: list[str] = field(default_factory=list)
    """Statement ids that were imported before (nothing changed for them)."""
    new_lines: int = 0
    duplicate_lines: int = 0
    matched: int = 0
    review: int = 0
    debit: int = 0

    @property
    def changed_nothing(self) -> bool:
        return self.new_lines == 0


def _organisation_accounts(session: Session, organisation_id: uuid.UUID) -> set[str]:
    organisation = session.get(Organisation, organisation_id)
    accounts = (
        {organisation.iban.replace(" ", "").upper()}
        if organisation and organisation.iban
        else set()
    )
    accounts.update(
        iban.replace(" ", "").upper()
        for iban in session.scalars(
            select(PaymentRequest.iban)
            .where(PaymentRequest.organisation_id == organisation_id)
            .distinct()
        )
    )
    return accounts


def import_statement(
    session: Session, staff: StaffContext, *, file_name: str, content: bytes
) -> ImportResult:
    """Read, store and reconcile a CAMT.053 (or CODA) file, in the caller's transaction."""
    staff.require(*FINANCE_ROLES)
    parsed = parse_coda(content) if is_coda(content) else parse_camt053(content)
    accounts = _organisation_accounts(session, staff.organisation_id)
    for statement in parsed:
        if statement.account_iban not in accounts:
            raise InvalidInput(
                _(
                    "Het uittreksel is van rekening %(iban)s, die niet van %(organisation)s is;"
                    " er is niets ingelezen."
                )
                % {"iban": statement.account_iban, "organisation": staff.organisation_name}
            )
    digest = hashlib.sha256(content).hexdigest()
    result = ImportResult()
    for statement in parsed:
        _import_one(session, staff, statement, file_name or "camt053.xml", digest, result)
    return result


def _import_one(
    session: Session,
    staff: StaffContext,
    parsed: ParsedStatement,
    file_name: str,
    digest: str,
    result: ImportResult,
) -> None:
    existing = session.scalars(
        select(BankStatement).where(
            BankStatement.organisation_id == staff.organisation_id,
            BankStatement.account_iban == parsed.account_iban,
            BankStatement.statement_id == parsed.statement_id,
        )
    ).one_or_none()
    if existing is not None:
        result.already_imported.append(parsed.statement_id)
        result.duplicate_lines += len(parsed.lines)
        return
    known = (
        set(
            session.scalars(
                select(BankStatementLine.entry_reference).where(
                    BankStatementLine.organisation_id == staff.organisation_id,
                    BankStatementLine.account_iban == parsed.account_iban,
                    BankStatementLine.entry_reference.in_(
                        [line.entry_reference for line in parsed.lines]
                    ),
                )
            )
        )
        if parsed.lines
        else set()
    )
    statement = BankStatement(
        organisation_id=staff.organisation_id,
        account_iban=parsed.account_iban,
        statement_id=parsed.statement_id,
        sequence_number=parsed.sequence_number,
        message_id=parsed.message_id[:35],
        created_on=parsed.created_on,
        file_name=file_name[:255],
        file_sha256=digest,
        imported_by_id=staff.user_id,
        imported_by_label=staff.name,
    )
    try:
        with session.begin_nested():
            session.add(statement)
            session.flush()
    except SAIntegrityError:
        # The same statement imported at the same moment by someone else: theirs counts.
        result.already_imported.append(parsed.statement_id)
        result.duplicate_lines += len(parsed.lines)
        return
    new_lines = [line for line in parsed.lines if line.entry_reference not in known]
    references = {
        ref
        for line in new_lines
        for ref in candidate_references(line.structured_references, line.remittance_text)
    }
    requests = _requests_by_reference(session, staff.organisation_id, references)
    counts = {"matched": 0, "review": 0, "debit": 0}
    stored = 0
    for parsed_line in new_lines:
        line = _store_line(session, statement, parsed_line, stored + 1)
        if line is None:
            continue  # an overlapping statement stored it at the same moment
        stored += 1
        _reconcile(session, staff.actor, line, parsed_line, requests)
        key = {LineStatus.MATCHED: "matched", LineStatus.DEBIT: "debit"}.get(line.status, "review")
        counts[key] += 1
    result.duplicate_lines += len(parsed.lines) - stored
    statement.line_count = stored
    result.statements.append(statement)
    result.new_lines += stored
    result.matched += counts["matched"]
    result.review += counts["review"]
    result.debit += counts["debit"]
    audit.record(
        session,
        actor=staff.actor,
        organisation_id=staff.organisation_id,
        action="bank_statement.imported",
        object_type="bank_statement",
        object_id=statement.id,
        data={
            "statement_id": parsed.statement_id,
            "account": parsed.account_iban,
            "file_name": file_name,
            "sha256": digest,
            "lines": stored,
            "already_known": len(parsed.lines) - stored,
            **counts,
        },
    )


def _requests_by_reference(
    session: Session, organisation_id: uuid.UUID, references: set[str]
) -> dict[str, PaymentRequest]:
    if not references:
        return {}
    found: dict[str, PaymentRequest] = {}
    ordered = sorted(references)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        for request in session.scalars(
            select(PaymentRequest).where(
                PaymentRequest.organisation_id == organisation_id,
                PaymentRequest.structured_communication.in_(chunk),
            )
        ):
            found[request.structured_communication] = request
    return found


def _store_line(
    session: Session, statement: BankStatement, parsed: ParsedLine, position: int
) -> BankStatementLine | None:
    """Insert the line; None when another transaction stored the same entry just now."""
    line = BankStatementLine(
        organisation_id=statement.organisation_id,
        statement_id=statement.id,
        account_iban=statement.account_iban,
        entry_reference=parsed.entry_reference,
        position=position,
        booking_date=parsed.booking_date,
        value_date=parsed.value_date,
        amount_cents=parsed.amount_cents,
        currency=parsed.currency,
        is_credit=parsed.is_credit,
        counterparty_name=(parsed.counterparty_name or None) and parsed.counterparty_name[:140],
        counterparty_iban=(parsed.counterparty_iban or None) and parsed.counterparty_iban[:34],
        remittance_text=parsed.remittance_text,
        status=LineStatus.REVIEW,
    )
    try:
        with session.begin_nested():
            session.add(line)
            session.flush()
    except SAIntegrityError:
        return None
    return line


def _received_at(line: BankStatementLine, booked_at: datetime | None) -> datetime:
    if booked_at is not None:
        return booked_at
    day = line.booking_date or line.value_date
    if day is None:
        return utcnow()
    return datetime.combine(day, time(12, 0), tzinfo=BRUSSELS).astimezone(UTC)


def _reconcile(
    session: Session,
    actor: audit.Actor,
    line: BankStatementLine,
    parsed: ParsedLine,
    requests: dict[str, PaymentRequest],
) -> None:
    if not line.is_credit:
        line.status = LineStatus.DEBIT
        return
    candidates = candidate_references(parsed.structured_references, parsed.remittance_text)
    if len(candidates) == 1:
        line.structured_reference = candidates[0]
    if line.currency != "EUR":
        _to_review(line, ReviewReason.CURRENCY, line.currency)
        return
    if not candidates:
        _to_review(line, ReviewReason.NO_REFERENCE, None)
        return
    named = [requests[c] for c in candidates if c in requests]
    if not named:
        _to_review(line, ReviewReason.UNKNOWN_REFERENCE, ", ".join(candidates))
        return
    if len(named) > 1:
        _to_review(
            line,
            ReviewReason.AMBIGUOUS,
            ", ".join(r.structured_communication for r in named),
        )
        return
    line.structured_reference = named[0].structured_communication
    _book(session, actor, line, named[0], parsed.booked_at, LineStatus.MATCHED, None)


def _to_review(line: BankStatementLine, reason: ReviewReason, detail: str | None) -> None:
    line.status = LineStatus.REVIEW
    line.review_reason = reason
    line.review_detail = detail


def external_id(line: BankStatementLine) -> str:
    return f"{line.account_iban}/{line.entry_reference}"


def _book(
    session: Session,
    actor: audit.Actor,
    line: BankStatementLine,
    request: PaymentRequest,
    booked_at: datetime | None,
    status: LineStatus,
    note: str | None,
) -> bool:
    """Record the line as a bank transfer on `request` (True); on a refusal the line waits
    for review (False)."""
    outstanding = payments.balance(session, request).outstanding_cents
    try:
        with session.begin_nested():
            payment = payments.record_payment(
                session,
                payment_request=request,
                amount_cents=line.amount_cents,
                method=PaymentMethod.BANK_TRANSFER,
                external_id=external_id(line),
                received_at=_received_at(line, booked_at),
                actor=actor,
                note=note,
            )
    except DomainError as error:
        line.payment_request_id = request.id
        _to_review(line, ReviewReason.REFUSED, error.message)
        return False
    line.status = status
    line.review_reason = None
    line.review_detail = None
    line.payment_request_id = request.id
    line.payment_id = payment.id
    if line.amount_cents < outstanding:
        line.amount_note = "partial"
    elif line.amount_cents > outstanding:
        line.amount_note = "overpaid"
    return True


# --- Review --------------------------------------------------------------------------------


def _line_for_staff(session: Session, staff: StaffContext, line_id: uuid.UUID) -> BankStatementLine:
    line = session.scalars(
        select(BankStatementLine)
        .where(
            BankStatementLine.id == line_id,
            BankStatementLine.organisation_id == staff.organisation_id,
        )
        .with_for_update()
    ).one_or_none()
    if line is None:
        raise NotFound(_("Deze lijn bestaat niet of hoort bij een ander bestuur."))
    return line


def line_for_staff(session: Session, staff: StaffContext, line_id: uuid.UUID) -> BankStatementLine:
    staff.require(*FINANCE_ROLES)
    line = session.scalars(
        select(BankStatementLine)
        .options(joinedload(BankStatementLine.statement))
        .where(
            BankStatementLine.id == line_id,
            BankStatementLine.organisation_id == staff.organisation_id,
        )
    ).one_or_none()
    if line is None:
        raise NotFound(_("Deze lijn bestaat niet of hoort bij een ander bestuur."))
    return line


def suggestions(
    session: Session, staff: StaffContext, line: BankStatementLine, *, limit: int = 10
) -> list[PaymentRequest]:
    """Requests this line may pay: those its text names, then open requests of the same amount
    whose recipient has the payer's name, then open requests of the same amount."""
    found: list[PaymentRequest] = []
    references = candidate_references([], line.remittance_text)
    if line.structured_reference:
        references.insert(0, line.structured_reference)
    named = _requests_by_reference(session, staff.organisation_id, set(references))
    found.extend(named[r] for r in references if r in named)
    open_same_amount = (
        select(PaymentRequest)
        .join(Document, Document.id == PaymentRequest.document_id)
        .options(joinedload(PaymentRequest.document).joinedload(Document.recipient))
        .where(
            PaymentRequest.organisation_id == staff.organisation_id,
            PaymentRequest.amount_cents == line.amount_cents,
            PaymentRequest.status.in_(
                (PaymentRequestStatus.OPEN, PaymentRequestStatus.PARTIALLY_PAID)
            ),
        )
        .order_by(PaymentRequest.due_date)
        .limit(limit * 5)
    )
    candidates = list(session.scalars(open_same_amount).unique())
    name = (line.counterparty_name or "").strip().lower()
    candidates.sort(key=lambda r: 0 if name and r.document.recipient.name.lower() == name else 1)
    for request in candidates:
        if request not in found:
            found.append(request)
    return found[:limit]


def review_lines(session: Session, staff: StaffContext) -> list[BankStatementLine]:
    staff.require(*FINANCE_ROLES)
    return list(
        session.scalars(
            select(BankStatementLine)
            .options(joinedload(BankStatementLine.statement))
            .where(
                BankStatementLine.organisation_id == staff.organisation_id,
                BankStatementLine.status == LineStatus.REVIEW,
            )
            .order_by(BankStatementLine.booking_date, BankStatementLine.position)
        ).all()
    )


def assign_line(
    session: Session,
    staff: StaffContext,
    line_id: uuid.UUID,
    *,
    payment_request_id: uuid.UUID,
    note: str = "",
) -> BankStatementLine:
    """Book a line on the review list as a payment of the request finance chose."""
    staff.require(*FINANCE_ROLES)
    line = _line_for_staff(session, staff, line_id)
    if line.status != LineStatus.REVIEW:
        raise InvalidInput(
            _("Deze lijn is al verwerkt (%(status)s).")
            % {"status": _(LINE_STATUS_LABELS[line.status])}
        )
    if line.currency != "EUR":
        raise InvalidInput(
            _("Een lijn in een andere munt dan euro kan niet gekoppeld worden; wijs ze af.")
        )
    request = payment_overview.request_for_staff(session, staff, payment_request_id)
    reason_before = line.review_reason
    booked = _book(
        session,
        staff.actor,
        line,
        request,
        None,
        LineStatus.ASSIGNED,
        note.strip() or None,
    )
    if not booked:
        raise InvalidInput(
            _("Het betaalverzoek weigert deze betaling: %(reason)s")
            % {"reason": line.review_detail or ""}
        )
    line.resolved_by_label = staff.name
    line.resolved_at = utcnow()
    line.resolution_note = note.strip() or None
    audit.record(
        session,
        actor=staff.actor,
        organisation_id=staff.organisation_id,
        action="bank_statement_line.assigned",
        object_type="bank_statement_line",
        object_id=line.id,
        status_before=LineStatus.REVIEW.value,
        status_after=LineStatus.ASSIGNED.value,
        data={
            "payment_request_id": str(request.id),
            "structured_communication": request.structured_communication,
            "amount_cents": line.amount_cents,
            "entry_reference": line.entry_reference,
            "review_reason": reason_before.value if reason_before else None,
            "note": note.strip(),
        },
    )
    return line


def dismiss_line(
    session: Session, staff: StaffContext, line_id: uuid.UUID, *, reason: str
) -> BankStatementLine:
    """Take a line off the review list: it pays no request (a reason is required)."""
    staff.require(*FINANCE_ROLES)
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            _("Geef een reden waarom deze lijn geen betaling van een betaalverzoek is.")
        )
    if len(reason) > 1000:
        raise InvalidInput(_("De reden is te lang (ten hoogste 1000 tekens)."))
    line = _line_for_staff(session, staff, line_id)
    if line.status != LineStatus.REVIEW:
        raise InvalidInput(
            _("Deze lijn is al verwerkt (%(status)s).")
            % {"status": _(LINE_STATUS_LABELS[line.status])}
        )
    line.status = LineStatus.DISMISSED
    line.resolved_by_label = staff.name
    line.resolved_at = utcnow()
    line.resolution_note = reason
    audit.record(
        session,
        actor=staff.actor,
        organisation_id=staff.organisation_id,
        action="bank_statement_line.dismissed",
        object_type="bank_statement_line",
        object_id=line.id,
        status_before=LineStatus.REVIEW.value,
        status_after=LineStatus.DISMISSED.value,
        data={
            "reason": reason,
            "amount_cents": line.amount_cents,
            "entry_reference": line.entry_reference,
        },
    )
    return line


# --- Pages ---------------------------------------------------------------------------------


def recent_statements(
    session: Session, staff: StaffContext, limit: int = 20
) -> list[BankStatement]:
    staff.require(*FINANCE_ROLES)
    return list(
        session.scalars(
            select(BankStatement)
            .where(BankStatement.organisation_id == staff.organisation_id)
            .order_by(BankStatement.created_at.desc())
            .limit(limit)
        ).all()
    )


def statement_for_staff(
    session: Session, staff: StaffContext, statement_id: uuid.UUID
) -> BankStatement:
    staff.require(*FINANCE_ROLES)
    statement = session.scalars(
        select(BankStatement).where(
            BankStatement.id == statement_id,
            BankStatement.organisation_id == staff.organisation_id,
        )
    ).one_or_none()
    if statement is None:
        raise NotFound(_("Dit uittreksel bestaat niet of hoort bij een ander bestuur."))
    return statement


def statement_lines(session: Session, statement: BankStatement) -> Sequence[BankStatementLine]:
    return session.scalars(
        select(BankStatementLine)
        .where(BankStatementLine.statement_id == statement.id)
        .order_by(BankStatementLine.position)
    ).all()


def line_counts(session: Session, statement: BankStatement) -> dict[LineStatus, int]:
    rows = session.execute(
        select(BankStatementLine.status, func.count())
        .where(BankStatementLine.statement_id == statement.id)
        .group_by(BankStatementLine.status)
    ).all()
    return {status: count for status, count in rows}


__all__ = [
    "AMOUNT_NOTE_LABELS",
    "FINANCE_ROLES",
    "LINE_STATUS_LABELS",
    "REVIEW_REASON_LABELS",
    "ImportResult",
    "assign_line",
    "candidate_references",
    "dismiss_line",
    "import_statement",
    "parse_camt053",
    "review_lines",
]
