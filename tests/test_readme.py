"""The README's table of exchanges is the registry's, as `make readme` writes it."""

from pathlib import Path

from assistant.exchanges import with_table
from flows import FLOWS

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_lists_every_exchange_as_the_registry_has_it() -> None:
    text = README.read_text(encoding="utf-8")
    assert text == with_table(text), "the README's table of exchanges is stale: `make readme`"
    for flow in FLOWS.values():
        assert f"| {flow.id} | {flow.name} |" in text
