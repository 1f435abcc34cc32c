"""Contract enums <-> the names the code, its files and its exports use.

Loans, loan lines and the loan book keep products and carbon levels as the enum value names
(``"LOW_CARBON_EXPANSION"``, ``"HIGH_CARBON"``), with ``""`` for "none"; the contract carries them as
``tanxiao.scoring.v1.Product`` and ``tanxiao.common.v1.CarbonLevel``. These two functions convert at
that boundary, so that the zero ``*_UNSPECIFIED`` value is ``""`` on the Python side.
"""

from __future__ import annotations

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper


def enum_name(enum: EnumTypeWrapper, value: int) -> str:
    """The value's name; ``""`` for the zero value and for a number this build does not know."""
    if value == 0:
        return ""
    try:
        return str(enum.Name(value))
    except ValueError:
        return ""


def enum_value(enum: EnumTypeWrapper, name: str) -> int:
    """The number of ``name``; 0 (``*_UNSPECIFIED``) for ``""``. An unknown name is a ValueError."""
    return int(enum.Value(name)) if name else 0
