"""USCC check character (GB 32100-2015): the reference vectors, generated valid and corrupted codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_service.domain.uscc import (
    CHARSET,
    WEIGHTS,
    InvalidUSCC,
    check_character,
    is_valid_uscc,
    make_uscc,
    normalize_uscc,
)

bodies = st.text(alphabet=CHARSET, min_size=17, max_size=17)


def test_reference_vectors() -> None:
    assert sum(CHARSET.index(c) * w for c, w in zip("91110000600037341", WEIGHTS, strict=True)) == 538
    assert normalize_uscc("91110000600037341L") == "91110000600037341L"
    assert normalize_uscc("91620105L015101280") == "91620105L015101280"  # the check wraps to 0
    with pytest.raises(InvalidUSCC, match="expected 'L'"):
        normalize_uscc("91110000600037341N")


def test_weights_are_powers_of_three_mod_31() -> None:
    assert list(WEIGHTS) == [pow(3, i, 31) for i in range(17)]


def test_lower_case_and_spaces_are_normalised() -> None:
    assert normalize_uscc(" 91620105l015101280 ") == "91620105L015101280"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "18 characters"),
        ("91110000600037341", "18 characters"),
        ("91110000600037341LL", "18 characters"),
        ("9111000060003734IL", "not allowed"),  # I is not in the charset
        ("91110000600O37341L", "not allowed"),
        ("9111000060003734１L", "not allowed"),  # full-width digit
    ],
)
def test_malformed_codes_say_why(text: str, message: str) -> None:
    with pytest.raises(InvalidUSCC, match=message):
        normalize_uscc(text)


@given(bodies)
def test_every_generated_code_is_valid(body: str) -> None:
    code = body + check_character(body)
    assert normalize_uscc(code.lower()) == code


@given(bodies, st.integers(0, 17), st.integers(1, 30))
def test_any_single_character_change_is_detected(body: str, position: int, shift: int) -> None:
    code = body + check_character(body)
    changed = CHARSET[(CHARSET.index(code[position]) + shift) % 31]
    corrupted = code[:position] + changed + code[position + 1 :]
    assert not is_valid_uscc(corrupted)


@given(bodies, st.integers(0, 15))
def test_adjacent_transpositions_of_different_characters_are_detected(body: str, position: int) -> None:
    code = body + check_character(body)
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    if swapped != code:
        assert not is_valid_uscc(swapped)


def test_make_uscc_builds_valid_codes_from_parts() -> None:
    code = make_uscc("330502", "MA2B3C4D5")
    assert code.startswith("91330502MA2B3C4D5") and is_valid_uscc(code)
    with pytest.raises(InvalidUSCC):
        make_uscc("330502", "SHORT")
