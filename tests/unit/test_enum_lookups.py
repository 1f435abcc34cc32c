"""The quote path's enum lookups by dict give what the protobuf enum wrapper gave."""

from __future__ import annotations

import pytest

from loan_rules import Product
from scoring_service import reviews
from scoring_service.convert import _product_number
from scoring_service.inputs import _product
from tanxiao.scoring.v1 import scoring_pb2


def _product_by_wrapper(value: int) -> Product | None:
    """The request's product as parse_quote read it before the lookup table."""
    name = scoring_pb2.Product.Name(value) if value in scoring_pb2.Product.values() else ""
    return Product(name) if name in Product.__members__ else None


@pytest.mark.parametrize("value", [*scoring_pb2.Product.values(), -1, 4, 99, 2**31 - 1])
def test_request_product_as_before(value: int) -> None:
    problems: list[str] = []
    got = _product(value, lambda field, _description: problems.append(field))
    assert got is _product_by_wrapper(value)
    assert problems == ([] if got is not None else ["product"])


@pytest.mark.parametrize("name", [v.name for v in scoring_pb2.Product.DESCRIPTOR.values])
def test_decision_product_number_as_value(name: str) -> None:
    assert _product_number(name) == scoring_pb2.Product.Value(name)


def test_unknown_product_name_raises_as_value_did() -> None:
    with pytest.raises(ValueError):
        _product_number("NOT_A_PRODUCT")


def test_state_numbers_as_value() -> None:
    names = [v.name for v in scoring_pb2.DecisionState.DESCRIPTOR.values]
    expected = {name: scoring_pb2.DecisionState.Value(name) for name in names}
    assert expected == reviews.STATE_NUMBERS
