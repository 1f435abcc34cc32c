"""The one catalogue of user-facing texts (tanxiao/locale, STYLE.md §4): every message in both zh and
en, the console's templates reference only messages that exist, none is left unused, and no zh/en text
is kept outside it in the console."""

from __future__ import annotations

import ast
import re
import shutil
import string
import subprocess
from pathlib import Path

import jinja2
import pytest
from jinja2 import nodes

from tanxiao import locale
from tanxiao.console import app, views
from tanxiao.console.i18n import message_id, t

ROOT = Path(__file__).parents[2]
CONSOLE = ROOT / "tanxiao" / "console"
TEMPLATES = CONSOLE / "templates"
PO = {lang: ROOT / "tanxiao" / "locale" / lang / "LC_MESSAGES" / "tanxiao.po" for lang in locale.LANGS}
CJK = re.compile(r"[\u4e00-\u9fff]")


# A Chinese message has a Chinese character or full-width punctuation, except these (a language
# switch, a language tag, an English acronym, an arrow before a name).
ZH_TEXT = re.compile("[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")
NOT_WORDS = ("console.switch_lang", "console.waci", "explain.html_lang", "dashboard_header.to_grade")


def test_every_message_is_in_both_languages_and_none_is_empty() -> None:
    zh, en = locale.catalogue("zh"), locale.catalogue("en")
    assert set(zh) == set(en), set(zh) ^ set(en)
    assert len(zh) > 150
    for key in zh:
        assert zh[key].strip() and en[key].strip(), key
        assert ZH_TEXT.search(zh[key]) or key in NOT_WORDS or key.startswith(NOT_WORDS), key
    assert not any(CJK.search(text) for key, text in en.items() if key != "console.switch_lang")


def test_a_message_has_the_same_fields_in_both_languages_or_fewer() -> None:
    """The {name} fields of one text are among the other's (word order may differ, and a language may
    leave a field out: English shows a grade's label without its level), so a misspelt field fails."""
    zh, en = locale.catalogue("zh"), locale.catalogue("en")
    for key in zh:
        fields = [{name for _, name, _, _ in string.Formatter().parse(t) if name} for t in (zh[key], en[key])]
        assert fields[0] <= fields[1] or fields[1] <= fields[0], key


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
def test_the_catalogue_is_valid_gettext() -> None:
    for path in PO.values():
        done = subprocess.run(
            ["msgfmt", "--check", "-o", "/dev/null", str(path)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr


def test_the_parser_reads_continued_and_escaped_strings_and_refuses_duplicates() -> None:
    source = 'msgid ""\nmsgstr "Language: en\\n"\n\n# comment\nmsgid "a.b"\nmsgstr "one "\n"\\"two\\""\n'
    assert locale.parse_po(source) == {"a.b": 'one "two"'}
    with pytest.raises(ValueError, match="twice"):
        locale.parse_po('msgid "x"\nmsgstr "1"\nmsgid "x"\nmsgstr "2"\n')
    with pytest.raises(KeyError):
        locale.text("console.no_such_message", "zh")


def _calls(template: str) -> list[nodes.Call]:
    environment = jinja2.Environment()
    tree = environment.parse((TEMPLATES / template).read_text("utf-8"))
    return [call for call in tree.find_all(nodes.Call) if isinstance(call.node, nodes.Name)]


# Template calls of t() with a variable, and where the variable's keys come from (checked below).
DYNAMIC = {"key", "message_key", "outcome.key", "failed"}


def _referenced() -> set[str]:
    """Every catalogue id the console can ask for: literal t('...') and code('kind', 'CODE') in the
    templates, and the keys the Python side hands to templates (navigation, outcomes, error pages)."""
    keys: set[str] = set()
    for template in sorted(p.name for p in TEMPLATES.glob("*.j2")):
        for call in _calls(template):
            args = call.args
            if call.node.name == "t":
                if isinstance(args[0], nodes.Const):
                    keys.add(message_id(args[0].value))
                else:
                    expression = args[0]
                    name = (
                        f"{expression.node.name}.{expression.attr}"
                        if isinstance(expression, nodes.Getattr) and isinstance(expression.node, nodes.Name)
                        else getattr(expression, "name", repr(expression))
                    )
                    assert name in DYNAMIC, f"{template}: t({name}) - add where its keys come from"
            elif call.node.name == "code" and all(isinstance(a, nodes.Const) for a in args):
                keys.add(f"{args[0].value}.{args[1].value}")
    python = "\n".join(p.read_text("utf-8") for p in CONSOLE.glob("*.py"))
    keys |= {message_id(k) for k in views._NAV_KEYS.values()}
    keys |= {message_id(o.key) for o in views._REVIEWED.values()}
    keys |= {message_id(k) for _status, k in app._STATUS.values()}
    # message_key="...", failed="...", Outcome("kind", "key") literals in the console's Python
    patterns = (
        r'message_key="([a-z_]+)"', r'failed="([a-z_]+)"', r'Outcome\("[a-z]+", "([a-z_.A-Z]+)"\)',
        r'key = "([a-z_]+)"', r'\(\d{3}, "([a-z_]+)"\)',
    )  # fmt: skip
    for pattern in patterns:
        keys |= {message_id(k) for k in re.findall(pattern, python)}
    return keys


def test_templates_reference_only_messages_that_exist() -> None:
    missing = sorted(k for k in _referenced() if not locale.has(k))
    assert missing == []


def test_no_console_message_is_unused() -> None:
    referenced = _referenced()
    unused = sorted(k for k in locale.catalogue("zh") if k.startswith("console.") and k not in referenced)
    assert unused == [], "remove these from tanxiao/locale (or use them)"


def test_no_zh_or_en_text_is_kept_outside_the_catalogue_in_the_console() -> None:
    for path in [*CONSOLE.glob("*.py"), *TEMPLATES.glob("*.j2")]:
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            code = line.split("#", 1)[0] if path.suffix == ".py" else line
            if path.suffix == ".py" and ('"""' in line or line.strip().startswith(("#", '"'))):
                continue  # docstrings and comments
            assert not CJK.search(code), f"{path.name}:{number}: {line.strip()}"


def test_a_console_key_and_a_catalogue_id_name_the_same_text() -> None:
    assert t("queue", "en") == locale.text("console.queue", "en") == "Review queue"
    assert t("review_state.BOOKED", "zh") == "已放款入账"


def _chinese_literals(path: Path) -> list[tuple[int, str]]:
    """String constants with a Chinese character or full-width punctuation, docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and ZH_TEXT.search(node.value)
    ]


def test_the_decision_explanation_keeps_no_chinese_text_of_its_own() -> None:
    """Its words, punctuation and word order come from the catalogue (explain.*, explain_bar.*)."""
    source = Path(__file__).resolve().parents[2] / "scoring_service" / "explain.py"
    assert _chinese_literals(source) == []


def test_commitment_progress_keeps_no_chinese_text_of_its_own() -> None:
    """A commitment's status reasons come from the catalogue (commitment_reason.*)."""
    source = Path(__file__).resolve().parents[2] / "registry_service" / "domain" / "commitments.py"
    assert _chinese_literals(source) == []


def test_the_portfolio_reports_keep_no_chinese_text_of_their_own() -> None:
    """Their labels and sentence patterns come from the catalogue (report_text.*, report_label.* ...)."""
    scoring = Path(__file__).resolve().parents[2] / "scoring_service"
    sources = [*scoring.glob("portfolio*.py"), *(scoring / "portfolio").glob("*.py")]
    assert len(sources) > 10
    found = {str(path.relative_to(scoring)): _chinese_literals(path) for path in sources}
    assert {name: literals for name, literals in found.items() if literals} == {}
