"""Writes the README's table of exchanges afresh from the registry (`make readme`);
tests/test_readme.py fails while the README's table is not what this writes."""

from pathlib import Path

from assistant.exchanges import with_table

README = Path(__file__).resolve().parent.parent / "README.md"
README.write_text(with_table(README.read_text(encoding="utf-8")), encoding="utf-8")
