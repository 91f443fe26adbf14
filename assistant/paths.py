"""Where ipbind keeps what is the person's own: the config file, and the local fixes beside
it. No import of the flows here: the flows' words read their local fixes from here while
they are being imported (`fixes_at_import`)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

APP_DIR = Path(typer.get_app_dir("ipbind"))

# Set by the installed command before it imports the flows, so that their words include the
# local fixes from the start (flows/vocabulary.py); left off in code that imports ipbind as a
# library (the tests), where a run's flow applies them as it goes (flows/fixes.py).
fixes_at_import = False


def config_file() -> Path:
    """The TOML config file, looked up each time settings load (IPBIND_CONFIG overrides it)."""
    return Path(os.environ.get("IPBIND_CONFIG", APP_DIR / "config.toml"))


def overrides_dir() -> Path:
    """Where the local fixes are kept (flows/fixes.py): `overrides/` beside the config file."""
    return config_file().parent / "overrides"
