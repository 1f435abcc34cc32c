"""GB/T 4754-2017 industry codes live in :mod:`tanxiao.standards.industry` (shared with scoring and the
console); re-exported here."""

from tanxiao.standards.industry import (
    DEPTHS,
    SECTIONS,
    Section,
    industry_at,
    section,
    section_of,
    validate_industry_code,
)

__all__ = ["DEPTHS", "SECTIONS", "Section", "industry_at", "section", "section_of", "validate_industry_code"]
