"""The back-office menu: each item shows only for the roles that can use its page."""

from __future__ import annotations

from dataclasses import dataclass

from shared.i18n import N_
from shared.models.people import StaffRole
from shared.services.access import StaffContext


@dataclass(frozen=True)
class MenuItem:
    label: str
    """Dutch msgid, translated when shown."""
    href: str
    roles: frozenset[StaffRole]


MENU = (
    MenuItem(
        N_("Stukken"), "/stukken", frozenset({StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR})
    ),
    MenuItem(
        N_("Register"),
        "/register",
        frozenset({StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR}),
    ),
    MenuItem(N_("Handtekenmap"), "/handtekenmap", frozenset({StaffRole.ONDERTEKENAAR})),
    MenuItem(
        N_("Bezwaren"),
        "/bezwaren",
        frozenset({StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR}),
    ),
    MenuItem(N_("Onthaal"), "/onthaal", frozenset({StaffRole.ONTHAAL})),
    MenuItem(
        N_("Doorlooptijd"),
        "/doorlooptijd",
        frozenset({StaffRole.BEHEERDER, StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR}),
    ),
    MenuItem(
        N_("Ervaringen"),
        "/ervaringen",
        frozenset({StaffRole.BEHEERDER, StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR}),
    ),
    MenuItem(
        N_("Betalingen"), "/betalingen", frozenset({StaffRole.FINANCIEN, StaffRole.BEHEERDER})
    ),
    MenuItem(N_("Balie"), "/balie", frozenset({StaffRole.ONTHAAL})),
    MenuItem(N_("Beheer"), "/beheer/medewerkers", frozenset({StaffRole.BEHEERDER})),
)
"""The main menu: one item per area. Actions (a new letter, an import) sit on the pages and
the dashboard; Beheer has its own sub-navigation (BEHEER_MENU)."""

BEHEER_MENU = (
    MenuItem(N_("Medewerkers"), "/beheer/medewerkers", frozenset({StaffRole.BEHEERDER})),
    MenuItem(N_("API-sleutels"), "/beheer/api-sleutels", frozenset({StaffRole.BEHEERDER})),
    MenuItem(N_("Soorten stukken"), "/beheer/soorten-stukken", frozenset({StaffRole.BEHEERDER})),
    MenuItem(N_("Bezwaartermijnen"), "/beheer/bezwaartermijnen", frozenset({StaffRole.BEHEERDER})),
    MenuItem(N_("Raadplegingen"), "/register/raadplegingen", frozenset({StaffRole.BEHEERDER})),
)
"""Labels are Dutch msgids, translated when the menu is shown."""


def menu_for(staff: StaffContext | None) -> list[MenuItem]:
    if staff is None:
        return []
    return [item for item in MENU if staff.has(*item.roles)]
