from __future__ import annotations

import pytest

from shared.errors import InvalidInput
from shared.protection import mask_ssin, normalise_ssin, seal, ssin_digest, unseal

BORN_1985 = "85073003328"
BORN_2001 = "01010100126"  # check digits computed with the 2 prefix for births from 2000


def test_valid_numbers_before_and_after_2000() -> None:
    assert normalise_ssin("85.07.30-033.28") == BORN_1985
    assert normalise_ssin(BORN_2001) == BORN_2001


def test_bis_number_is_accepted() -> None:
    # BIS: month + 40 when sex is known.
    base = "854730033"
    check = 97 - int(base) % 97
    assert normalise_ssin(base + f"{check:02d}") == base + f"{check:02d}"


@pytest.mark.parametrize("value", ["85073003329", "1234", "abcdefghijk", "850730033280"])
def test_wrong_numbers_are_refused_in_dutch(value: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        normalise_ssin(value)
    assert "rijksregisternummer" in raised.value.message


def test_digest_is_stable_and_does_not_contain_the_number() -> None:
    assert ssin_digest(BORN_1985) == ssin_digest(BORN_1985)
    assert ssin_digest(BORN_1985) != ssin_digest(BORN_2001)
    assert BORN_1985 not in ssin_digest(BORN_1985)


def test_sealed_number_round_trips_and_differs_each_time() -> None:
    first, second = seal(BORN_1985), seal(BORN_1985)
    assert first != second
    assert BORN_1985 not in first
    assert unseal(first) == BORN_1985


def test_mask_shows_only_the_birth_date() -> None:
    assert mask_ssin(BORN_1985) == "85.07.30-***.**"
