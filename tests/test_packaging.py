"""What a wheel built from the project installs: one top-level package, `ipbind`, whose
command works. `assistant`, `flows` and `fixtures` are other projects' names on PyPI."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.full  # builds and installs a wheel
@pytest.mark.long
def test_the_wheel_installs_only_the_ipbind_package(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("ipbind-*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    top = {name.split("/")[0] for name in names}
    assert {name for name in top if not name.endswith(".dist-info")} == {"ipbind"}
    for needed in (
        "ipbind/__init__.py",
        "ipbind/assistant/cli.py",
        "ipbind/flows/binance.py",
        "ipbind/fixtures/mockex/server.py",
        "ipbind/fixtures/allocations/demo.toml",  # the demo's allocation
        "ipbind/fixtures/seed/binance.toml",  # the mock sites' seeds
    ):
        assert needed in names
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))
    )
    assert b"ipbind = ipbind:main" in entry_points
