"""Build CODA files (Febelfin version 2, 128 characters a line) for tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Movement:
    reference: str
    amount_cents: int
    credit: bool = True
    structured: str | None = None
    text: str = ""
    name: str = "Jan Peeters"
    iban: str = "BE94735001234514"
    booked: date = date(2026, 11, 27)


def _put(line: list[str], start: int, value: str) -> None:
    """Write `value` from 1-based position `start`."""
    for offset, char in enumerate(value):
        line[start - 1 + offset] = char


def _line(parts: Sequence[tuple[int, str]]) -> str:
    line = [" "] * 128
    for start, value in parts:
        _put(line, start, value)
    return "".join(line)


def _ddmmyy(day: date) -> str:
    return day.strftime("%d%m%y")


def coda(
    movements: Sequence[Movement],
    *,
    iban: str,
    sequence: str = "231",
    created: date = date(2026, 11, 28),
    globalised: Sequence[tuple[str, Sequence[Movement]]] = (),
) -> bytes:
    lines = [
        _line(
            [
                (1, "0"),
                (2, "0000"),
                (6, _ddmmyy(created)),
                (12, "725"),
                (15, "05"),
                (35, "GEMEENTE A"),
                (61, "GKCCBEBB"),
                (128, "2"),
            ]
        ),
        _line(
            [
                (1, "1"),
                (2, "2"),
                (3, sequence),
                (6, iban),
                (40, "EUR"),
                (43, "0"),
                (44, "000000000000000"),
                (59, _ddmmyy(created)),
                (65, "GEMEENTE A"),
                (126, sequence),
            ]
        ),
    ]
    number = 0

    def movement(m: Movement, detail: str, seq: str) -> None:
        comm = ("1101" + m.structured) if m.structured else ("0" + m.text[:53])
        lines.append(
            _line(
                [
                    (1, "21"),
                    (3, seq),
                    (7, detail),
                    (11, m.reference),
                    (32, "0" if m.credit else "1"),
                    (33, f"{m.amount_cents * 10:015d}"),
                    (48, _ddmmyy(m.booked)),
                    (54, "00150000"),
                    (62, comm),
                    (116, _ddmmyy(m.booked)),
                    (122, sequence),
                    (126, "1"),
                    (128, "0"),
                ]
            )
        )
        lines.append(
            _line(
                [
                    (1, "23"),
                    (3, seq),
                    (7, detail),
                    (11, f"{m.iban} EUR"),
                    (48, m.name),
                    (126, "0"),
                    (128, "0"),
                ]
            )
        )

    for m in movements:
        number += 1
        movement(m, "0000", f"{number:04d}")
    for total_reference, details in globalised:
        number += 1
        total = Movement(total_reference, sum(d.amount_cents for d in details), text="Globalisatie")
        movement(total, "0000", f"{number:04d}")
        for index, detail in enumerate(details, start=1):
            movement(detail, f"{index:04d}", f"{number:04d}")
    lines.append(
        _line(
            [
                (1, "8"),
                (2, sequence),
                (5, iban),
                (42, "0"),
                (43, "000000000000000"),
                (58, _ddmmyy(created)),
            ]
        )
    )
    lines.append(
        _line(
            [
                (1, "9"),
                (17, f"{len(lines) - 1:06d}"),
                (23, "000000000000000"),
                (38, "000000000000000"),
                (128, "2"),
            ]
        )
    )
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")
