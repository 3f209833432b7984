"""Build CAMT.053 (camt.053.001.02) files for tests, the way Belgian banks send them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from xml.sax.saxutils import escape

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


@dataclass(frozen=True)
class Entry:
    reference: str
    amount_cents: int
    credit: bool = True
    structured: str | None = None
    """Goes in RmtInf/Strd/CdtrRefInf/Ref (SCOR, BBA)."""
    text: str | None = None
    """Goes in RmtInf/Ustrd."""
    debtor: str = "Jan Peeters"
    debtor_iban: str = "BE68539007547034"
    booking: date = date(2026, 11, 27)
    currency: str = "EUR"
    status: str = "BOOK"
    transactions: Sequence[tuple[str, int, str | None]] = field(default_factory=tuple)
    """Several transactions in one entry: (reference, cents, structured)."""


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _remittance(structured: str | None, text: str | None) -> str:
    parts = []
    if text is not None:
        parts.append(f"<Ustrd>{escape(text)}</Ustrd>")
    if structured is not None:
        parts.append(
            "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>BBA</Issr></Tp>"
            f"<Ref>{escape(structured)}</Ref></CdtrRefInf></Strd>"
        )
    return f"<RmtInf>{''.join(parts)}</RmtInf>" if parts else ""


def _transaction(
    entry: Entry, reference: str | None, cents: int | None, structured: str | None, text: str | None
) -> str:
    role = "Dbtr" if entry.credit else "Cdtr"
    amount = (
        f'<AmtDtls><TxAmt><Amt Ccy="{entry.currency}">{_amount(cents)}</Amt></TxAmt></AmtDtls>'
        if cents is not None
        else ""
    )
    refs = f"<Refs><AcctSvcrRef>{reference}</AcctSvcrRef></Refs>" if reference else ""
    return (
        f"<TxDtls>{refs}{amount}<RltdPties><{role}><Nm>{escape(entry.debtor)}</Nm></{role}>"
        f"<{role}Acct><Id><IBAN>{entry.debtor_iban}</IBAN></Id></{role}Acct></RltdPties>"
        f"{_remittance(structured, text)}</TxDtls>"
    )


def entry_xml(entry: Entry) -> str:
    if entry.transactions:
        details = "".join(
            _transaction(entry, ref, cents, structured, None)
            for ref, cents, structured in entry.transactions
        )
        total = sum(cents for _, cents, _ in entry.transactions)
    else:
        details = _transaction(entry, None, None, entry.structured, entry.text)
        total = entry.amount_cents
    return (
        f"<Ntry><NtryRef>{entry.reference}</NtryRef>"
        f'<Amt Ccy="{entry.currency}">{_amount(total)}</Amt>'
        f"<CdtDbtInd>{'CRDT' if entry.credit else 'DBIT'}</CdtDbtInd><Sts>{entry.status}</Sts>"
        f"<BookgDt><Dt>{entry.booking.isoformat()}</Dt></BookgDt>"
        f"<ValDt><Dt>{entry.booking.isoformat()}</Dt></ValDt>"
        f"<AcctSvcrRef>{entry.reference}</AcctSvcrRef>"
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
        f"<NtryDtls>{details}</NtryDtls></Ntry>"
    )


def statement(
    entries: Sequence[Entry],
    *,
    iban: str,
    statement_id: str = "2026-11-27-001",
    sequence: str = "231",
    message_id: str = "MSG-2026-11-27-001",
) -> bytes:
    credit = sum(e.amount_cents for e in entries if e.credit)
    debit = sum(e.amount_cents for e in entries if not e.credit)
    body = "".join(entry_xml(e) for e in entries)
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Document xmlns="{NAMESPACE}"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>2026-11-28T06:00:00+01:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{statement_id}</Id><ElctrncSeqNb>{sequence}</ElctrncSeqNb>"
        "<CreDtTm>2026-11-28T06:00:00+01:00</CreDtTm>"
        f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        f'<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-27</Dt></Dt></Bal>"
        f"<TxsSummry><TtlCdtNtries><NbOfNtries>{sum(1 for e in entries if e.credit)}</NbOfNtries>"
        f"<Sum>{_amount(credit)}</Sum></TtlCdtNtries><TtlDbtNtries><Sum>{_amount(debit)}</Sum>"
        "</TtlDbtNtries></TxsSummry>"
        f"{body}</Stmt></BkToCstmrStmt></Document>"
    )
    return xml.encode()
