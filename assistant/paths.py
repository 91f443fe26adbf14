"""Where ipbind keeps what is the person's own: the config file, and the local fixes beside
it; and how it writes what it keeps (`write_private`). No import of the flows here: the
flows' words read their local fixes from here while they are being imported
(`fixes_at_import`)."""

from __future__ import annotations

import os
import threading
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


def write_private(path: Path, text: str) -> None:
    """`text` written to `path` whole or not at all (a temporary file beside it, renamed: a
    run beside this one reads the old file or the new), readable by the person alone: 0600
    from its first byte, in folders this makes 0700. OSError when it cannot be written."""
    for folder in reversed([f for f in (path.parent, *path.parent.parents) if not f.exists()]):
        folder.mkdir(mode=0o700, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temp, path)
