"""The people and enterprises the MAGDA sandbox knows.

The citizens are the sandbox OpenID Provider's test identities (`oidc.identities.CITIZENS`),
at the addresses of the demo data, so a demo citizen who logs in at the portal is the same
person the eBox page shows. Some have activated the eBox, some have not; two more exist to
try what goes wrong: a person without an official address (struck off), and one whose paper
letters come back (undeliverable address). Any other valid number is unknown (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from shared.integrations.magda.types import Address
from shared.integrations.oidc.identities import CITIZENS, make_ssin

TOWN = ("9999", "Zegelbeek")


@dataclass(frozen=True)
class SandboxPerson:
    key: str
    ssin: str
    given_name: str
    family_name: str
    address: Address | None
    ebox: bool
    ebox_since: datetime | None = None
    undeliverable: bool = False
    """Paper letters to this person come back to the sender."""

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"


@dataclass(frozen=True)
class SandboxEnterprise:
    key: str
    enterprise_number: str
    name: str
    address: Address
    ebox: bool


def _address(street: str, number: str, box: str | None = None) -> Address:
    return Address(street, number, TOWN[0], TOWN[1], box=box)


_EBOX_SINCE = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
_ADDRESSES = {
    "an-janssens": (_address("Kerkstraat", "12"), True),
    "pieter-de-smet": (_address("Molenweg", "4"), False),
    "fatima-el-amrani": (_address("Stationsplein", "3", "2"), True),
    "luc-maes": (_address("Beekstraat", "88"), False),
}


def _people() -> tuple[SandboxPerson, ...]:
    people = []
    for identity in CITIZENS:
        address, ebox = _ADDRESSES[identity.key]
        assert identity.rrn is not None
        people.append(
            SandboxPerson(
                key=identity.key,
                ssin=identity.rrn,
                given_name=identity.given_name,
                family_name=identity.family_name,
                address=address,
                ebox=ebox,
                ebox_since=_EBOX_SINCE if ebox else None,
            )
        )
    people.append(
        SandboxPerson(
            key="ward-zonder-adres",
            ssin=make_ssin(date(1970, 4, 21), 77),
            given_name="Ward",
            family_name="Zonder Adres",
            address=None,
            ebox=False,
        )
    )
    people.append(
        SandboxPerson(
            key="ria-onbestelbaar",
            ssin=make_ssin(date(1993, 8, 5), 142),
            given_name="Ria",
            family_name="Onbestelbaar",
            address=_address("Verdwenen Dreef", "1"),
            ebox=False,
            undeliverable=True,
        )
    )
    return tuple(people)


def kbo_number(prefix: int) -> str:
    """A valid KBO number from an 8-digit `prefix` (check digits: 97 - prefix mod 97)."""
    return f"{prefix:08d}{97 - prefix % 97:02d}"


PEOPLE: tuple[SandboxPerson, ...] = _people()
UNKNOWN_SSIN = make_ssin(date(1955, 12, 24), 999)
"""A valid number the sandbox knows nobody for."""
NO_ADDRESS = PEOPLE[-2]
UNDELIVERABLE = PEOPLE[-1]

ENTERPRISES: tuple[SandboxEnterprise, ...] = (
    SandboxEnterprise(
        "bouwbedrijf-zegelbeek",
        kbo_number(4_123_456),
        "Bouwbedrijf Zegelbeek NV",
        _address("Industrieweg", "7"),
        ebox=True,
    ),
    SandboxEnterprise(
        "bakkerij-peeters",
        kbo_number(7_654_321),
        "Bakkerij Peeters BV",
        _address("Marktplein", "2"),
        ebox=False,
    ),
)


def person_by_key(key: str) -> SandboxPerson:
    for person in PEOPLE:
        if person.key == key:
            return person
    raise KeyError(key)
