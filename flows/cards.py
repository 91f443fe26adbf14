"""Keys on a list whose markup ipbind does not know: a key's card or row found from its name
(or one of its controls), its name and key string read from what the card holds, and the
value that belongs to a label, however the page ties them (SITES.md fixes no list's shape:
table, ARIA grid, cards, named regions, definition lists). `Cards` gives these to `Flow`."""

from __future__ import annotations

import re
from typing import ClassVar

from playwright.sync_api import Locator, Page

from assistant.errors import SiteChanged, UserActionNeeded
from flows.types import KeyInfo


class Cards:
    """The key-list readers of `Flow` (its page, name, `settle` and `await_late`)."""

    name: ClassVar[str]
    page: Page

    def settle(self, until: Locator | None = None) -> bool:
        raise NotImplementedError

    def await_late(self, expected: Locator) -> None:
        raise NotImplementedError

    def key_control(self, name: str, role: str, control: re.Pattern[str] | str) -> Locator:
        """The control `role`/`control` (say, its "Edit" button) of the key whose name (or
        API key) is `name`, found without knowing the markup (see CARD_JS)."""
        controls, found = self._key(name, role, control)
        return controls.nth(int(found["index"]))

    def card(self, name: str, role: str, control: re.Pattern[str] | str) -> Locator:
        """The card or row of the key whose name (or API key) is `name`, as a locator (for the
        report's picture): of the elements holding that name and one of the controls
        `role`/`control`, the widest that holds no other such control, never past a row,
        list item or article (as CARD_JS finds it for a read)."""
        self.key_control(name, role, control)  # on the page, settled, or raises as a read
        page = self.page
        controls = page.get_by_role(role, name=control)  # type: ignore[arg-type]
        label = re.compile(rf"^[^:]{{1,40}}:\s*{re.escape(name)}$")  # "API Key: …"
        named = page.get_by_text(name, exact=True).or_(page.get_by_text(label))
        around = page.locator("*").filter(has=named).filter(has=controls)  # outermost first
        card = None
        for n in reversed(range(around.count())):
            here = around.nth(n)
            if here.get_by_role(role, name=control).count() != 1:  # type: ignore[arg-type]
                break
            card = here
            if here.evaluate(f"(el) => el.matches({ITEM!r})"):
                break
        if card is None:
            raise SiteChanged(f"{self.name}: {name!r}: no card or row of its own on the page")
        return card

    def key_text(self, name: str, role: str, control: re.Pattern[str] | str) -> str:
        """The whole text of the card or row of the key whose name (or API key) is `name`:
        the element around that text holding exactly one of the controls `role`/`control`."""
        self.settle()
        return str(self._key(name, role, control)[1]["text"])

    def _key(
        self, name: str, role: str, control: re.Pattern[str] | str
    ) -> tuple[Locator, dict[str, int | str]]:
        # One evaluation finds the name, its card and its control together: a list that
        # re-renders between two calls (every element new) cannot leave a stale half behind.
        controls = self.page.get_by_role(role, name=control)  # type: ignore[arg-type]

        def look() -> dict[str, int | str] | None:
            return controls.evaluate_all(
                f"(controls, name) => {{ {CARD_JS}; return keyOf(name, controls); }}",
                " ".join(name.split()),
            )

        found = look()
        if found is None or found["index"] == -1:  # not there yet is not "not there"
            named = self.page.get_by_text(name, exact=True)
            if not self.settle(until=named):  # its name showed first: maybe whole already
                found = look()
            if found is None or found["index"] == -1:
                self.settle()
                self.await_late(named)
                found = look()
        if found is None:
            raise UserActionNeeded(f"{self.name}: no key named {name!r} on the page")
        if found["index"] == -1:
            raise SiteChanged(
                f"{self.name}: {name!r} is on the API page, but none of the controls ipbind "
                "looks for is around it"
            )
        return controls, found

    def value_of(self, scope: Locator, label: re.Pattern[str]) -> str | None:
        """The value that belongs to `label` inside `scope`, however the page ties them: a
        field labelled so (`for`, aria-label, aria-labelledby, a wrapping label), or text
        beside the label (`<dt>API Key</dt><dd>…</dd>`, a caption and a `<code>` after it,
        "API Key: …" on one line). None when `scope` shows no value for it (yet)."""
        field = scope.get_by_label(label)
        for n in range(field.count()):
            value = field.nth(n).evaluate(
                "el => ('value' in el && typeof el.value === 'string') ? el.value : el.innerText"
            )
            if value.strip():
                return value.strip()
        found = scope.first.evaluate(
            f"(scope, label) => {{ {VALUE_JS}; return valueOf(scope, label); }}",
            {"source": label.pattern, "flags": "i" if label.flags & re.I else ""},
        )
        return found or None

    def shows(self, text: str) -> bool:
        """Whether the page shows `text` as the whole text of an element."""
        return self.page.get_by_text(text, exact=True).first.is_visible()

    def cards(self, controls: Locator) -> list[tuple[str, str]]:
        """For each control (say, every key's "Edit" button), its key's card or row (see
        CARD_JS) as (its name, its whole text). One evaluation, so a re-render cannot split
        it."""
        return [(key.name, text) for key, text in self._cards(controls, None)]

    def keys_listed(
        self, controls: Locator, name_label: re.Pattern[str] | None = None
    ) -> list[KeyInfo]:
        """The keys on the API page, one per control of `controls` (say, every key's "Edit"
        button) whose card shows a name: each named by the value of `name_label` where its
        card shows that label (else by its card's name or first value, see CARD_JS), with
        the key string the card shows, if any."""
        return [key for key, _ in self._cards(controls, name_label) if key.name]

    def _cards(
        self, controls: Locator, name_label: re.Pattern[str] | None
    ) -> list[tuple[KeyInfo, str]]:
        self.settle()
        self.await_late(controls)
        found = controls.evaluate_all(
            f"(controls, label) => {{ {CARD_JS};"
            " const nameLabel = label ? new RegExp(label, 'i') : null;"
            " return controls.map((c) => { const card = cardOf(c, controls) || c.parentElement;"
            " return [titleOf(card, c, nameLabel), apiKeyOf(card), textsOf(card),"
            " card.innerText]; }); }",
            name_label.pattern if name_label else None,
        )
        return [
            (KeyInfo(name, api_key, tuple(texts)), text) for name, api_key, texts, text in found
        ]


# A key's card or row, from its name (or its control) upward: the first ancestor holding
# one of the page's `controls`, then wider while it holds no other — but never past an
# element that is a list item or table row, so that a lone key does not grow into the page.
# SITES.md fixes no list's shape (table, ARIA grid, cards, named regions, definition lists):
# a key's name is read as the value of its label where the card shows one, else as the
# card's own name or heading, else its first text that is neither a label nor a value of
# another kind (an API key, addresses).
ITEM = 'tr, li, article, [role="row"], [role="listitem"], [role="article"]'
CARD_JS = (
    f"const ITEM = '{ITEM}';"
    + r"""
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
const holds = (el, controls) => controls.filter((c) => el.contains(c)).length;
function cardOf(start, controls) {
  let card = start;
  while (card && holds(card, controls) === 0) card = card.parentElement;
  if (!card || holds(card, controls) !== 1) return null;
  while (!card.matches(ITEM) && card.parentElement && holds(card.parentElement, controls) === 1)
    card = card.parentElement;
  return card;
}
// "Label: value" -> [label, value]; null for text that is no such line.
function labelled(text) {
  const m = norm(text).match(/^([^:]{1,40}):\s*(.+)$/);
  return m ? [m[1].trim(), m[2].trim()] : null;
}
// The innermost visible elements whose whole text (spacing aside) is `text`, or whose text
// is `text` as the value of a "Label: text" line.
function ownersOf(text) {
  const all = [...document.body.querySelectorAll('*')].filter((el) => {
    if (el.getClientRects().length === 0) return false;
    const whole = norm(el.textContent);
    if (whole === text) return true;
    const pair = whole.endsWith(text) ? labelled(whole) : null;
    return pair !== null && pair[1] === text;
  });
  return all.filter((el) => !all.some((other) => other !== el && el.contains(other)));
}
// The key named `name`: {index: its control's index in `controls`, text: its card's text};
// index -1 when the name shows but no card holds a control; null when the name is nowhere.
function keyOf(name, controls) {
  const owners = ownersOf(name);
  if (!owners.length) return null;
  for (const owner of owners) {
    const card = cardOf(owner, controls);
    if (card) return { index: controls.findIndex((c) => card.contains(c)), text: card.innerText };
  }
  return { index: -1, text: '' };
}
const IP = /^[0-9a-f.:\/]+$/i;
// A key string as keys are written: one long token of letters and digits (and - _ . + / =).
const isKey = (t) => t.length >= 16 && /^[\w\-.+\/=]+$/.test(t) && /\d/.test(t) && /[a-z]/i.test(t);
// Label -> value pairs the card shows: column headers over the row's cells (table or grid),
// dt/dd, and "Label: value" lines.
function pairsOf(card) {
  const pairs = [];
  if (card.matches('tr, [role="row"]')) {
    const table = card.closest('table, [role="grid"], [role="table"], [role="treegrid"]');
    const head = table && [...table.querySelectorAll('tr, [role="row"]')]
      .find((r) => r !== card && r.querySelector('th, [role="columnheader"]'));
    const headers = head ? [...head.children] : [];
    [...card.children].forEach((cell, i) => {
      if (headers[i]) pairs.push([norm(headers[i].innerText), norm(cell.innerText)]);
    });
  }
  for (const dt of card.querySelectorAll('dt')) {
    const dd = dt.nextElementSibling;
    if (dd && dd.tagName === 'DD') pairs.push([norm(dt.innerText), norm(dd.innerText)]);
  }
  for (const line of card.innerText.split('\n')) {
    const pair = labelled(line);
    if (pair) pairs.push(pair);
  }
  return pairs;
}
// The texts of the card a person reads as values: cells, dd's, lines (a "Label: value" line
// as its value), and the card's own name.
function textsOf(card) {
  const texts = [];
  const add = (t) => { t = norm(t); if (t && !texts.includes(t)) texts.push(t); };
  for (const el of card.querySelectorAll('*')) {
    if (el.children.length || el.getClientRects().length === 0) continue;
    const t = norm(el.textContent);
    add(t);
    const pair = labelled(t);
    if (pair) add(pair[1]);
  }
  for (const line of card.innerText.split('\n')) {
    add(line);
    const pair = labelled(line);
    if (pair) add(pair[1]);
  }
  return texts;
}
function ownName(card) {
  const by = card.getAttribute('aria-labelledby');
  const text = (id) => document.getElementById(id)?.innerText || '';
  if (by) return norm(by.split(/\s+/).map(text).join(' '));
  return norm(card.getAttribute('aria-label'));
}
// A key's name: the value of `nameLabel` (a pattern) where the card shows that label; else
// its own name or its last heading before its control (the value, for a "Label: name" one);
// else its first cell or value that is no label, key string, address or control.
function titleOf(card, control, nameLabel) {
  const pairs = pairsOf(card);
  const byLabel = nameLabel && pairs.find(([label, value]) => nameLabel.test(label) && value);
  if (byLabel) return byLabel[1];
  const valueOf = (t) => { const pair = labelled(t); return pair ? pair[1] : norm(t); };
  const own = ownName(card);
  if (own) return valueOf(own);
  const headings = [...card.querySelectorAll('h1, h2, h3, h4, h5, h6, [role="heading"]')]
    .filter((h) => h.compareDocumentPosition(control) & Node.DOCUMENT_POSITION_FOLLOWING);
  if (headings.length) return valueOf(headings[headings.length - 1].innerText);
  const labels = new Set(pairs.map(([label]) => label));
  const controls = [...card.querySelectorAll(
    'button, [role="button"], input, select, textarea, a')];
  const parts = card.matches('tr, [role="row"]') ? [...card.children].map((c) => c.innerText)
    : [...card.querySelectorAll('dd')].map((d) => d.innerText).concat(card.innerText.split('\n'));
  for (const part of parts) {
    const t = valueOf(part);
    if (!t || labels.has(norm(part)) || isKey(t)) continue;
    if (t.split(/[\s,]+/).every((w) => IP.test(w))) continue;
    if (controls.some((c) => norm(c.innerText || c.value) === t)) continue;
    return t;
  }
  return norm(card.innerText.split('\n')[0]);
}
// The key string the card shows: the value of a label naming a key, else its longest token
// that looks like one.
function apiKeyOf(card) {
  const labelledKey = pairsOf(card)
    .find(([label, value]) => /\bkey\b/i.test(label) && isKey(value));
  if (labelledKey) return labelledKey[1];
  const tokens = card.innerText.split(/[\s,;]+/).map((t) => t.replace(/^[("'`]+|[)"'`.:]+$/g, ''));
  const keys = tokens.filter(isKey).sort((a, b) => b.length - a.length);
  return keys.length ? keys[0] : null;
}
"""
)


# The value beside a label, as text (see `Flow.value_of`): the label is the innermost visible
# element whose text (a trailing colon and buttons aside) is the label's words; its value is
# what immediately follows it (a field's value, or text). Failing that, "Label: value" on one
# line: the innermost element whose text is that. A dialog's title is never a label.
VALUE_JS = """
const norm = (s) => (s || '').replace(/\\s+/g, ' ').trim();
const SKIP = 'button, [role="button"], [aria-hidden="true"], script, style';
function textOf(node) {
  if (node.nodeType === Node.TEXT_NODE) return norm(node.textContent);
  if (node.nodeType !== Node.ELEMENT_NODE || node.matches(SKIP)) return '';
  if (node.matches('input, textarea')) return norm(node.value);
  const field = node.querySelector('input, textarea');
  if (field && norm(field.value)) return norm(field.value);
  const copy = node.cloneNode(true);
  copy.querySelectorAll(SKIP).forEach((el) => el.remove());
  return norm(copy.textContent);
}
function after(el, scope) {
  // What immediately follows the label (in its parent, or after the wrappers that hold only
  // the label): the value, or nothing readable (an image, a canvas): never text further on.
  for (let node = el; node && node !== scope; node = node.parentElement) {
    for (let next = node.nextSibling; next; next = next.nextSibling) {
      if (next.nodeType === Node.TEXT_NODE && !norm(next.textContent)) continue;
      if (next.nodeType === Node.ELEMENT_NODE && next.matches(SKIP)) continue;
      if (next.nodeType !== Node.TEXT_NODE && next.nodeType !== Node.ELEMENT_NODE) continue;
      return textOf(next) || null;
    }
  }
  return null;
}
function innermost(els) {
  return els.filter((el) => !els.some((other) => other !== el && el.contains(other)));
}
function valueOf(scope, label) {
  const whole = new RegExp(label.source, label.flags);
  const title = (scope.getAttribute('aria-labelledby') || '').split(/\\s+/);
  const visible = [...scope.querySelectorAll('*')].filter((el) =>
    !el.matches(SKIP) && !(el.id && title.includes(el.id)) && el.getClientRects().length > 0);
  const labels = innermost(visible.filter((el) => whole.test(textOf(el).replace(/:$/, ''))));
  for (const el of labels) {
    const value = after(el, scope);
    if (value) return value;
  }
  const lines = innermost(visible.filter((el) => {
    const text = textOf(el);
    const colon = text.indexOf(':');
    return colon > 0 && whole.test(text.slice(0, colon)) && norm(text.slice(colon + 1));
  }));
  if (!lines.length) return null;
  const text = textOf(lines[0]);
  return norm(text.slice(text.indexOf(':') + 1));
}
"""


# The key strings in a text, in order, once each: the tokens CARD_JS's `isKey` takes for one
# (SITES.md fixes no key's format; this is the one guess every flow shares).
KEY_TOKEN = re.compile(r"(?<![\w\-.+/=])[\w\-.+/=]{16,}(?![\w\-.+/=])")


def key_strings(text: str) -> list[str]:
    found = (
        token
        for token in KEY_TOKEN.findall(text)
        if re.search(r"\d", token) and re.search(r"[a-z]", token, re.I)
    )
    return list(dict.fromkeys(found))
