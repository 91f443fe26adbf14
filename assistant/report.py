"""The report of a run: one self-contained HTML page (pictures inline, opens offline) with,
for each key, the plan, the result and a picture of its whitelist as read back from the
exchange; beside it the JSON result (with, per key, what its picture shows, or why there is
none). Every apply and verify writes one into its run folder.

A key's picture is taken right after its read-back, of the view that shows its whole list
(`Flow.showing`: its card or row, its own edit view, or the page for an account-wide list),
before the next key changes anything. Pictures mask the fields that hold a password or a
code (any field holding a value that is not addresses; an empty field is left as it is); the
addresses stay visible, a field too long for its box shown whole; a key shown as a table
row is pictured under the table's header, the other keys' rows hidden. ipbind's own banner
and outlines are hidden for the shot. Text in the page goes through the redactor, like every
log line.
"""

from __future__ import annotations

import base64
import html
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger
from playwright.sync_api import Locator, Page

from assistant.logs import redactor
from assistant.outcome import KeyResult, Mode, Picture
from assistant.output import PENDING, binding_done, missing_of
from assistant.words import count
from flows.base import ips_in

REPORT_DIR = "report"
PICTURES = (
    "Pictures: each key's whitelist as read back from the exchange right after its own change "
    "(or while planning, when it needed none), in the view that shows its whole list (fields "
    "holding a password or code masked)."
)
PICTURES_OFF = "No pictures: they are off (IPBIND_PICTURES=false)."
# Before the shot: every field that holds a value other than addresses (a password, a code) is
# marked to be masked (an empty one is not); a field of addresses too long for its box is
# shown whole, as text in its place. Returns the addresses the view shows, as text or in its
# fields: what the picture proves.
PREPARE_JS = """(view) => {
  const root = view || document.body;
  for (const el of document.querySelectorAll('input, textarea')) {
    el.removeAttribute('data-ipbind-secret');
    const v = (el.value || '').trim();
    if (!v) continue;
    const addresses = el.type !== 'password' && /[.:]/.test(v) && /^[0-9a-fA-F:.,\\/\\s]+$/.test(v);
    if (!addresses) { el.setAttribute('data-ipbind-secret', ''); continue; }
    const cut = el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
    if (!cut || !root.contains(el)) continue;
    const whole = document.createElement('ipbind-whole');
    whole.textContent = v.split(/[\\s,]+/).filter(Boolean).join(', ');
    whole.setAttribute('style', 'display: block; box-sizing: border-box; padding: 4px 6px;'
      + ' border: 1px solid #888; font: 13px/1.5 monospace; white-space: normal;'
      + ' overflow-wrap: anywhere; width: ' + Math.max(el.offsetWidth, 200) + 'px;');
    el.setAttribute('data-ipbind-hidden', el.style.display);
    el.style.display = 'none';
    el.after(whole);
  }
  const fields = [...root.querySelectorAll('input, textarea')]
    .filter((el) => !el.hasAttribute('data-ipbind-secret')).map((el) => el.value);
  return [root.innerText, ...fields].join('\\n');
}"""
# A key shown as a table row is pictured in its table, under the header row, the other rows
# hidden for the shot: the columns say what each value is. Returns the element to picture.
FRAME_JS = """(view) => {
  if (!view.matches('tr, [role="row"]')) return view;
  const table = view.closest('table, [role="grid"], [role="table"], [role="treegrid"]');
  if (!table) return view;
  const header = (row) => row.closest('thead') !== null
    || [...row.children].every((cell) => cell.matches('th, [role="columnheader"]'));
  for (const row of table.querySelectorAll('tr, [role="row"]')) {
    if (row === view || header(row)) continue;
    row.setAttribute('data-ipbind-hidden', row.style.display);
    row.style.display = 'none';
  }
  return table;
}"""
# After the shot: the page as it was.
RESTORE_JS = """() => {
  for (const el of document.querySelectorAll('ipbind-whole')) el.remove();
  for (const el of document.querySelectorAll('[data-ipbind-hidden]')) {
    el.style.display = el.getAttribute('data-ipbind-hidden');
    el.removeAttribute('data-ipbind-hidden');
  }
}"""
SECRET_FIELDS = "[data-ipbind-secret]"
# For the shot only: ipbind's own banner (the walkthrough's) and outlines are no part of the
# exchange's page.
PICTURE_STYLE = """
ipbind-banner { display: none !important; }
[data-ipbind-active], :focus { outline: none !important; box-shadow: none !important; }
"""


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def picture(
    page: Page, view: Locator | None, run_dir: Path, exchange: str, key: str
) -> Picture | None:
    """A screenshot of `view` (the key's card, row or own view; None: the whole page) as it
    is now, right after the key's list was read: secret fields that hold a value masked,
    ipbind's banner and outlines hidden, a long field of addresses shown whole."""
    folder = run_dir / REPORT_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{safe_name(exchange)}-{safe_name(key)}.png"
    mask = [page.locator(SECRET_FIELDS)]
    try:
        try:
            if view is None:
                text = page.evaluate(PREPARE_JS, None)
                page.screenshot(
                    path=path, mask=mask, style=PICTURE_STYLE, full_page=True, timeout=5000
                )
            else:
                # The element found now: a field shown whole is hidden for the shot, and a
                # locator found by that field would find another element after.
                element = view.element_handle(timeout=5000)
                text = element.evaluate(PREPARE_JS)
                frame = element.evaluate_handle(FRAME_JS).as_element() or element
                frame.screenshot(path=path, mask=mask, style=PICTURE_STYLE, timeout=5000)
        finally:
            page.evaluate(RESTORE_JS)
    except Exception as err:  # a picture is a courtesy; never fail the run for it
        logger.debug("no picture of {} {!r}: {}", exchange, key, err)
        return None
    return Picture(path, ips_in(text))


def write(
    run_dir: Path,
    mode: Mode,
    results: list[KeyResult],
    pictures: dict[tuple[str, str], Picture],
    data: dict[str, Any],
    note: str | None = None,
    pictures_off: bool = False,
) -> Path:
    """Writes report.html and result.json into the run's report folder; returns the page.
    `note`: what the page says first (the last run stopped half way, and this one resumed);
    `pictures_off`: the settings say no pictures, and each key says so."""
    folder = run_dir / REPORT_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys = [
        {**entry, "picture": picture_json(r, pictures.get(key_of(r)), pictures_off)}
        for entry, r in zip(data.get("keys", []), results, strict=False)
    ]
    data = {**data, "keys": keys}
    (folder / "result.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    page = folder / "report.html"
    html_page = render(mode, results, pictures, data, note, pictures_off)
    page.write_text(redactor(html_page), encoding="utf-8")
    return page


def esc(text: object) -> str:
    return html.escape(redactor(str(text)))


def render(
    mode: Mode,
    results: list[KeyResult],
    pictures: dict[tuple[str, str], Picture],
    data: dict[str, Any],
    note: str | None = None,
    pictures_off: bool = False,
) -> str:
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    verdict = "every key verified" if data.get("ok") else f"exit code {data.get('exit_code')}"
    sections = [key_section(r, pictures.get(key_of(r)), pictures_off) for r in results]
    error = f"<p class=error>{esc(data['error'])}</p>" if data.get("error") else ""
    resumed = f"<p>{esc(note)}</p>" if note else ""
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>ipbind {esc(mode)} · {when}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px;
       padding: 0 1rem; color: #1e2329; }}
h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.2rem; margin-top: 2.5rem; }}
.ok {{ color: #0a7a3b; }} .bad {{ color: #b3261e; }} .error {{ color: #b3261e; }}
table {{ border-collapse: collapse; margin: .5rem 0; }}
td, th {{ border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; vertical-align: top; }}
code {{ font-size: 13px; }}
img {{ max-width: 100%; border: 1px solid #ccc; margin-top: .5rem; }}
</style></head><body>
<h1>ipbind {esc(mode)}: {esc(verdict)}</h1>
<p>{when} · {count(len(results), "key")}. {esc(PICTURES_OFF if pictures_off else PICTURES)}</p>
{resumed}
{error}
{"".join(sections)}
</body></html>
"""


def key_of(result: KeyResult) -> tuple[str, str]:
    return (result.plan.target.exchange, result.plan.target.key)


def picture_json(result: KeyResult, taken: Picture | None, off: bool = False) -> dict[str, Any]:
    """The key's picture in result.json: its file and the addresses it shows, or why none."""
    if taken is None:
        return {"file": None, "shows": [], "none_because": no_picture(result, off)}
    return {"file": taken.path.name, "shows": taken.shows, "none_because": None}


def no_picture(result: KeyResult, off: bool = False) -> str:
    """Why a key has no picture, in a person's words."""
    if off:
        return "pictures are off (IPBIND_PICTURES=false)"
    if result.plan.error:
        return "its list could not be read (see the error)"
    if result.status == "not started":
        return "the run was stopped before this key was changed (the list above: as planned)"
    if result.status == "declined":
        return "nothing was changed (you answered no at the confirmation)"
    if result.status == "planned":
        return "the run was stopped while planning"
    if result.after is None and result.status == "interrupted":
        return "its list could not be read back after the stop"
    if result.after is None and result.plan.changes:
        return "its list could not be read back after the change"
    return "the picture could not be taken (see the debug log)"


def key_section(result: KeyResult, taken: Picture | None, pictures_off: bool = False) -> str:
    target = result.plan.target
    good = result.status in ("verified", "unchanged") and not result.missing
    rows = binding_rows(result) if target.binding is not None else list_rows(result)
    if result.error:
        rows.append(("error", esc(result.error.message)))
    if result.note:
        rows.append(("note", esc(result.note)))
    table = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    if taken is not None and taken.path.is_file():
        encoded = base64.b64encode(taken.path.read_bytes()).decode("ascii")
        alt = f"{target.exchange} {target.key}: the whitelist as read back"
        shot = f'<img alt="{esc(alt)}" src="data:image/png;base64,{encoded}">'
    else:
        shot = f"<p><em>No picture: {esc(no_picture(result, pictures_off))}.</em></p>"
    return (
        f"<section><h2>{esc(target.exchange)} · {esc(target.key)}: "
        f"<span class={'ok' if good else 'bad'}>{esc(result.status)}</span></h2>"
        f"<table>{table}</table>{shot}</section>"
    )


def list_rows(result: KeyResult) -> list[tuple[str, str]]:
    """A key's list: the plan, and what the exchange holds now (as the terminal says it)."""
    plan, target = result.plan, result.plan.target
    rows = [
        ("accounts", esc(", ".join(target.accounts))),
        ("allocated", f"{len(target.ips)} addresses"),
        ("plan: to add", ips_cell(plan.to_add)),
        ("plan: already there", ips_cell(plan.present)),
        ("kept (not Altrady's, left alone)", ips_cell(plan.kept)),
    ]
    if plan.to_remove:
        why = " (no longer Altrady's)" if plan.retiring else ""
        rows.append((f"plan: to remove{why}", ips_cell(plan.to_remove)))
    missing = missing_of(result)
    if missing and plan.pending:  # saved, awaiting the e-mailed link: as the terminal says
        rows.append((PENDING, ips_cell(missing)))
    else:
        rows.append(("missing now", ips_cell(missing)))
    if result.unknown:
        rows.append(("unknown (not read back)", ips_cell(result.unknown)))
    return rows


def binding_rows(result: KeyResult) -> list[tuple[str, str]]:
    """A key bound to an app instead of a list: what was asked, and what happened."""
    target = result.plan.target
    return [
        ("accounts", esc(", ".join(target.accounts))),
        ("asked", esc(f"a key {target.binding}")),
        ("done", esc(binding_done(result))),
    ]


def ips_cell(ips: list[str]) -> str:
    return f"{len(ips)}" + (f": <code>{esc(', '.join(ips))}</code>" if ips else "")
