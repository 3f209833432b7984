"""Test identities and authentication methods of the sandbox OpenID Provider.

The sandbox login page lists these people; the demo data loader creates the same citizens
(by national register number) and staff members (by subject), so a sandbox login lands on
demo data. Two citizens and one staff member exist to try refusals: a citizen whose token
has no `rrn` claim, one whose `rrn` has a wrong check digit, and a staff member Zegel does
not know.

The authentication levels (`AuthLevel`, `ACR_LEVELS`) live in `levels`, the relying party's
knowledge; they are re-exported here so the sandbox and its users need one import.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from shared.integrations.oidc.levels import (
    ACR_EID,
    ACR_ITSME,
    ACR_LEVELS,
    ACR_PASSWORD,
    ACR_SMS,
    ACR_TOTP,
    AuthLevel,
)

__all__ = [
    "ACR_EID",
    "ACR_ITSME",
    "ACR_LEVELS",
    "ACR_PASSWORD",
    "ACR_SMS",
    "ACR_TOTP",
    "ALL_CITIZENS",
    "ALL_STAFF",
    "AUTH_METHODS",
    "CITIZENS",
    "CITIZEN_WITHOUT_RRN",
    "CITIZEN_WITH_INVALID_RRN",
    "LEVEL_LABELS",
    "STAFF",
    "STAFF_METHOD",
    "STAFF_WITHOUT_ACCESS",
    "AuthLevel",
    "AuthMethod",
    "CitizenIdentity",
    "StaffIdentity",
    "auth_method",
    "citizen",
    "make_ssin",
    "staff_member",
]

# A fixed namespace: citizen subjects stay the same across restarts and machines.
_SUBJECT_NAMESPACE = uuid.UUID("6f3e2a0c-5d1b-5c7e-9a41-7a2f0c9e8b15")

LEVEL_LABELS: dict[AuthLevel, str] = {
    AuthLevel.NONE: "geen",
    AuthLevel.LOW: "laag",
    AuthLevel.SUBSTANTIAL: "substantieel",
    AuthLevel.HIGH: "hoog",
}
"""Dutch names of the levels, as ACM/IDM shows them."""


def make_ssin(birth: date, serial: int) -> str:
    """A valid national register number for `birth` and an odd (man) or even (woman) serial."""
    base = f"{birth:%y%m%d}{serial:03d}"
    number = int(("2" if birth.year >= 2000 else "") + base)
    return f"{base}{97 - number % 97:02d}"


def _with_wrong_check_digits(ssin: str) -> str:
    """The same number with check digits that fit neither a 19xx nor a 20xx birth."""
    base = ssin[:9]
    right = {97 - int(base) % 97, 97 - int("2" + base) % 97}
    wrong = next(c for c in range(1, 98) if c not in right)
    return f"{base}{wrong:02d}"


# -- authentication methods -------------------------------------------------------------


@dataclass(frozen=True)
class AuthMethod:
    """A way to log in at ACM/IDM, with the `acr` it proves and its `amr` (RFC 8176) values."""

    key: str
    label: str
    acr: str
    amr: tuple[str, ...]

    @property
    def level(self) -> AuthLevel:
        return ACR_LEVELS[self.acr]


AUTH_METHODS: tuple[AuthMethod, ...] = (
    AuthMethod("eid", "eID met kaartlezer", ACR_EID, ("hwk", "sc", "pin", "mfa")),
    AuthMethod("itsme", "itsme", ACR_ITSME, ("swk", "pin", "mfa")),
    AuthMethod("totp", "Beveiligingscode via mobiele app", ACR_TOTP, ("pwd", "otp", "mfa")),
    AuthMethod("sms", "Beveiligingscode via sms", ACR_SMS, ("pwd", "sms", "mfa")),
    AuthMethod("wachtwoord", "Gebruikersnaam en wachtwoord", ACR_PASSWORD, ("pwd",)),
)

STAFF_METHOD = AUTH_METHODS[2]
"""Staff log in to their organisation's IdP with a password and a one-time code."""


def auth_method(key: str) -> AuthMethod:
    """The method with this key; KeyError when there is none."""
    for method in AUTH_METHODS:
        if method.key == key:
            return method
    raise KeyError(key)


# -- citizens ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CitizenIdentity:
    """A citizen as ACM/IDM would describe them. `rrn` is None when the token carries none."""

    key: str
    name: str
    given_name: str
    family_name: str
    rrn: str | None
    birth_date: date | None = None
    note: str = ""

    @property
    def subject(self) -> str:
        """A stable pseudonymous `sub`: never the national register number itself."""
        return str(uuid.uuid5(_SUBJECT_NAMESPACE, f"citizen:{self.rrn or self.key}"))


def _citizen(key: str, given: str, family: str, birth: date, serial: int) -> CitizenIdentity:
    return CitizenIdentity(
        key=key,
        name=f"{given} {family}",
        given_name=given,
        family_name=family,
        rrn=make_ssin(birth, serial),
        birth_date=birth,
    )


CITIZENS: tuple[CitizenIdentity, ...] = (
    _citizen("an-janssens", "An", "Janssens", date(1985, 7, 30), 34),
    _citizen("pieter-de-smet", "Pieter", "De Smet", date(1962, 3, 14), 117),
    _citizen("fatima-el-amrani", "Fatima", "El Amrani", date(2001, 1, 9), 250),
    _citizen("luc-maes", "Luc", "Maes", date(1978, 11, 2), 61),
)
"""The demo citizens, each with a valid national register number."""

CITIZEN_WITHOUT_RRN = CitizenIdentity(
    key="zonder-rrn",
    name="Burger zonder rijksregisternummer",
    given_name="Burger",
    family_name="zonder rijksregisternummer",
    rrn=None,
    note="Het token bevat geen rijksregisternummer (claim rrn ontbreekt).",
)

CITIZEN_WITH_INVALID_RRN = CitizenIdentity(
    key="ongeldig-rrn",
    name="Burger met ongeldig rijksregisternummer",
    given_name="Burger",
    family_name="met ongeldig rijksregisternummer",
    rrn=_with_wrong_check_digits(make_ssin(date(1990, 5, 17), 123)),
    birth_date=date(1990, 5, 17),
    note="Het rijksregisternummer in het token heeft een fout controlegetal.",
)

ALL_CITIZENS: tuple[CitizenIdentity, ...] = (
    *CITIZENS,
    CITIZEN_WITHOUT_RRN,
    CITIZEN_WITH_INVALID_RRN,
)


def citizen(key: str) -> CitizenIdentity:
    """The citizen with this key; KeyError when there is none."""
    for identity in ALL_CITIZENS:
        if identity.key == key:
            return identity
    raise KeyError(key)


# -- staff ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffIdentity:
    """A staff member as the organisation's IdP describes them; `roles` is the roles claim."""

    subject: str
    name: str
    given_name: str
    family_name: str
    email: str
    roles: tuple[str, ...]
    note: str = ""


def _staff(
    subject: str, given: str, family: str, roles: tuple[str, ...], note: str
) -> StaffIdentity:
    return StaffIdentity(
        subject=subject,
        name=f"{given} {family}",
        given_name=given,
        family_name=family,
        email=f"{subject}@zegelbeek.example",
        roles=roles,
        note=note,
    )


STAFF: tuple[StaffIdentity, ...] = (
    _staff("secretariaat", "Sofie", "Claes", ("secretariaat",), "Secretariaat"),
    _staff("directeur", "Koen", "Wouters", ("ondertekenaar",), "Algemeen directeur"),
    _staff("burgemeester", "Els", "Vermeulen", ("ondertekenaar",), "Burgemeester"),
    _staff("schepen", "Bart", "Jacobs", ("ondertekenaar",), "Schepen, waarnemend burgemeester"),
    _staff(
        "dossierbehandelaar", "Nathalie", "Peeters", ("dossierbehandelaar",), "Dossierbehandelaar"
    ),
    _staff("onthaal", "Tom", "Willems", ("onthaal",), "Onthaal"),
    _staff("financien", "Ingrid", "Mertens", ("financien",), "Financiën"),
    _staff("beheerder", "Ahmed", "Benali", ("beheerder", "secretariaat"), "Beheerder"),
)
"""The demo staff; subjects and names match the demo data."""

STAFF_WITHOUT_ACCESS = _staff(
    "onbekend", "Medewerker", "zonder toegang", (), "Heeft geen account en geen rollen in Zegel."
)

ALL_STAFF: tuple[StaffIdentity, ...] = (*STAFF, STAFF_WITHOUT_ACCESS)


def staff_member(subject: str) -> StaffIdentity:
    """The staff member with this subject; KeyError when there is none."""
    for identity in ALL_STAFF:
        if identity.subject == subject:
            return identity
    raise KeyError(subject)
