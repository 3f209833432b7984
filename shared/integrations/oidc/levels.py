"""Authentication levels (eIDAS-style) and the ACM/IDM `acr` values that reach them."""

from __future__ import annotations

from enum import IntEnum

from shared.errors import InvalidInput


class AuthLevel(IntEnum):
    NONE = 0
    LOW = 1
    SUBSTANTIAL = 2
    HIGH = 3


ACR_EID = "urn:be:vlaanderen:authmech:eid"
ACR_ITSME = "urn:be:vlaanderen:authmech:itsme"
ACR_TOTP = "urn:be:vlaanderen:authmech:csamtotp"
ACR_SMS = "urn:be:vlaanderen:authmech:csamsms"
ACR_PASSWORD = "urn:be:vlaanderen:authmech:csampassword"  # noqa: S105 - a method name

ACR_LEVELS: dict[str, AuthLevel] = {
    ACR_EID: AuthLevel.HIGH,
    ACR_ITSME: AuthLevel.HIGH,
    ACR_TOTP: AuthLevel.SUBSTANTIAL,
    ACR_SMS: AuthLevel.SUBSTANTIAL,
    ACR_PASSWORD: AuthLevel.LOW,
}

LEVEL_NAMES = {
    "low": AuthLevel.LOW,
    "substantial": AuthLevel.SUBSTANTIAL,
    "high": AuthLevel.HIGH,
}


def level_of(acr: str | None) -> AuthLevel:
    """The level an `acr` value proves; unknown values prove nothing."""
    return ACR_LEVELS.get(acr or "", AuthLevel.NONE)


def acr_values_for(level: AuthLevel) -> list[str]:
    """The methods that reach at least `level`, strongest first (for `acr_values`)."""
    return [
        acr for acr, reached in sorted(ACR_LEVELS.items(), key=lambda i: -i[1]) if reached >= level
    ]


def parse_level(name: str) -> AuthLevel:
    try:
        return LEVEL_NAMES[name]
    except KeyError:
        raise InvalidInput(f"Onbekend aanmeldingsniveau: {name!r}") from None
