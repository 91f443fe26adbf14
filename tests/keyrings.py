"""Keyring backends for the tests: none at all (the default, set in conftest: no test ever
reads or writes the developer's real keyring), and one in memory."""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.backends import fail


class NoKeyring(fail.Keyring):
    """What `keyring` picks on a machine with no backend (priority 0: raises on use)."""


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps its entries in this object."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    @property
    def name(self) -> str:  # type: ignore[override]
        return "test keyring"

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)
