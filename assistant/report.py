"""The report of a run: one self-contained HTML page (pictures inline, opens offline) with,
for each key, the plan, the result and a picture of its whitelist as read back from the
exchange; beside it the JSON result. Every apply and verify writes one into its run folder.

Pictures mask every password and code field (any input or text area whose value is not
addresses); the addresses stay visible. Text in the page goes through the redactor, like
every log line.
"""

from __future__ import annotations

import base64
import html
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger
from playwright.sync_api import Page

from assistant.logs import redactor
from assistant.outcome import KeyResult, Mode
from assistant.words import count

REPORT_DIR = "report"
# Marks the fields that hold addresses only (left visible); every other field is masked.
MARK_ADDRESS_FIELDS = """() => {
  for (const el of document.querySelectorAll('input, textarea')) {
    const v = (el.value || '').trim();
    const addresses = v && /[.:]/.test(v) && /^[0-9a-fA-F:.,\\/\\s]+$/.test(v)
      && el.type !== 'password';
    if (addresses) el.setAttribute('data-ipbind-addresses', '');
    else el.removeAttribute('data-ipbind-addresses');
  }
}"""
MASKED = "input:not([data-ipbind-addresses]), textarea:not([data-ipbind-addresses])"


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def picture(page: Page, run_dir: Path, exchange: str, key: str) -> Path | None:
    """A screenshot of the page as it is now (the key's list just read), fields masked."""
    folder = run_dir / REPORT_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{safe_name(exchange)}-{safe_name(key)}.png"
    try:
        page.evaluate(MARK_ADDRESS_FIELDS)
        page.screenshot(path=path, mask=[page.locator(MASKED)], full_page=True, timeout=5000)
    except Exception as err:  # a picture is a courtesy; never fail the run for it
        logger.debug("no picture of {} {!r}: {}", exchange, key, err)
        return None
    return path


def write(
    run_dir: Path,
    mode: Mode,
    results: list[KeyResult],
    pictures: dict[tuple[str, str], Path],
    data: dict[str, Any],
    note: str | None = None,
) -> Path:
    """Writes report.html and result.json into the run's report folder; returns the page.
    `note`: what the page says first (the last run stopped half way, and this one resumed)."""
    folder = run_dir / REPORT_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / "result.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    page = folder / "report.html"
    page.write_text(redactor(render(mode, results, pictures, data, note)), encoding="utf-8")
    return page


def esc(text: object) -> str:
    return html.escape(redactor(str(text)))


def render(
    mode: Mode,
    results: list[KeyResult],
    pictures: dict[tuple[str, str], Path],
    data: dict[str, Any],
    note: str | None = None,
) -> str:
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    verdict = "every key verified" if data.get("ok") else f"exit code {data.get('exit_code')}"
    sections = [
        key_section(r, pictures.get((r.plan.target.exchange, r.plan.target.key))) for r in results
    ]
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
<p>{when} · {count(len(results), "key")}. Pictures: each key's whitelist as read back from the
exchange after the run (password and code fields masked).</p>
{resumed}
{error}
{"".join(sections)}
</body></html>
"""


def key_section(result: KeyResult, image: Path | None) -> str:
    plan, target = result.plan, result.plan.target
    good = result.status in ("verified", "unchanged") and not result.missing
    rows = [
        ("accounts", ", ".join(target.accounts)),
        ("allocated", f"{len(target.ips)} addresses"),
        ("plan: to add", ips_cell(plan.to_add)),
        ("plan: already there", ips_cell(plan.present)),
        ("kept (not Altrady's, left alone)", ips_cell(plan.kept)),
    ]
    if plan.to_remove:
        rows.append(("plan: to remove", ips_cell(plan.to_remove)))
    rows.append(("missing now", ips_cell(result.missing)))
    if result.error:
        rows.append(("error", esc(result.error.message)))
    if result.note:
        rows.append(("note", esc(result.note)))
    table = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    if image is not None and image.is_file():
        encoded = base64.b64encode(image.read_bytes()).decode("ascii")
        alt = f"{target.exchange} {target.key}: the whitelist as read back"
        shot = f'<img alt="{esc(alt)}" src="data:image/png;base64,{encoded}">'
    else:
        shot = "<p><em>No picture: the key's list was not read back in this run.</em></p>"
    return (
        f"<section><h2>{esc(target.exchange)} · {esc(target.key)}: "
        f"<span class={'ok' if good else 'bad'}>{esc(result.status)}</span></h2>"
        f"<table>{table}</table>{shot}</section>"
    )


def ips_cell(ips: list[str]) -> str:
    return f"{len(ips)}" + (f": <code>{esc(', '.join(ips))}</code>" if ips else "")
