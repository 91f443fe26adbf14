"""Every word a flow depends on is one SITES.md promises for its exchange.

Flows and mock sites are written by the same hands; where SITES.md is silent, a flow that
takes the mock's choice passes every test and fails on the real site. So each flow declares
its page words (flows/vocabulary.py), and a promised word must stand in SITES.md, in the
section of its exchange (or the rules common to all). Optional words are guesses a flow
completes without: the mock sites vary them (see fixtures/mockex/static/common.js).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from flows import FLOWS, SIGN_INS
from flows.base import COMMON, Flow
from flows.generic import AssistedFlow, ProfileFlow
from flows.vocabulary import Vocabulary

ROOT = Path(__file__).resolve().parents[1]
# The contract is kept beside the project (../shared/SITES.md); docs/SITES.md is its copy
# for a clone on its own, and must not drift from it.
SHARED_SITES_MD = ROOT.parent / "shared" / "SITES.md"
SITES_MD = ROOT / "docs" / "SITES.md"


@pytest.mark.skipif(not SHARED_SITES_MD.is_file(), reason="no ../shared/SITES.md beside this clone")
def test_the_copy_of_the_contract_is_current() -> None:
    assert SITES_MD.read_text(encoding="utf-8") == SHARED_SITES_MD.read_text(encoding="utf-8"), (
        "docs/SITES.md differs from ../shared/SITES.md: copy it over"
    )


def fold(text: str) -> str:
    """Case, spacing and quoting aside."""
    return " ".join(re.sub(r"[\"“”`]", " ", text).split()).lower()


def sections() -> dict[str, str]:
    """SITES.md by its `## ` headings."""
    found: dict[str, str] = {}
    heading = ""
    for line in SITES_MD.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            heading = line[3:]
        found[heading] = found.get(heading, "") + line + "\n"
    return found


def contract_of(flow: type[Flow]) -> str:
    """What SITES.md says of `flow`'s exchange: the sections named after it, and for a
    profile its table row and the common shape (with the exchange it says it is "as")."""
    parts = sections()
    text = parts["Common rules for every mock site"]
    ids = {flow.id, *flow.also}
    for heading, body in parts.items():
        # "huobi (HTX) and poloniex (bulk field; …)": the names outside the brackets
        named = re.findall(r"[a-z][\w-]*", re.sub(r"\([^)]*\)", " ", heading).lower())
        if ids & set(named):
            text += body
    if issubclass(flow, ProfileFlow):
        other = parts["Other exchanges Altrady supports (one generic bulk pattern, data-driven)"]
        row = next(line for line in other.splitlines() if line.startswith(f"| {flow.id} |"))
        text += row + other.split("The common shape")[1]
        if (like := re.search(r"\bas (\w+)", row)) is not None:
            text += contract_of(FLOWS[like.group(1)])
    return text


# Every flow that finds words on a page: the exchanges' and Altrady's (flows/altrady.py).
FLOWN = [f for f in SIGN_INS.values() if not issubclass(f, AssistedFlow)]


def test_every_flow_declares_its_words() -> None:
    for flow in FLOWN:
        assert isinstance(flow.vocabulary, Vocabulary), flow.id
        assert flow.vocabulary.words, f"{flow.id} declares no page words"


@pytest.mark.parametrize("flow", FLOWN, ids=lambda f: f.id)
def test_promised_words_stand_in_sites_md(flow: type[Flow]) -> None:
    contract = fold(contract_of(flow))
    missing = [
        f"{word.what} {word.text!r}"
        for word in [*COMMON.words, *flow.vocabulary.words]
        if word.promised and fold(word.text) not in contract
    ]
    assert not missing, f"{flow.id} depends on words SITES.md does not promise it: {missing}"


@pytest.mark.parametrize("flow", FLOWN, ids=lambda f: f.id)
def test_each_word_matches_its_own_text(flow: type[Flow]) -> None:
    for word in [*COMMON.words, *flow.vocabulary.words]:
        assert word.pattern.search(f" {word.text} "), (flow.id, word.text, word.pattern)


def test_a_dialog_title_cannot_be_promised() -> None:
    with pytest.raises(ValueError, match="never promised"):
        Vocabulary("x").promised("Security Verification", "dialog")


def test_the_check_catches_a_word_sites_md_lacks() -> None:
    words = Vocabulary("bybit")
    words.promised("API key created", "text")
    contract = fold(contract_of(FLOWS["bybit"]))
    assert fold(words.words[0].text) not in contract


# The base class and its rooms (page mechanics every flow shares), not an exchange's module.
BASE = {
    "__init__",
    "base",
    "vocabulary",
    "answers",
    "cards",
    "fixes",
    "overlays",
    "settle",
    "types",
}
EXCHANGE_MODULES = sorted(
    p for p in (ROOT / "flows").glob("*.py") if p.stem not in BASE | {"wording"}
)


@pytest.mark.parametrize("path", EXCHANGE_MODULES, ids=lambda p: p.name)
def test_exchange_modules_make_no_patterns_of_their_own(path: Path) -> None:
    """A page word made outside a Vocabulary (`re.compile`, `words(...)`) is one no test
    checks against SITES.md; a text format guessed with a regex (a key's format) is one
    SITES.md leaves open."""
    made = [
        f"line {node.lineno}: {ast.unparse(node.func)}(...)"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and ast.unparse(node.func) in {"re.compile", "words"}
    ]
    assert not made, f"{path.name} makes patterns outside its vocabulary: {made}"


def test_mock_sites_do_not_import_flows() -> None:
    """A mock that takes a flow's words cannot catch the flow's wrong guess."""
    for path in (ROOT / "fixtures").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("flows"), path
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("flows") for a in node.names), path
