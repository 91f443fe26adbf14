"""Regenerates docs/walkthrough.png: a walkthrough of the demo's Binance key, pictured in its
visible browser when the banner before pasting the addresses shows and the field about to
be pasted into is outlined.

    xvfb-run -a .venv/bin/python scripts/walkthrough_picture.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Locator, Page

from assistant import walkthrough
from assistant.demo import DEMO_ALLOCATION, demo_settings, demo_sites
from assistant.runner import Options, load_allocation, run
from assistant.settings import load_settings

OUT = Path(__file__).resolve().parent.parent / "docs" / "walkthrough.png"
WANTED = "pasting"  # the step whose banner is pictured


def main() -> int:
    account = next(
        a for a in load_allocation(DEMO_ALLOCATION, False).accounts if a.exchange == "binance"
    )
    folder = Path(tempfile.mkdtemp(prefix="ipbind-walkthrough-"))
    allocation = folder / "binance.toml"
    allocation.write_text(
        f'[[accounts]]\nexchange = "binance"\nname = "{account.name}"\n'
        f'key = "{account.key}"\nips = {list(account.ips)!r}\n'.replace("'", '"'),
        encoding="utf-8",
    )
    real_banner, real_point = walkthrough.banner, walkthrough.point
    titles: list[str] = []
    taken: list[Path] = []

    def banner(page: Page, title: str, text: str, kind: str = "step") -> None:
        real_banner(page, title, text, kind)
        titles.append(title)

    def point(control: Locator, pace_ms: float) -> None:  # the control outlined, then used
        real_point(control, pace_ms)
        if titles and WANTED in titles[-1] and not taken:
            control.page.screenshot(path=OUT)
            taken.append(OUT)

    walkthrough.banner = banner  # type: ignore[assignment]
    walkthrough.point = point  # type: ignore[assignment]
    with demo_sites(chaos=101) as mock:
        settings = load_settings(
            **demo_settings(mock, {"binance"}), slow_mo=100, artifacts_dir=folder / "runs"
        )
        code = run("apply", allocation, Options(yes=True, walkthrough=True), settings=settings)
    print(f"exit {int(code)}; {'written: ' + str(OUT) if taken else 'no picture taken'}")
    return 0 if taken and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
