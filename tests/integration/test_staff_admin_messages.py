"""Refusals of staff administration and of missing roles are in the staff member's language."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from shared.errors import Forbidden, InvalidInput
from shared.i18n import use_language
from shared.models import StaffRole
from shared.services import staff_admin
from tests import factories


def test_refusals_speak_dutch_or_english(session: Session) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    admin = factories.staff_context(session, org, StaffRole.BEHEERDER)
    clerk = factories.staff_context(session, org, StaffRole.SECRETARIAAT)

    with pytest.raises(InvalidInput, match="U kunt uw eigen account niet uitschakelen"):
        staff_admin.set_active(session, admin, admin.user_id, active=False)
    with use_language("en"):
        with pytest.raises(InvalidInput, match="You cannot switch off your own account"):
            staff_admin.set_active(session, admin, admin.user_id, active=False)
        with pytest.raises(Forbidden, match="For this you need the role beheerder in Gemeente"):
            staff_admin.set_active(session, clerk, admin.user_id, active=False)
    with pytest.raises(Forbidden, match="Hiervoor hebt u de rol beheerder nodig in Gemeente"):
        staff_admin.set_active(session, clerk, admin.user_id, active=False)
