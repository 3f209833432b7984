"""The back-office menu: each item shows only for the roles that can use its page."""

from __future__ import annotations

from dataclasses import dataclass

from shared.models.people import StaffRole
from shared.services.access import StaffContext


@dataclass(frozen=True)
class MenuItem:
    label: str
    href: str
    roles: frozenset[StaffRole]


MENU = (
    MenuItem(
        "Stukken", "/stukken", frozenset({StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR})
    ),
    MenuItem("Handtekenmap", "/handtekenmap", frozenset({StaffRole.ONDERTEKENAAR})),
    MenuItem("Beheer", "/beheer/medewerkers", frozenset({StaffRole.BEHEERDER})),
)


def menu_for(staff: StaffContext | None) -> list[MenuItem]:
    if staff is None:
        return []
    return [item for item in MENU if staff.has(*item.roles)]
