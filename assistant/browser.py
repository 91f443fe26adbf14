"""The one place a browser is launched, for the CLI and the tests alike.

Which Chromium: the one the user named (a path or a channel such as "chrome"); else
Playwright's own Chromium when `playwright install chromium` has put it on disk; else a
system Chromium or Chrome (Debian's `/usr/bin/chromium`, Google Chrome, …); else we stop
and say how to get one. A headless run on a system Chromium takes its headless shell when
one is installed (Debian's `chromium-headless-shell`), as Playwright does with its own: the
same engine without the browser's UI, several times cheaper to start a context in.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from assistant.errors import BrowserMissing, first_line
from assistant.settings import BaseIpbindSettings

# A closed network (a CI box, a corporate proxy) should not see the browser phoning home,
# and a first run should not stop on a welcome page.
QUIET_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-sync",
    "--disable-default-apps",
]

HEADLESS_SHELLS = ["chromium-headless-shell"]
SYSTEM_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"]
SYSTEM_PATHS = [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/snap/bin/chromium",
    "/usr/bin/google-chrome",
    "/opt/google/chrome/chrome",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Google\Chrome\Application\chrome.exe",
]

# `driver` patches asyncio for the moment a driver's process starts.
_STARTING = threading.Lock()

INSTALL_HINT = (
    "No Chromium-based browser was found. Install one of:\n"
    "  - Playwright's Chromium:  python -m playwright install chromium\n"
    "  - Debian/Ubuntu:          sudo apt-get install chromium\n"
    "  - Google Chrome, then set IPBIND_BROWSER_CHANNEL=chrome\n"
    "or point IPBIND_BROWSER_EXECUTABLE at a Chrome/Chromium binary."
)


def system_chromium(headless: bool = False) -> str | None:
    for name in (HEADLESS_SHELLS if headless else []) + SYSTEM_NAMES:
        if found := shutil.which(name):
            return found
    return next((p for p in SYSTEM_PATHS if os.path.isfile(p) and os.access(p, os.X_OK)), None)


def bundled_chromium(playwright: Playwright) -> str | None:
    try:
        path = playwright.chromium.executable_path
    except Exception:  # the driver could not say: treat as not installed
        return None
    return path if path and Path(path).is_file() else None


@contextmanager
def driver() -> Iterator[Playwright]:
    """Playwright, with its driver in a process group of its own. Ctrl-C at a terminal goes
    to the whole foreground group: the driver would die of it (and take the browser with it)
    mid-step, leaving ipbind unable to say what was saved. Kept out of the group, only ipbind
    hears it, stops between steps, and can still read back what the exchange holds. (The
    driver launches each browser in a group of its own already.)"""
    # Lanes start their drivers at once: one patch at a time, held until the driver's
    # process exists (not while it says hello, which takes longer).
    _STARTING.acquire()
    create = asyncio.create_subprocess_exec
    held = True

    def restore() -> None:
        nonlocal held
        if held:
            asyncio.create_subprocess_exec = create  # type: ignore[assignment]
            held = False
            _STARTING.release()

    async def in_own_session(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        try:
            return await create(*args, **kwargs, start_new_session=True)
        finally:
            restore()

    if os.name == "posix":  # the driver is started through asyncio, during start()
        asyncio.create_subprocess_exec = in_own_session  # type: ignore[assignment]
    try:
        playwright = sync_playwright().start()
    finally:
        restore()
    try:
        yield playwright
    finally:
        playwright.stop()


def launch_args(
    playwright: Playwright,
    executable: str | os.PathLike[str] | None = None,
    channel: str | None = None,
    *,
    headless: bool = True,
) -> dict[str, Any]:
    """Keyword arguments for `chromium.launch` (everything but headless and slow_mo)."""
    args: dict[str, Any] = {"args": list(QUIET_ARGS)}
    if executable:
        path = Path(executable).expanduser()
        if not path.is_file():
            raise BrowserMissing(f"the browser executable {path} is not a file")
        args["executable_path"] = str(path)
    elif channel:
        args["channel"] = channel
    elif bundled_chromium(playwright) is None:
        found = system_chromium(headless)
        if found is None:
            raise BrowserMissing(INSTALL_HINT)
        args["executable_path"] = found
    return args


HEADED = "--headed"


def has_display() -> bool:
    """Whether a browser window can open here (on Linux: a DISPLAY or WAYLAND_DISPLAY)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def require_display(window: str = HEADED) -> None:
    """BrowserMissing when a browser window cannot open here, in the words of what asked
    for one: `window` is the option that did (--headed: it can be dropped), or the command
    that always works in a window (it cannot)."""
    if has_display():
        return
    if window == HEADED:
        raise BrowserMissing(
            "--headed needs a display, and this session has none (no DISPLAY). "
            "Run under `xvfb-run -a`, or drop --headed."
        )
    raise BrowserMissing(
        f"{window} opens a browser window, which needs a display, and this session has none "
        "(no DISPLAY). Run it on a desktop, or under a virtual display: `xvfb-run -a ipbind …`."
    )


def launch(
    playwright: Playwright,
    *,
    headless: bool = True,
    slow_mo: float = 0,
    executable: str | os.PathLike[str] | None = None,
    channel: str | None = None,
    window: str = HEADED,
) -> Browser:
    """`window`: what asked for a visible browser, for the words of a missing display."""
    options = launch_args(playwright, executable, channel, headless=headless)
    if not headless:
        require_display(window)
    try:
        return playwright.chromium.launch(headless=headless, slow_mo=slow_mo, **options)
    except Exception as err:
        where = options.get("executable_path") or options.get("channel") or "Playwright's Chromium"
        raise BrowserMissing(f"Could not start the browser ({where}): {first_line(err)}") from err


def launch_for(
    playwright: Playwright,
    settings: BaseIpbindSettings,
    *,
    headless: bool | None = None,
    window: str = HEADED,
) -> Browser:
    """The browser `settings` name (headless as they say, unless `headless` is given)."""
    return launch(
        playwright,
        headless=settings.headless if headless is None else headless,
        slow_mo=settings.slow_mo,
        executable=settings.browser_executable,
        channel=settings.browser_channel,
        window=window,
    )


@contextmanager
def opened(
    settings: BaseIpbindSettings,
    *,
    headless: bool | None = None,
    window: str = HEADED,
    given: Browser | None = None,
) -> Iterator[Browser]:
    """The one way a command opens a browser: Playwright's driver kept out of Ctrl-C's way
    (`driver`), the browser `settings` name (`launch_for`), closed afterwards. A window
    with no display to show it is said before Playwright's driver starts. `given`: a
    browser the caller already has (the tests' own), used as it is and left open."""
    if given is not None:
        yield given
        return
    if not (settings.headless if headless is None else headless):
        require_display(window)
    with driver() as pw:
        browser = launch_for(pw, settings, headless=headless, window=window)
        try:
            yield browser
        finally:
            with suppress(PlaywrightError):  # after a Ctrl-C it may be gone already
                browser.close()


def session_file(state_home: Path, exchange: str) -> Path:
    """Where `ipbind login EXCHANGE` keeps the browser session (cookies and storage)."""
    return state_home / "sessions" / f"{exchange}.json"
