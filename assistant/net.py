"""Where a run connects: a loopback origin is a server on this computer (a mock site), and
trouble reaching it is not the internet's."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unreachable_hint(origin: str) -> str:
    """What to check when `origin` cannot be reached."""
    if is_loopback_url(origin):
        return (
            f"{origin} is on this computer: the local server there (the mock exchange, or "
            "whatever BASE_URL names) is not running, or not at that address. Start it, or "
            "unset the exchange's BASE_URL, then run again."
        )
    return "Check the internet connection (and any proxy), then run again."
