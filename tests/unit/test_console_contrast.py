"""The console's colours meet WCAG 2.x AA: text 4.5:1 on every background it is shown on (1.4.3), the
keyboard focus indicator 3:1 against every background it can sit on (1.4.11 non-text contrast)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).parents[2] / "tanxiao" / "console" / "static" / "console.css").read_text("utf-8")
VARS = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS))
VARS["white"] = "#ffffff"


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


# Every (text colour, background) the stylesheet combines: page text, links and muted text on the page,
# table headers, selected and focused rows; the outcome and notice boxes; the header; buttons.
TEXT_ON = [
    *[(fg, bg) for fg in ("ink", "muted", "accent") for bg in ("bg", "th", "selected", "row-focus")],
    ("green", "green-bg"), ("amber", "amber-bg"), ("red", "red-bg"),
    ("ink", "amber-bg"), ("muted", "amber-bg"), ("ink", "green-bg"), ("ink", "red-bg"),
    ("amber", "bg"), ("red", "bg"),  # data-quality flag severities
    ("white", "header"), ("white", "accent"),
]  # fmt: skip


@pytest.mark.parametrize(("foreground", "background"), TEXT_ON)
def test_text_colours_pass_aa(foreground: str, background: str) -> None:
    assert contrast(VARS[foreground], VARS[background]) >= 4.5


def test_every_colour_in_the_stylesheet_is_a_named_and_checked_one() -> None:
    """No colour literal outside :root (the borders' grey #767676 and the swatch's translucent edge
    aside, which are not text), so every colour used is one of the pairs checked above."""
    body = CSS.split("}", 1)[1]  # after :root
    literals = set(re.findall(r"#[0-9a-fA-F]{3,8}\b", body)) - {"#767676", "#0003", "#fff"}
    assert literals == set()
    used = set(re.findall(r"var\(--([a-z-]+)\)", body))
    checked = {name for pair in TEXT_ON for name in pair} | {"line", "amber-edge", "focus", "focus-on-dark"}
    assert used <= checked, used - checked


@pytest.mark.parametrize(
    "background", ["bg", "th", "selected", "row-focus", "amber-bg", "green-bg", "red-bg"]
)
def test_the_focus_indicator_is_visible_on_page_backgrounds(background: str) -> None:
    assert contrast(VARS["focus"], VARS[background]) >= 3.0


def test_the_focus_indicator_is_visible_in_the_header() -> None:
    assert "header.top :focus-visible { outline-color: var(--focus-on-dark); }" in CSS
    assert contrast(VARS["focus-on-dark"], VARS["header"]) >= 3.0


def test_form_borders_are_visible() -> None:  # 1.4.11: a control's boundary 3:1
    assert contrast("#767676", VARS["bg"]) >= 3.0
