"""loan_rules.safe_yaml: the bounds hold before any object is built; normal policies load unchanged."""

from __future__ import annotations

import re
import time
from importlib import resources

import pytest
import yaml

from loan_rules import PolicyError, parse_policy, safe_yaml
from loan_rules.policy import DEFAULT_POLICY

LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{n}: &{n} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)

# 45 aliases (under the alias bound) expanding to 9^6 = 531,441 strings (over the expansion bound).
SMALL_LAUGHS = "\n".join(LAUGHS.splitlines()[:6])


def test_the_packaged_policy_loads_as_before() -> None:
    text = resources.files("loan_rules").joinpath("policies", DEFAULT_POLICY).read_text("utf-8")
    assert safe_yaml.load(text) == yaml.safe_load(text)


def test_a_few_aliases_are_fine() -> None:
    assert safe_yaml.load("base: &b {x: 1}\nother: *b\n") == {"base": {"x": 1}, "other": {"x": 1}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SMALL_LAUGHS, "expands to more than 50000 nodes"),
        (LAUGHS, "more than 64 aliases"),
        ("[" * 40 + "]" * 40, "nested deeper than 32 levels (line 1)"),
        ("&a [*a]", "recursive alias"),
        ("x" * (256 * 1024 + 1), "document of 262145 characters"),
        (
            "\n".join(f"k{i}: &a{i} [1]" for i in range(70))
            + "\n"
            + "\n".join(f"r{i}: *a{i}" for i in range(70)),
            "more than 64 aliases",
        ),
    ],
    ids=["expansion", "laughs", "depth", "recursive", "size", "alias-count"],
)
def test_bounds_are_refused_fast(text: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(safe_yaml.YamlLimitError, match=re.escape(message)):
        safe_yaml.load(text)
    assert time.monotonic() - started < 1.0


def test_depth_through_aliases_is_bounded() -> None:
    # 20 levels written, then aliases stacking that block 4 times: 80 levels once expanded.
    nested = "[" * 20 + "1" + "]" * 20
    wrap = "[" * 20 + "*{}" + "]" * 20
    text = f"a: &a {nested}\nb: &b {wrap.format('a')}\nc: &c {wrap.format('b')}\nd: {wrap.format('c')}\n"
    with pytest.raises(safe_yaml.YamlLimitError, match="deeper than 64 levels through aliases"):
        safe_yaml.load(text)


def test_a_policy_error_quotes_no_expanded_value() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(LAUGHS)
    assert len(str(caught.value)) < 300
    assert "not valid YAML" in str(caught.value)
