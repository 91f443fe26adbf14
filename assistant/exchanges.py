"""`ipbind exchanges`: the supported exchanges and how each is done, as a table that fits a
terminal, whole lines in a pipe, or JSON (stable shape; see `listing`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from loguru import logger
from rich import box
from rich.console import Console
from rich.table import Table

from assistant.allocation import ALTRADY_IPS_PER_KEY
from assistant.errors import BadInput
from assistant.paths import write_private
from assistant.settings import APP_DIR, load_settings
from assistant.targets import fixes_of
from flows import FLOWS
from flows.base import Flow

ASSISTED = (
    "Assisted: ipbind has no flow; `ipbind assist FILE` opens the page with your addresses "
    "(any exchange, with --url)."
)


MODEL_TESTED = "model"
MODEL_TESTED_MEANS = (
    "model: proven against a model of the exchange's pages built to its documented "
    'wording (docs/SITES.md), not against the live site; "verified here": a run on this '
    "machine read every address back from the real site; a local fix: a control you showed "
    "ipbind in a headed run (`ipbind repair EXCHANGE`)."
)
VERIFIED_FILE = "verified-here.json"  # in the state folder: exchange -> the last day


def verified_here(state_home: Path) -> dict[str, str]:
    """The exchanges a run on this machine read every address back from, on their own
    (real) origin: the day it last did, by exchange."""
    try:
        data = json.loads((state_home / VERIFIED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def note_verified(state_home: Path, exchanges: list[str], day: str) -> None:
    """Kept for `ipbind exchanges`; a failure to write is only logged."""
    if not exchanges:
        return
    known = verified_here(state_home) | dict.fromkeys(exchanges, day)
    try:
        write_private(state_home / VERIFIED_FILE, json.dumps(known, indent=1))
    except OSError as err:
        logger.debug("could not note the exchanges verified here: {}", err)


def status_of(flow: type[Flow], verified: dict[str, str], fixes: int) -> str:
    """What is known of the exchange's flow: tested against the model of its pages (never
    the live site, from here); a run on this machine that read back every address from
    its real site, and when; the local fixes it runs with."""
    if flow.mode == "assisted":
        return "by hand"
    status = MODEL_TESTED
    if flow.id in verified:
        status += f", verified here {verified[flow.id]}"
    if fixes:
        status += f", {fixes} local fix" + ("es" if fixes > 1 else "")
    return status


def local_state() -> tuple[dict[str, str], dict[str, int]]:
    """The exchanges verified on this machine, and each one's local fixes (a file of fixes
    that cannot be read counts none here: a run says what is wrong with it)."""
    try:
        state_home = load_settings().state_home
    except BadInput:
        state_home = APP_DIR / "state"
    fixes = {}
    for fid in FLOWS:
        try:
            fixes[fid] = len(fixes_of(fid))
        except BadInput:
            fixes[fid] = 0
    return verified_here(state_home), fixes


def listing() -> list[dict[str, Any]]:
    """Every id an allocation may name, sorted; an alias (bybit-futures) is an entry of its
    own. The --json shape: id, name, mode, max_ips (null: the key takes no list, it is bound
    to an app's pool), cidr, how, origins, keys_by, status, verified_here (the day a run here
    last read every address back from the real site, or null), local_fixes, notice."""
    verified, fixes = local_state()
    named = [(flow.id, flow.name, flow.how, flow) for flow in FLOWS.values()] + [
        (alias, name, f"the {flow.id} key: {flow.how}", flow)
        for flow in FLOWS.values()
        for alias, name in flow.also.items()
    ]
    return [
        {
            "id": fid,
            "name": name,
            "mode": flow.mode,
            "max_ips": flow.max_ips or None,
            "cidr": flow.cidr,
            "how": how,
            "origins": list(flow.origins),
            "keys_by": flow.keys_by,
            "status": status_of(flow, verified, fixes.get(flow.id, 0)),
            "verified_here": verified.get(flow.id) if flow.mode != "assisted" else None,
            "local_fixes": fixes.get(flow.id, 0),
            "notice": flow.notice,
        }
        for fid, name, how, flow in sorted(named, key=lambda entry: entry[0])
    ]


def starred(entry: dict[str, Any]) -> str:
    """The status, with a star where a footnote says more."""
    limit = entry["max_ips"]
    more = entry["notice"] or (limit is not None and limit < ALTRADY_IPS_PER_KEY)
    return entry["status"] + (" *" if more else "")


def max_of(entry: dict[str, Any]) -> str:
    return str(entry["max_ips"]) if entry["max_ips"] else "none (app's pool)"


def table(entries: list[dict[str, Any]]) -> Table:
    """One row per exchange: the short columns never wrap, the how (and how its keys are
    found) takes the rest of the width, wrapped at word boundaries."""
    grid = Table(
        title="Supported exchanges",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    for column in ("id", "exchange", "mode", "max IPs"):
        grid.add_column(column, no_wrap=True)
    grid.add_column("status", max_width=16)  # "model, verified here 2026-12-06" wraps
    grid.add_column("how · keys found by", ratio=1, min_width=30)
    for e in entries:
        max_ips = str(e["max_ips"]) if e["max_ips"] else "none"
        how = f"{e['how']} · {e['keys_by']}"
        grid.add_row(e["id"], e["name"], e["mode"], max_ips, starred(e), how)
    return grid


def footnotes() -> list[str]:
    notes = []
    for flow in FLOWS.values():
        if flow.notice:
            notes.append(f"* {flow.name}: {flow.notice}")
        if 0 < flow.max_ips < ALTRADY_IPS_PER_KEY:
            notes.append(
                f"* {flow.name}: takes {flow.max_ips} addresses per key, fewer than the "
                f"{ALTRADY_IPS_PER_KEY} Altrady allocates; a file with 20 is refused."
            )
    if any(not flow.max_ips for flow in FLOWS.values()):
        notes.append(
            "max IPs none: the key takes no list; it is bound to Altrady and accepts its pool."
        )
    return [*notes, MODEL_TESTED_MEANS, ASSISTED]


README_BEGIN = "<!-- exchanges: generated by `make readme` from flows.FLOWS; do not edit -->"
README_END = "<!-- end of exchanges -->"


def markdown() -> str:
    """The README's table of exchanges, from the registry (as `ipbind exchanges` shows it)."""
    rows = [
        "| id | exchange | mode | max IPs | how the list goes on | keys found by |",
        "|---|---|---|---|---|---|",
    ]
    for e in listing():
        cells = [e["id"], e["name"], e["mode"], max_of(e), e["how"], e["keys_by"]]
        rows.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    notes = [f"- {note.removeprefix('* ')}" for note in footnotes()]
    return "\n".join([README_BEGIN, "", *rows, "", *notes, "", README_END])


def with_table(readme: str) -> str:
    """`readme` with its table of exchanges (between the markers) made afresh."""
    start, end = readme.index(README_BEGIN), readme.index(README_END) + len(README_END)
    return readme[:start] + markdown() + readme[end:]


def show(json_out: bool = False, console: Console | None = None) -> None:
    entries = listing()
    if json_out:
        sys.stdout.write(json.dumps({"exchanges": entries}, indent=2) + "\n")
        return
    console = console or Console(highlight=False)
    if console.is_terminal:
        console.print(table(entries))
    else:  # a pipe: whole lines, not a table squeezed to 80 columns
        for e in entries:
            fields = [
                ("id", e["id"]),
                ("exchange", e["name"]),
                ("mode", e["mode"]),
                ("how", e["how"]),
                ("max IPs", max_of(e)),
                ("keys found by", e["keys_by"]),
                ("status", starred(e)),
            ]
            console.print(" · ".join(f"{c}: {v}" for c, v in fields), soft_wrap=True)
    for note in footnotes():
        console.print(note, soft_wrap=not console.is_terminal, markup=False)
