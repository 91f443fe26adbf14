"""A failure in a person's words: the control a flow waited for and never saw, from
Playwright's locator text ("the 'Edit restrictions' button", not a locator)."""

from __future__ import annotations

import re

from assistant.errors import first_line


def expected_of(err: Exception) -> str:
    """The control that never came, in words ("the 'Edit restrictions' button"), from
    Playwright's "waiting for <locator>" line: a user reads this, not a locator."""
    for line in str(err).splitlines():
        line = line.strip(" -")
        for prefix in ("waiting for ", "Locator: "):
            if line.startswith(prefix):
                return control_in_words(line.removeprefix(prefix))
    return first_line(err)


# A locator as Playwright writes it: get_by_role("button", name=re.compile(r"^\s*Edit\s*$"…)).
QUOTED = r'(?:re\.compile\()?r?"(?:[^"\\]|\\.)*"'
LOCATOR_PART = re.compile(
    rf'get_by_(?P<kind>role|label|text|placeholder|title|alt_text)\((?:"(?P<role>[\w-]+)"'
    rf"(?:, name=(?P<name>{QUOTED}))?|(?P<value>{QUOTED}))"
)
KIND_WORDS = {
    "label": "the field labelled {}",
    "placeholder": "the field showing {}",
    "text": "the text {}",
    "title": "the element titled {}",
    "alt_text": "the image {}",
}


def control_in_words(locator: str) -> str:
    """`get_by_role("button", name=…Edit…restrictions…)` → "the 'Edit restrictions'
    button". Alternatives (`.or_`) are each named; in a chain, the last part is the one
    waited for."""
    parts = [part_in_words(m) for m in LOCATOR_PART.finditer(locator)]
    if not parts:
        return "an element of the page"
    return " or ".join(dict.fromkeys(parts)) if ".or_(" in locator else parts[-1]


def part_in_words(match: re.Match[str]) -> str:
    if match["kind"] == "role":
        role = match["role"].replace("_", " ")
        return f"the {name_in_words(match['name'])!r} {role}" if match["name"] else f"a {role}"
    return KIND_WORDS[match["kind"]].format(repr(name_in_words(match["value"])))


def name_in_words(quoted: str) -> str:
    """The words a name pattern stands for: the pattern of `words("Log In")` → Log In."""
    text = re.sub(r'^(?:re\.compile\()?r?"|"$', "", quoted)
    text = re.sub(r"\\s[*+?]?|\\b|[\^$]|\(\?:|[()]", " ", text)  # spacing, anchors, groups
    text = re.sub(r"\.[*+]", "…", text).replace("|", " / ")  # "anything", alternatives
    text = re.sub(r"\\(.)", r"\1", text)  # escaped punctuation
    return " ".join(text.split()).replace("/ ", "/").replace(" /", "/")
