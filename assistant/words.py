"""Counted nouns in words: "1 address", "20 addresses", never "address(es)"."""

from __future__ import annotations

PLURALS = {"address": "addresses", "key": "keys", "secret": "secrets"}


def count(n: int, noun: str) -> str:
    return f"{n} {noun if n == 1 else PLURALS.get(noun, noun + 's')}"
