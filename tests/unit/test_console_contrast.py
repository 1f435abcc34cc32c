"""The console's colours meet WCAG 2.x AA contrast (4.5:1 for text) on the backgrounds they are used on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).parents[2] / "tanxiao" / "console" / "static" / "console.css").read_text("utf-8")
VARS = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS))


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_formula_on_known_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)  # (1 + 0.05) / (0 + 0.05)
    # #767676: c = 118/255 = 0.46275 -> ((0.46275 + 0.055) / 1.055) ** 2.4 = 0.18116 = L;
    # (1.05) / (0.18116 + 0.05) = 4.542, the lightest grey that passes AA on white
    assert contrast("#767676", "#ffffff") == pytest.approx(4.542, abs=0.001)


@pytest.mark.parametrize(
    ("foreground", "background"),
    [
        ("ink", "bg"),
        ("muted", "bg"),
        ("accent", "bg"),
        ("green", "green-bg"),
        ("amber", "amber-bg"),
        ("red", "red-bg"),
        ("ink", "amber-bg"),
        ("muted", "amber-bg"),
    ],
)
def test_text_colours_pass_aa(foreground: str, background: str) -> None:
    assert contrast(VARS[foreground], VARS[background]) >= 4.5


def test_header_text_passes_aa() -> None:
    header = re.search(r"header\.top \{[^}]*background: (#[0-9a-fA-F]{6})", CSS)
    assert header is not None
    assert contrast("#ffffff", header.group(1)) >= 4.5
