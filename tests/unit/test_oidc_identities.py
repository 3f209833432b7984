"""The sandbox's test identities and authentication methods."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.be import bis, nn

from shared.integrations.oidc import identities
from shared.integrations.oidc.identities import (
    ACR_LEVELS,
    ALL_CITIZENS,
    ALL_STAFF,
    AUTH_METHODS,
    CITIZEN_WITH_INVALID_RRN,
    CITIZEN_WITHOUT_RRN,
    CITIZENS,
    STAFF,
    STAFF_METHOD,
    AuthLevel,
    auth_method,
    citizen,
    make_ssin,
    staff_member,
)


def _valid_national_number(number: str) -> bool:
    return bool(nn.is_valid(number) or bis.is_valid(number))


@pytest.mark.parametrize("person", CITIZENS, ids=lambda c: c.key)
def test_demo_citizens_have_valid_national_numbers(person: identities.CitizenIdentity) -> None:
    assert person.rrn is not None
    assert len(person.rrn) == 11
    assert person.rrn.isdigit()
    assert nn.is_valid(person.rrn)
    assert person.birth_date is not None
    assert nn.get_birth_date(person.rrn) == person.birth_date


def test_the_invalid_citizen_has_a_wrong_check_digit_only() -> None:
    rrn = CITIZEN_WITH_INVALID_RRN.rrn
    assert rrn is not None
    assert len(rrn) == 11
    assert rrn.isdigit()
    assert not _valid_national_number(rrn), "fits neither a 19xx nor a 20xx birth"
    assert rrn[:9] == make_ssin(date(1990, 5, 17), 123)[:9], "only the check digits are wrong"


def test_the_citizen_without_rrn_has_none() -> None:
    assert CITIZEN_WITHOUT_RRN.rrn is None
    assert CITIZEN_WITHOUT_RRN.name == "Burger zonder rijksregisternummer"
    assert CITIZEN_WITH_INVALID_RRN.name == "Burger met ongeldig rijksregisternummer"


def test_make_ssin_covers_both_centuries() -> None:
    assert make_ssin(date(1985, 7, 30), 34) == "85073003427"
    born_2001 = make_ssin(date(2001, 1, 9), 250)
    assert nn.is_valid(born_2001)
    assert nn.get_birth_date(born_2001) == date(2001, 1, 9)


def test_demo_citizens_are_the_sandbox_identities() -> None:
    from shared.services import demo_data

    # Known values: the check digits of a 1985 birth and of a 2001 birth (2-prefixed).
    assert make_ssin(date(1985, 7, 30), 33) == "85073003328"
    assert make_ssin(date(2001, 1, 1), 1) == "01010100126"
    demo = {c.name: c.ssin for c in demo_data.DEMO_CITIZENS}
    assert demo == {c.name: c.rrn for c in CITIZENS}


def test_staff_match_the_demo_staff() -> None:
    from shared.services import demo_data

    demo = {
        subject: (name, sorted(role.value for role in roles))
        for subject, name, roles, _, _ in demo_data.DEMO_STAFF
    }
    assert demo == {s.subject: (s.name, sorted(s.roles)) for s in STAFF}


def test_subjects_are_unique_stable_and_pseudonymous() -> None:
    subjects = [c.subject for c in ALL_CITIZENS]
    assert len(set(subjects)) == len(subjects)
    for person in ALL_CITIZENS:
        assert person.subject == citizen(person.key).subject  # stable
        if person.rrn:
            assert person.rrn not in person.subject
    assert len({s.subject for s in ALL_STAFF}) == len(ALL_STAFF)
    # The same across restarts and machines (a fixed uuid5 namespace).
    assert citizen("an-janssens").subject == "c68079e9-0e94-50ec-964e-c4a77c02ce30"


def test_staff_have_names_emails_and_roles() -> None:
    assert staff_member("schepen").name == "Bart Jacobs"
    assert staff_member("beheerder").roles == ("beheerder", "secretariaat")
    for member in STAFF:
        assert member.roles
        assert member.email == f"{member.subject}@zegelbeek.example"
        assert member.name == f"{member.given_name} {member.family_name}"
    assert staff_member("onbekend").roles == ()
    with pytest.raises(KeyError):
        staff_member("niemand")
    with pytest.raises(KeyError):
        citizen("niemand")


def test_acr_levels_are_ordered() -> None:
    assert AuthLevel.NONE < AuthLevel.LOW < AuthLevel.SUBSTANTIAL < AuthLevel.HIGH
    assert ACR_LEVELS["urn:be:vlaanderen:authmech:eid"] is AuthLevel.HIGH
    assert ACR_LEVELS["urn:be:vlaanderen:authmech:itsme"] is AuthLevel.HIGH
    assert ACR_LEVELS["urn:be:vlaanderen:authmech:csamtotp"] is AuthLevel.SUBSTANTIAL
    assert ACR_LEVELS["urn:be:vlaanderen:authmech:csamsms"] is AuthLevel.SUBSTANTIAL
    assert ACR_LEVELS["urn:be:vlaanderen:authmech:csampassword"] is AuthLevel.LOW
    assert max(ACR_LEVELS.values()) is AuthLevel.HIGH
    assert min(ACR_LEVELS.values()) is AuthLevel.LOW


def test_each_method_has_its_acr_and_amr() -> None:
    assert [m.key for m in AUTH_METHODS] == ["eid", "itsme", "totp", "sms", "wachtwoord"]
    assert {m.acr for m in AUTH_METHODS} == set(ACR_LEVELS)
    assert auth_method("eid").level is AuthLevel.HIGH
    assert auth_method("wachtwoord").level is AuthLevel.LOW
    assert auth_method("wachtwoord").amr == ("pwd",)
    assert "mfa" in auth_method("itsme").amr
    assert STAFF_METHOD.level is AuthLevel.SUBSTANTIAL
    with pytest.raises(KeyError):
        auth_method("postduif")
