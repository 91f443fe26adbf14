"""Local fixes: a control the exchange's page calls by other words than those ipbind looks
for, shown to ipbind once by the person, and remembered.

Flows are proven against models of the exchanges (SITES.md), never the live sites; a real
page may rename a button or reword a label. In a headed run, when a control a flow is about
to use does not show (`Flow.outlined`, `Flow.appear`), ipbind pauses on that page, says what
it looks for, outlines its best guesses, and the person clicks the right one (the click is
caught: it only points). ipbind reads the clicked element's role and accessible name
(`aria_snapshot`), checks that role and name find exactly that element, and goes on with it.
The fix is kept in `<config dir>/overrides/<exchange>.toml`, one entry per word:

    [[fix]]
    word = "Send code"     # what ipbind looks for (SITES.md's words)
    what = "button"
    now = "Get code"       # what this page calls it
    role = "button"        # the clicked element's role
    date = "2026-12-06"

Later runs, headless too, find the control by either name. A fix is a name, never a CSS or
XPath selector, and a field's fix names a field (a text box), so that no credential is ever
typed into something else; typing a secret still checks the page's origin first.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator

from assistant.errors import BadInput, SiteChanged
from assistant.paths import write_private
from flows.types import Human
from flows.vocabulary import Word, any_of, pattern_of

# The roles a word may be fixed to, by what the word is on; a word on anything
# else (a heading, a dialog's title, a text) is not for fixing.
ROLES: dict[str, tuple[str, ...]] = {
    "button": ("button", "link", "menuitem", "tab"),
    "field": ("textbox", "spinbutton", "searchbox", "combobox"),
    "choice": ("radio", "checkbox", "option"),
    "switch": ("switch", "checkbox"),
    "option": ("option", "radio"),
}
# What a selector looks like, and a control's name does not.
SELECTOR = re.compile(
    r"^\s*(css|xpath|text|id|internal|data-testid|role)\s*[=:]|[#\[\]>~{}\\]|^\s*[./]|::|//"
)

# The element the person clicked to show ipbind a control: marked by ipbind's own script
# (never the site's markup), the click caught before the page sees it.
PICKED = "data-ipbind-picked"
CATCH_PICK_JS = """(mark) => {
  document.querySelectorAll('[' + mark + ']').forEach((e) => e.removeAttribute(mark));
  const style = document.createElement('style');
  style.id = 'ipbind-guess-style';
  style.textContent = '[data-ipbind-guess] { outline: 3px dashed #f0b90b !important; }';
  document.head.append(style);
  const swallow = (ev) => {
    if (ev.target.closest && ev.target.closest('ipbind-banner')) return;
    ev.preventDefault(); ev.stopImmediatePropagation();
  };
  const pick = (ev) => {
    if (ev.target.closest && ev.target.closest('ipbind-banner')) return;
    swallow(ev);
    let el = ev.target.closest('button, a, input, textarea, select, label, [role]') || ev.target;
    if (el.tagName === 'LABEL' && el.control) el = el.control;
    el.setAttribute(mark, '');
  };
  window.__ipbindPick = { pick, swallow };
  for (const kind of ['pointerdown', 'mousedown', 'pointerup', 'mouseup']) {
    document.addEventListener(kind, swallow, true);
  }
  document.addEventListener('click', pick, true);
}"""
STOP_PICK_JS = """(mark) => {
  const p = window.__ipbindPick;
  if (p) {
    for (const kind of ['pointerdown', 'mousedown', 'pointerup', 'mouseup']) {
      document.removeEventListener(kind, p.swallow, true);
    }
    document.removeEventListener('click', p.pick, true);
    window.__ipbindPick = null;
  }
  const guessed = document.querySelectorAll('[data-ipbind-guess]');
  guessed.forEach((e) => e.removeAttribute('data-ipbind-guess'));
  document.getElementById('ipbind-guess-style')?.remove();
}"""
UNMARK_JS = (
    "(mark) => document.querySelectorAll('[' + mark + ']').forEach((e) => e.removeAttribute(mark))"
)

SNAPSHOT = re.compile(r'^- (?P<role>[a-z]+)(?: "(?P<name>(?:[^"\\]|\\.)*)")?')


@dataclass(frozen=True)
class Fix:
    word: str
    what: str
    now: str
    role: str
    date: str

    def line(self) -> str:
        """One line, for `ipbind repair --list` and a failure's report (no secret in it)."""
        return f"{self.what} {self.word!r} is {self.role} {self.now!r} here (since {self.date})"


def selector_of(locator: Locator) -> str | None:
    """The locator's selector, as Playwright keeps it (None when it cannot be told)."""
    selector = getattr(getattr(locator, "_impl_obj", None), "_selector", None)
    return selector if isinstance(selector, str) else None


def escaped(locator_of_page: Locator, word: Word) -> str | None:
    """The word's pattern as it stands in a selector: asked of Playwright itself, by a
    locator of that pattern."""
    probe = selector_of(locator_of_page.page.get_by_text(word.pattern))
    return probe.removeprefix("internal:text=") if probe else None


class Fixes:
    """One exchange's fixes, checked against its words when read (BadInput for a bad file,
    before any browser starts)."""

    def __init__(self, exchange: str, words: list[Word], folder: Path | None):
        self.exchange = exchange
        self.words = [w for w in dict.fromkeys(words) if w.what in ROLES]
        self.path = folder / f"{exchange}.toml" if folder is not None else None
        self.fixes: dict[tuple[str, str], Fix] = {}
        if self.path is not None and self.path.is_file():
            for fix in read(self.path, self.words):
                self.fixes[(fix.word, fix.what)] = fix

    def __len__(self) -> int:
        return len(self.fixes)

    def lines(self) -> list[str]:
        return [fix.line() for fix in self.fixes.values()]

    def word_of(self, locator: Locator) -> Word | None:
        """The one word of this exchange the locator looks for by name, if one."""
        selector = selector_of(locator)
        if selector is None:
            return None
        found = {
            (w.text, w.what): w
            for w in self.words
            if (esc := escaped(locator, w)) is not None and esc in selector
        }
        return next(iter(found.values())) if len(found) == 1 else None

    def rewrite(self, locator: Locator, also: Fix | None = None) -> Locator:
        """`locator`, finding each fixed word's control by its old name or its new one
        (`also`: a fix not kept yet, being tried)."""
        fixes = dict(self.fixes)
        if also is not None:
            fixes[(also.word, also.what)] = also
        if not fixes:
            return locator
        selector = selector_of(locator)
        if selector is None:
            return locator
        rewritten = selector
        for word in self.words:
            fix = fixes.get((word.text, word.what))
            esc = escaped(locator, word) if fix else None
            if fix is None or esc is None or esc not in rewritten:
                continue
            either = any_of(
                word.pattern, pattern_of(fix.now, whole=word.pattern.pattern[:1] == "^")
            )
            new = escaped(locator, Word(word.text, word.what, word.promised, either))
            if new is not None:
                rewritten = rewritten.replace(esc, new)
        return locator if rewritten == selector else locator.page.locator(rewritten)

    def add(self, word: Word, now: str, role: str) -> Fix:
        """Kept in the exchange's file (made 0600 in a 0700 folder), and used from now on."""
        fix = Fix(word.text, word.what, now, role, date.today().isoformat())
        check(fix, self.words, where=f"the fix of {word.what} {word.text!r}")
        self.fixes[(fix.word, fix.what)] = fix
        if self.path is not None:
            text = "# ipbind's local fixes for this exchange (`ipbind repair EXCHANGE --list`)\n"
            for f in self.fixes.values():
                text += (
                    f"\n[[fix]]\nword = {quote(f.word)}\nwhat = {quote(f.what)}\n"
                    f"now = {quote(f.now)}\nrole = {quote(f.role)}\ndate = {quote(f.date)}\n"
                )
            write_private(self.path, text)
        return fix

    def candidates(self, locator: Locator, word: Word, limit: int = 3) -> list[Locator]:
        """The controls of the word's roles whose names are most like the word: a person's
        first guesses, outlined on the page."""
        page = locator.page
        scored = []
        for role in ROLES[word.what]:
            for control in page.get_by_role(role).all():  # type: ignore[arg-type]
                name = name_of(control)
                ratio = difflib.SequenceMatcher(None, name.lower(), word.text.lower()).ratio()
                if name and ratio >= 0.3:
                    scored.append((ratio, control))
        scored.sort(key=lambda pair: -pair[0])
        return [control for _, control in scored[:limit]]

    def shown_by(self, human: Human, control: Locator, word: Word, flow_name: str) -> Locator:
        """The person clicks the control the page shows in place of `word`'s: the click is
        caught (it only points), the element's role and name are read, and once they find
        exactly that element where `control` looks, they are kept as a fix."""
        page = control.page
        picked = page.locator(f"[{PICKED}]")
        guesses = self.candidates(control, word)
        page.evaluate(CATCH_PICK_JS, PICKED)
        for guess in guesses:
            with suppress(PlaywrightError):
                guess.evaluate("el => el.setAttribute('data-ipbind-guess', '')", timeout=1000)
        try:
            human.hand_off(
                page,
                f"click the {word.what} that does what ipbind knows as {word.text!r} "
                f"({len(guesses)} likely one(s) outlined); ipbind only takes note, and clicks "
                "it itself",
                picked,
            )
            found = name_and_role(picked)
        finally:
            with suppress(PlaywrightError):
                page.evaluate(STOP_PICK_JS, PICKED)
        try:
            return self._keep(control, word, found, picked, flow_name)
        finally:
            with suppress(PlaywrightError):
                page.evaluate(UNMARK_JS, PICKED)

    def _keep(
        self,
        control: Locator,
        word: Word,
        found: tuple[str, str] | None,
        picked: Locator,
        flow_name: str,
    ) -> Locator:
        """The fix of `word` as the person showed it, kept once it finds exactly the element
        they clicked (`picked`) where `control` looks."""
        looks_for = f"{word.what} {word.text!r}"
        if found is None:
            raise SiteChanged(f"{flow_name}: the page shows no {looks_for}, and none was shown")
        role, name = found
        fix = Fix(word.text, word.what, name, role, "")
        try:
            check(fix, self.words, where=f"{flow_name}: the control you clicked")
        except BadInput as err:
            raise SiteChanged(err.message) from None
        fixed = self.rewrite(control, also=fix)
        finds = fixed.evaluate_all(f"els => els.map((el) => el.hasAttribute('{PICKED}'))")
        if finds[:1] != [True] or picked.count() != 1:
            raise SiteChanged(
                f"{flow_name}: the {role} {name!r} you clicked is not told apart by its role "
                f"and name where ipbind looks for {looks_for}; nothing was kept"
            )
        self.add(word, name, role)
        logger.info("{}: {} is found as {} {!r} (a local fix)", flow_name, looks_for, role, name)
        return fixed


def name_and_role(control: Locator) -> tuple[str, str] | None:
    """The role and accessible name of the one element `control` finds (None: none)."""
    if control.count() != 1:
        return None
    match = SNAPSHOT.match(control.aria_snapshot(timeout=1000).splitlines()[0])
    if match is None:
        return None
    return match.group("role"), (match.group("name") or "")


def name_of(control: Locator) -> str:
    found = name_and_role(control)
    return found[1] if found else ""


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check(fix: Fix, words: list[Word], *, where: str) -> None:
    """BadInput naming what is wrong with a fix: a word the exchange's flow does not look
    for, or a name that cannot be used (`check_name`)."""
    known = {(w.text, w.what) for w in words}
    if (fix.word, fix.what) not in known:
        raise BadInput(f"{where}: ipbind looks for no {fix.what} {fix.word!r} on this exchange")
    check_name(fix, where=where)


def check_name(fix: Fix, *, where: str) -> None:
    """BadInput for a fix whose name cannot be used, whatever the exchange: a selector in
    place of a name, a role its word cannot be (a field aimed at a button)."""
    if not fix.now.strip() or SELECTOR.search(fix.now):
        raise BadInput(
            f"{where}: now = {fix.now!r} is a selector, not a control's name; ipbind finds "
            "controls by their role and name only (run headed and click the control instead)"
        )
    roles = ROLES.get(fix.what, ())
    if fix.role not in roles:
        raise BadInput(
            f"{where}: role = {fix.role!r}: a {fix.what} cannot be found as a {fix.role} "
            f"(one of: {', '.join(roles)}); a field is never aimed at a button"
        )


def read(path: Path, words: list[Word]) -> list[Fix]:
    """The fixes in `path`, each checked against the exchange's `words` (BadInput naming the
    first bad one)."""
    fixes = entries(path)
    for number, fix in enumerate(fixes, 1):
        check(fix, words, where=f"{path}: fix {number}")
    return fixes


def entries(path: Path) -> list[Fix]:
    """The fixes a file holds, each with its texts (BadInput for a file that is no file of
    fixes), not yet checked against any exchange's words."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise BadInput(f"{path}: not a file of local fixes ({err})") from None
    fixes = []
    for number, entry in enumerate(data.get("fix", []), 1):
        where = f"{path}: fix {number}"
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("word", "what", "now", "role")
        ):
            raise BadInput(f"{where}: needs word, what, now and role, each a text")
        fixes.append(
            Fix(
                entry["word"],
                entry["what"],
                entry["now"],
                entry["role"],
                str(entry.get("date", "")),
            )
        )
    return fixes
