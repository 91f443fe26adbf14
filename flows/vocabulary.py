"""A flow's page words, as data: every name, label and text it looks for on an exchange's
pages, and whether `SITES.md` promises it.

A *promised* word quotes SITES.md (`tests/test_vocabulary.py` finds each in its exchange's
section): the flow may depend on it. An *optional* word is a guess at what SITES.md leaves
open (a dialog's title, a confirmation's wording, a heading): a flow may use it to be faster
or surer, but completes without it. Dialog titles are never promised (SITES.md: "the title
of a dialog (or whether it has one)" is not fixed), so a dialog is found by what it holds.

Each exchange module makes its words here, at the top, and no pattern of its own:

    WORDS = Vocabulary("kraken")
    EDIT = WORDS.promised("Edit", "button")
    SAVED = WORDS.optional("saved", "message")
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from assistant import paths
from assistant.errors import BadInput

What = Literal[
    "button", "field", "choice", "switch", "dialog", "heading", "text", "label", "option"
]


def fixed_names(exchange: str) -> dict[tuple[str, str], str]:
    """The local fixes of `exchange` as (word, what) -> the name the page gives it, for the
    installed command (`assistant.paths.fixes_at_import`); a fix that is no plain name of a
    role its word may have is left out (a run refuses the file before it starts)."""
    if not paths.fixes_at_import:
        return {}
    if exchange not in _FIXED:
        from flows import fixes  # it builds on this module's words: imported once they exist

        path = paths.overrides_dir() / f"{exchange}.toml"
        found: dict[tuple[str, str], str] = {}
        try:
            kept = fixes.entries(path) if path.is_file() else []
        except BadInput:
            kept = []
        for fix in kept:
            try:
                fixes.check_name(fix, where=str(path))
            except BadInput:
                continue
            found[(fix.word, fix.what)] = fix.now
        _FIXED[exchange] = found
    return _FIXED[exchange]


_FIXED: dict[str, dict[tuple[str, str], str]] = {}


def pattern_of(text: str, *, whole: bool = True) -> re.Pattern[str]:
    """`text` as a case-insensitive pattern, spacing aside ("Log In" matches " log  in ",
    "Email/Phone" matches "Email / Phone"): the whole name, or (not `whole`) anywhere in it."""
    tokens = re.findall(r"\w+|[^\w\s]", text)
    body = r"\s*".join(map(re.escape, tokens))
    return re.compile(rf"^\s*{body}\s*$" if whole else body, re.I)


@dataclass(frozen=True)
class Word:
    text: str  # the words: as SITES.md quotes them (promised), or the flow's guess
    what: What  # what the page shows them on
    promised: bool
    pattern: re.Pattern[str] = field(compare=False)


@dataclass
class Vocabulary:
    """The words one flow (or the base, for every flow) looks for; see the module's doc."""

    exchange: str
    words: list[Word] = field(default_factory=list)

    def promised(self, text: str, what: What, *, whole: bool = True) -> re.Pattern[str]:
        """Words SITES.md gives for this exchange, quoted as it writes them."""
        if what == "dialog":
            raise ValueError(f"{text!r}: a dialog's title is never promised; find it by its fields")
        return self._add(text, what, promised=True, whole=whole)

    def optional(self, text: str, what: What, *, whole: bool = False) -> re.Pattern[str]:
        """A guess the flow must complete without."""
        return self._add(text, what, promised=False, whole=whole)

    def _add(self, text: str, what: What, *, promised: bool, whole: bool) -> re.Pattern[str]:
        pattern = pattern_of(text, whole=whole)
        now = fixed_names(self.exchange).get((text, what))
        if now is not None:  # a local fix: the page calls it otherwise here (flows/fixes.py)
            pattern = any_of(pattern, pattern_of(now, whole=whole))
        self.words.append(Word(text, what, promised, pattern))
        return pattern


def any_of(*patterns: re.Pattern[str]) -> re.Pattern[str]:
    """A pattern matching any of `patterns` (each made by a Vocabulary)."""
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.I)


# The words of the base class, for every flow: SITES.md's common rules, and guesses.
COMMON = Vocabulary("common")
