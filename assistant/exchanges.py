"""`ipbind exchanges`: the supported exchanges and how each is done, as a table that fits a
terminal, whole lines in a pipe, or JSON (stable shape; see `listing`)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from assistant.allocation import ALTRADY_IPS_PER_KEY
from flows import FLOWS
from flows.base import Flow

ASSISTED = (
    "Assisted: ipbind has no flow; `ipbind assist FILE` opens the page with your addresses "
    "(any exchange, with --url)."
)


def status_of(flow: type[Flow]) -> str:
    if flow.mode == "assisted":
        return "by hand"
    return "working"


def listing() -> list[dict[str, Any]]:
    """Every id an allocation may name, sorted; an alias (bybit-futures) is an entry of its
    own. The --json shape: id, name, mode, max_ips (null: the key takes no list, it is bound
    to an app's pool), cidr, how, origins, keys_by, status, notice."""
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
            "status": status_of(flow),
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
    for column in ("id", "exchange", "mode", "max IPs", "status"):
        grid.add_column(column, no_wrap=True)
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
    return [*notes, ASSISTED]


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
