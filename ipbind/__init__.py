"""The installed `ipbind` command.

A wheel installs the project's packages (`assistant`, `flows`, `fixtures`) inside this one
folder, not at the top of site-packages, where those names belong to other projects (there
is a `fixtures` on PyPI). The command puts this folder first on the import path, then runs
the CLI. In a checkout or an editable install the packages sit beside this folder instead,
and the path is left alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    if (HERE / "assistant").is_dir() and str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from assistant import paths

    paths.fixes_at_import = True  # the flows' words with the person's local fixes
    from assistant.cli import main as cli_main

    cli_main()
